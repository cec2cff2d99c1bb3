//! What the classifier says about a sample set: its features, predicted class counts and top-class probabilities
//! (the metrics declared in `crate::metrics` compute `fd_classifier`, `class_tv`, `confidence` and
//! `kid_classifier` from them), prepared once for the reference set.

use super::{Classifier, argmax_rows, softmax_rows};
use crate::metrics::{Classified, ClassifiedReference, Memo, mean_cov};
use ndarray::{Array2, ArrayView2};

/// The classifier with the reference (test split) features and class counts prepared once.
pub struct ClassifierScores<'a> {
    classifier: &'a Classifier,
    reference: ClassifiedReference,
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
        ClassifierScores {
            classifier,
            reference: ClassifiedReference {
                mean_cov: mean_cov(features.view()),
                memo: Memo::default(),
                features,
                counts: count(&logits, classifier.net.mlp.output()),
                labels: None,
            },
        }
    }

    /// Keeps the true class of each reference image (per-class distances use it).
    pub fn with_reference_labels(mut self, labels: Option<Vec<usize>>) -> Self {
        self.reference.labels = labels;
        self
    }

    /// Predicted count of each class among the reference images.
    pub fn reference_counts(&self) -> &[usize] {
        &self.reference.counts
    }

    /// The classifier's view of `generated` for the metrics.
    pub fn classify(&self, generated: ArrayView2<f32>) -> Classified<'_> {
        let (features, logits) = self.classifier.features_and_logits(generated);
        let counts = count(&logits, self.reference.counts.len());
        let probabilities = softmax_rows(&logits);
        let top_probability = probabilities
            .rows()
            .into_iter()
            .map(|r| r.fold(0.0f64, |m, &v| m.max(v)))
            .collect();
        Classified {
            features,
            counts,
            top_probability,
            predicted: argmax_rows(&logits),
            reference: &self.reference,
        }
    }
}
