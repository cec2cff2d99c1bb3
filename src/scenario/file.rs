//! Serde mirror of the scenario YAML: every section, every key, its default and why that default.
//!
//! Unknown keys are rejected (`deny_unknown_fields`), so a typo never silently falls back to a default.

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
    #[serde(default = "default_routing")]
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

/// The paper's comparison: top-1, top-2, the router-weighted full ensemble and the monolith.
fn default_routing() -> Vec<RoutingConfig> {
    vec![
        RoutingConfig::TopK {
            k: 1,
            renormalize: true,
        },
        RoutingConfig::TopK {
            k: 2,
            renormalize: true,
        },
        RoutingConfig::Full,
        RoutingConfig::Monolith,
    ]
}

/// Data sets; the `kind` key selects the variant (see [`super::yaml`] for the file form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataConfig {
    /// Isotropic Gaussian mixture with a known density.
    Gmm {
        /// Number of mixture components.
        #[serde(default = "d_components")]
        components: usize,
        /// Dimension of the data.
        #[serde(default = "d_dim")]
        dim: usize,
        /// Distance of the component means from the origin.
        #[serde(default = "d_radius")]
        radius: f64,
        /// Standard deviation of every component (isotropic).
        #[serde(default = "d_std")]
        std: f64,
        /// Placement of the means: evenly on a circle in the first two coordinates, or random on the sphere.
        #[serde(default)]
        layout: GmmLayout,
        /// Mixture weights (normalised); empty means equal weights.
        #[serde(default)]
        weights: Vec<f64>,
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Share of points held out as the test (reference) split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// Two interleaved half circles (2-D).
    Moons {
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Standard deviation of the Gaussian noise added to each point.
        #[serde(default = "d_toy_noise")]
        noise: f64,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// Concentric rings (2-D); the ring index is the label.
    Rings {
        /// Number of rings.
        #[serde(default = "d_rings")]
        rings: usize,
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Standard deviation of the radial noise.
        #[serde(default = "d_toy_noise")]
        noise: f64,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// 4x4 checkerboard on [-2, 2]^2 (2-D); the occupied square is the label.
    Checkerboard {
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// Interleaved Archimedean spirals (2-D); the arm is the label.
    Spirals {
        /// Number of arms.
        #[serde(default = "d_arms")]
        arms: usize,
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Standard deviation of the Gaussian noise.
        #[serde(default = "d_toy_noise")]
        noise: f64,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// The bundled UCI handwritten digits (1,797 images of 8x8 pixels scaled to [-1, 1], labels 0..9).
    Digits {
        /// Share of images held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// A user CSV file with a header row and numeric columns.
    Csv {
        /// Path of the file, relative to the scenario file's folder unless absolute.
        path: String,
        /// Name of the column holding class labels (any text); absent means no labels.
        #[serde(default)]
        label_column: Option<String>,
        /// Share of rows held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
}

impl Default for DataConfig {
    /// The paper-like mixture: 8 well-separated 2-D components.
    fn default() -> Self {
        DataConfig::Gmm {
            components: d_components(),
            dim: d_dim(),
            radius: d_radius(),
            std: d_std(),
            layout: GmmLayout::Circle,
            weights: Vec::new(),
            samples: d_samples(),
            test_fraction: d_test_fraction(),
        }
    }
}

/// Placement of mixture means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GmmLayout {
    /// Evenly spaced on a circle in the first two coordinates (well separated, easy to picture).
    #[default]
    Circle,
    /// Uniform directions on the sphere of the given radius (seeded).
    Random,
}

/// Eight clusters, as in the DDM and Paris systems.
fn d_components() -> usize {
    8
}
/// Two dimensions, so samples can be plotted over the true density.
fn d_dim() -> usize {
    2
}
/// Radius 4 with std 0.35 keeps the modes well separated (the independent probe's setting).
fn d_radius() -> f64 {
    4.0
}
/// See `d_radius`.
fn d_std() -> f64 {
    0.35
}
/// 20,000 points: enough for stable metrics at laptop cost.
fn d_samples() -> usize {
    20_000
}
/// 20 % of the data is held out as the metric reference set.
fn d_test_fraction() -> f64 {
    0.2
}
/// Small noise keeps the toy shapes recognisable.
fn d_toy_noise() -> f64 {
    0.05
}
/// Two rings, the classic toy.
fn d_rings() -> usize {
    2
}
/// Two arms, the classic toy.
fn d_arms() -> usize {
    2
}

/// Clustering of the training data (the DDM data shards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `kmeans` (k-means++ seeding, then Lloyd iterations) or `labels` (cluster = class label).
    #[serde(default)]
    pub method: ClusterMethod,
    /// Number of clusters for k-means (ignored by `labels`, which uses the number of classes).
    #[serde(default = "d_components")]
    pub k: usize,
    /// Upper bound on Lloyd iterations; k-means stops earlier once assignments are stable.
    #[serde(default = "d_kmeans_iterations")]
    pub max_iterations: usize,
}

/// 100 Lloyd iterations is far more than well-separated data needs.
fn d_kmeans_iterations() -> usize {
    100
}

impl Default for ClusterConfig {
    /// k-means with 8 clusters.
    fn default() -> Self {
        ClusterConfig {
            method: ClusterMethod::Kmeans,
            k: d_components(),
            max_iterations: d_kmeans_iterations(),
        }
    }
}

/// How clusters are formed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMethod {
    /// k-means on raw coordinates (DDM clusters by k-means on features).
    #[default]
    Kmeans,
    /// The data set's class labels.
    Labels,
}

/// The clients of the federation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsConfig {
    /// Number of clients.
    #[serde(default = "d_clients")]
    pub count: usize,
    /// How the training split is divided among clients.
    #[serde(default)]
    pub partition: PartitionConfig,
}

/// 100 clients: a federation large enough for skew to matter.
fn d_clients() -> usize {
    100
}

impl Default for ClientsConfig {
    /// 100 clients with Dirichlet(0.1) skew.
    fn default() -> Self {
        ClientsConfig {
            count: d_clients(),
            partition: PartitionConfig::default(),
        }
    }
}

/// Partition schemes with Flower Datasets semantics; `kind` selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PartitionConfig {
    /// Shuffled equal split.
    Iid,
    /// For each cluster, shares over clients drawn from Dir(alpha); redrawn (at most 10 times) until every client
    /// holds at least `min_partition_size` points.
    Dirichlet {
        /// Concentration: small = each client holds few clusters; large = near IID.
        #[serde(default = "d_alpha")]
        alpha: f64,
        /// Smallest acceptable client size (Flower's default is 10).
        #[serde(default = "d_min_partition_size")]
        min_partition_size: usize,
        /// Give no more of a cluster to clients that already hold more than the average size.
        #[serde(default)]
        self_balancing: bool,
    },
    /// Each client holds exactly `clusters_per_client` clusters (assigned round-robin, then shuffled within).
    Pathological {
        /// Clusters per client.
        #[serde(default = "d_clusters_per_client")]
        clusters_per_client: usize,
    },
}

/// 0.1: strongly skewed, the regime of the paper's federated motivation.
fn d_alpha() -> f64 {
    0.1
}
/// Flower's default.
fn d_min_partition_size() -> usize {
    10
}
/// Two clusters per client: the classic pathological non-IID split (McMahan et al.).
fn d_clusters_per_client() -> usize {
    2
}

impl Default for PartitionConfig {
    /// Dirichlet(0.1), Flower's defaults otherwise.
    fn default() -> Self {
        PartitionConfig::Dirichlet {
            alpha: d_alpha(),
            min_partition_size: d_min_partition_size(),
            self_balancing: false,
        }
    }
}

/// How clients are grouped into experts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpertsConfig {
    /// `majority` (join the expert of the client's majority cluster) or `random` (control that breaks alignment).
    #[serde(default)]
    pub grouping: Grouping,
}

