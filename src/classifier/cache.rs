//! The classifier cached (a verified entry of the model cache) under a SHA-256 key of its settings, seed and training data, so runs on
//! the same data (every policy, routing change and seed of the federation) share one trained classifier.

use super::{Classifier, network, train_classifier};
use crate::data::Dataset;
use crate::error::Result;
use crate::nn::weights;
use crate::progress::warn;
use crate::scenario::ClassifierConfig;
use crate::store::{Lookup, ModelCache};
use sha2::{Digest, Sha256};

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

/// The classifier from the model cache if a verified entry holds it under its key, else trained (and stored when
/// there is a cache; a bad entry is reported and replaced). The test accuracy is always measured afresh. Returns
/// the classifier and whether it came from the cache.
pub fn load_or_train(
    train: &Dataset,
    test: &Dataset,
    config: &ClassifierConfig,
    seed: u64,
    cache: Option<&ModelCache>,
) -> Result<(Classifier, bool)> {
    let classes = train.num_classes().unwrap_or(0);
    let key = format!("classifier-{}", classifier_key(config, seed, train));
    let names = ["classifier.safetensors".to_string()];
    let _held = cache.map(|c| c.lock(&key, || {})).transpose()?;
    let net = network(config, train.dim(), classes);
    let cached = match cache.map(|c| c.read(&key, &names)) {
        Some(Lookup::Hit(files)) => weights::from_bytes(&files[0], &net).map_err(|why| format!("{}: {why}", names[0])),
        Some(Lookup::Bad(why)) => Err(why),
        Some(Lookup::Miss) | None => Err(String::new()),
    };
    match cached {
        Ok(params) => {
            let mut classifier = Classifier {
                net,
                params,
                test_accuracy: 0.0,
            };
            classifier.test_accuracy = classifier.accuracy(test);
            return Ok((classifier, true));
        }
        Err(why) if !why.is_empty() => warn(&format!(
            "model cache entry {key} is bad ({why}); training the classifier again and replacing it"
        )),
        Err(_) => {}
    }
    let classifier = train_classifier(train, test, config, seed)?;
    if let Some(cache) = cache {
        let bytes = weights::to_bytes(&classifier.net, &classifier.params, &[("role", "classifier".into())]);
        cache.write(&key, &[(names[0].clone(), bytes)])?;
    }
    Ok((classifier, false))
}
