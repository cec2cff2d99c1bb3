//! Aggregation of client models: pure functions over their parameter vectors and example counts, summed in the
//! given (client-id) order so a result never depends on which thread finished first.

use crate::scenario::{AggregateConfig, Weighting};

/// Combines the clients' models `updates` (parameters, number of training points) by `rule`.
pub fn aggregate(rule: &AggregateConfig, updates: &[(Vec<f32>, usize)]) -> Vec<f32> {
    match *rule {
        AggregateConfig::Mean { weighting } => mean(updates, weighting),
        AggregateConfig::Median => super::robust::median(updates),
        AggregateConfig::TrimmedMean { trim } => super::robust::trimmed_mean(updates, trim),
        AggregateConfig::Krum { f, m, weighting } => {
            let kept = super::robust::krum_choice(updates, f, m);
            let chosen: Vec<(Vec<f32>, usize)> = kept.into_iter().map(|i| updates[i].clone()).collect();
            mean(&chosen, weighting)
        }
    }
}

/// Mean of the models weighted by `weighting`.
fn mean(updates: &[(Vec<f32>, usize)], weighting: Weighting) -> Vec<f32> {
    match weighting {
        Weighting::Examples => weighted_mean(updates),
        Weighting::Uniform => {
            let even: Vec<(Vec<f32>, usize)> = updates.iter().map(|(p, _)| (p.clone(), 1)).collect();
            weighted_mean(&even)
        }
    }
}

/// Mean of `updates` weighted by their sample counts.
pub fn weighted_mean(updates: &[(Vec<f32>, usize)]) -> Vec<f32> {
    let total: f64 = updates.iter().map(|(_, n)| *n as f64).sum();
    let len = updates[0].0.len();
    let mut acc = vec![0f64; len];
    for (params, n) in updates {
        let w = *n as f64 / total;
        for (a, p) in acc.iter_mut().zip(params) {
            *a += w * *p as f64;
        }
    }
    acc.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_sample_counts_or_are_even() {
        let updates = [(vec![1.0, 0.0], 1), (vec![4.0, 2.0], 3)];
        assert_eq!(weighted_mean(&updates), vec![3.25, 1.5]);
        let uniform = AggregateConfig::Mean {
            weighting: Weighting::Uniform,
        };
        assert_eq!(aggregate(&uniform, &updates), vec![2.5, 1.0]);
    }

    #[test]
    fn identical_models_combine_to_themselves_under_every_rule() {
        let u = vec![0.1f32, -7.25, 3.0e-5];
        let updates = vec![(u.clone(), 5), (u.clone(), 9), (u.clone(), 1), (u.clone(), 2)];
        for rule in [
            AggregateConfig::default(),
            AggregateConfig::Mean {
                weighting: Weighting::Uniform,
            },
            AggregateConfig::Median,
            AggregateConfig::TrimmedMean { trim: 0.25 },
            AggregateConfig::Krum {
                f: 1,
                m: 1,
                weighting: Weighting::Examples,
            },
            AggregateConfig::Krum {
                f: 0,
                m: 3,
                weighting: Weighting::Uniform,
            },
        ] {
            let got = aggregate(&rule, &updates);
            for (g, w) in got.iter().zip(&u) {
                assert!((g - w).abs() <= 1e-6 * w.abs(), "{rule:?}: {got:?}");
            }
        }
    }

    #[test]
    fn multi_krum_keeping_every_model_is_the_mean() {
        let updates = vec![(vec![1.0, 0.0], 1), (vec![4.0, 2.0], 3), (vec![-2.0, 8.0], 2)];
        let all = AggregateConfig::Krum {
            f: 0,
            m: 3,
            weighting: Weighting::Examples,
        };
        assert_eq!(aggregate(&all, &updates), weighted_mean(&updates));
    }
}
