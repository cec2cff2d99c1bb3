//! Adam with decoupled weight decay (AdamW, Loshchilov and Hutter 2019) and global-norm gradient clipping.

use crate::scenario::OptimizerConfig;

/// Adam state over a flat parameter vector.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    grad_clip: f32,
    step: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// Fresh optimizer state for `params` parameters.
    pub fn new(config: &OptimizerConfig, params: usize) -> Self {
        Adam {
            lr: config.lr as f32,
            beta1: config.beta1 as f32,
            beta2: config.beta2 as f32,
            eps: 1e-8,
            weight_decay: config.weight_decay as f32,
            grad_clip: config.grad_clip as f32,
            step: 0,
            m: vec![0.0; params],
            v: vec![0.0; params],
        }
    }

    /// One update of `params` from `grad` (clipped in place to the configured global norm first).
    pub fn update(&mut self, params: &mut [f32], grad: &mut [f32]) {
        self.update_with(params, grad, |_| {});
    }

    /// [`Adam::update`], with `between` changing the gradient after it is clipped.
    pub fn update_with(&mut self, params: &mut [f32], grad: &mut [f32], between: impl FnOnce(&mut [f32])) {
        clip_global_norm(grad, self.grad_clip);
        between(grad);
        self.step += 1;
        let c1 = 1.0 - self.beta1.powi(self.step);
        let c2 = 1.0 - self.beta2.powi(self.step);
        let step_size = self.lr / c1;
        let decay = 1.0 - self.lr * self.weight_decay;
        for (((p, g), m), v) in params.iter_mut().zip(grad.iter()).zip(&mut self.m).zip(&mut self.v) {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p = *p * decay - step_size * *m / ((*v / c2).sqrt() + self.eps);
        }
    }
}

/// Scales `grad` down to global norm `limit` when it is larger (0 disables clipping).
pub fn clip_global_norm(grad: &mut [f32], limit: f32) {
    if limit > 0.0 {
        let norm = grad.iter().map(|g| (*g as f64) * (*g as f64)).sum::<f64>().sqrt() as f32;
        if norm > limit {
            let scale = limit / norm;
            grad.iter_mut().for_each(|g| *g *= scale);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_lr_against_the_gradient_sign() {
        let config = OptimizerConfig {
            lr: 0.1,
            grad_clip: 0.0,
            ..OptimizerConfig::default()
        };
        let mut adam = Adam::new(&config, 2);
        let mut p = vec![1.0, 1.0];
        adam.update(&mut p, &mut [3.0, -0.5]);
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] - 1.1).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn clipping_scales_the_gradient_to_the_limit() {
        let config = OptimizerConfig {
            grad_clip: 1.0,
            ..OptimizerConfig::default()
        };
        let mut adam = Adam::new(&config, 2);
        let mut g = vec![3.0, 4.0];
        adam.update(&mut [0.0, 0.0], &mut g);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut adam = Adam::new(
            &OptimizerConfig {
                lr: 0.05,
                ..OptimizerConfig::default()
            },
            1,
        );
        let mut p = vec![3.0f32];
        for _ in 0..500 {
            let mut g = vec![2.0 * (p[0] - 1.0)];
            adam.update(&mut p, &mut g);
        }
        assert!((p[0] - 1.0).abs() < 1e-2, "{p:?}");
    }
}
