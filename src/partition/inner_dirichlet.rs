//! Inner Dirichlet partition with Flower Datasets semantics (`InnerDirichletPartitioner`): client sizes are fixed,
//! and each client's cluster mix is drawn from Dir(alpha).

use super::dirichlet::dirichlet;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::scenario::ClientSizes;
use rand::Rng as _;
use rand::seq::SliceRandom;

/// The size of each client: the rule's sizes over `n` points, or the given list, which must sum to `n`.
pub fn client_sizes(sizes: &ClientSizes, n: usize, clients: usize) -> Result<Vec<usize>> {
    match sizes {
        ClientSizes::Rule(rule) => super::sizes::sizes(*rule, n, clients),
        ClientSizes::List(list) => {
            let total = list.iter().try_fold(0usize, |sum, &s| sum.checked_add(s));
            if list.len() != clients || total != Some(n) {
                return Err(Error::Partition {
                    path: "clients.partition.sizes".into(),
                    message: format!(
                        "must list {clients} sizes (clients.count) summing to the {n} training points, got {} \
                         summing to {}",
                        list.len(),
                        total.map_or_else(|| "more than the largest integer".into(), |t| t.to_string())
                    ),
                });
            }
            Ok(list.clone())
        }
    }
}

/// Partitions points by `cluster` id (`k` clusters) over clients of the given `sizes` (summing to the number of
/// points). Each client draws its cluster shares from Dir(alpha); then, until every client is full, a client that
/// is not full is picked at random and given one point of a cluster drawn from its shares, among the clusters with
/// points left (Flower zeroes an exhausted cluster's share in every client and renormalises, the same draw). A
/// client whose clusters are all exhausted before it is full, where Flower fails, draws uniformly among the
/// clusters left.
pub fn inner_dirichlet(
    cluster: &[usize],
    k: usize,
    sizes: &[usize],
    alpha: f64,
    rng: &mut Rng,
) -> Result<Vec<Vec<usize>>> {
    let priors = sizes
        .iter()
        .map(|_| dirichlet(alpha, k, rng))
        .collect::<Result<Vec<_>>>()?;
    let mut by_cluster: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &c) in cluster.iter().enumerate() {
        by_cluster[c].push(i);
    }
    let mut left = sizes.to_vec();
    let mut parts: Vec<Vec<usize>> = sizes.iter().map(|&s| Vec::with_capacity(s)).collect();
    let mut open: Vec<usize> = (0..sizes.len()).filter(|&c| sizes[c] > 0).collect();
    while !open.is_empty() {
        let slot = rng.random_range(0..open.len());
        let client = open[slot];
        let c = draw_cluster(&priors[client], &by_cluster, rng);
        // Flower takes a cluster's points from its end.
        let point = by_cluster[c].pop().expect("a cluster with points left");
        parts[client].push(point);
        left[client] -= 1;
        if left[client] == 0 {
            open.swap_remove(slot);
        }
    }
    for part in &mut parts {
        part.shuffle(rng);
    }
    Ok(parts)
}

/// A cluster with points left, drawn with probability proportional to `shares` among those clusters (uniformly
/// when they all have share 0).
fn draw_cluster(shares: &[f64], by_cluster: &[Vec<usize>], rng: &mut Rng) -> usize {
    let weight = |c: usize| if by_cluster[c].is_empty() { 0.0 } else { shares[c] };
    let total: f64 = (0..shares.len()).map(weight).sum();
    if total > 0.0 {
        let mut u = rng.random::<f64>() * total;
        let mut last = 0;
        for c in (0..shares.len()).filter(|&c| weight(c) > 0.0) {
            if u < weight(c) {
                return c;
            }
            u -= weight(c);
            last = c;
        }
        // Rounding left u at the top of the range: the last cluster with weight.
        return last;
    }
    let open: Vec<usize> = (0..by_cluster.len()).filter(|&c| !by_cluster[c].is_empty()).collect();
    open[rng.random_range(0..open.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use crate::scenario::SizeRule;

    fn clusters() -> Vec<usize> {
        (0..3000).map(|i| i % 5).collect()
    }

    /// Mean over clients of the share of their largest cluster.
    fn top_share(parts: &[Vec<usize>], c: &[usize]) -> f64 {
        let shares: Vec<f64> = parts
            .iter()
            .map(|p| {
                let mut h = [0usize; 5];
                p.iter().for_each(|&i| h[c[i]] += 1);
                *h.iter().max().unwrap() as f64 / p.len() as f64
            })
            .collect();
        shares.iter().sum::<f64>() / shares.len() as f64
    }

    #[test]
    fn sizes_are_exact_and_every_point_is_assigned_once() {
        let c = clusters();
        for sizes in [
            ClientSizes::Rule(SizeRule::Equal),
            ClientSizes::Rule(SizeRule::Linear),
            ClientSizes::Rule(SizeRule::Square),
            ClientSizes::List(vec![1000, 0, 1500, 500]),
        ] {
            let want = client_sizes(&sizes, 3000, 4).unwrap();
            for alpha in [1e-3, 0.1, 1000.0] {
                let parts = inner_dirichlet(&c, 5, &want, alpha, &mut derive(0, Stream::Partition, &[])).unwrap();
                assert_eq!(
                    parts.iter().map(Vec::len).collect::<Vec<_>>(),
                    want,
                    "{sizes:?} alpha {alpha}"
                );
                let mut all: Vec<usize> = parts.into_iter().flatten().collect();
                all.sort();
                assert_eq!(all, (0..3000).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn huge_alpha_is_near_iid_and_tiny_alpha_skewed() {
        let c = clusters();
        let sizes = client_sizes(&ClientSizes::default(), 3000, 10).unwrap();
        let flat = inner_dirichlet(&c, 5, &sizes, 1e4, &mut derive(0, Stream::Partition, &[])).unwrap();
        let skewed = inner_dirichlet(&c, 5, &sizes, 0.01, &mut derive(0, Stream::Partition, &[])).unwrap();
        // IID clients of 300 points hold each of 5 clusters about 60 times: the top share stays near 0.2.
        assert!(top_share(&flat, &c) < 0.3, "{}", top_share(&flat, &c));
        // Clusters run out under heavy skew, so the last clients are mixed; most are still dominated by one.
        assert!(top_share(&skewed, &c) > 0.6, "{}", top_share(&skewed, &c));
    }

    #[test]
    fn a_size_list_must_match_the_clients_and_the_points() {
        let err = client_sizes(&ClientSizes::List(vec![10, 20]), 40, 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "clients.partition.sizes: must list 2 sizes (clients.count) summing to the 40 training points, got 2 \
             summing to 30"
        );
        let big = ClientSizes::List(vec![usize::MAX, 1]);
        assert!(
            client_sizes(&big, 40, 2)
                .unwrap_err()
                .to_string()
                .contains("more than the largest integer")
        );
    }
}
