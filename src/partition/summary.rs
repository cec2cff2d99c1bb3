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
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for a in 0..hists.len() {
        for b in a + 1..hists.len() {
            sum += 0.5 * hists[a].iter().zip(&hists[b]).map(|(x, y)| (x - y).abs()).sum::<f64>();
            pairs += 1;
        }
    }
    if pairs == 0 { 0.0 } else { sum / pairs as f64 }
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
