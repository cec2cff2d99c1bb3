//! Metrics from the evaluation classifier's view of labelled images: Fréchet distance in its feature space
//! (`fd_classifier`, FID-like), total variation of predicted class shares (`class_tv`) and mean top-class
//! probability (`confidence`).

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use super::frechet::{frechet, mean_cov};

/// The metrics this file computes.
pub static DECLARED: [Metric; 3] = [
    Metric {
        column: "fd_classifier",
        title: "Fréchet distance in classifier features",
        direction: Direction::Lower,
        family: Family::Classifier,
        applies: Applies::Classified,
        key: true,
        description: "Fréchet distance in the evaluation classifier's feature space (FID-like, ddmsim's own \
                      classifier, not Inception).",
        computation: Computation::Samples(|s| {
            let c = s.classified.as_ref()?;
            let (mean, cov) = mean_cov(c.features.view());
            let (ref_mean, ref_cov) = &c.reference.mean_cov;
            Some(frechet(&mean, &cov, ref_mean, ref_cov))
        }),
    },
    Metric {
        column: "class_tv",
        title: "class total variation",
        direction: Direction::Lower,
        family: Family::Classifier,
        applies: Applies::Classified,
        key: true,
        description: "Total variation between predicted class shares and the test split's.",
        computation: Computation::Samples(|s| {
            let c = s.classified.as_ref()?;
            Some(class_tv(&c.counts, &c.reference.counts))
        }),
    },
    Metric {
        column: "confidence",
        title: "classifier confidence",
        direction: Direction::Higher,
        family: Family::Classifier,
        applies: Applies::Classified,
        key: false,
        description: "Mean top-class probability of the evaluation classifier (higher = more recognisable).",
        computation: Computation::Samples(|s| {
            let c = s.classified.as_ref()?;
            Some(c.top_probability.iter().sum::<f64>() / c.top_probability.len().max(1) as f64)
        }),
    },
];

/// Total variation distance between two histograms, each normalised to shares.
pub fn class_tv(a: &[usize], b: &[usize]) -> f64 {
    let (sa, sb) = (
        a.iter().sum::<usize>().max(1) as f64,
        b.iter().sum::<usize>().max(1) as f64,
    );
    0.5 * a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 / sa - y as f64 / sb).abs())
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_tv_is_half_the_l1_distance_of_the_shares() {
        assert_eq!(class_tv(&[5, 5], &[5, 5]), 0.0);
        assert_eq!(class_tv(&[10, 0], &[0, 3]), 1.0);
        assert!((class_tv(&[3, 1], &[1, 1]) - 0.25).abs() < 1e-12);
    }
}
