//! The `sampling` section: sampler steps and samples per policy.

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
    /// 50 steps, 2,000 samples.
    fn default() -> Self {
        SamplingConfig {
            steps: d_steps(),
            samples: d_sampling_samples(),
        }
    }
}