impl Default for ExpertsConfig {
    /// Majority grouping.
    fn default() -> Self {
        ExpertsConfig {
            grouping: Grouping::Majority,
        }
    }
}

/// Client-to-expert grouping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// Each client joins the expert of its majority cluster; one expert per cluster.
    #[default]
    Majority,
    /// Each client joins one of as many experts as clusters, uniformly at random.
    Random,
}

/// Federated training settings shared by experts, monolith and (unless overridden) router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// `fedavg` (rounds of local training and weighted averaging) or `pooled` (central training per expert).
    #[serde(default)]
    pub mode: FederationMode,
    /// Number of communication rounds.
    #[serde(default = "d_rounds")]
    pub rounds: usize,
    /// Fraction of a group's clients that train in each round (at least one client).
    #[serde(default = "d_clients_per_round")]
    pub clients_per_round: f64,
    /// Optimizer steps each selected client runs per round.
    #[serde(default = "d_local_steps")]
    pub local_steps: usize,
    /// Mini-batch size of a local step (a smaller client uses all its points).
    #[serde(default = "d_batch_size")]
    pub batch_size: usize,
    /// Client optimizer state between rounds: `fresh` (a new Adam every round, the common simulation default)
    /// or `persistent` (each client keeps its Adam moments across the rounds it joins: stateful cross-silo clients).
    #[serde(default)]
    pub local_optimizer: LocalOptimizer,
}

