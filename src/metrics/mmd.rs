//! Unbiased squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012, eq. 3).

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// The metric this file computes.
pub static DECLARED: [Metric; 1] = [Metric {
    column: "mmd",
    title: "MMD² (Gaussian kernel)",
    direction: Direction::Lower,
    family: Family::Quality,
    applies: Applies::Always,
    key: false,
    description: "Unbiased squared maximum mean discrepancy with a Gaussian kernel, bandwidth the median pairwise \
                  distance of held-out data.",
    computation: Computation::Samples(|s| {
        Some(mmd2(
            s.generated.view(),
            s.reference.points().view(),
            s.reference.bandwidth(),
        ))
    }),
}];

/// Squared Euclidean distance between two rows.
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Median pairwise Euclidean distance among the first (at most) 1,000 rows of `x`: the kernel bandwidth.
pub fn median_distance(x: ArrayView2<f64>) -> f64 {
    let n = x.nrows().min(1000);
    let rows: Vec<Vec<f64>> = (0..n).map(|i| x.row(i).to_vec()).collect();
    let mut d: Vec<f64> = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            d.push(sq_dist(&rows[i], &rows[j]).sqrt());
        }
    }
    d.sort_by(f64::total_cmp);
    let m = d.len();
    if m == 0 {
        return 1.0;
    }
    // numpy's median: mean of the two middle values for an even count.
    if m % 2 == 1 {
        d[m / 2]
    } else {
        0.5 * (d[m / 2 - 1] + d[m / 2])
    }
}

/// Sum of k(a_i, b_j) over all pairs (excluding i == j when `same`), k = exp(-d^2 / (2 h^2)).
fn kernel_sum(a: &[Vec<f64>], b: &[Vec<f64>], bandwidth: f64, same: bool) -> f64 {
    let scale = -1.0 / (2.0 * bandwidth * bandwidth);
    let rows: Vec<f64> = (0..a.len())
        .into_par_iter()
        .map(|i| {
            b.iter()
                .enumerate()
                .filter(|(j, _)| !same || *j != i)
                .map(|(_, bj)| (sq_dist(&a[i], bj) * scale).exp())
                .sum()
        })
        .collect();
    rows.iter().sum()
}

/// Unbiased MMD^2 between samples `x` and `y` with bandwidth `h`.
pub fn mmd2(x: ArrayView2<f64>, y: ArrayView2<f64>, bandwidth: f64) -> f64 {
    let xs: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let ys: Vec<Vec<f64>> = y.rows().into_iter().map(|r| r.to_vec()).collect();
    let (m, n) = (xs.len() as f64, ys.len() as f64);
    kernel_sum(&xs, &xs, bandwidth, true) / (m * (m - 1.0)) + kernel_sum(&ys, &ys, bandwidth, true) / (n * (n - 1.0))
        - 2.0 * kernel_sum(&xs, &ys, bandwidth, false) / (m * n)
}
