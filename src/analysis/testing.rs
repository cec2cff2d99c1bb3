//! Test fixtures with known answers: experts that are exact for data concentrated at their own point, and the
//! exact posterior router for those points (flow objective).

use crate::diffusion::{At, Denoiser};
use crate::routing::{Evaluation, RouteState, Routed, RoutingPolicy, softmax};
use ndarray::{Array2, ArrayView2};

/// Expert j predicts v_j(x, t) = (x - c_j) / t, the exact flow velocity for data at the point c_j.
pub struct PointExperts {
    /// The points c_j. Shape [experts, dim].
    pub centers: Array2<f32>,
    /// The routing policy.
    pub policy: Box<dyn RoutingPolicy>,
    /// Route with the exact posterior of equally weighted point masses (otherwise uniform probabilities).
    pub router: bool,
}

impl PointExperts {
    fn prediction(&self, j: usize, x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        let mut v = x.to_owned();
        for mut row in v.rows_mut() {
            row -= &self.centers.row(j);
            row /= t as f32;
        }
        v
    }
}

impl Routed for PointExperts {
    fn experts(&self) -> usize {
        self.centers.nrows()
    }

    fn ranks_by_router(&self) -> bool {
        self.router
    }

    fn evaluate(&self, x: ArrayView2<f32>, at: At, _every_expert: bool) -> Evaluation {
        let e = self.experts();
        // x_t = (1 - t) c + t eps, so log p(j | x_t) = -|x_t - (1 - t) c_j|^2 / (2 t^2) + const.
        let probs = self.router.then(|| {
            let logits = Array2::from_shape_fn((x.nrows(), e), |(i, j)| {
                let d2: f32 = x
                    .row(i)
                    .iter()
                    .zip(self.centers.row(j))
                    .map(|(&a, &c)| (a - (1.0 - at.t as f32) * c).powi(2))
                    .sum();
                -d2 / (2.0 * (at.t * at.t) as f32)
            });
            softmax(logits, 1.0)
        });
        let uniform = Array2::from_elem((x.nrows(), e), 1.0 / e as f32);
        let predictions: Vec<Array2<f32>> = (0..e).map(|j| self.prediction(j, x, at.t)).collect();
        let weights = self.policy.weights(&RouteState {
            probs: probs.as_ref().unwrap_or(&uniform).view(),
            x,
            at,
            predictions: Some(&predictions),
        });
        let mut combined = Array2::zeros(x.raw_dim());
        for (j, p) in predictions.iter().enumerate() {
            for i in 0..x.nrows() {
                combined.row_mut(i).scaled_add(weights[[i, j]], &p.row(i));
            }
        }
        Evaluation {
            probs,
            weights,
            predictions: Some(predictions),
            combined,
        }
    }
}

impl Denoiser for PointExperts {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        Routed::evaluate(self, x, at, false).combined
    }
}
