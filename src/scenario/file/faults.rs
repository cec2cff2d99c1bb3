//! The `faults` section: what goes wrong during federated training. Clients that drop out of a round, that are
//! online only part of the time, that finish only part of their local work, that send corrupted or hostile
//! updates; non-finite updates; whole expert groups offline for a span of rounds.
//!
//! Every default is "nothing goes wrong", and the defaults reproduce a fault-free run byte for byte.

use serde::{Deserialize, Serialize};

/// Faults of the federation's clients during training.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    /// Probability that a selected client fails to return its update in a round, in [0, 1).
    #[serde(default)]
    pub dropout: f64,
    /// When clients are online (only online clients are selected).
    #[serde(default)]
    pub availability: AvailabilityConfig,
    /// Clients that finish only a share of their local steps.
    #[serde(default)]
    pub stragglers: StragglerConfig,
    /// A fixed, seeded set of clients whose updates are corrupted or hostile.
    #[serde(default)]
    pub byzantine: ByzantineConfig,
    /// What the server does with an update that is not finite.
    #[serde(default)]
    pub on_nonfinite: OnNonFinite,
    /// Spans of rounds in which an expert's whole client group is offline (its training skips those rounds).
    #[serde(default)]
    pub expert_outage: Vec<ExpertOutage>,
}

impl FaultsConfig {
    /// Whether nothing goes wrong (the section is then left out of resolved scenarios).
    pub fn is_none(&self) -> bool {
        *self == FaultsConfig::default()
    }
}

/// When a client is online; `kind` selects the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AvailabilityConfig {
    /// Every client is online in every round.
    #[default]
    Always,
    /// Client i is online in each round with its own probability p_i ~ Beta(mean c, (1 - mean) c), drawn once.
    Bernoulli {
        /// Mean availability over clients, in (0, 1].
        #[serde(default = "d_mean")]
        mean: f64,
        /// Beta concentration c: large gives every client about `mean`, small splits clients into mostly
        /// online and mostly offline.
        #[serde(default = "d_concentration")]
        concentration: f64,
    },
    /// A day of `period` rounds: client i is online for a window of `online_fraction` of it, starting at its
    /// own seeded phase (time zones).
    Diurnal {
        /// Rounds per day.
        #[serde(default = "d_period")]
        period: usize,
        /// Share of the day a client is online, in (0, 1].
        #[serde(default = "d_online_fraction")]
        online_fraction: f64,
    },
}

/// Half the clients online on average: a harsh cross-device setting.
fn d_mean() -> f64 {
    0.5
}
/// Beta(5, 5) at the default mean: clients differ, none is always or never online.
fn d_concentration() -> f64 {
    10.0
}
/// A day of 100 rounds.
fn d_period() -> usize {
    100
}
/// Online half of the day.
fn d_online_fraction() -> f64 {
    0.5
}

/// Clients that run slow devices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StragglerConfig {
    /// Share of the clients that are stragglers (a fixed, seeded set), in [0, 1].
    #[serde(default)]
    pub fraction: f64,
    /// A straggler finishes a share of its local steps drawn uniformly from [low, high] each round (at least one
    /// step), with 0 < low <= high <= 1.
    #[serde(default = "d_work")]
    pub work: [f64; 2],
    /// What the server does with a straggler's partial work.
    #[serde(default)]
    pub policy: StragglerPolicy,
}

/// Stragglers do between 10 % and all of their steps.
fn d_work() -> [f64; 2] {
    [0.1, 1.0]
}

impl Default for StragglerConfig {
    /// No stragglers.
    fn default() -> Self {
        StragglerConfig {
            fraction: 0.0,
            work: d_work(),
            policy: StragglerPolicy::default(),
        }
    }
}

/// What the server does with a straggler's update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StragglerPolicy {
    /// Accept the partial update as it is.
    #[default]
    Partial,
    /// A deadline: an update with fewer than all its local steps does not arrive in time and is dropped.
    Drop,
    /// FedNova (Wang et al. 2020): each update is divided by its number of (momentum-effective) local steps and
    /// the average is scaled by the participants' mean number of steps, so fast clients do not dominate.
    Fednova,
}

/// Byzantine clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByzantineConfig {
    /// Share of the clients that are Byzantine (a fixed, seeded set), in [0, 1].
    #[serde(default)]
    pub fraction: f64,
    /// What they send.
    #[serde(default)]
    pub kind: AttackKind,
    /// Strength of the attack (sign_flip, scale, gaussian).
    #[serde(default = "d_scale")]
    pub scale: f64,
    /// Draw the Byzantine clients from these experts' groups only (empty: from every client).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experts: Vec<usize>,
}

/// An attack at face value.
fn d_scale() -> f64 {
    1.0
}

impl Default for ByzantineConfig {
    /// No Byzantine clients.
    fn default() -> Self {
        ByzantineConfig {
            fraction: 0.0,
            kind: AttackKind::default(),
            scale: d_scale(),
            experts: Vec::new(),
        }
    }
}

/// What a Byzantine client sends instead of its honest update w (the global model is g).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// g - scale (w - g): its update reversed and amplified.
    #[default]
    SignFlip,
    /// g + scale (w - g): its update amplified.
    Scale,
    /// g + scale z with z ~ N(0, I): noise instead of an update.
    Gaussian,
    /// All-zero weights.
    Zero,
    /// NaN weights (a crashed or corrupted client).
    Nan,
    /// An honest update on another cluster's data: the client's points are replaced by as many points of a
    /// seeded other cluster (data poisoning of the denoisers; the router trains on the declared points).
    DataSwap,
}

impl AttackKind {
    /// The name used in logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            AttackKind::SignFlip => "sign_flip",
            AttackKind::Scale => "scale",
            AttackKind::Gaussian => "gaussian",
            AttackKind::Zero => "zero",
            AttackKind::Nan => "nan",
            AttackKind::DataSwap => "data_swap",
        }
    }
}

/// What the server does with a non-finite update (or loss).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnNonFinite {
    /// Stop the run with an error naming model, client and round.
    #[default]
    Fail,
    /// Drop the update and count it as rejected.
    Skip,
}

/// An expert's whole client group offline for the rounds `from_round..=to_round`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpertOutage {
    /// The expert's index.
    pub expert: usize,
    /// First round offline (1-based).
    pub from_round: usize,
    /// Last round offline (inclusive).
    pub to_round: usize,
}
