//! The `clients` section: the federation's clients and how training data is partitioned among them.

use super::client_sizes::ClientSizes;
use serde::{Deserialize, Serialize};

/// The clients of the federation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsConfig {
    /// Number of clients (under `natural` it must equal the number of distinct ids in the column).
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
    /// Quantity skew with IID labels: client i holds a share proportional to i + 1 (Flower's `LinearPartitioner`).
    Linear,
    /// Quantity skew with IID labels: shares proportional to (i + 1)^2 (Flower's `SquarePartitioner`).
    Square,
    /// Quantity skew with IID labels: shares proportional to e^(i + 1) (Flower's `ExponentialPartitioner`).
    Exponential,
    /// Points sorted by cluster and cut into shards of equal size; each client holds whole shards drawn at random
    /// (McMahan et al. 2017; Flower's `ShardPartitioner`). Set `shards_per_client`, `shard_size`, or both.
    Shard {
        /// Shards per client; alone, the shard size is floor(points / (clients * shards_per_client)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shards_per_client: Option<usize>,
        /// Points per shard; alone, every whole shard is dealt out (the first clients get one shard more).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard_size: Option<usize>,
        /// Let the last, smaller shard be dealt too (Flower's default leaves its points unassigned); no effect when
        /// both `shards_per_client` and `shard_size` are given.
        #[serde(default)]
        keep_incomplete_shard: bool,
    },
    /// Client sizes fixed by `sizes`; each client's cluster mix drawn from Dir(alpha) (Flower's
    /// `InnerDirichletPartitioner`).
    InnerDirichlet {
        /// Concentration: small = each client holds few clusters; large = near IID.
        #[serde(default = "d_alpha")]
        alpha: f64,
        /// A size rule (`equal`, `linear`, `square`, `exponential`) or one size per client.
        #[serde(default)]
        sizes: ClientSizes,
    },
    /// A CSV column names the client of each row (Flower's `NaturalIdPartitioner`); `data.kind: csv` only.
    Natural {
        /// The column; it is not a feature of the data. Client i holds the rows of the i-th distinct id, in
        /// numeric order when every id is an integer, else in text order.
        column: String,
    },
}

impl PartitionConfig {
    /// The CSV column naming each row's client, under `natural`.
    pub fn natural_column(&self) -> Option<&str> {
        match self {
            PartitionConfig::Natural { column } => Some(column),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{SizeRule, parse, to_yaml, validate};

    const CSV: &str = "data: { kind: csv, path: users.csv }\n";

    /// The partition of `clients: {<clients>}` (after `data`), validated, or the first error.
    fn read(data: &str, clients: &str) -> Result<PartitionConfig, String> {
        let s = parse(&format!("name: t\n{data}clients: {{ {clients} }}\n"))?;
        validate(&s).map_err(|e| e.to_string())?;
        assert_eq!(
            parse(&to_yaml(&s)).unwrap(),
            s,
            "the resolved scenario reads back the same"
        );
        Ok(s.clients.partition)
    }

    #[test]
    fn every_new_kind_parses_with_its_defaults() {
        for (kind, want) in [
            ("linear", PartitionConfig::Linear),
            ("square", PartitionConfig::Square),
            ("exponential", PartitionConfig::Exponential),
        ] {
            assert_eq!(read("", &format!("partition: {{ kind: {kind} }}")).unwrap(), want);
        }
        assert_eq!(
            read("", "partition: { kind: shard, shards_per_client: 2 }").unwrap(),
            PartitionConfig::Shard {
                shards_per_client: Some(2),
                shard_size: None,
                keep_incomplete_shard: false,
            }
        );
        assert_eq!(
            read(
                "",
                "partition: { kind: shard, shard_size: 30, keep_incomplete_shard: true }"
            )
            .unwrap(),
            PartitionConfig::Shard {
                shards_per_client: None,
                shard_size: Some(30),
                keep_incomplete_shard: true,
            }
        );
        assert_eq!(
            read("", "partition: { kind: inner_dirichlet }").unwrap(),
            PartitionConfig::InnerDirichlet {
                alpha: 0.1,
                sizes: ClientSizes::Rule(SizeRule::Equal),
            }
        );
        assert_eq!(
            read("", "partition: { kind: inner_dirichlet, alpha: 2, sizes: square }").unwrap(),
            PartitionConfig::InnerDirichlet {
                alpha: 2.0,
                sizes: ClientSizes::Rule(SizeRule::Square),
            }
        );
        assert_eq!(
            read("", "count: 3, partition: { kind: inner_dirichlet, sizes: [10, 0, 5] }").unwrap(),
            PartitionConfig::InnerDirichlet {
                alpha: 0.1,
                sizes: ClientSizes::List(vec![10, 0, 5]),
            }
        );
        assert_eq!(
            read(CSV, "count: 4, partition: { kind: natural, column: user }").unwrap(),
            PartitionConfig::Natural { column: "user".into() }
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        for (data, clients, want) in [
            (
                "",
                "partition: { kind: shard }",
                "clients.partition.shards_per_client: set shards_per_client",
            ),
            (
                "",
                "partition: { kind: shard, shards_per_client: 0 }",
                "clients.partition.shards_per_client: must be >= 1, got 0",
            ),
            (
                "",
                "partition: { kind: shard, shard_size: 0 }",
                "clients.partition.shard_size: must be >= 1, got 0",
            ),
            (
                "",
                "partition: { kind: inner_dirichlet, alpha: 0 }",
                "clients.partition.alpha: must be > 0 and finite, got 0",
            ),
            (
                "",
                "partition: { kind: inner_dirichlet, alpha: -1 }",
                "clients.partition.alpha: must be > 0 and finite, got -1",
            ),
            (
                "",
                "count: 3, partition: { kind: inner_dirichlet, sizes: [10, 5] }",
                "clients.partition.sizes: must list one size per client (clients.count = 3), got 2",
            ),
            (
                "",
                "partition: { kind: inner_dirichlet, sizes: cubic }",
                "clients.partition.sizes: invalid value: string \"cubic\", expected `equal`, `linear`, `square`, \
                 `exponential` or a list of client sizes",
            ),
            (
                "",
                "partition: { kind: natural, column: user }",
                "clients.partition.column: `kind: natural` reads each row's client from a CSV column, so it needs \
                 `data.kind: csv`",
            ),
            (
                CSV,
                "partition: { kind: natural }",
                "clients.partition.column: missing field `column`",
            ),
            (
                CSV,
                "partition: { kind: natural, column: '' }",
                "clients.partition.column: must name a column",
            ),
            (
                "",
                "partition: { kind: linear, alpha: 1 }",
                "clients.partition.alpha: unknown field `alpha`",
            ),
            (
                "",
                "partition: { kind: shard, alpha: 1 }",
                "clients.partition.alpha: unknown field `alpha`",
            ),
        ] {
            let err = read(data, clients).unwrap_err();
            assert!(err.starts_with(want), "{clients}: {err}");
        }
    }
}
