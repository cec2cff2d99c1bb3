//! Shard partition (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized
//! Data"), with the shard size and count rules of Flower Datasets' `ShardPartitioner`: points sorted by cluster,
//! cut into shards of consecutive points, whole shards dealt to clients at random.

use crate::error::{Error, Result};
use crate::rng::Rng;
use rand::seq::SliceRandom;

/// How the shards are sized and counted; `None` = not given (Flower's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    /// Shards per client.
    pub shards_per_client: Option<usize>,
    /// Points per shard.
    pub shard_size: Option<usize>,
    /// Keep the last, smaller shard.
    pub keep_incomplete_shard: bool,
}

/// The shard layout Flower derives from a [`ShardSpec`], `n` points and `clients` clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardLayout {
    /// Points per shard (the last shard may be cut short by the end of the data).
    pub shard_size: usize,
    /// Shards the data is cut into and drawn from.
    pub usable: usize,
    /// Shards of each client.
    pub per_client: Vec<usize>,
}

/// An error for the shard partition at `key` (`clients.partition.<key>`).
fn refuse(key: &str, message: String) -> Error {
    Error::Partition {
        path: format!("clients.partition.{key}"),
        message,
    }
}

impl ShardSpec {
    /// Flower's rules: shard size, usable shards and shards per client, or the refusal Flower raises.
    pub fn layout(&self, n: usize, clients: usize) -> Result<ShardLayout> {
        if clients > n {
            return Err(Error::Partition {
                path: "clients.count".into(),
                message: format!("shards need at most one client per training point: {clients} clients, {n} points"),
            });
        }
        match (self.shards_per_client, self.shard_size) {
            (Some(per), size) => self.per_client_layout(n, clients, per, size),
            (None, Some(size)) => self.sized_layout(n, clients, size),
            (None, None) => Err(refuse(
                "shards_per_client",
                "set shards_per_client, shard_size, or both".into(),
            )),
        }
    }

    /// `shards_per_client` given (and perhaps `shard_size`): every client gets `per` shards.
    fn per_client_layout(&self, n: usize, clients: usize, per: usize, size: Option<usize>) -> Result<ShardLayout> {
        let used = clients.saturating_mul(per);
        let shard_size = match size {
            Some(size) => {
                let needed = size.saturating_mul(used);
                if needed > n {
                    return Err(refuse(
                        "shard_size",
                        format!(
                            "{clients} clients x {per} shards x {size} points need {needed} training points, \
                             there are {n}; lower shard_size or shards_per_client"
                        ),
                    ));
                }
                size
            }
            None => n / used,
        };
        if shard_size == 0 {
            return Err(refuse(
                "shards_per_client",
                format!(
                    "{clients} clients x {per} shards is more shards than the {n} training points; lower \
                     shards_per_client"
                ),
            ));
        }
        // Flower keeps the incomplete shard only when it sized the shards itself.
        let usable = if self.keep_incomplete_shard && size.is_none() {
            n.div_ceil(shard_size)
        } else {
            n / shard_size
        };
        Ok(ShardLayout {
            shard_size,
            usable,
            per_client: vec![per; clients],
        })
    }

    /// Only `shard_size` given: every shard is dealt, the first clients getting one more.
    fn sized_layout(&self, n: usize, clients: usize, size: usize) -> Result<ShardLayout> {
        let used = if self.keep_incomplete_shard {
            n.div_ceil(size)
        } else {
            n / size
        };
        if used < clients {
            return Err(refuse(
                "shard_size",
                format!(
                    "{n} training points make {used} shards of {size}, fewer than the {clients} clients; lower \
                     shard_size"
                ),
            ));
        }
        let (base, extra) = (used / clients, used % clients);
        Ok(ShardLayout {
            shard_size: size,
            usable: used,
            per_client: (0..clients).map(|c| base + usize::from(c < extra)).collect(),
        })
    }
}

/// Partitions points by `cluster` id into shards: a stable sort by cluster, shards of `shard_size` consecutive
/// points, a random draw of the shards used, dealt in order to the clients, each client's points then shuffled.
/// Points in no drawn shard (Flower leaves the remainder of the data unassigned) belong to no client.
pub fn shard(cluster: &[usize], clients: usize, spec: ShardSpec, rng: &mut Rng) -> Result<Vec<Vec<usize>>> {
    let n = cluster.len();
    let layout = spec.layout(n, clients)?;
    let mut sorted: Vec<usize> = (0..n).collect();
    sorted.sort_by_key(|&i| cluster[i]);
    let mut shards: Vec<usize> = (0..layout.usable).collect();
    shards.shuffle(rng);
    let mut drawn = shards.into_iter();
    let mut parts = Vec::with_capacity(clients);
    for &count in &layout.per_client {
        let mut part = Vec::new();
        for s in drawn.by_ref().take(count) {
            let start = s * layout.shard_size;
            part.extend_from_slice(&sorted[start..(start + layout.shard_size).min(n)]);
        }
        part.shuffle(rng);
        parts.push(part);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    fn spec(per: Option<usize>, size: Option<usize>, keep: bool) -> ShardSpec {
        ShardSpec {
            shards_per_client: per,
            shard_size: size,
            keep_incomplete_shard: keep,
        }
    }

    #[test]
    fn each_client_holds_whole_single_cluster_shards() {
        // 10 clusters of 100 points, 2 shards of 50 per client: every shard lies inside one cluster.
        let c: Vec<usize> = (0..1000).map(|i| i % 10).collect();
        let parts = shard(
            &c,
            10,
            spec(Some(2), None, false),
            &mut derive(0, Stream::Partition, &[]),
        )
        .unwrap();
        for p in &parts {
            assert_eq!(p.len(), 100);
            let mut held: Vec<usize> = p.iter().map(|&i| c[i]).collect();
            held.sort();
            held.dedup();
            assert!(held.len() <= 2, "{held:?}");
        }
        let mut all: Vec<usize> = parts.into_iter().flatten().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn the_incomplete_shard_is_kept_or_left_out() {
        let c: Vec<usize> = (0..103).map(|i| i % 3).collect();
        let rng = &mut derive(2, Stream::Partition, &[]);
        // 10 whole shards of 10 for 3 clients (4, 3, 3), the last 3 points unassigned.
        let parts = shard(&c, 3, spec(None, Some(10), false), rng).unwrap();
        assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), vec![40, 30, 30]);
        // 11 shards, the last of 3 points: every point once.
        let parts = shard(&c, 3, spec(None, Some(10), true), rng).unwrap();
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 103);
        let mut all: Vec<usize> = parts.into_iter().flatten().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 103);
    }

    #[test]
    fn impossible_layouts_name_the_key() {
        let err = |s: ShardSpec, n, clients| s.layout(n, clients).unwrap_err().to_string();
        assert!(
            err(spec(Some(4), None, false), 10, 3).starts_with("clients.partition.shards_per_client: 3 clients x 4")
        );
        assert!(err(spec(Some(2), Some(51), false), 1000, 10).starts_with("clients.partition.shard_size: 10 clients"));
        assert!(err(spec(None, Some(50), true), 1000, 30).contains("make 20 shards of 50, fewer than the 30 clients"));
        assert!(err(spec(Some(1), None, false), 5, 6).starts_with("clients.count: shards need"));
    }
}
