//! The `clients` section: the federation's clients and how training data is partitioned among them.

use serde::{Deserialize, Serialize};

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
