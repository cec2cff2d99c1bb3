//! The `sampling` section: sampler steps, samples per policy, and experts lost at sampling time.

use crate::scenario::LostExperts;
use serde::{Deserialize, Serialize};

/// Sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// Number of sampler steps from t = 1 to 0 (DDM used 50).
    #[serde(default = "d_steps")]
    pub steps: usize,
    /// Number of samples generated per policy.
    #[serde(default = "d_sampling_samples")]
    pub samples: usize,
    /// Experts removed at sampling time (a list of indices, or a count lost in a seeded order); routed policies
    /// renormalise over the rest. Empty (the default): none, and the key is left out of resolved scenarios.
    #[serde(default, skip_serializing_if = "LostExperts::is_default")]
    pub lost_experts: LostExperts,
}

/// DDM's evaluation used 50 steps.
fn d_steps() -> usize {
    50
}
/// 2,000 samples keep metric noise small for 2-D data.
fn d_sampling_samples() -> usize {
    2000
}

impl Default for SamplingConfig {
    /// 50 steps, 2,000 samples, every expert.
    fn default() -> Self {
        SamplingConfig {
            steps: d_steps(),
            samples: d_sampling_samples(),
            lost_experts: LostExperts::default(),
        }
    }
}
