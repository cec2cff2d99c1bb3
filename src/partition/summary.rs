//! Partition statistics written with every run: client x cluster counts, skew, and the expert purity matrix.

use super::grouping::ExpertGroups;
use ndarray::Array2;

/// Counts of each cluster on each client. Shape [clients][clusters].
pub fn client_cluster_counts(parts: &[Vec<usize>], cluster: &[usize], k: usize) -> Vec<Vec<usize>> {
    parts
        .iter()
        .map(|p| {
            let mut row = vec![0; k];
            p.iter().for_each(|&i| row[cluster[i]] += 1);
            row
        })
        .collect()
}

/// Clients up to which the mean pairwise distance sums every pair in turn (a few million pairs): the order the
/// stored run records were computed in, kept so that they keep their bytes. Beyond, the per-cluster sorted sums
/// give the same mean (to rounding) in n log n instead of n^2 (100,000 clients would be 5 billion pairs).
const PAIRWISE_UP_TO: usize = 2000;

/// Mean total-variation distance between the cluster histograms of every pair of non-empty clients
/// (0 = identical label mix, 1 = disjoint clusters).
pub fn mean_pairwise_tv(counts: &[Vec<usize>]) -> f64 {
    let hists: Vec<Vec<f64>> = counts
        .iter()
        .filter(|r| r.iter().sum::<usize>() > 0)
        .map(|r| {
            let total = r.iter().sum::<usize>() as f64;
            r.iter().map(|&c| c as f64 / total).collect()
        })
        .collect();
    let m = hists.len();
    if m < 2 {
        return 0.0;
    }
    let pairs = (m * (m - 1) / 2) as f64;
    match m <= PAIRWISE_UP_TO {
        true => pair_by_pair_tv(&hists) / pairs,
        false => sorted_tv(&hists) / pairs,
    }
}

/// The sum of the total-variation distances over every pair of `hists`, pair by pair.
fn pair_by_pair_tv(hists: &[Vec<f64>]) -> f64 {
    let mut sum = 0.0;
    for a in 0..hists.len() {
        for b in a + 1..hists.len() {
            sum += 0.5 * hists[a].iter().zip(&hists[b]).map(|(x, y)| (x - y).abs()).sum::<f64>();
        }
    }
    sum
}

/// The same sum as [`pair_by_pair_tv`], one cluster at a time: with a cluster's shares sorted ascending,
/// sum over pairs |v_i - v_j| = sum over i of (i v_i - the sum of the i shares below it), every term >= 0.
fn sorted_tv(hists: &[Vec<f64>]) -> f64 {
    let k = hists.first().map_or(0, Vec::len);
    let mut sum = 0.0;
    for c in 0..k {
        let mut shares: Vec<f64> = hists.iter().map(|h| h[c]).collect();
        shares.sort_by(f64::total_cmp);
        let mut below = 0.0;
        for (i, v) in shares.iter().enumerate() {
            sum += i as f64 * v - below;
            below += v;
        }
    }
    0.5 * sum
}

/// P[j, c]: share of expert j's training data that comes from cluster c (rows sum to 1).
pub fn purity(groups: &ExpertGroups, counts: &[Vec<usize>], k: usize) -> Array2<f64> {
    let mut p = Array2::zeros((groups.experts.len(), k));
    for (j, g) in groups.experts.iter().enumerate() {
        for &client in &g.clients {
            for c in 0..k {
                p[[j, c]] += counts[client][c] as f64;
            }
        }
        let total: f64 = p.row(j).sum();
        if total > 0.0 {
            p.row_mut(j).mapv_inplace(|v| v / total);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::grouping::ExpertGroup;

    #[test]
    fn tv_of_disjoint_and_identical_clients() {
        assert_eq!(mean_pairwise_tv(&[vec![4, 0], vec![0, 4]]), 1.0);
        assert_eq!(mean_pairwise_tv(&[vec![2, 2], vec![1, 1]]), 0.0);
        assert_eq!(mean_pairwise_tv(&[vec![2, 2], vec![0, 0]]), 0.0);
    }

    #[test]
    fn the_sorted_sum_equals_the_pair_by_pair_sum() {
        let counts: Vec<Vec<usize>> = (0..300).map(|i| vec![i % 7, (i * i) % 5, i % 3, 1 + i % 2]).collect();
        let hists: Vec<Vec<f64>> = counts
            .iter()
            .map(|r| r.iter().map(|&c| c as f64 / r.iter().sum::<usize>() as f64).collect())
            .collect();
        let (pairwise, sorted) = (pair_by_pair_tv(&hists), sorted_tv(&hists));
        assert!((pairwise - sorted).abs() <= 1e-12 * pairwise, "{pairwise} vs {sorted}");
    }

    #[test]
    fn purity_rows_are_cluster_shares() {
        let groups = ExpertGroups {
            experts: vec![ExpertGroup {
                cluster: Some(0),
                clients: vec![0, 1],
            }],
            dropped: vec![],
            idle_clients: vec![],
        };
        let p = purity(&groups, &[vec![3, 1], vec![0, 4]], 2);
        assert_eq!(p, ndarray::array![[0.375, 0.625]]);
    }
}
