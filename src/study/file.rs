//! A study file: one base scenario, a list of named settings (each a set of dotted-path overrides) and the seeds
//! every setting runs with.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A study: the base scenario varied setting by setting, each over the same seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    /// Name of the study; output goes to `reports/<name>/` unless `--out` says otherwise.
    pub name: String,
    /// The base scenario file, relative to the study file.
    pub scenario: PathBuf,
    /// Root seeds every setting runs with (they replace the scenario's `seed`).
    pub seeds: Vec<u64>,
    /// Overrides applied to the base scenario before every setting's own (dotted path -> new value).
    #[serde(default)]
    pub set: BTreeMap<String, serde_norway::Value>,
    /// The settings; each changes the base scenario by dotted-path overrides. Default: the base alone.
    #[serde(default = "base_only")]
    pub settings: Vec<Setting>,
    /// Policy labels compared in `summary.md` (all policies when empty).
    #[serde(default)]
    pub policies: Vec<String>,
}

/// One setting of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// Name used in tables and folder names (letters, digits, `.`, `-`, `_`, `=`).
    pub name: String,
    /// Dotted path -> new value, applied to the base scenario.
    #[serde(default)]
    pub set: BTreeMap<String, serde_norway::Value>,
}

/// One setting named `base` that changes nothing.
fn base_only() -> Vec<Setting> {
    vec![Setting {
        name: "base".into(),
        set: BTreeMap::new(),
    }]
}
