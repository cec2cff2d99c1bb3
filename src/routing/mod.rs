//! Routing: the router, the policies that turn its probabilities into expert weights, and the routed mixture.

mod expert_data;
mod mixture;
mod nearest_data;
mod oracle;
mod policy;
mod router;
mod sparse;
mod stochastic;

pub use crate::scenario::PolicyLabel;
pub use expert_data::ExpertData;
pub use mixture::{Evaluation, Routed, RoutedMixture};
pub use nearest_data::NearestData;
pub use oracle::Oracle;
pub use policy::{Full, RouteState, RoutingPolicy, TopK, Uniform};
pub use router::{RouterModel, RouterTask, softmax};
pub use sparse::{Schedule, Threshold, TopP};
pub use stochastic::{RandomK, SampleOne};

use crate::diffusion::Objective;
use crate::scenario::RoutingConfig;
use std::sync::Arc;

/// What a routing entry of the scenario evaluates.
pub enum Built {
    /// Experts combined by this policy.
    Routed(Box<dyn RoutingPolicy>),
    /// The monolithic baseline model (no experts, no router).
    Monolith,
}

/// What some policies need beyond their own settings.
pub struct BuildContext {
    /// Root seed of the run (stochastic policies).
    pub seed: u64,
    /// Position of the entry in the scenario's routing list (keeps stochastic policies' draws apart).
    pub index: usize,
    /// The experts' training data (the oracle).
    pub data: Arc<ExpertData>,
    /// The objective (the oracle's x0_hat).
    pub objective: Objective,
}

/// Builds the policy of a scenario routing entry.
pub fn build(config: &RoutingConfig, context: &BuildContext) -> Built {
    let tag = context.index as u64;
    let policy: Box<dyn RoutingPolicy> = match config {
        &RoutingConfig::TopK { k, renormalize } => Box::new(TopK { k, renormalize }),
        RoutingConfig::Full => Box::new(Full),
        RoutingConfig::Uniform => Box::new(Uniform),
        &RoutingConfig::Threshold { p_min } => Box::new(Threshold { p_min: p_min as f32 }),
        &RoutingConfig::TopP { p } => Box::new(TopP { p: p as f32 }),
        RoutingConfig::Sample => Box::new(SampleOne {
            seed: context.seed,
            tag,
        }),
        &RoutingConfig::Random { k } => Box::new(RandomK {
            k,
            seed: context.seed,
            tag,
        }),
        &RoutingConfig::NearestData { k } => Box::new(NearestData::new(
            k,
            Arc::clone(&context.data),
            context.objective.clone(),
        )),
        RoutingConfig::Oracle => Box::new(Oracle {
            data: Arc::clone(&context.data),
            objective: context.objective.clone(),
        }),
        RoutingConfig::Schedule { stages, .. } => Box::new(Schedule {
            stages: stages.iter().map(|s| (s.t_min, s.k)).collect(),
        }),
        RoutingConfig::Monolith => return Built::Monolith,
    };
    Built::Routed(policy)
}
