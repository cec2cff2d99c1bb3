//! SGD with heavy-ball momentum, decoupled weight decay and global-norm gradient clipping.

use super::adam::clip_global_norm;
use crate::scenario::OptimizerConfig;

/// SGD state over a flat parameter vector.
#[derive(Debug, Clone)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    grad_clip: f32,
    velocity: Vec<f32>,
}

impl Sgd {
    /// Fresh state (zero velocity) for `params` parameters.
    pub fn new(config: &OptimizerConfig, params: usize) -> Self {
        Sgd {
            lr: config.lr as f32,
            momentum: config.momentum as f32,
            weight_decay: config.weight_decay as f32,
            grad_clip: config.grad_clip as f32,
            velocity: vec![0.0; params],
        }
    }

    /// v <- momentum v + g; p <- p (1 - lr wd) - lr v.
    pub fn update(&mut self, params: &mut [f32], grad: &mut [f32]) {
        self.update_with(params, grad, |_| {});
    }

    /// [`Sgd::update`], with `between` changing the gradient after it is clipped.
    pub fn update_with(&mut self, params: &mut [f32], grad: &mut [f32], between: impl FnOnce(&mut [f32])) {
        clip_global_norm(grad, self.grad_clip);
        between(grad);
        let decay = 1.0 - self.lr * self.weight_decay;
        for ((p, g), v) in params.iter_mut().zip(grad.iter()).zip(&mut self.velocity) {
            *v = self.momentum * *v + g;
            *p = *p * decay - self.lr * *v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_momentum_recursion() {
        let config = OptimizerConfig {
            lr: 0.1,
            momentum: 0.5,
            grad_clip: 0.0,
            ..OptimizerConfig::default()
        };
        let mut sgd = Sgd::new(&config, 1);
        let mut p = vec![1.0f32];
        sgd.update(&mut p, &mut [2.0]);
        assert!((p[0] - 0.8).abs() < 1e-6);
        sgd.update(&mut p, &mut [2.0]);
        // v = 0.5 * 2 + 2 = 3.
        assert!((p[0] - 0.5).abs() < 1e-6);
    }
}
