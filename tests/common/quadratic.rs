//! A two-parameter quadratic task for tests of the round loop: loss mean over rows of curvature[r] / 2
//! |p - target[r]|^2, deterministic, so the federation is the only source of differences between runs. Include it
//! with `#[path = "common/quadratic.rs"] mod quadratic;`.

use ddmsim::federated::Task;
use ddmsim::rng::Rng;
use ddmsim::scenario::{OptimizerConfig, OptimizerKind};

/// Loss mean over rows of curvature[r] / 2 |p - target[r]|^2: deterministic, so the federation is the only
/// source of differences between runs.
pub struct Quadratic {
    /// Each row's optimum.
    pub targets: Vec<[f32; 2]>,
    /// Each row's curvature.
    pub curvature: Vec<f32>,
}

impl Task for Quadratic {
    fn param_count(&self) -> usize {
        2
    }

    fn flops_per_row(&self) -> u64 {
        6
    }

    fn loss_and_grad(&self, params: &[f32], rows: &[usize], _: &mut Rng, grad: &mut [f32]) -> f32 {
        grad.fill(0.0);
        let mut loss = 0.0;
        let n = rows.len() as f32;
        for &r in rows {
            let a = self.curvature[r];
            for k in 0..2 {
                let d = params[k] - self.targets[r][k];
                grad[k] += a * d / n;
                loss += 0.5 * a * d * d / n;
            }
        }
        loss
    }
}

/// Plain SGD (with `momentum`) without clipping.
pub fn sgd(lr: f64, momentum: f64) -> OptimizerConfig {
    OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr,
        grad_clip: 0.0,
        momentum,
        ..OptimizerConfig::default()
    }
}
