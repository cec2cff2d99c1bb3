//! Clients and experts: partition the training data over clients (IID, Dirichlet, pathological), group clients
//! into experts, and summarise the resulting skew and expert purity.

mod dirichlet;
mod grouping;
mod iid;
mod pathological;
mod summary;

pub use grouping::{ExpertGroup, ExpertGroups, group};
pub use summary::{client_cluster_counts, mean_pairwise_tv, purity};

use crate::error::Result;
use crate::rng::{Stream, derive};
use crate::scenario::PartitionConfig;

/// Point indices (into the training split) held by each client.
pub fn partition(
    config: &PartitionConfig,
    cluster: &[usize],
    k: usize,
    clients: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let rng = &mut derive(seed, Stream::Partition, &[]);
    match config {
        PartitionConfig::Iid => iid::iid(cluster.len(), clients, rng),
        PartitionConfig::Dirichlet {
            alpha,
            min_partition_size,
            self_balancing,
        } => dirichlet::dirichlet_partition(cluster, k, clients, *alpha, *min_partition_size, *self_balancing, rng),
        PartitionConfig::Pathological { clusters_per_client } => {
            pathological::pathological(cluster, k, clients, *clusters_per_client, rng)
        }
    }
}
