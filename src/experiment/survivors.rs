//! The experts that survive `sampling.lost_experts`, and the models sampling sees: the surviving experts, the
//! router over them alone (the softmax of their logits, i.e. the router's probabilities renormalised over them)
//! and the monolith as trained. Every routed policy then sees only the survivors without knowing any was lost.

use crate::diffusion::DenoiserModel;
use crate::ensemble::Ensemble;
use crate::error::Result;
use crate::routing::RouterModel;
use crate::scenario::Scenario;
use std::borrow::Cow;

/// Which trained experts sampling uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Survivors {
    /// The lost experts' indices among the trained experts, in removal order (empty: none lost).
    pub lost: Vec<usize>,
    /// The surviving experts' indices among the trained experts, ascending.
    pub kept: Vec<usize>,
}

impl Survivors {
    /// The survivors of `s`'s `sampling.lost_experts` among `experts` trained experts (errors name the key).
    pub fn of(s: &Scenario, experts: usize) -> Result<Self> {
        let lost = s.sampling.lost_experts.resolve(experts, s.seed)?;
        let kept = (0..experts).filter(|j| !lost.contains(j)).collect();
        Ok(Survivors { lost, kept })
    }

    /// Whether every trained expert survives (sampling then uses the trained models as they are).
    pub fn all(&self) -> bool {
        self.lost.is_empty()
    }

    /// Per-survivor values (in the order of `kept`) placed at the survivors' indices among all trained
    /// experts, with `lost_value` at the lost experts' (e.g. a routing share of 0: a lost expert gets none).
    pub fn by_trained_index(&self, values: &[f64], lost_value: f64) -> Vec<f64> {
        let mut out = vec![lost_value; self.kept.len() + self.lost.len()];
        for (&j, &v) in self.kept.iter().zip(values) {
            out[j] = v;
        }
        out
    }
}

/// The models one run samples with.
pub(super) struct SamplingModels<'a> {
    /// The surviving experts, in the order of [`Survivors::kept`].
    pub experts: Cow<'a, [DenoiserModel]>,
    /// The router over the surviving experts, when trained.
    pub router: Option<Cow<'a, RouterModel>>,
    /// The monolith, when trained (never affected by lost experts).
    pub monolith: Option<&'a DenoiserModel>,
}

impl<'a> SamplingModels<'a> {
    /// The trained `ensemble` seen through `survivors`: borrowed as it is when nothing is lost.
    pub fn of(ensemble: &'a Ensemble, survivors: &Survivors) -> Self {
        let monolith = ensemble.monolith.as_ref();
        if survivors.all() {
            return SamplingModels {
                experts: Cow::Borrowed(&ensemble.experts),
                router: ensemble.router.as_ref().map(Cow::Borrowed),
                monolith,
            };
        }
        let kept = &survivors.kept;
        SamplingModels {
            experts: Cow::Owned(kept.iter().map(|&j| ensemble.experts[j].clone()).collect()),
            router: ensemble.router.as_ref().map(|r| Cow::Owned(r.restricted_to(kept))),
            monolith,
        }
    }

