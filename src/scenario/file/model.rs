//! The `model` section: the denoiser network and its objective.

use super::OptimizerConfig;
use serde::{Deserialize, Serialize};

/// The denoiser network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Widths of the hidden layers (SiLU after each).
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    /// Size of the sinusoidal time embedding (even).
    #[serde(default = "d_time_embedding")]
    pub time_embedding: usize,
    /// Residual connections between consecutive hidden layers of equal width.
    #[serde(default)]
    pub residual: bool,
    /// `flow` (velocity, DDM's convention) or `ddpm` (epsilon with the cosine schedule).
    #[serde(default)]
    pub objective: ObjectiveKind,
    /// Decay per optimizer step of the exponential moving average used for sampling (0 disables it).
    #[serde(default = "d_ema")]
    pub ema: f64,
    /// The optimizer.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Class conditioning of the denoisers (off by default; then left out of resolved scenarios).
    #[serde(default, skip_serializing_if = "ConditionConfig::is_off")]
    pub condition: ConditionConfig,
}

/// Class-conditional denoisers: a learned class embedding joins the time embedding, and label dropout trains the
/// unconditional branch (the null class) in the same network, as classifier-free guidance needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionConfig {
    /// Whether the denoisers (experts and monolith) see the class of each point.
    #[serde(default)]
    pub enabled: bool,
    /// Probability that a training row's class is replaced by the null class.
    #[serde(default = "d_dropout")]
    pub dropout: f64,
}

/// Classifier-free guidance's usual label dropout (Ho and Salimans 2022 use 0.1 to 0.2).
fn d_dropout() -> f64 {
    0.1
}

impl Default for ConditionConfig {
    /// Unconditional.
    fn default() -> Self {
        ConditionConfig {
            enabled: false,
            dropout: d_dropout(),
        }
    }
}

impl ConditionConfig {
    /// Whether the denoisers are unconditional (then the section, dropout included, is left out of resolved
    /// scenarios, so cache keys and inputs stay those of a scenario without it).
    pub fn is_off(&self) -> bool {
        !self.enabled
    }
}

/// Three hidden layers of 256: ample for low-dimensional mixtures.
fn d_hidden() -> Vec<usize> {
    vec![256, 256, 256]
}
/// 32 frequencies are enough to resolve t at 50-1000 steps.
pub(super) fn d_time_embedding() -> usize {
    32
}
/// The usual diffusion EMA; warmed up as min(decay, (1 + n) / (10 + n)) so short runs are not stuck at init.
fn d_ema() -> f64 {
    0.999
}

impl Default for ModelConfig {
    /// A 3x256 SiLU MLP trained by flow matching with Adam.
    fn default() -> Self {
        ModelConfig {
            hidden: d_hidden(),
            time_embedding: d_time_embedding(),
            residual: false,
            objective: ObjectiveKind::Flow,
            ema: d_ema(),
            optimizer: OptimizerConfig::default(),
            condition: ConditionConfig::default(),
        }
    }
}

/// Training objective and matching sampler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// Flow matching: x_t = (1 - t) x0 + t eps, target eps - x0, Euler sampler.
    #[default]
    Flow,
    /// DDPM epsilon prediction with the cosine schedule (T = 1000), DDIM sampler (eta = 0).
    Ddpm,
}
