//! Kernel inception distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel
//! k(x, y) = (xᵀy / d + 1)³, on the whole sample and reference sets (no subsets), in raw coordinates (`kid`) and in
//! the evaluation classifier's features for labelled images (`kid_classifier`).

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// The metrics this file computes.
pub static DECLARED: [Metric; 2] = [
    Metric {
        column: "kid",
        title: "KID (raw coordinates)",
        direction: Direction::Lower,
        family: Family::Quality,
        applies: Applies::Always,
        key: true,
        description: "Kernel distance: unbiased MMD² with the cubic polynomial kernel (xᵀy/d + 1)³ between the \
                      samples and held-out data, in raw coordinates (Bińkowski et al. 2018).",
        computation: Computation::Samples(|s| {
            let r = s.reference;
            let yy = r.memo().get_or("kid", || kernel_mean(r.points().view(), r.points().view(), true));
            Some(kid_with(s.generated.view(), r.points().view(), yy))
        }),
    },
    Metric {
        column: "kid_classifier",
        title: "KID (classifier features)",
        direction: Direction::Lower,
        family: Family::Classifier,
        applies: Applies::Classified,
        key: true,
        description: "KID in the evaluation classifier's feature space (ddmsim's own classifier, not Inception).",
        computation: Computation::Samples(|s| {
            let c = s.classified.as_ref()?;
            let f = c.reference.features.view();
            let yy = c.reference.memo.get_or("kid", || kernel_mean(f, f, true));
            Some(kid_with(c.features.view(), f, yy))
        }),
    },
];

/// Mean of the cubic kernel over the pairs of rows of `x` [m, d] and `y` [n, d], leaving out i = j when `x` and
/// `y` are the same set (`same`). Rows are summed in order, so the result does not depend on threads, and no
/// m x n matrix is held.
pub fn kernel_mean(x: ArrayView2<f64>, y: ArrayView2<f64>, same: bool) -> f64 {
    let d = x.ncols() as f64;
    let sums: Vec<f64> = (0..x.nrows())
        .into_par_iter()
        .map(|i| {
            let xi = x.row(i);
            y.rows()
                .into_iter()
                .enumerate()
                .filter(|(j, _)| !same || *j != i)
                .map(|(_, yj)| (xi.dot(&yj) / d + 1.0).powi(3))
                .sum::<f64>()
        })
        .collect();
    let (m, n) = (x.nrows() as f64, y.nrows() as f64);
    let pairs = if same { m * (m - 1.0) } else { m * n };
    sums.iter().sum::<f64>() / pairs
}

/// Unbiased MMD² between `x` [m, d] and `y` [n, d] with the kernel (xᵀy / d + 1)³, given `yy`, the mean kernel
/// among `y`'s rows ([`kernel_mean`] with `same`); both sets need two rows or more.
pub fn kid_with(x: ArrayView2<f64>, y: ArrayView2<f64>, yy: f64) -> f64 {
    kernel_mean(x, x, true) + yy - 2.0 * kernel_mean(x, y, false)
}

/// Unbiased MMD² between `x` [m, d] and `y` [n, d] with the kernel (xᵀy / d + 1)³.
pub fn kid(x: ArrayView2<f64>, y: ArrayView2<f64>) -> f64 {
    kid_with(x, y, kernel_mean(y, y, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn identical_pairs_of_points_give_the_closed_form() {
        // x = y = {a, b}: MMD² = k(a,b) + k(a,b) - 2 (k(a,a) + 2 k(a,b) + k(b,b)) / 4.
        let x = array![[1.0, 0.0], [0.0, 2.0]];
        let k = |u: f64| (u / 2.0 + 1.0).powi(3);
        let expected = 2.0 * k(0.0) - (k(1.0) + 2.0 * k(0.0) + k(4.0)) / 2.0;
        assert!((kid(x.view(), x.view()) - expected).abs() < 1e-12);
    }
}
