//! The training data generated samples may copy, with the distance below which a sample counts as a copy: the
//! `metrics.memorization_quantile` quantile of held-out-to-training nearest distances.

use super::mmd::sq_dist;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Training points with the distance below which a sample counts as a copy of one.
pub struct TrainingSet {
    points: Nearest,
    /// The memorization threshold τ.
    pub threshold: f64,
}

impl TrainingSet {
    /// The training points `train` [n, dim] (f32 or f64, held in f64), with τ the `quantile` (numpy's linear)
    /// of the held-out points' nearest training distances.
    pub fn new<A: Copy + Into<f64>>(train: ArrayView2<A>, held_out: ArrayView2<f64>, quantile: f64) -> Self {
        let points = Nearest::new(train);
        let held: Vec<Vec<f64>> = held_out.rows().into_iter().map(|r| r.to_vec()).collect();
        let threshold = self::quantile(&points.distances(&held), quantile);
        TrainingSet { points, threshold }
    }

    /// Euclidean distance from each of `points` to its nearest training point.
    pub fn nearest(&self, points: &[Vec<f64>]) -> Vec<f64> {
        self.points.distances(points)
    }
}

/// Points in one flat buffer, sorted along their first coordinate, for exact nearest-neighbour distances: a
/// query scans outwards from its place in that order and stops on each side once the first coordinate alone is
/// farther than the best squared distance so far. The distance found is the brute-force one, bit for bit (the
/// same `sq_dist` of the same nearest point; every point skipped is strictly farther), in about sqrt(n) steps
/// on 2-D data instead of n.
struct Nearest {
    /// Row-major, rows ascending in their first coordinate.
    flat: Vec<f64>,
    dim: usize,
}

impl Nearest {
    /// The rows of `points` [n, dim], in f64 (exactly, from f32).
    fn new<A: Copy + Into<f64>>(points: ArrayView2<A>) -> Self {
        let dim = points.ncols();
        let mut order: Vec<usize> = (0..points.nrows()).collect();
        if dim > 0 {
            order.sort_by(|&a, &b| points[[a, 0]].into().total_cmp(&points[[b, 0]].into()));
        }
        let mut flat = Vec::with_capacity(points.len());
        order
            .iter()
            .for_each(|&i| flat.extend(points.row(i).iter().map(|&v| v.into())));
        Nearest { flat, dim }
    }

    /// Euclidean distance from each of `queries` to its nearest point (in parallel; the result does not depend
    /// on threads).
    fn distances(&self, queries: &[Vec<f64>]) -> Vec<f64> {
        queries.par_iter().map(|q| self.nearest_sq(q).sqrt()).collect()
    }

    /// The squared distance from `q` to its nearest point (infinite when there is none).
    fn nearest_sq(&self, q: &[f64]) -> f64 {
        if self.dim == 0 {
            return if self.flat.is_empty() { f64::INFINITY } else { 0.0 };
        }
        let n = self.flat.len() / self.dim;
        let row = |j: usize| &self.flat[j * self.dim..(j + 1) * self.dim];
        // The first row whose first coordinate is not below the query's.
        let (mut start, mut end) = (0, n);
        while start < end {
            let mid = (start + end) / 2;
            match row(mid)[0] < q[0] {
                true => start = mid + 1,
                false => end = mid,
            }
        }
        let mut best = f64::INFINITY;
        // sq_dist(q, r) >= (q0 - r0)^2 (a sum of non-negative terms, rounded), and |q0 - r0| only grows going
        // outwards, so a side stops at its first point whose first term alone exceeds the best.
        let mut visit = |j: usize| {
            let r = row(j);
            let first = (q[0] - r[0]) * (q[0] - r[0]);
            if first > best {
                return false;
            }
            best = best.min(sq_dist(q, r));
            true
        };
        for j in start..n {
            if !visit(j) {
                break;
            }
        }
        for j in (0..start).rev() {
            if !visit(j) {
                break;
            }
        }
        best
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
    let dim = targets.first().map_or(0, Vec::len);
    let flat: Vec<f64> = targets.iter().flatten().copied().collect();
    let view = ArrayView2::from_shape((targets.len(), dim), &flat).expect("rows of one length");
    Nearest::new(view).distances(points)
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

    #[test]
    fn the_sorted_scan_finds_the_brute_force_distance_bit_for_bit() {
        use crate::rng::{Stream, derive};
        use rand::Rng as _;
        let rng = &mut derive(3, Stream::Metrics, &[]);
        // Coarse values: many ties in the first coordinate, and exact duplicates.
        let mut point = |dim: usize| -> Vec<f64> { (0..dim).map(|_| rng.random_range(0..20) as f64 / 4.0).collect() };
        for dim in [1, 2, 5] {
            let targets: Vec<Vec<f64>> = (0..500).map(|_| point(dim)).collect();
            let queries: Vec<Vec<f64>> = (0..200).map(|_| point(dim)).collect();
            let brute: Vec<f64> = queries
                .iter()
                .map(|q| {
                    targets
                        .iter()
                        .map(|t| sq_dist(q, t))
                        .fold(f64::INFINITY, f64::min)
                        .sqrt()
                })
                .collect();
            let found = nearest_distances(&queries, &targets);
            assert_eq!(
                found.iter().map(|d| d.to_bits()).collect::<Vec<_>>(),
                brute.iter().map(|d| d.to_bits()).collect::<Vec<_>>()
            );
        }
        assert_eq!(nearest_distances(&[vec![1.0]], &[]), vec![f64::INFINITY]);
    }
}