/// What a client's optimizer remembers between rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalOptimizer {
    /// A fresh optimizer every round (stateless clients).
    #[default]
    Fresh,
    /// Each client keeps its optimizer moments across rounds (stateful clients).
    Persistent,
}

/// 40 rounds x 20 local steps: enough for 2-D mixtures to converge.
fn d_rounds() -> usize {
    40
}
/// Half the clients per round, a common cross-silo setting.
fn d_clients_per_round() -> f64 {
    0.5
}
/// See `d_rounds`.
fn d_local_steps() -> usize {
    20
}
/// 128 points per step balances gradient noise and speed on a CPU.
fn d_batch_size() -> usize {
    128
}

impl Default for FederationConfig {
    /// FedAvg, 40 rounds, half the clients, 20 local steps of 128 points.
    fn default() -> Self {
        FederationConfig {
            mode: FederationMode::Fedavg,
            rounds: d_rounds(),
            clients_per_round: d_clients_per_round(),
            local_steps: d_local_steps(),
            batch_size: d_batch_size(),
            local_optimizer: LocalOptimizer::Fresh,
        }
    }
}

/// Training mode of the federation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FederationMode {
    /// Federated averaging (McMahan et al. 2017).
    #[default]
    Fedavg,
    /// Each model trained centrally on the union of its clients' data with the same number of optimizer steps.
    Pooled,
}

/// The denoiser network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Widths of the hidden layers (SiLU after each).
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    /// Size of the sinusoidal time embedding (even).
    #[serde(default = "d_time_embedding")]
    pub time_embedding: usize,
    /// Residual connections between consecutive hidden layers of equal width.
    #[serde(default)]
    pub residual: bool,
    /// `flow` (velocity, DDM's convention) or `ddpm` (epsilon with the cosine schedule).
    #[serde(default)]
    pub objective: ObjectiveKind,
    /// Decay per optimizer step of the exponential moving average used for sampling (0 disables it).
    #[serde(default = "d_ema")]
    pub ema: f64,
    /// The optimizer.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
}

/// Three hidden layers of 256: ample for low-dimensional mixtures.
fn d_hidden() -> Vec<usize> {
    vec![256, 256, 256]
}
/// 32 frequencies are enough to resolve t at 50-1000 steps.
fn d_time_embedding() -> usize {
    32
}
/// The usual diffusion EMA; warmed up as min(decay, (1 + n) / (10 + n)) so short runs are not stuck at init.
fn d_ema() -> f64 {
    0.999
}

impl Default for ModelConfig {
    /// A 3x256 SiLU MLP trained by flow matching with Adam.
    fn default() -> Self {
        ModelConfig {
            hidden: d_hidden(),
            time_embedding: d_time_embedding(),
            residual: false,
            objective: ObjectiveKind::Flow,
            ema: d_ema(),
            optimizer: OptimizerConfig::default(),
        }
    }
}

/// Training objective and matching sampler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// Flow matching: x_t = (1 - t) x0 + t eps, target eps - x0, Euler sampler.
    #[default]
    Flow,
    /// DDPM epsilon prediction with the cosine schedule (T = 1000), DDIM sampler (eta = 0).
    Ddpm,
}

