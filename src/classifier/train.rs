//! Training the evaluation classifier: softmax cross-entropy, Adam, seeded minibatches, one thread, so the same
//! data and seed give the same weights everywhere.

use super::{Classifier, network};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nn::{Adam, Cache, Scalar};
use crate::rng::{Stream, derive};
use crate::scenario::{ClassifierConfig, OptimizerConfig};
use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;

/// Mean softmax cross-entropy of `logits` [n, classes] against `labels`, and its gradient with respect to the
/// logits ((softmax - one-hot) / n).
pub fn cross_entropy<F: Scalar>(logits: ArrayView2<F>, labels: &[usize]) -> (F, Array2<F>) {
    let n = logits.nrows();
    let mut grad = logits.to_owned();
    let mut loss = F::zero();
    for (i, mut row) in grad.axis_iter_mut(Axis(0)).enumerate() {
        let max = row.fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
        loss -= row[labels[i]].ln();
        row[labels[i]] -= F::one();
    }
    let scale = F::one() / F::of(n as f64);
    grad.mapv_inplace(|g| g * scale);
    (loss * scale, grad)
}

/// Trains the classifier on `train` (labels required) and measures it on `test`.
pub fn train_classifier(train: &Dataset, test: &Dataset, config: &ClassifierConfig, seed: u64) -> Result<Classifier> {
    let (Some(labels), Some(classes)) = (&train.labels, train.num_classes()) else {
        return Err(Error::invalid(
            "metrics.classifier.enabled",
            "the classifier needs labelled data (digits, or a CSV with a label column)",
        ));
    };
    let net = network(config, train.dim(), classes);
    let mut params: Vec<f32> = net.mlp.init(&mut derive(seed, Stream::Classifier, &[0]));
    // The output layer starts at zero like a denoiser's; a classifier needs it random to break symmetry fast.
    let last = net.mlp.layers()[net.mlp.layers().len() - 1];
    let bound = 1.0 / (last.fan_in as f64).sqrt();
    let init_rng = &mut derive(seed, Stream::Classifier, &[1]);
    for v in &mut params[last.weight..last.bias] {
        *v = rand::Rng::random_range(init_rng, -bound..bound) as f32;
    }
    let optimizer = OptimizerConfig {
        lr: config.lr,
        grad_clip: 0.0,
        ..OptimizerConfig::default()
    };
    let mut adam = Adam::new(&optimizer, params.len());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut grad = vec![0.0f32; params.len()];
    let mut cache = Cache::default();
    for epoch in 0..config.epochs {
        order.shuffle(&mut derive(seed, Stream::Classifier, &[2, epoch as u64]));
        for batch in order.chunks(config.batch_size) {
            let x = train.x.select(Axis(0), batch);
            let y: Vec<usize> = batch.iter().map(|&i| labels[i]).collect();
            let logits = net.mlp.forward(&params, x.view(), &mut cache);
            let (loss, dlogits) = cross_entropy(logits.view(), &y);
            if !loss.is_finite() {
                return Err(Error::invalid(
                    "metrics.classifier.lr",
                    format!("the classifier's loss became {loss} in epoch {epoch}; lower the learning rate"),
                ));
            }
            net.mlp.backward(&params, &cache, dlogits.view(), &mut grad);
            adam.update(&mut params, &mut grad);
        }
    }
    let mut classifier = Classifier {
        net,
        params,
        test_accuracy: 0.0,
    };
    classifier.test_accuracy = classifier.accuracy(test);
    Ok(classifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_gradient_matches_finite_differences() {
        let logits = Array2::from_shape_fn((4, 3), |(i, j)| ((i * 3 + j) as f64 * 0.7).sin() * 2.0);
        let labels = [0, 2, 1, 2];
        let (loss, grad) = cross_entropy(logits.view(), &labels);
        assert!(loss > 0.0);
        let h = 1e-6;
        for i in 0..4 {
            for j in 0..3 {
                let mut plus = logits.clone();
                plus[[i, j]] += h;
                let mut minus = logits.clone();
                minus[[i, j]] -= h;
                let numeric =
                    (cross_entropy(plus.view(), &labels).0 - cross_entropy(minus.view(), &labels).0) / (2.0 * h);
                assert!(
                    (numeric - grad[[i, j]]).abs() < 1e-8,
                    "({i},{j}): {numeric} vs {}",
                    grad[[i, j]]
                );
            }
        }
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_classes() {
        let logits = Array2::<f64>::zeros((2, 4));
        let (loss, _) = cross_entropy(logits.view(), &[1, 3]);
        assert!((loss - 4f64.ln()).abs() < 1e-12);
    }
}
