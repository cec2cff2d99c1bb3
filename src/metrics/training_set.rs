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
        let threshold = self::quantile(&nearest_distances(&held, &rows), quantile);
        TrainingSet { rows, threshold }
    }

    /// Euclidean distance from each of `points` to its nearest training point.
    pub fn nearest(&self, points: &[Vec<f64>]) -> Vec<f64> {
        nearest_distances(points, &self.rows)
    }
}

/// The `q` quantile of `values` with linear interpolation (numpy's default); NaN if empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Euclidean distance from each of `points` to its nearest row of `targets` (in parallel; the result does not
/// depend on threads).
pub fn nearest_distances(points: &[Vec<f64>], targets: &[Vec<f64>]) -> Vec<f64> {
    points
        .par_iter()
        .map(|p| {
            targets
                .iter()
                .map(|t| sq_dist(p, t))
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        // numpy.quantile([4, 1, 3, 2], 0.5) = 2.5; q = 0.1 -> 1.3.
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert!((quantile(&[4.0, 1.0, 3.0, 2.0], 0.1) - 1.3).abs() < 1e-12);
    }
}