/// Optimizer settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `adam` (AdamW when `weight_decay` > 0) or `sgd` (with momentum).
    #[serde(default)]
    pub kind: OptimizerKind,
    /// Learning rate.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// Largest global gradient norm; larger gradients are scaled down (0 disables clipping).
    #[serde(default = "d_grad_clip")]
    pub grad_clip: f64,
    /// Decoupled weight decay (AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// Adam's first-moment decay.
    #[serde(default = "d_beta1")]
    pub beta1: f64,
    /// Adam's second-moment decay.
    #[serde(default = "d_beta2")]
    pub beta2: f64,
    /// SGD's heavy-ball momentum.
    #[serde(default = "d_momentum")]
    pub momentum: f64,
}

/// The usual heavy-ball momentum.
fn d_momentum() -> f64 {
    0.9
}

/// 1e-3: Adam's standard rate, stable for small MLPs.
fn d_lr() -> f64 {
    1e-3
}
/// Clipping at norm 1 guards against the occasional large flow-matching gradient.
fn d_grad_clip() -> f64 {
    1.0
}
/// Adam's defaults (Kingma and Ba 2015).
fn d_beta1() -> f64 {
    0.9
}
/// See `d_beta1`.
fn d_beta2() -> f64 {
    0.999
}

impl Default for OptimizerConfig {
    /// Adam, lr 1e-3, clip at 1.
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: d_lr(),
            grad_clip: d_grad_clip(),
            weight_decay: 0.0,
            beta1: d_beta1(),
            beta2: d_beta2(),
            momentum: d_momentum(),
        }
    }
}

/// Optimizer kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with decoupled weight decay.
    #[default]
    Adam,
    /// Stochastic gradient descent with momentum (no per-client rescaling of updates).
    Sgd,
}

/// The router: an MLP classifier on (x_t, t) predicting the expert shard, trained by all clients with FedAvg.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Widths of the hidden layers.
    #[serde(default = "d_router_hidden")]
    pub hidden: Vec<usize>,
    /// Size of the sinusoidal time embedding (even).
    #[serde(default = "d_time_embedding")]
    pub time_embedding: usize,
    /// Softmax temperature applied to the router's logits at sampling time.
    #[serde(default = "d_temperature")]
    pub temperature: f64,
    /// Communication rounds of router training.
    #[serde(default = "d_rounds")]
    pub rounds: usize,
    /// Fraction of all clients that train the router in each round (at least one client).
    #[serde(default = "d_router_clients_per_round")]
    pub clients_per_round: f64,
    /// Local optimizer steps per selected client and round.
    #[serde(default = "d_local_steps")]
    pub local_steps: usize,
    /// Optimizer of the router.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Whether clients keep the router's optimizer state across rounds (default: `federation.local_optimizer`).
    /// With every client each round and one local step, `persistent` SGD momentum is exactly server-side
    /// momentum on the full gradient (FedSGD with momentum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_optimizer: Option<LocalOptimizer>,
}

/// Two layers of 128: the router solves an easier problem than the denoiser.
fn d_router_hidden() -> Vec<usize> {
    vec![128, 128]
}
/// Every client, every round: DESIGN's "trained by all clients together", and a classifier under label skew
/// suffers most when each round sees only some of the labels.
fn d_router_clients_per_round() -> f64 {
    1.0
}
/// The router's calibrated posterior.
fn d_temperature() -> f64 {
    1.0
}

impl Default for RouterConfig {
    /// A 2x128 classifier, temperature 1.
    fn default() -> Self {
        RouterConfig {
            hidden: d_router_hidden(),
            time_embedding: d_time_embedding(),
            temperature: d_temperature(),
            rounds: d_rounds(),
            clients_per_round: d_router_clients_per_round(),
            local_steps: d_local_steps(),
            optimizer: OptimizerConfig::default(),
            local_optimizer: None,
        }
    }
}

/// Sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// Number of sampler steps from t = 1 to 0 (DDM used 50).
    #[serde(default = "d_steps")]
    pub steps: usize,
    /// Number of samples generated per policy.
    #[serde(default = "d_sampling_samples")]
    pub samples: usize,
}

