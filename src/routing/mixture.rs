//! A routed mixture of experts that is itself a [`Denoiser`]: per sample and per step, the policy's weights pick
//! which experts run, and only those experts are evaluated on those samples.

use super::{RouteState, RouterModel, RoutingPolicy, softmax};
use crate::diffusion::sampler::{CHUNK, map_chunks, predict_in_chunks, stack_rows};
use crate::diffusion::{At, Denoiser, DenoiserModel, LoadedNets};
use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Experts combined by a routing policy: v(x, t) = sum_j w_j(x, t) v_j(x, t).
pub struct RoutedMixture<'a> {
    /// The experts.
    pub experts: &'a [DenoiserModel],
    /// The router (needed unless the policy ignores it).
    pub router: Option<&'a RouterModel>,
    /// The policy.
    pub policy: &'a dyn RoutingPolicy,
    /// The experts (nets 0..E) and the router (net E, if any) held by a device: the sampler's calls
    /// ([`Denoiser::predict_all`]) then run there, except for policies that need every expert's prediction. The
    /// analyses' [`RoutedMixture::evaluate`] always runs on the CPU.
    pub device: Option<&'a dyn LoadedNets>,
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
        poison_unroutable(&weights, &mut combined);
        Evaluation {
            probs,
            weights,
            predictions,
            combined,
        }
    }
}

impl RoutedMixture<'_> {
    /// The router, when the policy needs one (panics if the policy needs one and there is none).
    fn needed_router(&self) -> Option<&RouterModel> {
        self.policy
            .needs_router()
            .then(|| self.router.expect("this routing policy needs a router"))
    }

    /// The policy's weights for one sampler chunk; the router runs only when the policy needs it, on the CPU
    /// unless its probabilities for the chunk are given. Shape [n, experts].
    fn chunk_weights(&self, x: ArrayView2<f32>, at: At, given: Option<ArrayView2<f32>>) -> Array2<f32> {
        let computed;
        let probs = match (self.needed_router(), given) {
            (Some(_), Some(p)) => p,
            (Some(router), None) => {
                computed = router.probs(x, at.t);
                computed.view()
            }
            (None, _) => {
                computed = Array2::from_elem((x.nrows(), self.experts.len()), 1.0 / self.experts.len() as f32);
                computed.view()
            }
        };
        self.policy.weights(&RouteState {
            probs,
            x,
            at,
            predictions: None,
        })
    }

    /// [`Denoiser::predict_all`] on the device: router on the device, the policy's weights on the CPU chunk by
    /// chunk (stochastic policies key their draws on global rows), experts and their combination on the device.
    fn predict_on_device(&self, device: &dyn LoadedNets, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        let probs = self
            .needed_router()
            .map(|router| softmax(device.forward(self.experts.len(), x, at.t), router.temperature));
        let parts = map_chunks(x, at, |chunk, chunk_at| {
            let start = chunk_at.first_row - at.first_row;
            let given = probs.as_ref().map(|p| p.slice(s![start..start + chunk.nrows(), ..]));
            self.chunk_weights(chunk, chunk_at, given)
        });
        let weights = stack_rows(&parts);
        let mut combined = device.combine(x, at.t, weights.view());
        poison_unroutable(&weights, &mut combined);
        combined
    }
}

/// Makes the prediction of every row the policy could not route (a non-finite weight, or no weight at all, as
/// from non-finite router probabilities) NaN, so the sampler reports it instead of leaving the row where it was.
fn poison_unroutable(weights: &Array2<f32>, combined: &mut Array2<f32>) {
    for (w, mut out) in weights.rows().into_iter().zip(combined.rows_mut()) {
        let total: f32 = w.sum();
        if !(total > 0.0 && total.is_finite()) || w.iter().any(|v| !v.is_finite()) {
            out.fill(f32::NAN);
        }
    }
}

