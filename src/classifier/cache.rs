//! The classifier cached as safetensors under a SHA-256 key of its settings, seed and training data, so runs on
//! the same data (every policy, routing change and seed of the federation) share one trained classifier.

use super::{Classifier, network, train_classifier};
use crate::data::Dataset;
use crate::error::Result;
use crate::nn::weights;
use crate::scenario::ClassifierConfig;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Bumped whenever the classifier's training or storage changes meaning.
const FORMAT: &str = "ddmsim-classifier-1";

/// The hex SHA-256 key of a classifier: its settings, seed and the labelled training data.
pub fn classifier_key(config: &ClassifierConfig, seed: u64, train: &Dataset) -> String {
    let mut hasher = Sha256::new();
    hasher.update(FORMAT.as_bytes());
    hasher.update(serde_json::to_vec(&(&config.hidden, config.epochs, config.batch_size, config.lr)).expect("json"));
    hasher.update(seed.to_le_bytes());
    hasher.update((train.x.nrows() as u64).to_le_bytes());
    hasher.update((train.x.ncols() as u64).to_le_bytes());
    for v in train.x.iter() {
        hasher.update(v.to_le_bytes());
    }
    for &l in train.labels.iter().flatten() {
        hasher.update((l as u64).to_le_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The classifier from `cache_dir` if stored there under its key, else trained (and stored when `cache_dir` is
/// given). The test accuracy is always measured afresh. Returns the classifier and whether it came from the cache.
pub fn load_or_train(
    train: &Dataset,
    test: &Dataset,
    config: &ClassifierConfig,
    seed: u64,
    cache_dir: Option<&Path>,
) -> Result<(Classifier, bool)> {
    let classes = train.num_classes().unwrap_or(0);
    let path = cache_dir.map(|d| {
        d.join(format!(
            "classifier-{}.safetensors",
            classifier_key(config, seed, train)
        ))
    });
    if let Some(path) = path.as_ref().filter(|p| p.is_file()) {
        let net = network(config, train.dim(), classes);
        let params = weights::load(path, &net)?;
        let mut classifier = Classifier {
            net,
            params,
            test_accuracy: 0.0,
        };
        classifier.test_accuracy = classifier.accuracy(test);
        return Ok((classifier, true));
    }
    let classifier = train_classifier(train, test, config, seed)?;
    if let Some(path) = &path {
        weights::save(
            path,
            &classifier.net,
            &classifier.params,
            &[("role", "classifier".into())],
        )?;
    }
    Ok((classifier, false))
}
