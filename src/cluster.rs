//! Clusters of the training data (the DDM data shards): seeded k-means++ with Lloyd iterations, or class labels.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::{Rng, Stream, derive};
use crate::scenario::{ClusterConfig, ClusterMethod};
use ndarray::{Array2, ArrayView1};
use rand::Rng as _;
use rayon::prelude::*;

/// Cluster id of every training point and the cluster centroids (kept for the alignment analyses).
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster of each training point.
    pub assignment: Vec<usize>,
    /// Mean of each cluster. Shape [clusters, dim].
    pub centroids: Array2<f64>,
}

impl Clustering {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    /// The cluster with the nearest centroid for each row of `x` (for points outside the training set).
    pub fn nearest(&self, x: ndarray::ArrayView2<f32>) -> Vec<usize> {
        x.rows().into_iter().map(|r| nearest(r, &self.centroids).0).collect()
    }
}

/// Clusters `data` as configured.
pub fn cluster(data: &Dataset, config: &ClusterConfig, seed: u64) -> Result<Clustering> {
    match config.method {
        ClusterMethod::Labels => {
            let labels = data.labels.as_ref().ok_or_else(|| {
                Error::invalid(
                    "clusters.method",
                    "`labels` needs a labelled data set (csv: set label_column)",
                )
            })?;
            let k = data.num_classes().unwrap_or(0);
            Ok(Clustering {
                assignment: labels.clone(),
                centroids: centroids(data, labels, k),
            })
        }
        ClusterMethod::Kmeans => {
            if config.k > data.len() {
                return Err(Error::invalid(
                    "clusters.k",
                    format!(
                        "must be <= the number of training points ({}), got {}",
                        data.len(),
                        config.k
                    ),
                ));
            }
            Ok(kmeans(
                data,
                config.k,
                config.max_iterations,
                &mut derive(seed, Stream::Cluster, &[]),
            ))
        }
    }
}

fn sq_dist(a: ArrayView1<f32>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, c)| (*x as f64 - c).powi(2)).sum()
}

fn nearest(x: ArrayView1<f32>, centroids: &Array2<f64>) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, row) in centroids.rows().into_iter().enumerate() {
        let d = sq_dist(x, row);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// k-means++ seeding (Arthur and Vassilvitskii 2007) followed by Lloyd iterations until assignments are stable.
pub fn kmeans(data: &Dataset, k: usize, max_iterations: usize, rng: &mut Rng) -> Clustering {
    let n = data.len();
    let mut centers = Array2::zeros((k, data.dim()));
    let first = rng.random_range(0..n);
    centers.row_mut(0).assign(&data.x.row(first).mapv(f64::from));
    let mut d2: Vec<f64> = (0..n).map(|i| sq_dist(data.x.row(i), centers.row(0))).collect();
    for c in 1..k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let target = rng.random::<f64>() * total;
            let mut acc = 0.0;
            d2.iter()
                .position(|&d| {
                    acc += d;
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            rng.random_range(0..n)
        };
        centers.row_mut(c).assign(&data.x.row(pick).mapv(f64::from));
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(sq_dist(data.x.row(i), centers.row(c)));
        }
    }
    let mut assignment = vec![usize::MAX; n];
    for _ in 0..max_iterations {
        let next: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| nearest(data.x.row(i), &centers).0)
            .collect();
        let changed = next != assignment;
        assignment = next;
        let means = centroids(data, &assignment, k);
        for c in 0..k {
            if assignment.contains(&c) {
                centers.row_mut(c).assign(&means.row(c));
            }
        }
        if !changed {
            break;
        }
    }
    Clustering {
        assignment,
        centroids: centers,
    }
}

/// Mean of the points of each cluster (zero for an empty cluster).
fn centroids(data: &Dataset, assignment: &[usize], k: usize) -> Array2<f64> {
    let mut sums = Array2::<f64>::zeros((k, data.dim()));
    let mut counts = vec![0usize; k];
    for (i, &c) in assignment.iter().enumerate() {
        counts[c] += 1;
        for (s, v) in sums.row_mut(c).iter_mut().zip(data.x.row(i)) {
            *s += *v as f64;
        }
    }
    for (c, mut row) in sums.rows_mut().into_iter().enumerate() {
        if counts[c] > 0 {
            row.mapv_inplace(|v| v / counts[c] as f64);
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Gmm;

    #[test]
    fn kmeans_recovers_well_separated_components_deterministically() {
        let g = Gmm::circle(4, 2, 5.0, 0.2, &[]);
        let (x, labels) = g.sample(800, &mut derive(1, Stream::Data, &[])).unwrap();
        let data = Dataset {
            x,
            labels: Some(labels.clone()),
            natural_ids: None,
        };
        let a = kmeans(&data, 4, 100, &mut derive(1, Stream::Cluster, &[]));
        let b = kmeans(&data, 4, 100, &mut derive(1, Stream::Cluster, &[]));
        assert_eq!(a.assignment, b.assignment);
        // Each k-means cluster is exactly one true component (up to renaming).
        for c in 0..4 {
            let members: Vec<usize> = (0..800).filter(|&i| a.assignment[i] == c).map(|i| labels[i]).collect();
            assert!(!members.is_empty());
            assert!(members.iter().all(|&l| l == members[0]));
        }
        for row in a.centroids.rows() {
            let r = (row[0] * row[0] + row[1] * row[1]).sqrt();
            assert!((r - 5.0).abs() < 0.1, "centroid radius {r}");
        }
    }
}
