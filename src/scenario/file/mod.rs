//! Serde mirror of the scenario YAML: the top level here, one file per section, each key beside its default and
//! why that default.
//!
//! Unknown keys are rejected (`deny_unknown_fields`), so a typo never silently falls back to a default.

mod client_sizes;
mod clients;
mod clusters;
mod data;
mod experts;
mod faults;
mod federation;
mod metrics;
mod model;
mod optimizer;
mod per_round;
mod router;
mod routing;
mod sampling;
mod strategy;

pub use client_sizes::{ClientSizes, SizeRule};
pub use clients::{ClientsConfig, PartitionConfig};
pub use clusters::{ClusterConfig, ClusterMethod};
pub use data::{DataConfig, DataKind, GmmLayout};
pub use experts::{ExpertsConfig, Grouping};
pub use faults::{
    AttackKind, AvailabilityConfig, ByzantineConfig, ExpertOutage, FaultsConfig, OnNonFinite, StragglerConfig,
    StragglerPolicy,
};
pub use federation::{FederationConfig, FederationMode, LocalOptimizer};
pub use metrics::{ClassifierConfig, MetricsConfig};
pub use model::{ConditionConfig, ModelConfig, ObjectiveKind};
pub use optimizer::{OptimizerConfig, OptimizerKind};
pub use per_round::PerRound;
pub use router::RouterConfig;
pub use routing::{RoutingConfig, ScheduleStage};
pub use sampling::{GuidanceApply, GuidanceConfig, RequestedClasses, SamplingConfig};
pub use strategy::{AggregateConfig, AlgorithmConfig, ServerConfig, Strategy, Weighting};

use serde::{Deserialize, Serialize};

/// One experiment, as written in a scenario file (with every default filled in after loading).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name of the experiment; also the default output folder `reports/<name>/`.
    pub name: String,
    /// Root seed from which every random stream is derived.
    #[serde(default)]
    pub seed: u64,
    /// The data set and its train/test split.
    #[serde(default)]
    pub data: DataConfig,
    /// How training data is grouped into clusters.
    #[serde(default)]
    pub clusters: ClusterConfig,
    /// The federation's clients and how data is partitioned among them.
    #[serde(default)]
    pub clients: ClientsConfig,
    /// How clients are grouped into experts.
    #[serde(default)]
    pub experts: ExpertsConfig,
    /// How experts, router and monolith are trained across clients.
    #[serde(default)]
    pub federation: FederationConfig,
    /// What goes wrong during federated training (nothing, by default; then left out of resolved scenarios).
    #[serde(default, skip_serializing_if = "FaultsConfig::is_none")]
    pub faults: FaultsConfig,
    /// The denoiser network and its optimisation.
    #[serde(default)]
    pub model: ModelConfig,
    /// The router network that predicts the expert shard of a noisy input.
    #[serde(default)]
    pub router: RouterConfig,
    /// How samples are generated.
    #[serde(default)]
    pub sampling: SamplingConfig,
    /// The routing policies compared, all on the same trained experts.
    #[serde(default = "routing::default_routing")]
    pub routing: Vec<RoutingConfig>,
    /// Settings of the quality metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Swept values: dotted path -> list of values; the run is their cartesian product (cells), the first path
    /// varying slowest. Empty (the default): a single run.
    #[serde(default, skip_serializing_if = "serde_norway::Mapping::is_empty")]
    pub sweep: serde_norway::Mapping,
    /// Where the experts' and monolith's training and the sampler run: `cpu` (the default, the path every stored
    /// result comes from) or `gpu` (a build with `--features gpu`; every model's round batched together).
    #[serde(default, skip_serializing_if = "Device::is_cpu")]
    pub device: Device,
}

/// Where training and sampling run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The rayon CPU path.
    #[default]
    Cpu,
    /// WGSL kernels through wgpu (cargo feature `gpu`).
    Gpu,
}

impl Device {
    /// Whether this is the CPU (left out of resolved scenarios, so CPU runs keep their cache keys).
    pub fn is_cpu(&self) -> bool {
        *self == Device::Cpu
    }
}

/// On unless turned off: renormalised top-k is DDM's and the common reading, and the stability and alignment
/// metrics are the paper's two families besides quality.
fn d_true() -> bool {
    true
}
