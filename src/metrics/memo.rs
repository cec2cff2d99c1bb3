//! Values computed once and reused by the metrics that need them (e.g. KID's reference term), by key.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A map from a key to a value computed on first use.
#[derive(Debug, Default)]
pub struct Memo(Mutex<BTreeMap<&'static str, f64>>);

impl Memo {
    /// The value of `key`, computing it with `compute` the first time.
    pub fn get_or(&self, key: &'static str, compute: impl FnOnce() -> f64) -> f64 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_insert_with(compute)
    }
}
