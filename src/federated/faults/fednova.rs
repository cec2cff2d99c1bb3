//! FedNova's normalised averaging (Wang et al. 2020): a client that ran more local steps moved further, so each
//! update is divided by its client's steps before averaging and the average is scaled back by the participants'
//! mean steps. Written as a rescaling of each update, so the aggregation rule that follows (a mean) is unchanged:
//! g + (tau_eff / a_i) (w_i - g) averaged with weights p_i is g - tau_eff sum_i p_i (g - w_i) / a_i.

use crate::federated::scaffold::effective_steps;
use crate::scenario::{OptimizerConfig, OptimizerKind, Weighting};

/// Rescales each update `(weights, examples, steps)` about `global` so that their `weighting`-weighted mean is
/// FedNova's. a_i is the local optimizer's displacement over its steps in units of lr: `effective_steps` for SGD
/// with momentum (FedNova's ||a_i||_1), the steps themselves for Adam.
pub fn normalise(
    updates: &mut [(Vec<f32>, usize, usize)],
    global: &[f32],
    weighting: Weighting,
    optimizer: &OptimizerConfig,
) {
    let a = |steps: usize| match optimizer.kind {
        OptimizerKind::Sgd => effective_steps(steps, optimizer.momentum),
        OptimizerKind::Adam => steps as f64,
    };
    let weight = |examples: usize| match weighting {
        Weighting::Examples => examples as f64,
        Weighting::Uniform => 1.0,
    };
    let total: f64 = updates.iter().map(|u| weight(u.1)).sum();
    let tau_eff: f64 = updates.iter().map(|u| weight(u.1) / total * a(u.2)).sum();
    for (params, _, steps) in updates.iter_mut() {
        let factor = tau_eff / a(*steps);
        for (w, &g) in params.iter_mut().zip(global) {
            *w = (g as f64 + factor * (*w as f64 - g as f64)) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sgd(momentum: f64) -> OptimizerConfig {
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            momentum,
            ..OptimizerConfig::default()
        }
    }

    #[test]
    fn equal_steps_leave_the_updates_alone() {
        let mut updates = vec![(vec![2.0f32], 10, 5), (vec![-1.0], 30, 5)];
        normalise(&mut updates, &[0.0], Weighting::Examples, &sgd(0.9));
        assert_eq!(updates[0].0, [2.0]);
        assert_eq!(updates[1].0, [-1.0]);
    }

    #[test]
    fn the_mean_of_the_rescaled_updates_is_fednova() {
        // Client 1: 1 step, moved -1; client 2: 4 steps, moved +8; 1 and 3 examples; plain SGD.
        let mut updates = vec![(vec![-1.0f32], 1, 1), (vec![8.0], 3, 4)];
        normalise(&mut updates, &[0.0], Weighting::Examples, &sgd(0.0));
        let mean = 0.25 * updates[0].0[0] as f64 + 0.75 * updates[1].0[0] as f64;
        // tau_eff = 0.25 * 1 + 0.75 * 4 = 3.25; per-step moves -1 and 2: 3.25 * (0.25 * -1 + 0.75 * 2).
        assert!((mean - 3.25 * 1.25).abs() < 1e-6, "{mean}");
        // FedAvg would give 0.25 * -1 + 0.75 * 8 = 5.75: the many-step client dominates.
    }

    #[test]
    fn momentum_counts_the_displacement_of_each_step() {
        let mut updates = vec![(vec![1.0f32], 1, 1), (vec![1.0], 1, 3)];
        normalise(&mut updates, &[0.0], Weighting::Uniform, &sgd(0.5));
        // a = 1 and 1 + 1.5 + 1.75 = 4.25; tau_eff = 2.625.
        assert!((updates[0].0[0] - 2.625).abs() < 1e-6);
        assert!((updates[1].0[0] as f64 - 2.625 / 4.25).abs() < 1e-6);
    }
}
