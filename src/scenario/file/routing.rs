//! The `routing` section: the routing policies compared on the same trained experts.

use super::d_true;
use serde::{Deserialize, Serialize};

/// The paper's comparison: top-1, top-2, the router-weighted full ensemble and the monolith.
pub(super) fn default_routing() -> Vec<RoutingConfig> {
    vec![
        RoutingConfig::TopK {
            k: 1,
            renormalize: true,
        },
        RoutingConfig::TopK {
            k: 2,
            renormalize: true,
        },
        RoutingConfig::Full,
        RoutingConfig::Monolith,
    ]
}

/// A routing policy; `policy` selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RoutingConfig {
    /// The k experts with the largest router probabilities.
    TopK {
        /// How many experts are evaluated per sample and step.
        k: usize,
        /// Renormalise the k probabilities to sum to 1 (raw probabilities otherwise).
        #[serde(default = "d_true")]
        renormalize: bool,
    },
    /// Every expert, weighted by the router (DDM's full ensemble).
    Full,
    /// Every expert with equal weight (naive averaging).
    Uniform,
    /// Experts with router probability at least `p_min`, renormalised; at least the most probable one.
    Threshold {
        /// Smallest probability that keeps an expert, in (0, 1].
        p_min: f64,
    },
    /// The smallest set of most probable experts whose mass reaches `p`, renormalised (nucleus routing).
    TopP {
        /// Probability mass to reach, in (0, 1].
        p: f64,
    },
    /// One expert per sample and step, drawn from the router's probabilities.
    Sample,
    /// k experts per sample and step uniformly at random, equal weights (ignores the router; a control).
    Random {
        /// Experts per sample and step.
        k: usize,
    },
    /// The expert whose training data is nearest to the full ensemble's x0_hat (an upper bound, not deployable).
    Oracle,
    /// The k experts whose training data (the alignment subsample the server holds) is nearest to the previous
    /// step's x0_hat, equal weights; the first step uses the router's top-k.
    NearestData {
        /// Experts per sample and step.
        k: usize,
    },
    /// Renormalised top-k with k depending on t: at time t the first stage with `t_min <= t` applies.
    Schedule {
        /// Name used in the label `schedule:<name>` (letters, digits, `.`, `-`, `_`).
        name: String,
        /// Stages by decreasing `t_min`; the last has `t_min: 0`.
        stages: Vec<ScheduleStage>,
    },
    /// One model trained by all clients with matched optimizer steps (baseline, no routing).
    Monolith,
}

/// One stage of a `schedule` policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStage {
    /// The stage applies from this time down to the next stage's `t_min` (t runs from 1 at noise to 0 at data).
    pub t_min: f64,
    /// Experts kept (renormalised top-k) in this stage.
    pub k: usize,
}
