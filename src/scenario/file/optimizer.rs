//! The `optimizer` subsection shared by `model` and `router`.

use serde::{Deserialize, Serialize};

/// Optimizer settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `adam` (AdamW when `weight_decay` > 0) or `sgd` (with momentum).
    #[serde(default)]
    pub kind: OptimizerKind,
    /// Learning rate.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// Largest global gradient norm; larger gradients are scaled down (0 disables clipping).
    #[serde(default = "d_grad_clip")]
    pub grad_clip: f64,
    /// Decoupled weight decay (AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// Adam's first-moment decay.
    #[serde(default = "d_beta1")]
    pub beta1: f64,
    /// Adam's second-moment decay.
    #[serde(default = "d_beta2")]
    pub beta2: f64,
    /// SGD's heavy-ball momentum.
    #[serde(default = "d_momentum")]
    pub momentum: f64,
}

/// The usual heavy-ball momentum.
fn d_momentum() -> f64 {
    0.9
}

/// 1e-3: Adam's standard rate, stable for small MLPs.
fn d_lr() -> f64 {
    1e-3
}
/// Clipping at norm 1 guards against the occasional large flow-matching gradient.
fn d_grad_clip() -> f64 {
    1.0
}
/// Adam's defaults (Kingma and Ba 2015).
fn d_beta1() -> f64 {
    0.9
}
/// See `d_beta1`.
fn d_beta2() -> f64 {
    0.999
}

impl Default for OptimizerConfig {
    /// Adam, lr 1e-3, clip at 1.
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: d_lr(),
            grad_clip: d_grad_clip(),
            weight_decay: 0.0,
            beta1: d_beta1(),
            beta2: d_beta2(),
            momentum: d_momentum(),
        }
    }
}

/// Optimizer kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with decoupled weight decay.
    #[default]
    Adam,
    /// Stochastic gradient descent with momentum (no per-client rescaling of updates).
    Sgd,
}
