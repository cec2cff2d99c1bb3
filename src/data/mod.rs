//! Data sets: synthetic with known density, 2-D toys, bundled digits and user CSV; and the train/test split.

pub mod csv;
pub mod digits;
mod gmm;
mod natural_ids;
pub mod toys;

pub use gmm::Gmm;
pub use natural_ids::NaturalIds;

use crate::error::{Error, Result};
use crate::rng::{Stream, derive};
use crate::scenario::{DataConfig, DataKind, GmmLayout, MetricsConfig};
use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use std::path::{Path, PathBuf};

/// Points (one row each, f32 for training) with optional class labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The points. Shape [n, dim].
    pub x: Array2<f32>,
    /// Class label of each point, when the data has classes.
    pub labels: Option<Vec<usize>>,
    /// The client each point names, when a CSV column does (`natural` partitions).
    pub natural_ids: Option<NaturalIds>,
}

impl Dataset {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.nrows()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.x.nrows() == 0
    }

    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// The points at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            x: self.x.select(Axis(0), indices),
            labels: self.labels.as_ref().map(|l| indices.iter().map(|&i| l[i]).collect()),
            natural_ids: self.natural_ids.as_ref().map(|ids| ids.select(indices)),
        }
    }

    /// Number of distinct classes (largest label + 1), if labelled.
    pub fn num_classes(&self) -> Option<usize> {
        self.labels.as_ref().map(|l| l.iter().max().map_or(0, |m| m + 1))
    }
}

/// Train and test splits, plus the true density when the data is a known mixture.
#[derive(Debug, Clone)]
pub struct DataSplit {
    /// Points the clients hold.
    pub train: Dataset,
    /// Held-out points: the metrics' reference set.
    pub test: Dataset,
    /// The generating mixture, for likelihood-based metrics.
    pub density: Option<Gmm>,
}

/// Builds (or loads) the data set described by `config` and splits it; relative CSV paths resolve against
/// `base_dir`. `client_column` names the CSV column that holds each row's client (`natural` partitions): it is
/// read into [`Dataset::natural_ids`], not as a feature.
pub fn load(config: &DataConfig, client_column: Option<&str>, base_dir: &Path, seed: u64) -> Result<DataSplit> {
    let mut rng = derive(seed, Stream::Data, &[]);
    let mut density = None;
    let samples = config.samples;
    let labelled = |(x, labels): toys::Labelled| (x, Some(labels), None);
    let (x, labels, natural_ids) = match &config.kind {
        DataKind::Gmm {
            components,
            dim,
            radius,
            std,
            layout,
            weights,
        } => {
            let gmm = match layout {
                GmmLayout::Circle => Gmm::circle(*components, *dim, *radius, *std, weights),
                GmmLayout::Random => Gmm::random(*components, *dim, *radius, *std, weights, &mut rng),
            };
            let points = gmm.sample(samples, &mut rng)?;
            density = Some(gmm);
            labelled(points)
        }
        DataKind::Moons { noise } => labelled(toys::moons(samples, *noise, &mut rng)?),
        DataKind::Rings { rings, noise } => labelled(toys::rings(samples, *rings, *noise, &mut rng)?),
        DataKind::Checkerboard => labelled(toys::checkerboard(samples, &mut rng)?),
        DataKind::Spirals { arms, noise } => labelled(toys::spirals(samples, *arms, *noise, &mut rng)?),
        DataKind::Digits => labelled(digits::load()?),
        DataKind::Csv { path, label_column } => {
            let columns = csv::Columns {
                label: label_column.as_deref(),
                client: client_column,
            };
            let d = csv::load(&base_dir.join(path), columns)?;
            (d.x, d.labels, d.clients)
        }
    };
    let all = Dataset { x, labels, natural_ids };
    if all.len() < 4 {
        return Err(Error::invalid(
            "data",
            format!("needs at least 4 points to split, got {}", all.len()),
        ));
    }
    let (train, test) = split(&all, config.test_fraction, seed);
    Ok(DataSplit { train, test, density })
}

/// Shuffles (seeded) and holds out `test_fraction` of the points (at least one point on each side).
pub fn split(all: &Dataset, test_fraction: f64, seed: u64) -> (Dataset, Dataset) {
    let n = all.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut derive(seed, Stream::Split, &[]));
    let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1, n - 1);
    let (test_idx, train_idx) = order.split_at(n_test);
    (all.select(train_idx), all.select(test_idx))
}

/// The data file a scenario reads, if any (a CSV file; the digits are bundled in the binary).
pub fn input_file(config: &DataConfig, base_dir: &Path) -> Option<PathBuf> {
    match &config.kind {
        DataKind::Csv { path, .. } => Some(base_dir.join(path)),
        _ => None,
    }
}

/// SHA-256 of the data a scenario reads from outside the scenario itself: a CSV file's bytes, or the bundled
/// digits; `None` for data generated from the scenario's own settings.
pub fn source_sha256(config: &DataConfig, base_dir: &Path) -> Result<Option<String>> {
    use crate::hash::sha256_hex;
    Ok(match &config.kind {
        DataKind::Csv { path, label_column } => {
            let file = base_dir.join(path);
            csv::shape(&file, label_column.as_deref())?;
            Some(crate::hash::sha256_file(&file).map_err(|e| Error::read(&file, e))?)
        }
        DataKind::Digits => Some(sha256_hex(digits::BUNDLED)),
        _ => None,
    })
}

/// An upper bound on the points of a CSV data set and its dimension, without reading it whole.
pub fn csv_shape(config: &DataConfig, base_dir: &Path) -> Result<(f64, f64)> {
    match &config.kind {
        DataKind::Csv { path, label_column } => csv::shape(&base_dir.join(path), label_column.as_deref()),
        _ => Ok((0.0, 0.0)),
    }
}

/// Refuses data the metrics and models cannot use: constant training data (every point the same), or a held-out
/// split too small for the k-nearest-neighbour metrics.
pub fn check_usable(split: &DataSplit, metrics: &MetricsConfig) -> Result<()> {
    let x = split.train.x.mapv(f64::from);
    let spread: f64 = x.var_axis(Axis(0), 0.0).sum();
    if spread.is_nan() || spread <= 0.0 {
        return Err(Error::invalid(
            "data",
            format!(
                "the training data is constant (all {} points are the same), so there is no distribution to learn \
                 or to measure",
                split.train.len()
            ),
        ));
    }
    let needed = metrics.nearest_k.saturating_add(1);
    if split.test.len() < needed {
        return Err(Error::invalid(
            "data.test_fraction",
            format!(
                "the held-out split has {} points, but the metrics need at least metrics.nearest_k + 1 = {needed}: \
                 raise data.test_fraction or the number of points",
                split.test.len()
            ),
        ));
    }
    Ok(())
}