impl Denoiser for RoutedMixture<'_> {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        self.evaluate(x, at, false).combined
    }

    /// Routes every sampler chunk as [`RoutedMixture::evaluate`] does, then runs each expert once on all the rows
    /// of the whole set that give it weight (in batches of [`CHUNK`] rows) instead of on each chunk's few: the
    /// per-call cost of a matrix product (packing an expert's weights) is paid per CHUNK rows, not per chunk. A
    /// row's prediction does not depend on the other rows of its batch, and each row still sums its experts in
    /// expert order, so the result is the same as chunk by chunk.
    fn predict_all(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        if self.policy.needs_predictions() || x.nrows() == 0 {
            return predict_in_chunks(self, x, at);
        }
        if let Some(device) = self.device {
            return self.predict_on_device(device, x, at);
        }
        let parts = map_chunks(x, at, |chunk, at| self.chunk_weights(chunk, at, None));
        let weights = stack_rows(&parts);
        // (expert, rows) batches in expert order; contiguous so that a thread keeps one expert's weights in cache.
        let batches: Vec<(usize, Vec<usize>)> = (0..self.experts.len())
            .flat_map(|j| {
                let rows: Vec<usize> = (0..x.nrows()).filter(|&i| weights[[i, j]] > 0.0).collect();
                rows.chunks(CHUNK).map(|b| (j, b.to_vec())).collect::<Vec<_>>()
            })
            .collect();
        let predictions: Vec<Array2<f32>> = batches
            .par_iter()
            .map(|(j, rows)| {
                let expert = &self.experts[*j];
                if rows.len() == x.nrows() {
                    expert.predict(x, at)
                } else {
                    expert.predict(x.select(Axis(0), rows).view(), at)
                }
            })
            .collect();
        let mut combined = Array2::zeros(x.raw_dim());
        for ((j, rows), pred) in batches.iter().zip(&predictions) {
            for (k, &i) in rows.iter().enumerate() {
                combined.row_mut(i).scaled_add(weights[[i, *j]], &pred.row(k));
            }
        }
        poison_unroutable(&weights, &mut combined);
        combined
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

    /// A network with seeded random weights everywhere (output layer included).
    fn random_net(input: usize, output: usize, tag: u64) -> (TimeNet, Vec<f32>) {
        use rand::Rng as _;
        let net = TimeNet::new(input, 4, &[16, 16], output, false);
        let rng = &mut crate::rng::derive(0, crate::rng::Stream::Init, &[tag]);
        let params = (0..net.mlp.param_count())
            .map(|_| rng.random_range(-0.5..0.5))
            .collect();
        (net, params)
    }

    #[test]
    fn batching_rows_by_expert_across_chunks_changes_no_row() {
        use crate::diffusion::sampler::{CHUNK, predict_in_chunks};
        use crate::routing::{RandomK, SampleOne};
        let experts: Vec<DenoiserModel> = (0..4)
            .map(|j| {
                let (net, params) = random_net(2, 2, j);
                DenoiserModel { net, params }
            })
            .collect();
        let (net, params) = random_net(2, 4, 9);
        let router = RouterModel {
            net,
            params,
            temperature: 1.0,
        };
        let n = 2 * CHUNK + 77;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 2 + j) as f32 * 0.731).sin() * 2.0);
        let policies: Vec<Box<dyn RoutingPolicy>> = vec![
            Box::new(TopK {
                k: 1,
                renormalize: true,
            }),
            Box::new(TopK {
                k: 2,
                renormalize: false,
            }),
            Box::new(Full),
            Box::new(SampleOne { seed: 0, tag: 1 }),
            Box::new(RandomK { k: 2, seed: 0, tag: 2 }),
        ];
        for policy in &policies {
            let mixture = RoutedMixture {
                experts: &experts,
                router: Some(&router),
                policy: policy.as_ref(),
                device: None,
            };
            let at = At {
                t: 0.6,
                step: 3,
                first_row: 0,
            };
            let batched = mixture.predict_all(x.view(), at);
            let chunked = predict_in_chunks(&mixture, x.view(), at);
            assert_eq!(batched, chunked, "batched rows differ from chunk-by-chunk ones");
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
            device: None,
        };
        assert!((full.predict(x.view(), At::time(0.5))[[0, 0]] - (1.0 + 20.0 + 100.0) / 4.0).abs() < 1e-4);
        let top1 = RoutedMixture {
            experts: &experts,
            router: Some(&router),
            policy: &TopK {
                k: 1,
                renormalize: true,
            },
            device: None,
        };
        assert!((top1.predict(x.view(), At::time(0.5))[[2, 0]] - 10.0).abs() < 1e-5);
        let uniform = RoutedMixture {
            experts: &experts,
            router: None,
            policy: &Uniform,
            device: None,
        };
        assert!((uniform.predict(x.view(), At::time(0.5))[[1, 0]] - 37.0).abs() < 1e-4);
    }

    #[test]
    fn rows_the_router_cannot_route_come_out_nan_not_unmoved() {
        let experts = [constant_expert(1.0), constant_expert(10.0)];
        let router = fixed_router(&[f32::NAN, 0.0]);
        let x = Array2::zeros((3, 1));
        for policy in [
            &Full as &dyn RoutingPolicy,
            &TopK {
                k: 1,
                renormalize: true,
            },
        ] {
            let mixture = RoutedMixture {
                experts: &experts,
                router: Some(&router),
                policy,
                device: None,
            };
            assert!(mixture.predict(x.view(), At::time(0.5)).iter().all(|v| v.is_nan()));
            assert!(mixture.predict_all(x.view(), At::time(0.5)).iter().all(|v| v.is_nan()));
        }
    }
}