    /// The router, if any.
    pub fn router(&self) -> Option<&RouterModel> {
        self.router.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::TimeNet;
    use crate::scenario::parse;

    fn ensemble(experts: usize) -> Ensemble {
        let model = |c: f32| {
            let net = TimeNet::new(1, 2, &[2], 1, false);
            let mut params = vec![0.0; net.mlp.param_count()];
            *params.last_mut().expect("parameters") = c;
            DenoiserModel { net, params }
        };
        let net = TimeNet::new(1, 2, &[2], experts, false);
        let params = vec![0.5; net.mlp.param_count()];
        Ensemble {
            experts: (0..experts).map(|j| model(j as f32)).collect(),
            router: Some(RouterModel {
                net,
                params,
                temperature: 1.0,
            }),
            monolith: Some(model(-1.0)),
            log: Vec::new(),
        }
    }

    #[test]
    fn no_routed_policy_evaluates_or_weights_a_lost_expert() {
        use crate::diffusion::{At, Denoiser, Objective};
        use crate::rng::{Stream, derive};
        use crate::routing::{BuildContext, Built, ExpertData, RoutedMixture, build};
        use ndarray::Array2;
        use std::sync::Arc;
        let mut trained = ensemble(4);
        // A lost expert whose output is NaN: any sum it entered, even with weight 0, would be NaN.
        trained.experts[2].params.fill(f32::NAN);
        let s = parse(
            "name: t\nclusters: { k: 4 }\nsampling: { lost_experts: [2] }\nrouting: [{ policy: top_k, k: 1 }, \
             { policy: top_k, k: 4 }, { policy: top_k, k: 4, renormalize: false }, { policy: full }, \
             { policy: uniform }, { policy: threshold, p_min: 0.3 }, { policy: top_p, p: 0.9 }, { policy: sample }, \
             { policy: random, k: 4 }, { policy: oracle }, { policy: schedule, name: s, stages: [{ t_min: 0.5, k: 4 }, \
             { t_min: 0, k: 1 }] }]\n",
        )
        .unwrap();
        let survivors = Survivors::of(&s, 4).unwrap();
        let models = SamplingModels::of(&trained, &survivors);
        let train = Array2::from_shape_fn((8, 1), |(i, _)| i as f32);
        let rows: Vec<Vec<usize>> = (0..4).map(|j| vec![2 * j, 2 * j + 1]).collect();
        let data = ExpertData::new(&train, &rows, 10, 1, &mut derive(0, Stream::Metrics, &[]));
        let x = Array2::from_shape_fn((5, 1), |(i, _)| i as f32 - 2.0);
        for (index, config) in s.routing.iter().enumerate() {
            let context = BuildContext {
                seed: 0,
                index,
                data: Arc::new(data.restricted_to(&survivors.kept)),
                objective: Objective::Flow,
            };
            let Built::Routed(policy) = build(config, &context) else {
                panic!("routed")
            };
            let mixture = RoutedMixture {
                experts: &models.experts,
                router: models.router(),
                policy: policy.as_ref(),
                device: None,
                guidance: None,
            };
            let e = mixture.evaluate(x.view(), At::time(0.5), true);
            assert_eq!(e.weights.ncols(), 3, "{config:?}");
            for (w, v) in e.weights.rows().into_iter().zip(&e.combined) {
                assert!(
                    (w.sum() - 1.0).abs() < 1e-5,
                    "{config:?}: weights {w} over the survivors"
                );
                // A convex combination of the survivors' constant outputs 0, 1 and 3.
                assert!(v.is_finite() && (0.0..=3.0).contains(v), "{config:?}: {v}");
            }
            if matches!(config, crate::scenario::RoutingConfig::TopK { k: 4, .. }) {
                assert!(
                    e.weights.iter().all(|&w| w > 0.0),
                    "top-k with k above the survivors keeps them all"
                );
            }
            let sampled = mixture.predict_all(x.view(), At::time(0.5));
            assert!(sampled.iter().all(|v| v.is_finite()), "{config:?}");
        }
    }

    #[test]
    fn survivors_are_every_expert_but_the_lost_ones() {
        let s = parse("name: t\nsampling: { lost_experts: [4, 1] }\n").unwrap();
        let survivors = Survivors::of(&s, 6).unwrap();
        assert_eq!(survivors.lost, vec![4, 1]);
        assert_eq!(survivors.kept, vec![0, 2, 3, 5]);
        assert_eq!(
            survivors.by_trained_index(&[0.1, 0.2, 0.3, 0.4], 0.0),
            vec![0.1, 0.0, 0.2, 0.3, 0.0, 0.4]
        );
        let err = Survivors::of(&s, 4).unwrap_err().to_string();
        assert!(
            err.starts_with("sampling.lost_experts: expert 4 does not exist"),
            "{err}"
        );
    }

    #[test]
    fn the_sampling_models_are_the_survivors_and_the_monolith_as_trained() {
        let trained = ensemble(4);
        let none = Survivors::of(&parse("name: t\n").unwrap(), 4).unwrap();
        let all = SamplingModels::of(&trained, &none);
        assert!(matches!(all.experts, Cow::Borrowed(_)) && matches!(all.router, Some(Cow::Borrowed(_))));
        let s = parse("name: t\nsampling: { lost_experts: [2, 0] }\n").unwrap();
        let some = SamplingModels::of(&trained, &Survivors::of(&s, 4).unwrap());
        let constants: Vec<f32> = some.experts.iter().map(|e| *e.params.last().unwrap()).collect();
        assert_eq!(constants, vec![1.0, 3.0]);
        assert_eq!(some.router().unwrap().net.mlp.output(), 2);
        assert!(std::ptr::eq(some.monolith.unwrap(), trained.monolith.as_ref().unwrap()));
    }
}
