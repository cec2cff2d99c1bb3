//! Metrics that need the true density (Gaussian mixtures): mean log-likelihood, modes covered, mode balance.

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use crate::data::Gmm;
use ndarray::ArrayView2;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The metrics this file computes.
pub static DECLARED: [Metric; 3] = [
    Metric {
        column: "loglik",
        title: "log-likelihood",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::KnownDensity,
        key: true,
        description: "Mean log-likelihood of the samples under the true density (nats).",
        computation: Computation::Samples(|s| s.density().map(|d| d.loglik)),
    },
    Metric {
        column: "modes_covered",
        title: "modes covered",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::KnownDensity,
        key: false,
        description: "Components holding at least 10 % of their expected share of on-mode samples.",
        computation: Computation::Samples(|s| s.density().map(|d| d.modes_covered)),
    },
    Metric {
        column: "mode_tv",
        title: "mode total variation",
        direction: Direction::Lower,
        family: Family::Quality,
        applies: Applies::KnownDensity,
        key: true,
        description: "Total variation between the samples' and the data's mode shares.",
        computation: Computation::Samples(|s| s.density().map(|d| d.mode_tv)),
    },
];

/// Likelihood-based quality of a sample under the true mixture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DensityMetrics {
    /// Mean true log-density of the sample (nats).
    pub loglik: f64,
    /// Components holding at least 10 % of their expected share of on-mode points.
    pub modes_covered: f64,
    /// Total variation between the sample's component histogram (by highest posterior) and the true weights.
    pub mode_tv: f64,
}

/// A point is on the mode of its most likely component when its squared distance to that mean, in variance units,
/// is within the 99.9 % quantile of chi-square with `dim` degrees of freedom.
pub fn density_metrics(gmm: &Gmm, x: ArrayView2<f64>) -> DensityMetrics {
    let k = gmm.components();
    let n = x.nrows() as f64;
    let threshold = ChiSquared::new(gmm.dim() as f64).expect("dim >= 1").inverse_cdf(0.999);
    let mut loglik = 0.0;
    let mut assigned = vec![0usize; k];
    let mut on_mode = vec![0usize; k];
    for row in x.rows() {
        loglik += gmm.log_density(row);
        let c = gmm.most_likely_component(row);
        assigned[c] += 1;
        if gmm.scaled_sq_distance(row, c) <= threshold {
            on_mode[c] += 1;
        }
    }
    let covered = (0..k)
        .filter(|&c| on_mode[c] as f64 >= 0.1 * n * gmm.weights[c])
        .count();
    let tv = 0.5
        * (0..k)
            .map(|c| (assigned[c] as f64 / n - gmm.weights[c]).abs())
            .sum::<f64>();
    DensityMetrics {
        loglik: loglik / n,
        modes_covered: covered as f64,
        mode_tv: tv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use ndarray::Array2;

    #[test]
    fn samples_from_the_mixture_cover_every_mode_in_balance() {
        let g = Gmm::circle(8, 2, 4.0, 0.35, &[]);
        let (x, _) = g.sample(4000, &mut derive(0, Stream::Data, &[])).unwrap();
        let m = density_metrics(&g, x.mapv(f64::from).view());
        assert_eq!(m.modes_covered, 8.0);
        assert!(m.mode_tv < 0.03, "{m:?}");
        // Expected log-density of a well-separated mixture: -ln 8 - ln(2 pi s^2) - 1.
        let expected = -(8f64).ln() - (2.0 * std::f64::consts::PI * 0.35 * 0.35).ln() - 1.0;
        assert!((m.loglik - expected).abs() < 0.05, "{} vs {expected}", m.loglik);
    }

    #[test]
    fn collapse_onto_one_mode_is_detected() {
        let g = Gmm::circle(4, 2, 4.0, 0.35, &[]);
        let x = Array2::from_shape_fn((100, 2), |(_, j)| if j == 0 { 4.0 } else { 0.0 });
        let m = density_metrics(&g, x.view());
        assert_eq!(m.modes_covered, 1.0);
        assert!((m.mode_tv - 0.75).abs() < 1e-12);
    }
}
