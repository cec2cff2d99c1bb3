//! A routed mixture of experts that is itself a [`Denoiser`]: per sample and per step, the policy's weights pick
//! which experts run, and only those experts are evaluated on those samples.

use super::{RouterModel, RoutingPolicy};
use crate::diffusion::{Denoiser, DenoiserModel};
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

impl RoutedMixture<'_> {
    /// Mixture weights at (x, t). Shapes: x [n, dim] -> [n, experts].
    pub fn weights(&self, x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        let e = self.experts.len();
        let probs = match (self.policy.needs_router(), self.router) {
            (true, Some(router)) => router.probs(x, t),
            (true, None) => panic!("this routing policy needs a router"),
            (false, _) => Array2::from_elem((x.nrows(), e), 1.0 / e as f32),
        };
        self.policy.weights(probs.view())
    }
}

impl Denoiser for RoutedMixture<'_> {
    fn predict(&self, x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        let w = self.weights(x, t);
        let mut out = Array2::zeros(x.raw_dim());
        for (j, expert) in self.experts.iter().enumerate() {
            let rows: Vec<usize> = (0..x.nrows()).filter(|&i| w[[i, j]] > 0.0).collect();
            if rows.is_empty() {
                continue;
            }
            let pred = if rows.len() == x.nrows() {
                expert.predict(x, t)
            } else {
                expert.predict(x.select(Axis(0), &rows).view(), t)
            };
            for (k, &i) in rows.iter().enumerate() {
                let weight = w[[i, j]];
                out.row_mut(i).scaled_add(weight, &pred.row(k));
            }
        }
        out
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
        assert!((full.predict(x.view(), 0.5)[[0, 0]] - (1.0 + 20.0 + 100.0) / 4.0).abs() < 1e-4);
        let top1 = RoutedMixture {
            experts: &experts,
            router: Some(&router),
            policy: &TopK {
                k: 1,
                renormalize: true,
            },
        };
        assert!((top1.predict(x.view(), 0.5)[[2, 0]] - 10.0).abs() < 1e-5);
        let uniform = RoutedMixture {
            experts: &experts,
            router: None,
            policy: &Uniform,
        };
        assert!((uniform.predict(x.view(), 0.5)[[1, 0]] - 37.0).abs() < 1e-4);
    }
}