/// DDM's evaluation used 50 steps.
fn d_steps() -> usize {
    50
}
/// 2,000 samples keep metric noise small for 2-D data.
fn d_sampling_samples() -> usize {
    2000
}

impl Default for SamplingConfig {
    /// 50 steps, 2,000 samples.
    fn default() -> Self {
        SamplingConfig {
            steps: d_steps(),
            samples: d_sampling_samples(),
        }
    }
}

/// A routing policy; `policy` selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RoutingConfig {
    /// The k experts with the largest router probabilities.
    TopK {
        /// How many experts are evaluated per sample and step.
        k: usize,
        /// Renormalise the k probabilities to sum to 1 (raw probabilities otherwise).
        #[serde(default = "d_true")]
        renormalize: bool,
    },
    /// Every expert, weighted by the router (DDM's full ensemble).
    Full,
    /// Every expert with equal weight (naive averaging).
    Uniform,
    /// Experts with router probability at least `p_min`, renormalised; at least the most probable one.
    Threshold {
        /// Smallest probability that keeps an expert, in (0, 1].
        p_min: f64,
    },
    /// The smallest set of most probable experts whose mass reaches `p`, renormalised (nucleus routing).
    TopP {
        /// Probability mass to reach, in (0, 1].
        p: f64,
    },
    /// One expert per sample and step, drawn from the router's probabilities.
    Sample,
    /// k experts per sample and step uniformly at random, equal weights (ignores the router; a control).
    Random {
        /// Experts per sample and step.
        k: usize,
    },
    /// The expert whose training data is nearest to the full ensemble's x0_hat (an upper bound, not deployable).
    Oracle,
    /// Renormalised top-k with k depending on t: at time t the first stage with `t_min <= t` applies.
    Schedule {
        /// Name used in the label `schedule:<name>` (letters, digits, `.`, `-`, `_`).
        name: String,
        /// Stages by decreasing `t_min`; the last has `t_min: 0`.
        stages: Vec<ScheduleStage>,
    },
    /// One model trained by all clients with matched optimizer steps (baseline, no routing).
    Monolith,
}

/// One stage of a `schedule` policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStage {
    /// The stage applies from this time down to the next stage's `t_min` (t runs from 1 at noise to 0 at data).
    pub t_min: f64,
    /// Experts kept (renormalised top-k) in this stage.
    pub k: usize,
}

/// Renormalised top-k is DDM's and the common reading.
fn d_true() -> bool {
    true
}

/// Settings of the quality, stability and alignment metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Compute the stability metrics (one-step Lipschitz, amplification, flips, convergence) per policy.
    #[serde(default = "d_true")]
    pub stability: bool,
    /// Compute the alignment analyses (cluster distance, per-expert accuracy, disagreement) per routed policy.
    #[serde(default = "d_true")]
    pub alignment: bool,
    /// Small perturbation, as a multiple of the data scale (root mean per-coordinate variance of the training data).
    #[serde(default = "d_perturbation_small")]
    pub perturbation_small: f64,
    /// Large perturbation, as a multiple of the data scale.
    #[serde(default = "d_perturbation_large")]
    pub perturbation_large: f64,
    /// Nearest training points averaged in the distance from x0_hat to an expert's data.
    #[serde(default = "d_alignment_neighbors")]
    pub alignment_neighbors: usize,
    /// Training points kept per expert for that distance (seeded subsample beyond it).
    #[serde(default = "d_alignment_points")]
    pub alignment_points: usize,
    /// Timestep bins of the per-expert error on noised held-out data.
    #[serde(default = "d_error_bins")]
    pub error_bins: usize,
    /// Held-out points used for the per-expert error (seeded subsample of the test split beyond it).
    #[serde(default = "d_error_points")]
    pub error_points: usize,
    /// k of the k-nearest-neighbour manifolds of precision, recall, density and coverage (Naeem et al. use 5).
    #[serde(default = "d_nearest_k")]
    pub nearest_k: usize,
    /// Number of random projections of the sliced Wasserstein distance.
    #[serde(default = "d_projections")]
    pub projections: usize,
    /// Largest reference set used by the metrics (the test split is subsampled, seeded, beyond it).
    #[serde(default = "d_max_reference")]
    pub max_reference: usize,
    /// Quantile of held-out-to-training nearest distances below which a sample counts as memorized.
    #[serde(
        default = "d_memorization_quantile",
        skip_serializing_if = "is_default_memorization_quantile"
    )]
    pub memorization_quantile: f64,
    /// The evaluation classifier of labelled image data, whose features give `fd_classifier` (FID-like).
    #[serde(default)]
    pub classifier: ClassifierConfig,
}

