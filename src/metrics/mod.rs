//! Metrics, computed in f64. Quality: Fréchet distance, MMD, sliced Wasserstein, precision / recall / density /
//! coverage, and, with a known density, log-likelihood, modes covered and mode balance.

mod frechet;
mod known_density;
mod manifold;
mod mmd;
mod sliced;

pub use frechet::{frechet, frechet_distance, mean_cov};
pub use known_density::{DensityMetrics, density_metrics};
pub use manifold::{Prdc, knn_radii, prdc};
pub use mmd::{median_distance, mmd2};
pub use sliced::{directions, sliced_wasserstein};

use crate::data::Gmm;
use crate::rng::{Stream, derive};
use crate::scenario::MetricsConfig;
use ndarray::{Array2, ArrayView2, Axis};

/// Quality columns of `results.csv`, in order (DESIGN section 6).
pub const QUALITY_COLUMNS: [&str; 10] = [
    "fd",
    "mmd",
    "swd",
    "precision",
    "recall",
    "density",
    "coverage",
    "loglik",
    "modes_covered",
    "mode_tv",
];

/// Metric values of one row, by column name (absent = not applicable).
pub type Values = std::collections::BTreeMap<&'static str, f64>;

/// The reference set R with everything about it that every comparison reuses.
pub struct Reference {
    points: Array2<f64>,
    rows: Vec<Vec<f64>>,
    radii: Vec<f64>,
    bandwidth: f64,
    directions: Array2<f64>,
    nearest_k: usize,
}

impl Reference {
    /// Prepares the reference set from the test split (seeded subsample beyond `max_reference` points).
    pub fn new(test: ArrayView2<f32>, config: &MetricsConfig, seed: u64) -> Self {
        let rng = &mut derive(seed, Stream::Metrics, &[0]);
        let points = if test.nrows() > config.max_reference {
            let mut idx = rand::seq::index::sample(rng, test.nrows(), config.max_reference).into_vec();
            idx.sort_unstable();
            test.select(Axis(0), &idx).mapv(f64::from)
        } else {
            test.mapv(f64::from)
        };
        let rows: Vec<Vec<f64>> = points.rows().into_iter().map(|r| r.to_vec()).collect();
        Reference {
            radii: knn_radii(&rows, config.nearest_k),
            bandwidth: median_distance(points.view()),
            directions: directions(
                config.projections,
                points.ncols(),
                &mut derive(seed, Stream::Metrics, &[1]),
            ),
            nearest_k: config.nearest_k,
            rows,
            points,
        }
    }

    /// The reference points. Shape [n, dim].
    pub fn points(&self) -> &Array2<f64> {
        &self.points
    }

    /// Every quality metric of `generated` against this reference (density metrics only with `gmm`).
    pub fn quality(&self, generated: ArrayView2<f32>, gmm: Option<&Gmm>) -> Values {
        let g = generated.mapv(f64::from);
        let g_rows: Vec<Vec<f64>> = g.rows().into_iter().map(|r| r.to_vec()).collect();
        let mut v = Values::new();
        v.insert("fd", frechet_distance(g.view(), self.points.view()));
        v.insert("mmd", mmd2(g.view(), self.points.view(), self.bandwidth));
        v.insert(
            "swd",
            sliced_wasserstein(g.view(), self.points.view(), &self.directions),
        );
        let p = prdc(&self.rows, &self.radii, &g_rows, self.nearest_k);
        v.insert("precision", p.precision);
        v.insert("recall", p.recall);
        v.insert("density", p.density);
        v.insert("coverage", p.coverage);
        if let Some(gmm) = gmm {
            let d = density_metrics(gmm, g.view());
            v.insert("loglik", d.loglik);
            v.insert("modes_covered", d.modes_covered);
            v.insert("mode_tv", d.mode_tv);
        }
        v
    }
}
