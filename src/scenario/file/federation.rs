//! The `federation` section: how experts and monolith are trained across clients.

use super::PerRound;
use super::strategy::{AggregateConfig, AlgorithmConfig, ServerConfig, Strategy};
use serde::{Deserialize, Serialize};

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
    /// Clients of a group that train in each round: a share of them in (0, 1], or a whole count above 1 (at
    /// least one client, at most the group).
    #[serde(default = "d_clients_per_round")]
    pub clients_per_round: PerRound,
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
    /// The clients' local algorithm (experts and monolith): `fedavg`, `fedprox {mu}` or `scaffold {variant}`.
    #[serde(default)]
    pub algorithm: AlgorithmConfig,
    /// The server's optimizer on the aggregated update: `sgd {lr, momentum}`, `adam`, `yogi` or `adagrad`.
    #[serde(default)]
    pub server: ServerConfig,
    /// How the clients' models are combined: `mean {weighting}`, `median`, `trimmed_mean {trim}` or
    /// `krum {f, m, weighting}`.
    #[serde(default)]
    pub aggregate: AggregateConfig,
}

impl FederationConfig {
    /// The strategy of the experts and the monolith.
    pub fn strategy(&self) -> Strategy {
        Strategy {
            algorithm: self.algorithm,
            server: self.server,
            aggregate: self.aggregate,
        }
    }
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
pub(super) fn d_rounds() -> usize {
    40
}
/// Half the clients per round, a common cross-silo setting.
fn d_clients_per_round() -> PerRound {
    PerRound(0.5)
}
/// See `d_rounds`.
pub(super) fn d_local_steps() -> usize {
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
            algorithm: AlgorithmConfig::default(),
            server: ServerConfig::default(),
            aggregate: AggregateConfig::default(),
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
