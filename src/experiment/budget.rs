//! The memory a run will need at its peak, estimated from the scenario before anything is allocated, and the
//! refusal of a run that cannot fit in the memory available (unless forced). Every part names the scenario key
//! that governs it, so the message says what to change.

use crate::data;
use crate::error::{Error, Result};
use crate::federated::{STREAM_CHUNK, streams};
use crate::scenario::{
    AlgorithmConfig, DataConfig, DataKind, Device, LocalOptimizer, OptimizerConfig, OptimizerKind, RoutingConfig,
    Scenario,
};
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

/// The sizes every part of an estimate depends on.
struct Sizes {
    rows: f64,
    dim: f64,
    /// Clusters (and so at most experts).
    k: f64,
    threads: f64,
}

/// The keys of SCAFFOLD's per-client control variates.
const SCAFFOLD_KEYS: &str = "federation.algorithm, router.algorithm";
/// The keys of the optimizer state clients keep between rounds.
const PERSISTENT_KEYS: &str = "federation.local_optimizer, router.local_optimizer";

/// Bytes of an f32 and of an f64.
const F32: f64 = 4.0;
/// See [`F32`].
const F64: f64 = 8.0;

/// The estimated peak memory of `s` on data of `rows` points in `dim` dimensions.
pub fn estimate_memory(s: &Scenario, rows: f64, dim: f64) -> Estimate {
    let z = Sizes {
        rows,
        dim,
        k: s.clusters.k.max(1) as f64,
        threads: rayon::current_num_threads() as f64,
    };
    let mut parts = vec![
        Part {
            key: "data.samples",
            what: "the data set, its split and the metrics' copies",
            bytes: rows * dim * (3.0 * F32 + 2.0 * F64) + rows * 4.0 * F64,
        },
        Part {
            key: "clients.count",
            what: "the partition and each client's cluster counts",
            bytes: s.clients.count as f64 * (z.k * 2.0 * F64 + 96.0),
        },
    ];
    parts.extend(training_parts(s, &z));
    parts.extend(evaluation_parts(s, &z));
    Estimate { parts }
}

/// 1 when `algorithm` keeps control variates (SCAFFOLD), else 0.
fn scaffold(algorithm: AlgorithmConfig) -> f64 {
    if matches!(algorithm, AlgorithmConfig::Scaffold { .. }) {
        1.0
    } else {
        0.0
    }
}

/// Vectors of `params` values a client keeps between rounds for its optimizer (`persistent` local optimizers
/// only): Adam's two moments or SGD's velocity.
fn kept_moments(local: LocalOptimizer, optimizer: &OptimizerConfig) -> f64 {
    match (local, optimizer.kind) {
        (LocalOptimizer::Fresh, _) => 0.0,
        (LocalOptimizer::Persistent, OptimizerKind::Adam) => 2.0,
        (LocalOptimizer::Persistent, OptimizerKind::Sgd) => 1.0,
    }
}

/// The clients that ever train a model selecting `per_round` of its `clients` in each of `rounds` rounds: the
/// ones that hold per-client state (SCAFFOLD's c_i, a kept optimizer), stored only for them.
fn ever_trained(clients: f64, per_round: f64, rounds: usize) -> f64 {
    (per_round * rounds as f64).min(clients)
}

/// The client models a round of `participants` across `models` models in training holds at once: all of them,
/// or one chunk per model when the round's updates stream into the mean.
fn held(participants: f64, models: f64, streamed: bool) -> f64 {
    match streamed {
        true => participants.min(models * STREAM_CHUNK as f64),
        false => participants,
    }
}

