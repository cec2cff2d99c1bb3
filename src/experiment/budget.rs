//! The memory a run will need at its peak, estimated from the scenario before anything is allocated, and the
//! refusal of a run that cannot fit in the memory available (unless forced). Every part names the scenario key
//! that governs it, so the message says what to change.

use crate::data;
use crate::error::{Error, Result};
use crate::scenario::{DataConfig, RoutingConfig, Scenario};
use std::path::Path;

/// One part of a run's peak memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The scenario key(s) that govern it.
    pub key: &'static str,
    /// What it holds.
    pub what: &'static str,
    /// Bytes (estimated; f64 so that absurd settings never overflow).
    pub bytes: f64,
}

/// The estimated peak memory of a run, by part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    /// The parts.
    pub parts: Vec<Part>,
}

impl Estimate {
    /// Total bytes.
    pub fn total(&self) -> f64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The largest part.
    pub fn largest(&self) -> Option<&Part> {
        self.parts.iter().max_by(|a, b| a.bytes.total_cmp(&b.bytes))
    }
}

/// Bytes as a readable size (`1.5 GiB`).
pub fn bytes_text(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u + 1 == units.len() && v >= 1024.0 {
        return format!("{bytes:.3e} B");
    }
    format!("{v:.1} {}", units[u])
}

/// Parameters of an MLP with `input` inputs, `hidden` widths and `output` outputs.
fn params(input: f64, hidden: &[usize], output: f64) -> f64 {
    let mut total = 0.0;
    let mut fan_in = input;
    for &w in hidden
        .iter()
        .map(|w| *w as f64)
        .collect::<Vec<_>>()
        .iter()
        .chain([output].iter())
    {
        total += fan_in * w + w;
        fan_in = w;
    }
    total
}

