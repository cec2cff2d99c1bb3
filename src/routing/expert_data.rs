//! Each expert's training data as seen by the alignment analyses and the oracle: a seeded subsample of its points
//! for k-nearest-neighbour distances, and the mean of all its points (its centroid).

use crate::rng::Rng;
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Training points per expert and their centroids.
#[derive(Debug, Clone)]
pub struct ExpertData {
    /// Per expert, at most `max_points` of its training points (seeded subsample), in f64. Shapes [m_j, dim].
    points: Vec<Array2<f64>>,
    /// Squared norms of `points`, per expert.
    norms: Vec<Array1<f64>>,
    /// Mean of every training point of each expert. Shape [experts, dim].
    pub centroids: Array2<f64>,
    /// Neighbours averaged by [`ExpertData::knn_distance`].
    pub neighbors: usize,
}

impl ExpertData {
    /// Builds the data of each expert from the training rows `rows[j]` of `train`.
    pub fn new(train: &Array2<f32>, rows: &[Vec<usize>], max_points: usize, neighbors: usize, rng: &mut Rng) -> Self {
        let dim = train.ncols();
        let mut centroids = Array2::zeros((rows.len(), dim));
        let mut points = Vec::with_capacity(rows.len());
        for (j, r) in rows.iter().enumerate() {
            assert!(!r.is_empty(), "expert {j} has no training data");
            let all = train.select(Axis(0), r).mapv(f64::from);
            centroids.row_mut(j).assign(&all.mean_axis(Axis(0)).expect("non-empty"));
            let kept = if r.len() > max_points {
                let mut idx = rand::seq::index::sample(rng, r.len(), max_points).into_vec();
                idx.sort_unstable();
                all.select(Axis(0), &idx)
            } else {
                all
            };
            points.push(kept);
        }
        let norms = points.iter().map(|p| p.map_axis(Axis(1), |r| r.dot(&r))).collect();
        ExpertData {
            points,
            norms,
            centroids,
            neighbors,
        }
    }

    /// The data of the experts `kept` only, in that order (the same subsamples as here).
    pub fn restricted_to(&self, kept: &[usize]) -> ExpertData {
        ExpertData {
            points: kept.iter().map(|&j| self.points[j].clone()).collect(),
            norms: kept.iter().map(|&j| self.norms[j].clone()).collect(),
            centroids: self.centroids.select(Axis(0), kept),
            neighbors: self.neighbors,
        }
    }

    /// Number of experts.
    pub fn experts(&self) -> usize {
        self.points.len()
    }

    /// Mean Euclidean distance from each query to its `neighbors` nearest training points of each expert.
    /// Shapes: q [n, dim] -> [n, experts].
    pub fn knn_distance(&self, q: ArrayView2<f32>) -> Array2<f64> {
        let q = q.mapv(f64::from);
        let q_norms = q.map_axis(Axis(1), |r| r.dot(&r));
        let mut out = Array2::zeros((q.nrows(), self.experts()));
        let mut nearest: Vec<f64> = Vec::with_capacity(self.neighbors + 1);
        for (j, (p, p_norms)) in self.points.iter().zip(&self.norms).enumerate() {
            // Squared distances |q|^2 + |p|^2 - 2 q.p, by one matrix product (f64 keeps the cancellation small).
            let cross = q.dot(&p.t());
            let k = self.neighbors.min(p.nrows());
            for (i, row) in cross.rows().into_iter().enumerate() {
                nearest.clear();
                for (c, &pn) in row.iter().zip(p_norms) {
                    let d2 = (q_norms[i] + pn - 2.0 * c).max(0.0);
                    if nearest.len() < k || d2 < nearest[k - 1] {
                        let at = nearest.partition_point(|&v| v <= d2);
                        nearest.insert(at, d2);
                        nearest.truncate(k);
                    }
                }
                out[[i, j]] = nearest.iter().map(|d| d.sqrt()).sum::<f64>() / k as f64;
            }
        }
        out
    }

    /// Euclidean distance from each query to each expert's centroid. Shapes: q [n, dim] -> [n, experts].
    pub fn centroid_distance(&self, q: ArrayView2<f32>) -> Array2<f64> {
        Array2::from_shape_fn((q.nrows(), self.experts()), |(i, j)| {
            q.row(i)
                .iter()
                .zip(self.centroids.row(j))
                .map(|(&a, &b)| (a as f64 - b).powi(2))
                .sum::<f64>()
                .sqrt()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use ndarray::array;

    #[test]
    fn knn_distance_matches_brute_force() {
        let train = array![
            [0.0f32, 0.0],
            [1.0, 0.0],
            [0.0, 2.0],
            [10.0, 10.0],
            [11.0, 10.0],
            [10.0, 13.0]
        ];
        let data = ExpertData::new(
            &train,
            &[vec![0, 1, 2], vec![3, 4, 5]],
            100,
            2,
            &mut derive(0, Stream::Metrics, &[]),
        );
        let q = array![[0.0f32, 0.0], [10.0, 11.0]];
        let d = data.knn_distance(q.view());
        // Query 0 vs expert 0: distances 0, 1, 2 -> mean of two nearest 0.5; vs expert 1: sqrt(200), sqrt(221).
        assert!((d[[0, 0]] - 0.5).abs() < 1e-12);
        assert!((d[[0, 1]] - (200f64.sqrt() + 221f64.sqrt()) / 2.0).abs() < 1e-9);
        // Query 1 vs expert 1: distances 1, sqrt(2), 2 -> (1 + sqrt 2) / 2.
        assert!((d[[1, 1]] - (1.0 + 2f64.sqrt()) / 2.0).abs() < 1e-9);
        let c = data.centroid_distance(q.view());
        assert!((c[[0, 0]] - ((1.0f64 / 3.0).powi(2) + (2.0f64 / 3.0).powi(2)).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn restricted_data_is_the_kept_experts_columns() {
        let train = Array2::from_shape_fn((30, 2), |(i, j)| (i * 3 + j) as f32 * 0.1);
        let rows: Vec<Vec<usize>> = (0..3).map(|e| (e * 10..e * 10 + 10).collect()).collect();
        let data = ExpertData::new(&train, &rows, 4, 2, &mut derive(0, Stream::Metrics, &[]));
        let kept = data.restricted_to(&[2, 0]);
        let q = array![[0.5f32, 0.5], [2.0, 2.1]];
        let (all, some) = (data.knn_distance(q.view()), kept.knn_distance(q.view()));
        assert_eq!(some.column(0), all.column(2));
        assert_eq!(some.column(1), all.column(0));
        assert_eq!(kept.centroids.row(0), data.centroids.row(2));
        assert_eq!(kept.experts(), 2);
    }

    #[test]
    fn subsampling_keeps_the_centroid_of_all_points() {
        let train = Array2::from_shape_fn((50, 1), |(i, _)| i as f32);
        let rows = vec![(0..50).collect::<Vec<_>>()];
        let data = ExpertData::new(&train, &rows, 10, 3, &mut derive(0, Stream::Metrics, &[]));
        assert_eq!(data.points[0].nrows(), 10);
        assert!((data.centroids[[0, 0]] - 24.5).abs() < 1e-12);
    }
}
