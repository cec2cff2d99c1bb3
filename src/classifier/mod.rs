//! The evaluation classifier of labelled image data (the digits): an MLP trained on the training split only,
//! whose last hidden layer is the feature space of `fd_classifier` (in the spirit of FID, but ddmsim's own small
//! network, not Inception) and whose predictions give `class_tv`, `confidence` and per-class counts.

mod cache;
mod scores;
mod train;

pub use cache::{classifier_key, load_or_train};
pub use scores::ClassifierScores;
pub use train::{cross_entropy, train_classifier};

use crate::data::Dataset;
use crate::nn::TimeNet;
use crate::scenario::{ClassifierConfig, DataConfig, DataKind};
use ndarray::{Array2, ArrayView2, Axis};

/// A trained classifier with its accuracy on the held-out split.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// The network (an MLP on x; the time embedding is empty).
    pub net: TimeNet,
    /// Its weights.
    pub params: Vec<f32>,
    /// Share of the test split it labels correctly.
    pub test_accuracy: f64,
}

/// Whether a run trains the classifier: as configured, or by default for the bundled digits.
pub fn enabled(config: &ClassifierConfig, data: &DataConfig) -> bool {
    config.enabled.unwrap_or(matches!(data.kind, DataKind::Digits))
}

/// The classifier network for `dim` inputs and `classes` outputs.
pub fn network(config: &ClassifierConfig, dim: usize, classes: usize) -> TimeNet {
    TimeNet::new(dim, 0, &config.hidden, classes, false)
}

impl Classifier {
    /// Class scores (logits). Shapes: x [n, dim] -> [n, classes].
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        self.net.mlp.infer(&self.params, x)
    }

    /// The feature vectors (last hidden layer, in f64) and the logits, from one forward pass.
    /// Shapes: x [n, dim] -> ([n, features], [n, classes]).
    pub fn features_and_logits(&self, x: ArrayView2<f32>) -> (Array2<f64>, Array2<f32>) {
        let hidden = self.net.mlp.penultimate(&self.params, x);
        let logits = self.net.mlp.head(&self.params, hidden.view());
        (hidden.mapv(f64::from), logits)
    }

    /// The most probable class of each row.
    pub fn predict(&self, x: ArrayView2<f32>) -> Vec<usize> {
        argmax_rows(&self.logits(x))
    }

    /// Share of `data`'s points whose label it predicts.
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        let Some(labels) = &data.labels else {
            return f64::NAN;
        };
        let right = self
            .predict(data.x.view())
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        right as f64 / labels.len().max(1) as f64
    }
}

/// The largest entry's column in each row of `logits` (ties: the first).
pub fn argmax_rows(logits: &Array2<f32>) -> Vec<usize> {
    logits
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                .0
        })
        .collect()
}

/// Class probabilities: the softmax of each row of `logits`, in f64.
pub fn softmax_rows(logits: &Array2<f32>) -> Array2<f64> {
    let mut p = logits.mapv(f64::from);
    for mut row in p.axis_iter_mut(Axis(0)) {
        let max = row.fold(f64::MIN, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    p
}
