//! A routed mixture of experts that is itself a [`Denoiser`]: per sample and per step, the policy's weights pick
//! which experts run, and only those experts are evaluated on those samples.

use super::{RouteState, RouterModel, RoutingPolicy, softmax};
use crate::diffusion::sampler::{CHUNK, map_chunks, stack_rows};
use crate::diffusion::{At, Branch, Denoiser, DenoiserModel, Guidance, LoadedNets};
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
    /// Classifier-free guidance of conditional experts (`None`: each expert's plain prediction). Row r of a batch
    /// is global row `at.first_row + r`, whose requested class the guidance holds.
    pub guidance: Option<&'a Guidance>,
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
    /// runs only on the rows that give it weight. Under `combined` guidance the combined prediction is
    /// U + w (C - U) and the rest is the conditional branch's.
    pub fn evaluate(&self, x: ArrayView2<f32>, at: At, every_expert: bool) -> Evaluation {
        let evaluation = match self.guidance.filter(|g| g.blends_mixtures()) {
            None => self.evaluate_branch(x, at, every_expert, self.branch()),
            Some(g) => {
                let conditional = self.evaluate_branch(x, at, every_expert, Branch::Conditional);
                let unconditional = self.evaluate_branch(x, at, false, Branch::Unconditional);
                Evaluation {
                    combined: g.blend(unconditional.combined, &conditional.combined),
                    ..conditional
                }
            }
        };
        self.policy.observe(x, at, evaluation.combined.view());
        evaluation
    }

    /// The branch the experts run when the mixture is evaluated once.
    fn branch(&self) -> Branch {
        self.guidance.map_or(Branch::Guided, Guidance::expert_branch)
    }

    /// Expert `j`'s prediction on `x` (only on `rows` of it, in order, when given) in `branch` of the guidance.
    fn run_expert(&self, j: usize, x: ArrayView2<f32>, at: At, rows: Option<&[usize]>, branch: Branch) -> Array2<f32> {
        let expert = &self.experts[j];
        let selected;
        let x = match rows {
            Some(rows) if rows.len() != x.nrows() => {
                selected = x.select(Axis(0), rows);
                selected.view()
            }
            _ => x,
        };
        let Some(g) = self.guidance else {
            return expert.predict(x, at);
        };
        let ids: Vec<usize> = match rows {
            Some(rows) => rows.iter().map(|r| at.first_row + r).collect(),
            None => (at.first_row..at.first_row + x.nrows()).collect(),
        };
        g.predict(expert, x, at, &ids, branch)
    }

    /// [`RoutedMixture::evaluate`] with the experts in `branch`.
    fn evaluate_branch(&self, x: ArrayView2<f32>, at: At, every_expert: bool, branch: Branch) -> Evaluation {
        let e = self.experts.len();
        let wants_router = self.policy.needs_router() || (every_expert && self.router.is_some());
        let probs = match (wants_router, self.router) {
            (true, Some(router)) => Some(self.router_probs(router, x, at, branch)),
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
            (0..e)
                .map(|j| self.run_expert(j, x, at, None, branch))
                .collect::<Vec<_>>()
        });
        let weights = self.policy.weights(&RouteState {
            probs: probs_view,
            x,
            at,
            predictions: predictions.as_deref(),
        });
        let mut combined = Array2::zeros(x.raw_dim());
        for j in 0..e {
            let rows: Vec<usize> = (0..x.nrows()).filter(|&i| weights[[i, j]] > 0.0).collect();
            if rows.is_empty() {
                continue;
            }
            // Rows of `pred` are either all rows of x (`compact` false) or only `rows`, in order.
            let own;
            let (pred, compact) = match &predictions {
                Some(all) => (&all[j], false),
                None => {
                    own = self.run_expert(j, x, at, Some(&rows), branch);
                    (&own, rows.len() != x.nrows())
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

    /// The router's probabilities on `x` in `branch`: given the rows' requested classes when the router is
    /// conditional and the branch uses them, else without a class. Shape [n, experts].
    fn router_probs(&self, router: &RouterModel, x: ArrayView2<f32>, at: At, branch: Branch) -> Array2<f32> {
        match self.guidance {
            Some(g) if router.net.classes > 0 && g.uses_classes(branch) => {
                let ids: Vec<usize> = (at.first_row..at.first_row + x.nrows()).collect();
                router.probs_classes(x, at.t, &g.requested(at, &ids))
            }
            _ => router.probs(x, at.t),
        }
    }

    /// The policy's weights for one sampler chunk in `branch`; the router runs only when the policy needs it, on
    /// the CPU unless its probabilities for the chunk are given. Shape [n, experts].
    fn chunk_weights(&self, x: ArrayView2<f32>, at: At, given: Option<ArrayView2<f32>>, branch: Branch) -> Array2<f32> {
        let computed;
        let probs = match (self.needed_router(), given) {
            (Some(_), Some(p)) => p,
            (Some(router), None) => {
                computed = self.router_probs(router, x, at, branch);
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
            self.chunk_weights(chunk, chunk_at, given, Branch::Guided)
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
        let combined = match self.guidance.filter(|g| g.blends_mixtures()) {
            None => self.predict_all_branch(x, at, self.branch()),
            Some(g) => {
                let conditional = self.predict_all_branch(x, at, Branch::Conditional);
                g.blend(self.predict_all_branch(x, at, Branch::Unconditional), &conditional)
            }
        };
        self.policy.observe(x, at, combined.view());
        combined
    }
}

impl RoutedMixture<'_> {
    /// [`Denoiser::predict_all`] with the experts in `branch`.
    fn predict_all_branch(&self, x: ArrayView2<f32>, at: At, branch: Branch) -> Array2<f32> {
        if x.nrows() == 0 {
            return Array2::zeros(x.raw_dim());
        }
        if self.policy.needs_predictions() {
            return stack_rows(&map_chunks(x, at, |chunk, at| {
                self.evaluate_branch(chunk, at, false, branch).combined
            }));
        }
        if let Some(device) = self.device {
            debug_assert!(self.guidance.is_none(), "guidance runs on the CPU");
            return self.predict_on_device(device, x, at);
        }
        let parts = map_chunks(x, at, |chunk, at| self.chunk_weights(chunk, at, None, branch));
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
            .map(|(j, rows)| self.run_expert(*j, x, at, Some(rows), branch))
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
                guidance: None,
            };
            let at = At {
                t: 0.6,
                step: 3,
                steps: 10,
                first_row: 0,
                rows: crate::diffusion::Rows::Samples,
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
            guidance: None,
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
            guidance: None,
        };
        assert!((top1.predict(x.view(), At::time(0.5))[[2, 0]] - 10.0).abs() < 1e-5);
        let uniform = RoutedMixture {
            experts: &experts,
            router: None,
            policy: &Uniform,
            device: None,
            guidance: None,
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
                guidance: None,
            };
            assert!(mixture.predict(x.view(), At::time(0.5)).iter().all(|v| v.is_nan()));
            assert!(mixture.predict_all(x.view(), At::time(0.5)).iter().all(|v| v.is_nan()));
        }
    }

    /// Conditional experts of 3 classes with seeded random weights.
    fn conditional_experts(n: u64) -> Vec<DenoiserModel> {
        use rand::Rng as _;
        (0..n)
            .map(|j| {
                let net = TimeNet::conditional(2, 4, 3, &[16, 16], 2, false);
                let rng = &mut crate::rng::derive(0, crate::rng::Stream::Init, &[20 + j]);
                let params = (0..net.mlp.param_count())
                    .map(|_| rng.random_range(-0.5..0.5))
                    .collect();
                DenoiserModel { net, params }
            })
            .collect()
    }

    #[test]
    fn guidance_per_expert_and_combined_agree_under_a_router_that_ignores_the_class() {
        use crate::diffusion::Guidance;
        use crate::scenario::GuidanceApply;
        let experts = conditional_experts(3);
        let (net, params) = random_net(2, 3, 9);
        let router = RouterModel {
            net,
            params,
            temperature: 1.0,
        };
        let n = CHUNK + 40;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 2 + j) as f32 * 0.377).cos() * 2.0);
        let at = At {
            t: 0.4,
            step: 2,
            steps: 10,
            first_row: 0,
            rows: crate::diffusion::Rows::Samples,
        };
        let top2 = TopK {
            k: 2,
            renormalize: true,
        };
        for policy in [&top2 as &dyn RoutingPolicy, &Full] {
            let mut seen: Vec<Array2<f32>> = Vec::new();
            for scale in [0.0f32, 1.0, 3.0, 7.5] {
                let guidance = |apply| Guidance {
                    scale,
                    classes: (0..n).map(|i| i % 3).collect(),
                    held_out: Vec::new(),
                    apply,
                };
                let (per, comb) = (guidance(GuidanceApply::PerExpert), guidance(GuidanceApply::Combined));
                let mixture = |g| RoutedMixture {
                    experts: &experts,
                    router: Some(&router),
                    policy,
                    device: None,
                    guidance: Some(g),
                };
                let (a, b) = (mixture(&per), mixture(&comb));
                let (pa, pb) = (a.predict_all(x.view(), at), b.predict_all(x.view(), at));
                if scale == 0.0 || scale == 1.0 {
                    // One branch each: the same sums in the same order.
                    assert_eq!(pa, pb, "w = {scale}");
                } else {
                    let gap = (&pa - &pb).iter().fold(0f32, |m, d| m.max(d.abs()));
                    assert!(gap < 1e-5, "w = {scale}: per_expert and combined differ by {gap}");
                }
                // Chunk by chunk (what the analyses evaluate) equals the batched call.
                assert_eq!(pa, crate::diffusion::sampler::predict_in_chunks(&a, x.view(), at));
                assert_eq!(pb, crate::diffusion::sampler::predict_in_chunks(&b, x.view(), at));
                assert!(!seen.contains(&pa), "w = {scale} gives another scale's prediction");
                seen.push(pa);
            }
        }
    }

    #[test]
    fn guidance_moves_each_expert_along_its_conditional_direction() {
        use crate::diffusion::{Guidance, Guided};
        use crate::scenario::GuidanceApply;
        let experts = conditional_experts(1);
        let n = 7;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| (i as f32 - j as f32) * 0.3);
        let classes: Vec<usize> = (0..n).map(|i| (i + 1) % 3).collect();
        let at = At::time(0.5);
        let u = experts[0].predict(x.view(), at);
        let c = experts[0].predict_classes(x.view(), at, &classes);
        assert_ne!(u, c, "the class must matter");
        let guidance = Guidance {
            scale: 2.5,
            classes,
            held_out: Vec::new(),
            apply: GuidanceApply::PerExpert,
        };
        let guided = Guided {
            model: &experts[0],
            guidance: &guidance,
        }
        .predict(x.view(), at);
        let expected = &u + &((&c - &u) * 2.5);
        assert!((&guided - &expected).iter().all(|d| d.abs() < 1e-5));
        // A mixture of one expert is that expert, guided.
        let mixture = RoutedMixture {
            experts: &experts,
            router: None,
            policy: &Uniform,
            device: None,
            guidance: Some(&guidance),
        };
        assert_eq!(mixture.predict_all(x.view(), at), guided);
    }

    #[test]
    fn a_router_that_sees_the_class_separates_combined_from_per_expert_except_at_scale_one() {
        use crate::diffusion::Guidance;
        use crate::scenario::GuidanceApply;
        use rand::Rng as _;
        let experts = conditional_experts(3);
        let net = TimeNet::conditional(2, 4, 3, &[16], 3, false);
        let rng = &mut crate::rng::derive(0, crate::rng::Stream::Init, &[40]);
        let params = (0..net.mlp.param_count())
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let router = RouterModel {
            net,
            params,
            temperature: 1.0,
        };
        let n = 50;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 2 + j) as f32 * 0.53).sin());
        let classes: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let at = At::time(0.3);
        assert_ne!(
            router.probs(x.view(), 0.3),
            router.probs_classes(x.view(), 0.3, &classes)
        );
        for scale in [1.0f32, 4.0] {
            let guidance = |apply| Guidance {
                scale,
                classes: classes.clone(),
                held_out: Vec::new(),
                apply,
            };
            let (per, comb) = (guidance(GuidanceApply::PerExpert), guidance(GuidanceApply::Combined));
            let mixture = |g| RoutedMixture {
                experts: &experts,
                router: Some(&router),
                policy: &Full,
                device: None,
                guidance: Some(g),
            };
            let (pa, pb) = (
                mixture(&per).predict_all(x.view(), at),
                mixture(&comb).predict_all(x.view(), at),
            );
            let gap = (&pa - &pb).iter().fold(0f32, |m, d| m.max(d.abs()));
            if scale == 1.0 {
                assert_eq!(pa, pb);
            } else {
                assert!(gap > 1e-4, "w = {scale}: the router's class made no difference ({gap})");
            }
        }
    }
}
