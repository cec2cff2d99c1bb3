//! Metrics, computed in f64, each declared once in its own file (see [`registry`]): quality (Fréchet distance,
//! MMD, sliced Wasserstein, precision / recall / density / coverage, KID, memorization and, with a known density,
//! log-likelihood, modes covered and mode balance), the evaluation classifier's, stability and alignment.

#[macro_use]
pub mod registry;
mod catalog;
mod memo;
mod sample_set;
mod training_set;

declare_metrics! {
    frechet,
    mmd,
    sliced,
    manifold,
    known_density,
    classified,
    conditional,
    analysed,
    kid,
    memorization,
}

pub use catalog::{Applies, Computation, Direction, Family, Metric, Values};
pub use classified::class_tv;
pub use frechet::{frechet, frechet_distance, mean_cov};
pub use known_density::{DensityMetrics, density_metrics};
pub use manifold::{Prdc, knn_radii, prdc};
pub use memo::Memo;
pub use mmd::{median_distance, mmd2};
pub use sample_set::{Classified, ClassifiedReference, SampleSet};
pub use sliced::{directions, sliced_wasserstein};
pub use training_set::{TrainingSet, nearest_distances, quantile};

use crate::rng::{Stream, derive};
use crate::scenario::MetricsConfig;
use ndarray::{Array2, ArrayView2, Axis};

/// Every metric column of `results.csv`, in order (per-expert metrics excluded).
pub fn columns() -> impl Iterator<Item = &'static str> {
    registry::metrics()
        .filter(|m| m.applies != Applies::PerExpert)
        .map(|m| m.column)
}

/// The columns of `results.csv` whose metrics belong to one of `families`, in order.
pub fn columns_of(families: &[Family]) -> Vec<&'static str> {
    columns()
        .filter(|c| families.contains(&registry::get(c).family))
        .collect()
}

/// The reference set R with everything about it that every comparison reuses.
pub struct Reference {
    points: Array2<f64>,
    labels: Option<Vec<usize>>,
    rows: Vec<Vec<f64>>,
    radii: Vec<f64>,
    bandwidth: f64,
    directions: Array2<f64>,
    nearest_k: usize,
    memo: Memo,
}

impl Reference {
    /// Prepares the reference set from the test split (seeded subsample beyond `max_reference` points).
    pub fn new(test: ArrayView2<f32>, config: &MetricsConfig, seed: u64) -> Self {
        Self::labelled(test, None, config, seed)
    }

    /// [`Reference::new`] keeping the class of each reference point from the test split's `labels`.
    pub fn labelled(test: ArrayView2<f32>, labels: Option<&[usize]>, config: &MetricsConfig, seed: u64) -> Self {
        let rng = &mut derive(seed, Stream::Metrics, &[0]);
        let (points, labels) = if test.nrows() > config.max_reference {
            let mut idx = rand::seq::index::sample(rng, test.nrows(), config.max_reference).into_vec();
            idx.sort_unstable();
            let labels = labels.map(|l| idx.iter().map(|&i| l[i]).collect());
            (test.select(Axis(0), &idx).mapv(f64::from), labels)
        } else {
            (test.mapv(f64::from), labels.map(<[usize]>::to_vec))
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
            memo: Memo::default(),
            rows,
            points,
            labels,
        }
    }

    /// The class of each reference point, when the test split is labelled and the reference was built with it.
    pub fn labels(&self) -> Option<&[usize]> {
        self.labels.as_deref()
    }

    /// The reference points. Shape [n, dim].
    pub fn points(&self) -> &Array2<f64> {
        &self.points
    }

    /// The reference rows.
    pub fn rows(&self) -> &[Vec<f64>] {
        &self.rows
    }

    /// Distance from each reference point to its k-th nearest other reference point.
    pub fn radii(&self) -> &[f64] {
        &self.radii
    }

    /// The k of the k-NN manifold metrics.
    pub fn nearest_k(&self) -> usize {
        self.nearest_k
    }

    /// The Gaussian kernel's bandwidth (median pairwise distance of R).
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// Values computed once from the reference set by the metrics that reuse them (by key).
    pub fn memo(&self) -> &Memo {
        &self.memo
    }

    /// The sliced Wasserstein projections.
    pub fn directions(&self) -> &Array2<f64> {
        &self.directions
    }
}