/// The models of one round, the training threads' working memory and the per-client state.
fn training_parts(s: &Scenario, z: &Sizes) -> Vec<Part> {
    let needs_router = s.routing.iter().any(|r| {
        !matches!(
            r,
            RoutingConfig::Uniform | RoutingConfig::Random { .. } | RoutingConfig::Monolith
        )
    });
    let router = if needs_router { 1.0 } else { 0.0 };
    let clients = s.clients.count as f64;
    let p = params(z.dim + s.model.time_embedding as f64, &s.model.hidden, z.dim);
    let pr = params(z.dim + s.router.time_embedding as f64, &s.router.hidden, z.k);
    let batch = s.federation.batch_size as f64;
    // A training thread: weights, gradient and two optimizer moments, and a batch's activations.
    let working = |params: f64, embedding: usize, hidden: &[usize]| {
        let widths: f64 = hidden.iter().map(|&w| w as f64).sum();
        z.threads * (4.0 * params + batch * (z.dim + embedding as f64 + widths) * 3.0) * F32
    };
    // A share is of each expert's group (a share of all clients in all); a count is per expert, so up to k of it.
    let per_round = match s.federation.clients_per_round.is_count() {
        true => (s.federation.clients_per_round.0 * z.k).min(clients),
        false => s.federation.clients_per_round.at_most(clients),
    }
    .max(z.k);
    let router_clients = s.router.clients_per_round.at_most(clients);
    // A streamed round holds one chunk of client results per model in training (the experts side by side); each
    // result is the client's weights and its optimizer's state (SGD's velocity, Adam's two moments) until the
    // server has read it. A device batches the experts' plain rounds and collects them (counted as collected);
    // the router always trains on the CPU.
    let on_cpu = s.device == Device::Cpu;
    let (stragglers, on_nonfinite) = (s.faults.stragglers.policy, s.faults.on_nonfinite);
    let experts_stream = on_cpu && streams(&s.federation.strategy(), stragglers, on_nonfinite);
    let router_stream = streams(&s.router.strategy(&s.federation), stragglers, on_nonfinite);
    let result = |optimizer: &OptimizerConfig| 1.0 + kept_moments(LocalOptimizer::Persistent, optimizer);
    let held_models =
        (held(per_round, z.k, experts_stream) + held(per_round, 1.0, experts_stream)) * result(&s.model.optimizer);
    let router_held = held(router_clients, 1.0, router_stream) * result(&s.router.optimizer) * pr;
    let router_round = router_clients * pr;
    // Experts together, and the monolith, which trains as many clients per round.
    let expert_state = ever_trained(clients, per_round, s.federation.rounds);
    let router_state = ever_trained(clients, router_clients, s.router.rounds);
    let router_local = s.router.local_optimizer.unwrap_or(s.federation.local_optimizer);
    vec![
        Part {
            key: "clients.count, federation.clients_per_round, model.hidden",
            what: "one round's client models of every expert and the monolith",
            // Per model: the global, averaged and combined weights, a spare, and the mean's f64 accumulator.
            bytes: (held_models * p + 6.0 * (z.k + 1.0) * p) * F32,
        },
        Part {
            key: "router.hidden, router.time_embedding, router.clients_per_round",
            what: "one round's client models of the router",
            bytes: router * (router_held + 6.0 * pr) * F32,
        },
        Part {
            key: "model.hidden, model.time_embedding, federation.batch_size",
            what: "the working memory of every thread training a denoiser",
            bytes: working(p, s.model.time_embedding, &s.model.hidden),
        },
        Part {
            key: "router.hidden, router.time_embedding, federation.batch_size",
            what: "the working memory of every thread training the router",
            bytes: router * working(pr, s.router.time_embedding, &s.router.hidden),
        },
        Part {
            key: SCAFFOLD_KEYS,
            what: "SCAFFOLD's control variates of the clients that train, and a round's corrections",
            // The c_i of each client that ever trains its expert and the monolith (the router's: one each), and
            // per round a shift, a renewed c_i and its change for each participant.
            bytes: (scaffold(s.federation.algorithm) * (2.0 * expert_state + 3.0 * per_round) * p
                + router
                    * scaffold(s.router.strategy(&s.federation).algorithm)
                    * (router_state * pr + 3.0 * router_round))
                * F32,
        },
        Part {
            key: PERSISTENT_KEYS,
            what: "the optimizer state each client that trains keeps between rounds (persistent only)",
            bytes: (kept_moments(s.federation.local_optimizer, &s.model.optimizer) * 2.0 * expert_state * p
                + router * kept_moments(router_local, &s.router.optimizer) * router_state * pr)
                * F32,
        },
        Part {
            key: "federation.server, router.server",
            what: "the server optimizers' moments (double precision)",
            bytes: 2.0 * ((z.k + 1.0) * p + router * pr) * 8.0,
        },
        Part {
            key: "federation.rounds",
            what: "the per-round training log",
            bytes: (s.federation.rounds as f64 * (z.k + 1.0) + s.router.rounds as f64) * 96.0,
        },
    ]
}

