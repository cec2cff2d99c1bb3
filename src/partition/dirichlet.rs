//! Dirichlet partition with Flower Datasets semantics (`DirichletPartitioner`): per-cluster shares over clients
//! drawn from Dir(alpha), redrawn until every client holds `min_partition_size` points, at most 11 draws.

use crate::error::{Error, Result};
use crate::rng::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Gamma};

/// Flower raises after its eleventh draw (attempt counter 0..=10).
const MAX_DRAWS: usize = 11;

/// Redraws of a Dirichlet vector whose Gamma variates all underflowed before giving up.
const MAX_REDRAWS: usize = 1000;

/// Draws one Dir(alpha, ..., alpha) vector of length `n` through normalised Gamma(alpha, 1) variates.
pub(super) fn dirichlet(alpha: f64, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
    let gamma = Gamma::new(alpha, 1.0).map_err(|e| Error::invalid("clients.partition.alpha", e.to_string()))?;
    for _ in 0..MAX_REDRAWS {
        let g: Vec<f64> = (0..n).map(|_| gamma.sample(rng)).collect();
        let total: f64 = g.iter().sum();
        // Tiny alpha can underflow every variate to 0; redraw rather than divide by zero.
        if total > 0.0 && total.is_finite() {
            return Ok(g.into_iter().map(|v| v / total).collect());
        }
    }
    Err(Error::invalid(
        "clients.partition.alpha",
        format!(
            "{a} is too small: in {MAX_REDRAWS} draws every Gamma({a}) variate of the {n} clients' shares \
             underflowed to 0; use alpha >= 1e-3 (already an extreme skew: each cluster on about one client)",
            a = crate::scenario::num(alpha)
        ),
    ))
}

/// Partitions points by `cluster` id (`k` clusters) over `clients`.
pub fn dirichlet_partition(
    cluster: &[usize],
    k: usize,
    clients: usize,
    alpha: f64,
    min_partition_size: usize,
    self_balancing: bool,
    rng: &mut Rng,
) -> Result<Vec<Vec<usize>>> {
    let average = cluster.len() as f64 / clients as f64;
    let by_cluster: Vec<Vec<usize>> = (0..k)
        .map(|c| (0..cluster.len()).filter(|&i| cluster[i] == c).collect())
        .collect();
    let mut smallest = 0;
    for _ in 0..MAX_DRAWS {
        let mut parts: Vec<Vec<usize>> = crate::alloc::filled(clients, Vec::new(), "clients.count")?;
        for members in &by_cluster {
            let mut shares = dirichlet(alpha, clients, rng)?;
            if self_balancing {
                for (share, part) in shares.iter_mut().zip(&parts) {
                    if part.len() as f64 > average {
                        *share = 0.0;
                    }
                }
                let total: f64 = shares.iter().sum();
                if total > 0.0 {
                    shares.iter_mut().for_each(|s| *s /= total);
                }
            }
            // numpy: split points at floor(cumsum(shares) * n), the last boundary being n itself.
            let n = members.len();
            let mut cumulative = 0.0;
            let mut start = 0;
            for (c, share) in shares.iter().enumerate() {
                cumulative += share;
                let end = if c + 1 == clients {
                    n
                } else {
                    ((cumulative * n as f64) as usize).clamp(start, n)
                };
                parts[c].extend_from_slice(&members[start..end]);
                start = end;
            }
        }
        smallest = parts.iter().map(Vec::len).min().unwrap_or(0);
        if smallest >= min_partition_size {
            for part in &mut parts {
                part.shuffle(rng);
            }
            return Ok(parts);
        }
    }
    Err(Error::Partition {
        path: "clients.partition.min_partition_size".into(),
        message: format!(
            "no Dirichlet(alpha = {a}) draw in {MAX_DRAWS} gave every one of {clients} clients at least \
             {min_partition_size} points (the last draw's smallest client had {smallest}); lower \
             min_partition_size, raise alpha or use fewer clients",
            a = crate::scenario::num(alpha)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    fn clusters() -> Vec<usize> {
        (0..4000).map(|i| i % 4).collect()
    }

    #[test]
    fn every_point_is_assigned_once_and_minimum_holds() {
        let c = clusters();
        let parts = dirichlet_partition(&c, 4, 20, 0.5, 10, false, &mut derive(0, Stream::Partition, &[])).unwrap();
        let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..4000).collect::<Vec<_>>());
        assert!(parts.iter().all(|p| p.len() >= 10));
    }

    #[test]
    fn small_alpha_concentrates_each_client_on_few_clusters() {
        let c = clusters();
        let skewed = dirichlet_partition(&c, 4, 20, 0.01, 0, false, &mut derive(0, Stream::Partition, &[])).unwrap();
        let flat = dirichlet_partition(&c, 4, 20, 1000.0, 0, false, &mut derive(0, Stream::Partition, &[])).unwrap();
        let top_share = |parts: &Vec<Vec<usize>>| {
            let mut sum = 0.0;
            let mut n = 0.0;
            for p in parts.iter().filter(|p| !p.is_empty()) {
                let mut h = [0usize; 4];
                p.iter().for_each(|&i| h[c[i]] += 1);
                sum += *h.iter().max().unwrap() as f64 / p.len() as f64;
                n += 1.0;
            }
            sum / n
        };
        assert!(top_share(&skewed) > 0.9, "{}", top_share(&skewed));
        assert!(top_share(&flat) < 0.35, "{}", top_share(&flat));
    }

    #[test]
    fn an_alpha_whose_draws_all_underflow_is_an_error_not_a_hang() {
        let c = clusters();
        let err = dirichlet_partition(&c, 4, 20, 1e-300, 0, false, &mut derive(0, Stream::Partition, &[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("clients.partition.alpha: 1e-300 is too small"), "{err}");
    }

    #[test]
    fn impossible_minimum_fails_with_a_clear_error() {
        let c = clusters();
        let err = dirichlet_partition(&c, 4, 100, 0.01, 30, false, &mut derive(0, Stream::Partition, &[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("clients.partition.min_partition_size: no Dirichlet"),
            "{err}"
        );
    }
}
