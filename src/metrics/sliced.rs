//! Sliced Wasserstein-2 distance over a fixed, seeded set of random directions.

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use crate::rng::Rng;
use ndarray::{Array2, ArrayView2};

/// The metric this file computes.
pub static DECLARED: [Metric; 1] = [Metric {
    column: "swd",
    title: "sliced Wasserstein-2",
    direction: Direction::Lower,
    family: Family::Quality,
    applies: Applies::Always,
    key: false,
    description: "Sliced Wasserstein-2 distance over a fixed, seeded set of projections.",
    computation: Computation::Samples(|s| {
        Some(sliced_wasserstein(
            s.generated.view(),
            s.reference.points().view(),
            s.reference.directions(),
        ))
    }),
}];

/// `count` random unit directions in `dim` dimensions. Shape [count, dim].
pub fn directions(count: usize, dim: usize, rng: &mut Rng) -> Array2<f64> {
    let mut dirs = Array2::zeros((count, dim));
    for mut row in dirs.rows_mut() {
        crate::rng::unit_vector(row.as_slice_mut().expect("rows of a new array are contiguous"), rng);
    }
    dirs
}

fn sorted_projection(x: ArrayView2<f64>, dir: ndarray::ArrayView1<f64>) -> Vec<f64> {
    let mut p: Vec<f64> = x.rows().into_iter().map(|r| r.dot(&dir)).collect();
    p.sort_by(f64::total_cmp);
    p
}

/// sqrt(mean over directions of W2^2 between the projected samples). W2^2 of one direction compares the two
/// empirical quantile functions at levels (i + 0.5) / m, m = the larger sample size (exact for equal sizes).
pub fn sliced_wasserstein(x: ArrayView2<f64>, y: ArrayView2<f64>, dirs: &Array2<f64>) -> f64 {
    let m = x.nrows().max(y.nrows());
    let mut total = 0.0;
    for dir in dirs.rows() {
        let (px, py) = (sorted_projection(x, dir), sorted_projection(y, dir));
        let mut w2 = 0.0;
        for i in 0..m {
            let q = (i as f64 + 0.5) / m as f64;
            let a = px[((q * px.len() as f64) as usize).min(px.len() - 1)];
            let b = py[((q * py.len() as f64) as usize).min(py.len() - 1)];
            w2 += (a - b) * (a - b);
        }
        total += w2 / m as f64;
    }
    (total / dirs.nrows() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    #[test]
    fn a_shift_gives_the_rms_of_its_projections() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 * 0.1);
        let shift = [0.5, -1.0, 2.0];
        let y = Array2::from_shape_fn((50, 3), |(i, j)| x[[i, j]] + shift[j]);
        let dirs = directions(16, 3, &mut derive(0, Stream::Metrics, &[]));
        let expected = (dirs
            .rows()
            .into_iter()
            .map(|d| (d[0] * shift[0] + d[1] * shift[1] + d[2] * shift[2]).powi(2))
            .sum::<f64>()
            / 16.0)
            .sqrt();
        assert!((sliced_wasserstein(x.view(), y.view(), &dirs) - expected).abs() < 1e-10);
        assert_eq!(sliced_wasserstein(x.view(), x.view(), &dirs), 0.0);
    }
}
