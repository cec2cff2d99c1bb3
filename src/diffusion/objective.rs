//! Training objectives: how a clean point is noised, what the network predicts, and how to recover x0.

use super::schedule::{DDPM_STEPS, cosine_alpha_bar};
use crate::rng::Rng;
use crate::scenario::ObjectiveKind;
use ndarray::{Array2, ArrayView2};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

/// A noising process and prediction target.
#[derive(Debug, Clone)]
pub enum Objective {
    /// Flow matching (DDM): x_t = (1 - t) x0 + t eps, t ~ U(0, 1), target v = eps - x0.
    Flow,
    /// DDPM epsilon prediction on the cosine schedule: x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, target eps.
    Ddpm {
        /// abar_t for t = 0..T-1.
        alpha_bar: Vec<f64>,
    },
}

/// A noised training batch.
#[derive(Debug, Clone)]
pub struct NoisedBatch {
    /// Noisy inputs. Shape [n, dim].
    pub xt: Array2<f32>,
    /// Regression targets of the denoiser. Shape [n, dim].
    pub target: Array2<f32>,
    /// Network time of each row, in [0, 1].
    pub time: Vec<f64>,
}

impl Objective {
    /// The objective of a scenario.
    pub fn new(kind: ObjectiveKind) -> Self {
        match kind {
            ObjectiveKind::Flow => Objective::Flow,
            ObjectiveKind::Ddpm => Objective::Ddpm {
                alpha_bar: cosine_alpha_bar(DDPM_STEPS),
            },
        }
    }

    /// Noises `x0` at random times with fresh Gaussian noise.
    pub fn noise(&self, x0: ArrayView2<f32>, rng: &mut Rng) -> NoisedBatch {
        self.noise_with(x0, rng, |objective, rng, _| match objective {
            Objective::Flow => rng.random(),
            Objective::Ddpm { alpha_bar } => rng.random_range(0..alpha_bar.len()) as f64 / alpha_bar.len() as f64,
        })
    }

    /// Noises `x0` at the given times (one per row; DDPM uses the nearest of its discrete steps) with fresh noise.
    pub fn noise_at(&self, x0: ArrayView2<f32>, times: &[f64], rng: &mut Rng) -> NoisedBatch {
        assert_eq!(times.len(), x0.nrows(), "one time per row");
        self.noise_with(x0, rng, |_, _, i| times[i])
    }

    /// Noises each row i at the time `time_of(self, rng, i)`, drawn just before that row's noise.
    fn noise_with(
        &self,
        x0: ArrayView2<f32>,
        rng: &mut Rng,
        mut time_of: impl FnMut(&Self, &mut Rng, usize) -> f64,
    ) -> NoisedBatch {
        let (n, d) = x0.dim();
        let mut xt = Array2::zeros((n, d));
        let mut target = Array2::zeros((n, d));
        let mut time = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b, t) = self.coefficients(time_of(self, rng, i));
            for j in 0..d {
                let eps: f64 = StandardNormal.sample(rng);
                let x = x0[[i, j]] as f64;
                xt[[i, j]] = (a * x + b * eps) as f32;
                target[[i, j]] = match self {
                    Objective::Flow => (eps - x) as f32,
                    Objective::Ddpm { .. } => eps as f32,
                };
            }
            time.push(t);
        }
        NoisedBatch { xt, target, time }
    }

    /// (signal scale, noise scale, network time) at time `t`: (1 - t, t, t) for flow; for DDPM the cosine
    /// schedule at the nearest step round(t T) (clamped to the last step).
    fn coefficients(&self, t: f64) -> (f64, f64, f64) {
        match self {
            Objective::Flow => (1.0 - t, t, t),
            Objective::Ddpm { alpha_bar } => {
                let step = self.ddpm_step(t);
                let ab = alpha_bar[step];
                (ab.sqrt(), (1.0 - ab).sqrt(), step as f64 / alpha_bar.len() as f64)
            }
        }
    }

    /// The DDPM step nearest to network time `t` (round(t T), clamped), or 0 for flow.
    fn ddpm_step(&self, t: f64) -> usize {
        match self {
            Objective::Flow => 0,
            Objective::Ddpm { alpha_bar } => ((t * alpha_bar.len() as f64).round() as usize).min(alpha_bar.len() - 1),
        }
    }

    /// The predicted clean point x0_hat from the state `x` at network time `t` and the denoiser's `pred`:
    /// flow x - t v; DDPM (x - sqrt(1 - abar) eps) / sqrt(abar). Shapes: [n, dim] -> [n, dim].
    pub fn x0_hat(&self, x: ArrayView2<f32>, pred: ArrayView2<f32>, t: f64) -> Array2<f32> {
        let (a, b) = match self {
            Objective::Flow => (1.0, t),
            Objective::Ddpm { alpha_bar } => {
                let ab = alpha_bar[self.ddpm_step(t)];
                (ab.sqrt(), (1.0 - ab).sqrt())
            }
        };
        let mut out = x.to_owned();
        out.zip_mut_with(&pred, |xv, &p| *xv = ((*xv as f64 - b * p as f64) / a) as f32);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use ndarray::array;

    #[test]
    fn x0_hat_inverts_the_noising_with_the_true_target() {
        for kind in [ObjectiveKind::Flow, ObjectiveKind::Ddpm] {
            let objective = Objective::new(kind);
            let x0 = array![[0.5f32, -1.0], [2.0, 0.25], [-0.3, 0.9]];
            let times = [0.1, 0.5, 0.9];
            let b = objective.noise_at(x0.view(), &times, &mut derive(1, Stream::Data, &[]));
            for (i, &t) in b.time.iter().enumerate() {
                let rec = objective.x0_hat(
                    b.xt.row(i).insert_axis(ndarray::Axis(0)),
                    b.target.row(i).insert_axis(ndarray::Axis(0)),
                    t,
                );
                for j in 0..2 {
                    assert!(
                        (rec[[0, j]] - x0[[i, j]]).abs() < 1e-4,
                        "{kind:?} row {i}: {rec} vs {x0}"
                    );
                }
            }
        }
    }
}
