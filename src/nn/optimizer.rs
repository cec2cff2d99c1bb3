//! The optimizer a scenario asks for, behind one type: Adam(W) or SGD with momentum.

use super::{Adam, Sgd};
use crate::scenario::{OptimizerConfig, OptimizerKind};

/// An optimizer with its state over a flat parameter vector.
#[derive(Debug, Clone)]
pub enum Optimizer {
    /// Adam(W).
    Adam(Adam),
    /// SGD with momentum.
    Sgd(Sgd),
}

impl Optimizer {
    /// Fresh state for `params` parameters.
    pub fn new(config: &OptimizerConfig, params: usize) -> Self {
        match config.kind {
            OptimizerKind::Adam => Optimizer::Adam(Adam::new(config, params)),
            OptimizerKind::Sgd => Optimizer::Sgd(Sgd::new(config, params)),
        }
    }

    /// One update of `params` from `grad` (clipped in place first).
    pub fn update(&mut self, params: &mut [f32], grad: &mut [f32]) {
        match self {
            Optimizer::Adam(a) => a.update(params, grad),
            Optimizer::Sgd(s) => s.update(params, grad),
        }
    }

    /// [`Optimizer::update`], with `between` changing the gradient after it is clipped.
    pub fn update_with(&mut self, params: &mut [f32], grad: &mut [f32], between: impl FnOnce(&mut [f32])) {
        match self {
            Optimizer::Adam(a) => a.update_with(params, grad, between),
            Optimizer::Sgd(s) => s.update_with(params, grad, between),
        }
    }
}
