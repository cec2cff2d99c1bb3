//! Fréchet distance between Gaussians fitted to two samples (the formula behind FID, Heusel et al. 2017).

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use ndarray::ArrayView2;

/// The metric this file computes.
pub static DECLARED: [Metric; 1] = [Metric {
    column: "fd",
    title: "Fréchet distance",
    direction: Direction::Lower,
    family: Family::Quality,
    applies: Applies::Always,
    key: true,
    description: "Fréchet distance between Gaussians fitted to the samples and to held-out data, in raw coordinates.",
    computation: Computation::Samples(|s| Some(frechet_distance(s.generated.view(), s.reference.points().view()))),
}];

/// Sample mean and unbiased covariance (divisor n - 1, as numpy's `cov`). Shape: x [n, d].
pub fn mean_cov(x: ArrayView2<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let (n, d) = x.dim();
    let mut mean = DVector::zeros(d);
    for row in x.rows() {
        for j in 0..d {
            mean[j] += row[j];
        }
    }
    mean /= n as f64;
    let mut cov = DMatrix::zeros(d, d);
    for row in x.rows() {
        for a in 0..d {
            let da = row[a] - mean[a];
            for b in a..d {
                cov[(a, b)] += da * (row[b] - mean[b]);
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov[(a, b)] / (n as f64 - 1.0);
            cov[(a, b)] = v;
            cov[(b, a)] = v;
        }
    }
    (mean, cov)
}

/// Square root of a symmetric positive semi-definite matrix (negative eigenvalues from round-off are clamped).
fn sqrt_psd(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(m.clone());
    let roots = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&roots) * eig.eigenvectors.transpose()
}

/// ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2}).
pub fn frechet(mu1: &DVector<f64>, s1: &DMatrix<f64>, mu2: &DVector<f64>, s2: &DMatrix<f64>) -> f64 {
    let root1 = sqrt_psd(s1);
    let inner = &root1 * s2 * &root1;
    let inner = (&inner + inner.transpose()) * 0.5;
    let cross: f64 = SymmetricEigen::new(inner)
        .eigenvalues
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    (mu1 - mu2).norm_squared() + s1.trace() + s2.trace() - 2.0 * cross
}

/// Fréchet distance between Gaussians fitted to `a` and `b`.
pub fn frechet_distance(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    let (m1, s1) = mean_cov(a);
    let (m2, s2) = mean_cov(b);
    frechet(&m1, &s1, &m2, &s2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_gaussians_have_the_closed_form() {
        // For diagonal covariances, FD = |dmu|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
        let s1 = DMatrix::from_diagonal(&DVector::from_vec(vec![4.0, 1.0]));
        let s2 = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 9.0]));
        let m1 = DVector::from_vec(vec![0.0, 0.0]);
        let m2 = DVector::from_vec(vec![3.0, 4.0]);
        let fd = frechet(&m1, &s1, &m2, &s2);
        assert!((fd - (25.0 + 1.0 + 4.0)).abs() < 1e-10, "{fd}");
    }
}
