//! Memorization: the share of generated samples whose nearest training point is closer than a threshold, the
//! `metrics.memorization_quantile` quantile of held-out-to-training nearest distances. Per policy against all the
//! training data (`memorization`), and per expert, sampling alone, against its own training data
//! (`memorization_own`).

use super::TrainingSet;
use super::catalog::{Applies, Computation, Direction, Family, Metric};

/// The metrics this file computes.
pub static DECLARED: [Metric; 2] = [
    Metric {
        column: "memorization",
        title: "memorization",
        direction: Direction::Lower,
        family: Family::Quality,
        applies: Applies::Always,
        key: true,
        description: "Share of samples whose nearest training point is closer than the memorization_quantile \
                      quantile of held-out-to-training nearest distances (copies of training data).",
        computation: Computation::Samples(memorized),
    },
    Metric {
        column: "memorization_own",
        title: "memorization by an expert of its own data",
        direction: Direction::Lower,
        family: Family::Quality,
        applies: Applies::PerExpert,
        key: false,
        description: "memorization of an expert sampling alone, against its own training data, with the threshold \
                      from held-out-to-own-data distances.",
        computation: Computation::Samples(memorized),
    },
];

/// Share of `rows` strictly closer to a training point than the training set's threshold τ, or exactly on one
/// (an exact copy counts even when τ is 0, as it is when held-out points duplicate training points).
pub fn memorized_share(training: &TrainingSet, rows: &[Vec<f64>]) -> f64 {
    let near = training
        .nearest(rows)
        .iter()
        .filter(|&&d| d < training.threshold || d == 0.0)
        .count();
    near as f64 / rows.len().max(1) as f64
}

/// The memorized share of a sample set, when its training data is known.
fn memorized(s: &super::SampleSet) -> Option<f64> {
    Some(memorized_share(s.training?, &s.rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn an_exact_copy_counts_even_when_the_threshold_is_zero() {
        // Held-out points that duplicate training points make τ = 0; a verbatim copy is still memorized.
        let train = array![[0.0, 0.0], [1.0, 1.0]];
        let set = TrainingSet::new(train.view(), train.view(), 0.5);
        assert_eq!(set.threshold, 0.0);
        assert_eq!(memorized_share(&set, &[vec![0.0, 0.0], vec![5.0, 5.0]]), 0.5);
    }
}