/// The estimated peak memory of `s` on data of `rows` points in `dim` dimensions.
pub fn estimate_memory(s: &Scenario, rows: f64, dim: f64) -> Estimate {
    let (f, e8) = (4.0, 8.0);
    let k = s.clusters.k.max(1) as f64;
    let clients = s.clients.count as f64;
    let threads = rayon::current_num_threads() as f64;
    let samples = s.sampling.samples as f64;
    let steps = s.sampling.steps as f64;
    let policies = s.routing.len() as f64;
    let m = &s.metrics;
    let needs_router = s.routing.iter().any(|r| {
        !matches!(
            r,
            RoutingConfig::Uniform | RoutingConfig::Random { .. } | RoutingConfig::Monolith
        )
    });
    let p = params(dim + s.model.time_embedding as f64, &s.model.hidden, dim);
    let pr = params(dim + s.router.time_embedding as f64, &s.router.hidden, k);
    let batch = s.federation.batch_size as f64;
    // A training thread: weights, gradient and two optimizer moments, and a batch's activations.
    let working = |params: f64, embedding: usize, hidden: &[usize]| {
        let widths: f64 = hidden.iter().map(|&w| w as f64).sum();
        (4.0 * params + batch * (dim + embedding as f64 + widths) * 3.0) * f
    };
    let per_round = (s.federation.clients_per_round * clients).ceil().max(k);
    let router_round = if needs_router {
        (s.router.clients_per_round * clients).ceil() * pr
    } else {
        0.0
    };
    let reference = m.max_reference as f64;
    let alignment = if m.alignment { 1.0 } else { 0.0 };
    let part = |key, what, bytes: f64| Part { key, what, bytes };
    Estimate {
        parts: vec![
            part(
                "data.samples",
                "the data set, its split and the metrics' copies",
                rows * dim * (3.0 * f + 2.0 * e8) + rows * 4.0 * e8,
            ),
            part(
                "clients.count",
                "the partition and each client's cluster counts",
                clients * (k * 2.0 * e8 + 96.0),
            ),
            part(
                "clients.count, federation.clients_per_round, model.hidden",
                "one round's client models of every expert and the monolith",
                (2.0 * per_round * p + 4.0 * (k + 1.0) * p) * f,
            ),
            part(
                "router.hidden, router.time_embedding, router.clients_per_round",
                "one round's client models of the router",
                (router_round + 4.0 * pr) * f,
            ),
            part(
                "model.hidden, model.time_embedding, federation.batch_size",
                "the working memory of every thread training a denoiser",
                threads * working(p, s.model.time_embedding, &s.model.hidden),
            ),
            part(
                "router.hidden, router.time_embedding, federation.batch_size",
                "the working memory of every thread training the router",
                threads * working(pr, s.router.time_embedding, &s.router.hidden) * if needs_router { 1.0 } else { 0.0 },
            ),
            part(
                "federation.rounds",
                "the per-round training log",
                (s.federation.rounds as f64 * (k + 1.0) + s.router.rounds as f64) * 96.0,
            ),
            part(
                "sampling.samples",
                "the samples of every policy, the sampler's states and the analyses' copies",
                samples
                    * (dim * f * (policies + 12.0)
                        + (dim * e8 + 24.0) * 3.0
                        + k * f * 4.0
                        + policies * 2.0 * e8
                        + alignment * k * dim * f * 2.0),
            ),
            part(
                "sampling.steps",
                "the sampler's time grid and the per-step tables",
                steps * (e8 * 8.0 + policies * (160.0 + k * e8 * 4.0)),
            ),
            part(
                "metrics.projections",
                "the sliced Wasserstein directions",
                m.projections as f64 * dim * e8,
            ),
            part(
                "metrics.max_reference",
                "the reference set and its neighbour radii",
                reference * (dim * e8 * 3.0 + e8 * (1.0 + threads)),
            ),
            part(
                "metrics.error_bins, metrics.error_points",
                "the noised held-out points and every expert's error on them",
                alignment * m.error_bins as f64 * (m.error_points as f64).min(rows) * (2.0 * dim * f + e8 + k * e8),
            ),
            part(
                "metrics.alignment_points",
                "each expert's training points for the alignment distances",
                alignment * k * (m.alignment_points as f64).min(rows) * dim * e8,
            ),
            part(
                "data (dimension)",
                "the covariance matrices of the Frechet distance",
                dim * dim * e8 * 8.0,
            ),
        ],
    }
}

/// Memory available to a new process now (`MemAvailable` of `/proc/meminfo`), if the system says.
pub fn available_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024.0)
}

/// Refuses a run whose estimated peak memory exceeds the memory available, unless `force`.
pub fn check(s: &Scenario, base_dir: &Path, force: bool) -> Result<()> {
    let (rows, dim) = data_shape(&s.data, base_dir)?;
    let estimate = estimate_memory(s, rows, dim);
    let (Some(available), false) = (available_memory(), force) else {
        return Ok(());
    };
    let total = estimate.total();
    if total <= available {
        return Ok(());
    }
    let largest = estimate.largest().expect("an estimate has parts");
    Err(Error::invalid(
        largest.key,
        format!(
            "the run would need about {} of memory at its peak, more than the {} available; most of it is {} \
         ({}); lower {} or pass --force to run anyway",
            bytes_text(total),
            bytes_text(available),
            largest.what,
            bytes_text(largest.bytes),
            largest.key
        ),
    ))
}

/// The number of points and the dimension of the data (an upper bound on the points of a CSV file, from its size).
fn data_shape(config: &DataConfig, base_dir: &Path) -> Result<(f64, f64)> {
    Ok(match config {
        DataConfig::Gmm { samples, dim, .. } => (*samples as f64, *dim as f64),
        DataConfig::Moons { samples, .. }
        | DataConfig::Rings { samples, .. }
        | DataConfig::Checkerboard { samples, .. }
        | DataConfig::Spirals { samples, .. } => (*samples as f64, 2.0),
        DataConfig::Digits { .. } => (1797.0, 64.0),
        DataConfig::Csv { .. } => data::csv_shape(config, base_dir)?,
    })
}
