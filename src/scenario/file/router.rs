//! The `router` section: the classifier that predicts the expert shard of a noisy input.

use super::federation::{d_local_steps, d_rounds};
use super::model::d_time_embedding;
use super::strategy::{AggregateConfig, AlgorithmConfig, ServerConfig, Strategy};
use super::{FederationConfig, LocalOptimizer, OptimizerConfig, PerRound};
use serde::{Deserialize, Serialize};

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
    /// Clients that train the router in each round: a share of all clients in (0, 1], or a whole count above 1.
    #[serde(default = "d_router_clients_per_round")]
    pub clients_per_round: PerRound,
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
    /// The clients' local algorithm for the router (default: `federation.algorithm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmConfig>,
    /// The server's optimizer for the router (default: `federation.server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerConfig>,
    /// The router's aggregation rule (default: `federation.aggregate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<AggregateConfig>,
    /// Whether the router also sees each point's class (with the denoisers' label dropout, so it routes without
    /// one too); needs `model.condition.enabled`. Off by default, as in DDM, and then left out of resolved
    /// scenarios.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
}

impl RouterConfig {
    /// The router's strategy: its own keys where given, else the federation's.
    pub fn strategy(&self, federation: &FederationConfig) -> Strategy {
        Strategy {
            algorithm: self.algorithm.unwrap_or(federation.algorithm),
            server: self.server.unwrap_or(federation.server),
            aggregate: self.aggregate.unwrap_or(federation.aggregate),
        }
    }
}

/// Two layers of 128: the router solves an easier problem than the denoiser.
fn d_router_hidden() -> Vec<usize> {
    vec![128, 128]
}
/// Every client, every round: DESIGN's "trained by all clients together", and a classifier under label skew
/// suffers most when each round sees only some of the labels.
fn d_router_clients_per_round() -> PerRound {
    PerRound(1.0)
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
            algorithm: None,
            server: None,
            aggregate: None,
            conditional: false,
        }
    }
}