/// The samples, the sampler, the analyses and the metrics.
fn evaluation_parts(s: &Scenario, z: &Sizes) -> Vec<Part> {
    let (m, dim, k) = (&s.metrics, z.dim, z.k);
    let samples = s.sampling.samples as f64;
    let policies = s.routing.len() as f64;
    let alignment = if m.alignment { 1.0 } else { 0.0 };
    let reference = m.max_reference as f64;
    let per_sample = dim * F32 * (policies + 12.0)
        + (dim * F64 + 24.0) * 3.0
        + k * F32 * 4.0
        + policies * 2.0 * F64
        + alignment * k * dim * F32 * 2.0;
    vec![
        Part {
            key: "sampling.samples",
            what: "the samples of every policy, the sampler's states and the analyses' copies",
            bytes: samples * per_sample,
        },
        Part {
            key: "sampling.steps",
            what: "the sampler's time grid and the per-step tables",
            bytes: s.sampling.steps as f64 * (F64 * 8.0 + policies * (160.0 + k * F64 * 4.0)),
        },
        Part {
            key: "data.samples",
            what: "the training data memorization compares samples with (all of it, and one expert's at a time)",
            // All of it in one f64 buffer sorted along the first coordinate (with the sort's order and merge
            // buffer), and one expert's at a time (at most all of it) selected in f32 and sorted the same way.
            bytes: z.rows * (dim * (F64 + F32 + F64) + 2.0 * (F64 + F32)),
        },
        Part {
            key: "metrics.projections",
            what: "the sliced Wasserstein directions",
            bytes: m.projections as f64 * dim * F64,
        },
        Part {
            key: "metrics.max_reference",
            what: "the reference set and its neighbour radii",
            bytes: reference * (dim * F64 * 3.0 + F64 * (1.0 + z.threads)),
        },
        Part {
            key: "metrics.error_bins, metrics.error_points",
            what: "the noised held-out points and every expert's error on them",
            bytes: alignment
                * m.error_bins as f64
                * (m.error_points as f64).min(z.rows)
                * (2.0 * dim * F32 + F64 + k * F64),
        },
        Part {
            key: "metrics.alignment_points",
            what: "each expert's training points for the alignment distances",
            bytes: alignment * k * (m.alignment_points as f64).min(z.rows) * dim * F64,
        },
        Part {
            key: "data (dimension)",
            what: "the covariance matrices of the Frechet distance",
            bytes: dim * dim * F64 * 8.0,
        },
        Part {
            key: "sampling.samples, sampling.steps (routing: nearest_data)",
            what: "the states nearest_data remembers with their x0_hat",
            bytes: nearest_data_memory(s, dim),
        },
    ]
}

