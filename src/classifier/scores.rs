//! What the classifier says about a sample set: Fréchet distance in its feature space (`fd_classifier`, FID-like),
//! total variation between predicted class shares and the test split's (`class_tv`), mean top-class probability
//! (`confidence`), and the predicted count of each class.

use super::{Classifier, argmax_rows, softmax_rows};
use crate::metrics::{Values, frechet, mean_cov};
use nalgebra::{DMatrix, DVector};
use ndarray::{Array2, ArrayView2};

/// The classifier's columns of `results.csv`.
pub const CLASSIFIER_COLUMNS: [&str; 3] = ["fd_classifier", "class_tv", "confidence"];

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

/// The classifier with the reference (test split) features and class counts prepared once.
pub struct ClassifierScores<'a> {
    classifier: &'a Classifier,
    mean: DVector<f64>,
    cov: DMatrix<f64>,
    reference_counts: Vec<usize>,
}

/// Count of each of `classes` among the rows' most probable classes.
fn count(logits: &Array2<f32>, classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for c in argmax_rows(logits) {
        counts[c] += 1;
    }
    counts
}

impl<'a> ClassifierScores<'a> {
    /// Prepares the scores against the reference images `reference`.
    pub fn new(classifier: &'a Classifier, reference: ArrayView2<f32>) -> Self {
        let (features, logits) = classifier.features_and_logits(reference);
        let (mean, cov) = mean_cov(features.view());
        ClassifierScores {
            classifier,
            mean,
            cov,
            reference_counts: count(&logits, classifier.net.mlp.output()),
        }
    }

    /// Predicted count of each class among the reference images.
    pub fn reference_counts(&self) -> &[usize] {
        &self.reference_counts
    }

    /// The scores of `generated` and its predicted count per class.
    pub fn score(&self, generated: ArrayView2<f32>) -> (Values, Vec<usize>) {
        let (features, logits) = self.classifier.features_and_logits(generated);
        let (mean, cov) = mean_cov(features.view());
        let counts = count(&logits, self.reference_counts.len());
        let probabilities = softmax_rows(&logits);
        let confidence = probabilities
            .rows()
            .into_iter()
            .map(|r| r.fold(0.0f64, |m, &v| m.max(v)))
            .sum::<f64>()
            / probabilities.nrows().max(1) as f64;
        let mut values = Values::new();
        values.insert("fd_classifier", frechet(&mean, &cov, &self.mean, &self.cov));
        values.insert("class_tv", class_tv(&counts, &self.reference_counts));
        values.insert("confidence", confidence);
        (values, counts)
    }
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
