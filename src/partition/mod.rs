//! Clients and experts: partition the training data over clients (Flower Datasets' partitioners: IID, quantity
//! skew, Dirichlet, inner Dirichlet, pathological, shard, natural ids), group clients into experts, and summarise
//! the resulting skew and expert purity.

mod dirichlet;
#[cfg(test)]
mod flower_golden;
mod grouping;
mod inner_dirichlet;
mod natural;
mod pathological;
mod roster;
mod shard;
mod sizes;
mod summary;

pub use grouping::{ExpertGroup, ExpertGroups, group};
pub use roster::{Roster, Swap, roster};
pub use shard::{ShardLayout, ShardSpec};
pub use sizes::{numpy_sum, sizes};
pub use summary::{client_cluster_counts, mean_pairwise_tv, purity};

use crate::data::NaturalIds;
use crate::error::{Error, Result};
use crate::rng::{Stream, derive};
use crate::scenario::{PartitionConfig, SizeRule};

/// Point indices (into the training split) held by each client. `natural_ids` are the training points' ids under
/// `kind: natural`. Every point is held by at most one client; only `shard` leaves some unassigned, as Flower does.
pub fn partition(
    config: &PartitionConfig,
    cluster: &[usize],
    k: usize,
    clients: usize,
    natural_ids: Option<&NaturalIds>,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let rng = &mut derive(seed, Stream::Partition, &[]);
    let n = cluster.len();
    match config {
        PartitionConfig::Iid => sizes::quantity(SizeRule::Equal, n, clients, rng),
        PartitionConfig::Linear => sizes::quantity(SizeRule::Linear, n, clients, rng),
        PartitionConfig::Square => sizes::quantity(SizeRule::Square, n, clients, rng),
        PartitionConfig::Exponential => sizes::quantity(SizeRule::Exponential, n, clients, rng),
        PartitionConfig::Dirichlet {
            alpha,
            min_partition_size,
            self_balancing,
        } => dirichlet::dirichlet_partition(cluster, k, clients, *alpha, *min_partition_size, *self_balancing, rng),
        PartitionConfig::Pathological { clusters_per_client } => {
            pathological::pathological(cluster, k, clients, *clusters_per_client, rng)
        }
        PartitionConfig::Shard {
            shards_per_client,
            shard_size,
            keep_incomplete_shard,
        } => {
            let spec = ShardSpec {
                shards_per_client: *shards_per_client,
                shard_size: *shard_size,
                keep_incomplete_shard: *keep_incomplete_shard,
            };
            shard::shard(cluster, clients, spec, rng)
        }
        PartitionConfig::InnerDirichlet { alpha, sizes } => {
            let sizes = inner_dirichlet::client_sizes(sizes, n, clients)?;
            inner_dirichlet::inner_dirichlet(cluster, k, &sizes, *alpha, rng)
        }
        PartitionConfig::Natural { column } => {
            let ids = natural_ids.ok_or_else(|| {
                Error::invalid(
                    "clients.partition.column",
                    "`kind: natural` reads each row's client from a CSV column, so it needs `data.kind: csv`",
                )
            })?;
            natural::natural(ids, clients, column)
        }
    }
}