/// What a `nearest_data` policy remembers until its analyses are done (one policy at a time): each state a step
/// led to and its x0_hat (two vectors of `dim` f32 with their headers, a step and a hash slot, at the table's load
/// factor and with room for a resize), for the sampler's trajectories and the analyses' (a replay for alignment;
/// for stability the base, two perturbed and two probed ones, and the run with twice the steps): at most ten
/// trajectories of every sample.
fn nearest_data_memory(s: &Scenario, dim: f64) -> f64 {
    let any = (s.routing.iter()).any(|r| matches!(r, crate::scenario::RoutingConfig::NearestData { .. }));
    let entry = (dim * F32 * 2.0 + 128.0) * 1.75;
    if any {
        s.sampling.samples as f64 * s.sampling.steps as f64 * 10.0 * entry
    } else {
        0.0
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
    let estimate = estimate_scenario(s, base_dir)?;
    match (available_memory(), force) {
        (Some(available), false) => fits(&estimate, available),
        _ => Ok(()),
    }
}

/// Refuses `estimate` when it exceeds `available` bytes, with the total and the key of its largest part.
fn fits(estimate: &Estimate, available: f64) -> Result<()> {
    let total = estimate.total();
    if total <= available {
        return Ok(());
    }
    let largest = estimate.largest().expect("an estimate has parts");
    Err(Error::invalid(
        largest.key,
        format!(
            "the run would need about {} of memory at its peak, more than the {} available; most of it is {} \
         ({}); {} or pass --force to run anyway",
            bytes_text(total),
            bytes_text(available),
            largest.what,
            bytes_text(largest.bytes),
            advice(largest.key)
        ),
    ))
}

/// What to change when the part governed by `key` is the largest.
fn advice(key: &str) -> String {
    match key {
        SCAFFOLD_KEYS => "use an algorithm that keeps nothing per client ({kind: fedavg} or fedprox), or fewer \
                          rounds or clients per round (each client that ever trains keeps a control variate)"
            .into(),
        PERSISTENT_KEYS => "use fresh local optimizers (local_optimizer: fresh), or fewer rounds or clients per \
                            round (each client that ever trains keeps its optimizer's state)"
            .into(),
        _ => format!("lower {key}"),
    }
}

/// The estimated peak memory of the scenario `s` (relative data paths resolve against `base_dir`).
pub fn estimate_scenario(s: &Scenario, base_dir: &Path) -> Result<Estimate> {
    let (rows, dim) = data_shape(&s.data, base_dir)?;
    Ok(estimate_memory(s, rows, dim))
}

/// Refuses running `parallel` cells at once when that many of the largest cell (`largest`, estimated) would not
/// fit in the memory available, unless `force`; the message says how many would.
pub fn check_parallel(largest: f64, parallel: usize, force: bool) -> Result<()> {
    let Some(available) = available_memory().filter(|_| !force && parallel > 1) else {
        return Ok(());
    };
    if largest * parallel as f64 <= available {
        return Ok(());
    }
    let fits = ((available / largest.max(1.0)) as usize).max(1);
    Err(Error::invalid(
        "--jobs",
        format!(
            "{parallel} cells at once would need about {} of memory ({} each at most), more than the {} \
             available; use --jobs {fits} or pass --force",
            bytes_text(largest * parallel as f64),
            bytes_text(largest),
            bytes_text(available)
        ),
    ))
}

/// The number of points and the dimension of the data (an upper bound on the points of a CSV file, from its size).
fn data_shape(config: &DataConfig, base_dir: &Path) -> Result<(f64, f64)> {
    let samples = config.samples as f64;
    Ok(match &config.kind {
        DataKind::Gmm { dim, .. } => (samples, *dim as f64),
        DataKind::Moons { .. } | DataKind::Rings { .. } | DataKind::Checkerboard | DataKind::Spirals { .. } => {
            (samples, 2.0)
        }
        DataKind::Digits => (1797.0, 64.0),
        DataKind::Csv { .. } => data::csv_shape(config, base_dir)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{AggregateConfig, PerRound, load};

    /// The bundled 100,000-client scenario, and its parameters per denoiser.
    fn clients_100k() -> (Scenario, std::path::PathBuf) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scale/clients_100k.yaml");
        let loaded = load(&path).unwrap();
        (loaded.scenario, loaded.base_dir)
    }

    /// A tenth of every group per round (10,000 expert participants, 10,000 for the router): streamed, a round
    /// holds a chunk per model; a rule that needs every update at once (Krum) holds them all.
    #[test]
    fn a_streamed_round_holds_a_chunk_per_model_and_a_collected_one_every_update() {
        let (mut s, _) = clients_100k();
        s.federation.clients_per_round = PerRound(0.1);
        s.router.clients_per_round = PerRound(0.1);
        let models = |s: &Scenario| {
            let e = estimate_memory(s, 4e6, 2.0);
            let bytes = |what: &str| e.parts.iter().find(|p| p.what.starts_with(what)).unwrap().bytes;
            (
                bytes("one round's client models of every"),
                bytes("one round's client models of the router"),
            )
        };
        let p = 37_762.0 * F32;
        let (experts, streamed_router) = models(&s);
        // 8 experts and the monolith a chunk each, every result its weights and SGD's velocity, plus the
        // server's copies and the mean's f64 accumulator (6 vectors per model).
        assert_eq!(experts, (9.0 * STREAM_CHUNK as f64 * 2.0 + 6.0 * 9.0) * p);
        assert!(streamed_router < 5e6, "{streamed_router}");
        // On a device the experts' plain rounds are batched and collected; the router still streams on the CPU.
        let mut on_gpu = s.clone();
        on_gpu.device = crate::scenario::Device::Gpu;
        let (gpu_experts, gpu_router) = models(&on_gpu);
        assert_eq!(gpu_router, streamed_router);
        assert_eq!(gpu_experts, (2.0 * 10_000.0 * 2.0 + 6.0 * 9.0) * p);
        s.federation.aggregate = AggregateConfig::Krum {
            f: 0,
            m: 1,
            weighting: crate::scenario::Weighting::Examples,
        };
        let (experts, router) = models(&s);
        assert_eq!(experts, (2.0 * 10_000.0 * 2.0 + 6.0 * 9.0) * p);
        assert!(
            router > 100.0 * streamed_router,
            "the router inherits the rule: {router}"
        );
    }

    #[test]
    fn a_cross_device_federation_fits_in_a_gigabyte_without_per_client_state() {
        let (s, dir) = clients_100k();
        let estimate = estimate_scenario(&s, &dir).unwrap();
        // The estimate is an upper bound (its parts never all peak at once; the run's measured peak is about
        // 620 MB); with per-client state of every client it would be tens of GB.
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert!(
            estimate.total() < 1.5 * gib,
            "{}: {:?}",
            bytes_text(estimate.total()),
            estimate
        );
        assert!(fits(&estimate, 1.5 * gib).is_ok());
    }

    #[test]
    fn per_client_state_counts_the_clients_that_train_and_is_refused_when_it_cannot_fit() {
        let (mut s, dir) = clients_100k();
        s.federation.algorithm = AlgorithmConfig::Scaffold { variant: 2 };
        let estimate = estimate_scenario(&s, &dir).unwrap();
        let largest = estimate.largest().unwrap();
        assert_eq!(largest.key, "federation.algorithm, router.algorithm");
        // Sparse: 100 clients x 8 experts x 50 rounds = 40,000 of the 100,000 clients hold a c_i of each
        // denoiser's 37,762 parameters (experts and monolith), not all of them; the router's 5,000 hold 6,920.
        let (p, pr) = (37_762.0, 6_920.0);
        let sparse = (2.0 * 40_000.0 * p + 3.0 * 800.0 * p + 5_000.0 * pr + 3.0 * 100.0 * pr) * F32;
        assert_eq!(largest.bytes, sparse);
        let err = fits(&estimate, 8.0 * 1024.0 * 1024.0 * 1024.0).unwrap_err().to_string();
        assert!(
            err.starts_with("federation.algorithm, router.algorithm: the run would need about 1"),
            "{err}"
        );
        assert!(err.contains("use an algorithm that keeps nothing per client"), "{err}");
        // Persistent local optimizers keep state for the same clients.
        s.federation.algorithm = AlgorithmConfig::Fedavg;
        s.federation.local_optimizer = LocalOptimizer::Persistent;
        let estimate = estimate_scenario(&s, &dir).unwrap();
        assert_eq!(
            estimate.largest().unwrap().key,
            "federation.local_optimizer, router.local_optimizer"
        );
    }
}
