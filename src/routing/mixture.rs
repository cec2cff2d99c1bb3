//! A routed mixture of experts that is itself a [`Denoiser`]: per sample and per step, the policy's weights pick
//! which experts run, and only those experts are evaluated on those samples.

use super::{RouteState, RouterModel, RoutingPolicy};
use crate::diffusion::{At, Denoiser, DenoiserModel};
use ndarray::{Array2, ArrayView2, Axis};

/// Experts combined by a routing policy: v(x, t) = sum_j w_j(x, t) v_j(x, t).
pub struct RoutedMixture<'a> {
    /// The experts.
    pub experts: &'a [DenoiserModel],
    /// The router (needed unless the policy ignores it).
    pub router: Option<&'a RouterModel>,
    /// The policy.
    pub policy: &'a dyn RoutingPolicy,
}

/// Everything the mixture computed for one batch.
pub struct Evaluation {
    /// Router probabilities, when the router was run. Shape [n, experts].
    pub probs: Option<Array2<f32>>,
    /// The policy's weights (zero = expert not used for that row). Shape [n, experts].
    pub weights: Array2<f32>,
    /// Every expert's prediction on every row, when asked for (or needed by the policy). Shapes [n, dim].
    pub predictions: Option<Vec<Array2<f32>>>,
    /// The combined prediction sum_j w_j v_j. Shape [n, dim].
    pub combined: Array2<f32>,
}

impl RoutedMixture<'_> {
    /// Evaluates the mixture at (x, at). With `every_expert`, all experts run on all rows and their predictions
    /// (and the router's probabilities, if there is a router) are returned for analysis; otherwise each expert
    /// runs only on the rows that give it weight.
    pub fn evaluate(&self, x: ArrayView2<f32>, at: At, every_expert: bool) -> Evaluation {
        let e = self.experts.len();
        let wants_router = self.policy.needs_router() || (every_expert && self.router.is_some());
        let probs = match (wants_router, self.router) {
            (true, Some(router)) => Some(router.probs(x, at.t)),
            (true, None) => panic!("this routing policy needs a router"),
            (false, _) => None,
        };
        let uniform;
        let probs_view = match &probs {
            Some(p) => p.view(),
            None => {
                uniform = Array2::from_elem((x.nrows(), e), 1.0 / e as f32);
                uniform.view()
            }
        };
        let predictions = (every_expert || self.policy.needs_predictions()).then(|| {
            self.experts
                .iter()
                .map(|expert| expert.predict(x, at))
                .collect::<Vec<_>>()
        });
        let weights = self.policy.weights(&RouteState {
            probs: probs_view,
            x,
            at,
            predictions: predictions.as_deref(),
        });
        let mut combined = Array2::zeros(x.raw_dim());
        for (j, expert) in self.experts.iter().enumerate() {
            let rows: Vec<usize> = (0..x.nrows()).filter(|&i| weights[[i, j]] > 0.0).collect();
            if rows.is_empty() {
                continue;
            }
            // Rows of `pred` are either all rows of x (`compact` false) or only `rows`, in order.
            let own;
            let (pred, compact) = match &predictions {
                Some(all) => (&all[j], false),
                None if rows.len() == x.nrows() => {
                    own = expert.predict(x, at);
                    (&own, false)
                }
                None => {
                    own = expert.predict(x.select(Axis(0), &rows).view(), at);
                    (&own, true)
                }
            };
            for (k, &i) in rows.iter().enumerate() {
                let source = if compact { k } else { i };
                combined.row_mut(i).scaled_add(weights[[i, j]], &pred.row(source));
            }
        }
        Evaluation {
            probs,
            weights,
            predictions,
            combined,
        }
    }
}

impl Denoiser for RoutedMixture<'_> {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        self.evaluate(x, at, false).combined
    }
}

/// A denoiser made of experts whose routing can be inspected (what the alignment and stability analyses see).
pub trait Routed: Denoiser {
    /// Number of experts.
    fn experts(&self) -> usize;

    /// Whether the policy ranks experts by the router (so "the top routed expert" is meaningful).
    fn ranks_by_router(&self) -> bool;

    /// The full evaluation at (x, at); see [`RoutedMixture::evaluate`].
    fn evaluate(&self, x: ArrayView2<f32>, at: At, every_expert: bool) -> Evaluation;
}

impl Routed for RoutedMixture<'_> {
    fn experts(&self) -> usize {
        self.experts.len()
    }

    fn ranks_by_router(&self) -> bool {
        self.policy.needs_router()
    }

    fn evaluate(&self, x: ArrayView2<f32>, at: At, every_expert: bool) -> Evaluation {
        RoutedMixture::evaluate(self, x, at, every_expert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::TimeNet;
    use crate::routing::{Full, TopK, Uniform};

    /// An expert whose output is the constant `c` (zero weights, output bias c).
    fn constant_expert(c: f32) -> DenoiserModel {
        let net = TimeNet::new(1, 2, &[2], 1, false);
        let mut params = vec![0.0; net.mlp.param_count()];
        *params.last_mut().unwrap() = c;
        DenoiserModel { net, params }
    }

    /// A router with fixed logits (zero weights, output bias = logits).
    fn fixed_router(logits: &[f32]) -> RouterModel {
        let net = TimeNet::new(1, 2, &[2], logits.len(), false);
        let mut params = vec![0.0; net.mlp.param_count()];
        let n = params.len();
        params[n - logits.len()..].copy_from_slice(logits);
        RouterModel {
            net,
            params,
            temperature: 1.0,
        }
    }

    #[test]
    fn mixture_combines_expert_outputs_with_policy_weights() {
        let experts = [constant_expert(1.0), constant_expert(10.0), constant_expert(100.0)];
        let router = fixed_router(&[0.0, (2.0f32).ln(), 0.0]);
        let x = Array2::zeros((3, 1));
        let full = RoutedMixture {
            experts: &experts,
            router: Some(&router),
            policy: &Full,
        };
        assert!((full.predict(x.view(), At::time(0.5))[[0, 0]] - (1.0 + 20.0 + 100.0) / 4.0).abs() < 1e-4);
        let top1 = RoutedMixture {
            experts: &experts,
            router: Some(&router),
            policy: &TopK {
                k: 1,
                renormalize: true,
            },
        };
        assert!((top1.predict(x.view(), At::time(0.5))[[2, 0]] - 10.0).abs() < 1e-5);
        let uniform = RoutedMixture {
            experts: &experts,
            router: None,
            policy: &Uniform,
        };
        assert!((uniform.predict(x.view(), At::time(0.5))[[1, 0]] - 37.0).abs() < 1e-4);
    }
}
