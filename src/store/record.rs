//! `run.json`: the typed record of one run (what ran, on what, how it went, how long it took), written into the
//! staged folder before its commit and read back by sweeps and studies to decide whether a cell is finished.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Sizes of the data a run used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSizes {
    /// Training points (held by the clients).
    pub train: usize,
    /// Held-out points.
    pub test: usize,
    /// Dimension.
    pub dim: usize,
    /// Points of the metrics' reference set (a subsample of the held-out split), when metrics ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<usize>,
}

/// How the training data was spread over clients and experts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// Mean pairwise total-variation distance between the clients' cluster histograms.
    pub mean_pairwise_tv: f64,
    /// Candidate experts that got no client.
    pub dropped_experts: Vec<usize>,
    /// Clients that hold no data.
    pub idle_clients: Vec<usize>,
    /// Clients of each expert.
    pub expert_clients: Vec<usize>,
}

/// Parameter counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Of one expert (and of the monolith).
    pub expert: usize,
    /// Of the router, when one was trained.
    pub router: Option<usize>,
}

/// Where the models came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The model cache key of the training.
    pub key: String,
    /// Whether the models were loaded from the cache instead of trained.
    pub from_cache: bool,
    /// What training cost, by group of models (`experts`, `router`, `monolith`) and in `total`.
    #[serde(default)]
    pub cost: BTreeMap<String, CostTotals>,
}

/// Who misbehaved in a run: fixed, seeded sets of client ids (the server never uses them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultsRecord {
    /// Byzantine client ids, ascending.
    pub byzantine: Vec<usize>,
    /// Straggler client ids, ascending.
    pub stragglers: Vec<usize>,
    /// Under `data_swap`: (client, the cluster whose points it trains on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_swap: Vec<(usize, usize)>,
}

/// Bytes communicated and FLOPs spent training some models, summed over their rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostTotals {
    /// Bytes the server sent down.
    pub bytes_down: u64,
    /// Bytes the server received.
    pub bytes_up: u64,
    /// Training FLOPs (forward and backward).
    pub flops: u64,
}

impl CostTotals {
    /// The totals of `rounds` (model name, bytes down, bytes up, FLOPs) by group (`expert 3` counts in `experts`)
    /// and in `total`.
    pub fn by_group<'a>(rounds: impl Iterator<Item = (&'a str, u64, u64, u64)>) -> BTreeMap<String, CostTotals> {
        let mut totals: BTreeMap<String, CostTotals> = BTreeMap::new();
        for (model, down, up, flops) in rounds {
            let group = if model.starts_with("expert") { "experts" } else { model };
            for key in [group, "total"] {
                let t = totals.entry(key.to_string()).or_default();
                t.bytes_down += down;
                t.bytes_up += up;
                t.flops += flops;
            }
        }
        totals
    }
}

/// The evaluation classifier, when used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierRecord {
    /// Share of the held-out split it labels correctly.
    pub test_accuracy: f64,
    /// Whether it came from the cache.
    pub from_cache: bool,
    /// Its parameter count.
    pub parameters: usize,
}

/// The content of `run.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The ddmsim version that ran.
    pub ddmsim_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// The root seed.
    pub seed: u64,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
    /// SHA-256 of the run's inputs: the resolved scenario and the content of its data file, if any. A sweep or
    /// study reuses a cell only while this matches (empty in records of older versions).
    #[serde(default)]
    pub inputs_sha256: String,
    /// Data sizes.
    pub data: DataSizes,
    /// Number of clusters.
    pub clusters: usize,
    /// Number of experts trained.
    pub experts: usize,
    /// The partition's summary.
    pub partition: PartitionRecord,
    /// Parameter counts.
    pub parameters: Parameters,
    /// Where the models came from.
    pub training: TrainingRecord,
    /// The misbehaving clients of a run with `faults` (absent without Byzantine clients or stragglers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultsRecord>,
    /// `cpu`, or `gpu: <adapter>`.
    pub device: String,
    /// The run stopped after training (`--train-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub train_only: bool,
    /// The evaluation classifier, when used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierRecord>,
    /// Policies skipped because they need more experts than the grouping produced, with the reason.
    #[serde(default)]
    pub skipped_policies: BTreeMap<String, String>,
    /// Experts removed at sampling time (`sampling.lost_experts`), by index among the trained experts, in removal
    /// order; left out when none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_experts: Vec<usize>,
    /// Seconds per stage.
    #[serde(default)]
    pub timings_seconds: BTreeMap<String, f64>,
    /// Seconds of sampling and quality metrics per policy.
    #[serde(default)]
    pub sampling_seconds: BTreeMap<String, f64>,
    /// Seconds of the stability and alignment analyses per policy.
    #[serde(default)]
    pub analysis_seconds: BTreeMap<String, f64>,
}

impl RunRecord {
    /// Writes the record as `run.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a run record serialises");
        write_atomic(&dir.join("run.json"), json.as_bytes())
    }

    /// The record in `dir/run.json`.
    pub fn read(dir: &Path) -> Result<RunRecord> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::invalid(path.display().to_string(), format!("not a run record: {e}")))
    }
}

/// SHA-256 of what a run reads: its resolved scenario, its data's own hash (`None`: data generated from the
/// scenario) and the ddmsim version that reads them. A sweep or study cell is reused only while this is unchanged.
pub fn inputs_sha256_with(s: &crate::scenario::Scenario, data_sha256: Option<&str>) -> String {
    // The version too: a newer ddmsim may compute other numbers from the same inputs.
    let mut text = format!("ddmsim {}\n{}", env!("CARGO_PKG_VERSION"), crate::scenario::to_yaml(s));
    if let Some(hash) = data_sha256 {
        text.push_str("\ndata-sha256: ");
        text.push_str(hash);
    }
    crate::hash::sha256_hex(text.as_bytes())
}

/// Whether the run folder `dir` holds finished results (`results.parquet`) of exactly the inputs `inputs_sha256`:
/// by the hash its `run.json` records, or, for a run of an older ddmsim that recorded none, by the hash of its
/// stored scenario (only when the data comes from the scenario: a data file's bytes are not known then).
pub fn holds_results_of(dir: &Path, inputs_sha256: &str) -> bool {
    if !dir.join("results.parquet").is_file() {
        return false;
    }
    match RunRecord::read(dir) {
        Ok(record) if !record.inputs_sha256.is_empty() => record.inputs_sha256 == inputs_sha256,
        Ok(_) => std::fs::read_to_string(dir.join("scenario.resolved.yaml"))
            .ok()
            .and_then(|text| crate::scenario::parse(&text).ok())
            .filter(|s| !s.data.kind.reads_file())
            .is_some_and(|s| inputs_sha256_with(&s, None) == inputs_sha256),
        Err(_) => false,
    }
}
