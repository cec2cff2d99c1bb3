//! The training data generated samples may copy, with the distance below which a sample counts as a copy: the
//! `metrics.memorization_quantile` quantile of held-out-to-training nearest distances.

use super::mmd::sq_dist;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Training points with the distance below which a sample counts as a copy of one.
pub struct TrainingSet {
    rows: Vec<Vec<f64>>,
    /// The memorization threshold τ.
    pub threshold: f64,
}

impl TrainingSet {
    /// The training points `train` [n, dim], with τ the `quantile` (numpy's linear) of the held-out points'
    /// nearest training distances.
    pub fn new(train: ArrayView2<f64>, held_out: ArrayView2<f64>, quantile: f64) -> Self {
        let rows: Vec<Vec<f64>> = train.rows().into_iter().map(|r| r.to_vec()).collect();
        let held: Vec<Vec<f64>> = held_out.rows().into_iter().map(|r| r.to_vec()).collect();
        let mut set = TrainingSet { rows, threshold: 0.0 };
        let mut distances = set.nearest(&held);
        set.threshold = linear_quantile(&mut distances, quantile);
        set
    }

    /// Euclidean distance from each of `points` to its nearest training point.
    pub fn nearest(&self, points: &[Vec<f64>]) -> Vec<f64> {
        points
            .par_iter()
            .map(|p| {
                self.rows
                    .iter()
                    .map(|t| sq_dist(p, t))
                    .fold(f64::INFINITY, f64::min)
                    .sqrt()
            })
            .collect()
    }
}

/// numpy's default (`linear`) quantile of `values` (sorted in place); 0 for no values.
pub fn linear_quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    // numpy's virtual index n q + (α + q (1 - α - β)) - 1 with α = β = 1, and its two-sided lerp.
    let n = values.len() as f64;
    let position = (n * q + (1.0 - q) - 1.0).clamp(0.0, n - 1.0);
    let (low, t) = (position.floor() as usize, position.fract());
    let (a, b) = (values[low], values[(low + 1).min(values.len() - 1)]);
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        // numpy.quantile([4, 1, 3, 2], 0.5) = 2.5; q = 0.1 -> 1.3.
        assert_eq!(linear_quantile(&mut [4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert!((linear_quantile(&mut [4.0, 1.0, 3.0, 2.0], 0.1) - 1.3).abs() < 1e-12);
    }
}
