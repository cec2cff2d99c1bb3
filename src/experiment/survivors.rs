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
