//! Aggregation of client models: pure functions over their parameter vectors and example counts, summed in the
//! given (client-id) order so a result never depends on which thread finished first.

use crate::scenario::{AggregateConfig, Weighting};

/// Combines the clients' models `updates` (parameters, number of training points) by `rule`.
pub fn aggregate(rule: &AggregateConfig, updates: &[(Vec<f32>, usize)]) -> Vec<f32> {
    match *rule {
        AggregateConfig::Mean { weighting } => mean_of(updates, 0..updates.len(), weighting),
        AggregateConfig::Median => super::robust::median(updates),
        AggregateConfig::TrimmedMean { trim } => super::robust::trimmed_mean(updates, trim),
        AggregateConfig::Krum { f, m, weighting } => mean_of(
            updates,
            super::robust::krum_choice(updates, f, m).into_iter(),
            weighting,
        ),
    }
}

/// Mean of `updates` weighted by their sample counts.
pub fn weighted_mean(updates: &[(Vec<f32>, usize)]) -> Vec<f32> {
    mean_of(updates, 0..updates.len(), Weighting::Examples)
}

/// Mean of the models at `chosen` (in that order), weighted by `weighting`; accumulated in double precision.
fn mean_of(
    updates: &[(Vec<f32>, usize)],
    chosen: impl Iterator<Item = usize> + Clone,
    weighting: Weighting,
) -> Vec<f32> {
    let mut mean = RunningMean::new(updates[0].0.len(), weighting, chosen.clone().map(|i| updates[i].1));
    for i in chosen {
        mean.add(&updates[i].0, updates[i].1);
    }
    mean.finish()
}

/// A weighted mean accumulated one model at a time, for a round whose updates stream in: the same products and
/// sums, in the same order, as [`aggregate`]'s mean over the whole list, so the result is byte-identical.
#[derive(Debug, Clone)]
pub struct RunningMean {
    acc: Vec<f64>,
    total: f64,
    weighting: Weighting,
}

impl RunningMean {
    /// An empty mean of models of `len` parameters; `sizes` are the sample counts of every model that will be
    /// added (the weights' total must be known before the first model arrives).
    pub fn new(len: usize, weighting: Weighting, sizes: impl Iterator<Item = usize>) -> Self {
        let total = sizes.map(|n| weight(weighting, n)).sum();
        RunningMean {
            acc: vec![0f64; len],
            total,
            weighting,
        }
    }

    /// Adds the model `params` of a client with `size` training points.
    pub fn add(&mut self, params: &[f32], size: usize) {
        let w = weight(self.weighting, size) / self.total;
        for (a, p) in self.acc.iter_mut().zip(params) {
            *a += w * *p as f64;
        }
    }

    /// The mean, in single precision.
    pub fn finish(self) -> Vec<f32> {
        self.acc.into_iter().map(|v| v as f32).collect()
    }
}

/// A model's weight in a mean: its number of training points, or 1.
fn weight(weighting: Weighting, size: usize) -> f64 {
    match weighting {
        Weighting::Examples => size as f64,
        Weighting::Uniform => 1.0,
    }
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