/// The evaluation classifier: an MLP trained on the labelled training split only (never on generated data),
/// seeded and cached; its last hidden layer is the feature space of `fd_classifier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Train it and report `fd_classifier`, `class_tv`, `confidence`: `true`, `false`, or absent for "with the
    /// bundled digits only".
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Hidden widths; the last one is the feature dimension.
    #[serde(default = "d_classifier_hidden")]
    pub hidden: Vec<usize>,
    /// Passes over the training split.
    #[serde(default = "d_classifier_epochs")]
    pub epochs: usize,
    /// Images per Adam step.
    #[serde(default = "d_classifier_batch")]
    pub batch_size: usize,
    /// Adam learning rate.
    #[serde(default = "d_classifier_lr")]
    pub lr: f64,
}

/// Two hidden layers; 64 features, like the images' 64 pixels.
fn d_classifier_hidden() -> Vec<usize> {
    vec![256, 64]
}
/// Enough passes for the digits to be learnt well (test accuracy reported by every run).
fn d_classifier_epochs() -> usize {
    60
}
/// A common minibatch size.
fn d_classifier_batch() -> usize {
    64
}
/// Adam's usual rate for small MLPs.
fn d_classifier_lr() -> f64 {
    1e-3
}

impl Default for ClassifierConfig {
    /// On for digits only; [256, 64], 60 epochs, batches of 64, Adam at 1e-3.
    fn default() -> Self {
        ClassifierConfig {
            enabled: None,
            hidden: d_classifier_hidden(),
            epochs: d_classifier_epochs(),
            batch_size: d_classifier_batch(),
            lr: d_classifier_lr(),
        }
    }
}

/// Naeem et al. (2020) recommend k = 5.
fn d_nearest_k() -> usize {
    5
}
/// 1e-3 of the data scale: the smooth part of the dynamics (DESIGN section 6).
fn d_perturbation_small() -> f64 {
    1e-3
}
/// 1e-1 of the data scale: large enough to cross routing boundaries (DESIGN section 6).
fn d_perturbation_large() -> f64 {
    1e-1
}
/// Mean distance to the 5 nearest training points (DESIGN section 6).
fn d_alignment_neighbors() -> usize {
    5
}
/// 1,000 points per expert keep the distance exact to a few percent and cheap at every step.
fn d_alignment_points() -> usize {
    1000
}
/// Ten bins of width 0.1 in t.
fn d_error_bins() -> usize {
    10
}
/// 2,000 held-out points: 200 per bin and at least dozens per cluster.
fn d_error_points() -> usize {
    2000
}
/// 128 directions estimate SW2 to about 1 % in low dimension.
fn d_projections() -> usize {
    128
}
/// 4,000 points: the default test split, and O(n^2) metrics stay fast.
fn d_max_reference() -> usize {
    4000
}
/// 0.01: a sample closer to training data than 99 % of held-out points are.
fn d_memorization_quantile() -> f64 {
    0.01
}
fn is_default_memorization_quantile(q: &f64) -> bool {
    *q == d_memorization_quantile()
}

impl Default for MetricsConfig {
    /// Stability and alignment on; k = 5, 128 projections, at most 4,000 reference points.
    fn default() -> Self {
        MetricsConfig {
            stability: true,
            alignment: true,
            perturbation_small: d_perturbation_small(),
            perturbation_large: d_perturbation_large(),
            alignment_neighbors: d_alignment_neighbors(),
            alignment_points: d_alignment_points(),
            error_bins: d_error_bins(),
            error_points: d_error_points(),
            nearest_k: d_nearest_k(),
            projections: d_projections(),
            max_reference: d_max_reference(),
            memorization_quantile: d_memorization_quantile(),
            classifier: ClassifierConfig::default(),
        }
    }
}
