//! Metrics of guided samples, each of which requested a class: the share recognised as their class
//! (`cond_accuracy`, by the evaluation classifier or the mixture's posterior) and the mean per-class Fréchet
//! distance to the reference points of that class, in raw coordinates (`fd_class`) and in the classifier's
//! features (`fd_classifier_class`).

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use super::frechet::{frechet, mean_cov};
use super::sample_set::SampleSet;
use ndarray::{ArrayView2, Axis};

/// The metrics this file computes.
pub static DECLARED: [Metric; 3] = [
    Metric {
        column: "cond_accuracy",
        title: "conditional accuracy",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::Guided,
        key: true,
        description: "Share of guided samples recognised as the class they requested: by the evaluation classifier \
                      for labelled images, by the mixture's most probable component for a known density.",
        computation: Computation::Samples(cond_accuracy),
    },
    Metric {
        column: "fd_class",
        title: "per-class Fréchet distance",
        direction: Direction::Lower,
        family: Family::Quality,
        applies: Applies::Guided,
        key: false,
        description: "Mean over the requested classes of the Fréchet distance between the samples that requested \
                      a class and the reference points of that class, in raw coordinates.",
        computation: Computation::Samples(|s| {
            let labels = s.reference.labels()?;
            per_class_fd(s.requested?, s.generated.view(), labels, s.reference.points().view())
        }),
    },
    Metric {
        column: "fd_classifier_class",
        title: "per-class Fréchet distance in classifier features",
        direction: Direction::Lower,
        family: Family::Classifier,
        applies: Applies::Guided,
        key: false,
        description: "fd_class in the evaluation classifier's feature space (labelled images).",
        computation: Computation::Samples(|s| {
            let c = s.classified.as_ref()?;
            let labels = c.reference.labels.as_deref()?;
            per_class_fd(s.requested?, c.features.view(), labels, c.reference.features.view())
        }),
    },
];

/// Fewest points of a class, on either side, for its Fréchet distance to count (a covariance needs two).
const MIN_CLASS_POINTS: usize = 2;

/// The share of samples whose recognised class is the one they requested.
fn cond_accuracy(s: &SampleSet) -> Option<f64> {
    let requested = s.requested?;
    let recognised: Vec<usize> = match (&s.classified, s.gmm) {
        (Some(c), _) => c.predicted.clone(),
        (None, Some(g)) => (s.generated.rows().into_iter())
            .map(|r| g.most_likely_component(r))
            .collect(),
        (None, None) => return None,
    };
    let hits = requested.iter().zip(&recognised).filter(|(a, b)| a == b).count();
    Some(hits as f64 / requested.len().max(1) as f64)
}

/// The mean over requested classes (with at least [`MIN_CLASS_POINTS`] samples and reference points) of the
/// Fréchet distance between the samples `x` that requested the class and the reference points `r` labelled with
/// it; `None` when no class qualifies.
pub fn per_class_fd(
    requested: &[usize],
    x: ArrayView2<f64>,
    labels: &[usize],
    r: ArrayView2<f64>,
) -> Option<f64> {
    let classes = requested.iter().max().map_or(0, |m| m + 1);
    let mut total = 0.0;
    let mut counted = 0usize;
    for c in 0..classes {
        let mine: Vec<usize> = (0..requested.len()).filter(|&i| requested[i] == c).collect();
        let theirs: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        if mine.len() < MIN_CLASS_POINTS || theirs.len() < MIN_CLASS_POINTS {
            continue;
        }
        let (m1, s1) = mean_cov(x.select(Axis(0), &mine).view());
        let (m2, s2) = mean_cov(r.select(Axis(0), &theirs).view());
        total += frechet(&m1, &s1, &m2, &s2);
        counted += 1;
    }
    (counted > 0).then(|| total / counted as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn per_class_fd_averages_the_classes_and_skips_thin_ones() {
        // Class 0 matches its reference exactly; class 1 is shifted by (3, 4): fd = 25 for it alone.
        let base = Array2::from_shape_fn((6, 2), |(i, j)| ((i * 2 + j) as f64 * 0.9).sin());
        let mut x = base.clone();
        for i in 3..6 {
            x[[i, 0]] += 3.0;
            x[[i, 1]] += 4.0;
        }
        let requested = [0, 0, 0, 1, 1, 1];
        let fd = per_class_fd(&requested, x.view(), &requested, base.view()).unwrap();
        assert!((fd - 12.5).abs() < 1e-9, "{fd}");
        // A class with one sample is left out; none left: no value.
        let thin = [0, 0, 0, 1, 2, 2];
        let labels = [0, 0, 0, 1, 1, 1];
        let fd = per_class_fd(&thin, base.view(), &labels, base.view()).unwrap();
        assert!(fd.abs() < 1e-9, "{fd}");
        assert_eq!(per_class_fd(&[3, 3], base.view(), &labels, base.view()), None);
    }
}
