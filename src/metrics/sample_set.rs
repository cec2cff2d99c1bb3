//! One generated sample set with everything its metrics compare it against: the reference set, the true density,
//! the training data and the classifier's view; quantities several metrics share are computed once, on demand.

use super::known_density::{DensityMetrics, density_metrics};
use super::manifold::{Prdc, prdc};
use super::training_set::TrainingSet;
use super::{Reference, Values, registry};
use crate::data::Gmm;
use ndarray::{Array2, ArrayView2};
use std::cell::OnceCell;

/// The classifier's view of a sample set and of the reference set (labelled images only).
pub struct Classified<'a> {
    /// Penultimate-layer features of the samples. Shape [n, features].
    pub features: Array2<f64>,
    /// Predicted count of each class among the samples.
    pub counts: Vec<usize>,
    /// Each sample's top-class probability.
    pub top_probability: Vec<f64>,
    /// Each sample's most probable class.
    pub predicted: Vec<usize>,
    /// The reference set's features and class counts.
    pub reference: &'a ClassifiedReference,
}

/// The classifier's view of the reference set, prepared once per run.
pub struct ClassifiedReference {
    /// Features of the reference images. Shape [n, features].
    pub features: Array2<f64>,
    /// Their mean and covariance.
    pub mean_cov: (nalgebra::DVector<f64>, nalgebra::DMatrix<f64>),
    /// Predicted count of each class among them.
    pub counts: Vec<usize>,
    /// The true class of each reference image, when known (per-class distances use it).
    pub labels: Option<Vec<usize>>,
    /// Values computed once from the reference features by the metrics that reuse them.
    pub memo: super::Memo,
}

/// A generated sample set and what its metrics compare it against.
pub struct SampleSet<'a> {
    /// The samples in f64. Shape [n, dim].
    pub generated: Array2<f64>,
    /// The samples as rows.
    pub rows: Vec<Vec<f64>>,
    /// The reference set R.
    pub reference: &'a Reference,
    /// The true density, when known.
    pub gmm: Option<&'a Gmm>,
    /// The training data the samples may copy, with its memorization threshold.
    pub training: Option<&'a TrainingSet>,
    /// The classifier's view, for labelled images.
    pub classified: Option<Classified<'a>>,
    /// The class each sample requested, for guided samples.
    pub requested: Option<&'a [usize]>,
    prdc: OnceCell<Prdc>,
    density: OnceCell<Option<DensityMetrics>>,
}

impl<'a> SampleSet<'a> {
    /// The sample set `generated` against `reference`.
    pub fn new(generated: ArrayView2<f32>, reference: &'a Reference) -> Self {
        let generated = generated.mapv(f64::from);
        SampleSet {
            rows: generated.rows().into_iter().map(|r| r.to_vec()).collect(),
            generated,
            reference,
            gmm: None,
            training: None,
            classified: None,
            requested: None,
            prdc: OnceCell::new(),
            density: OnceCell::new(),
        }
    }

    /// Precision, recall, density and coverage (computed once).
    pub fn prdc(&self) -> &Prdc {
        self.prdc.get_or_init(|| {
            let r = self.reference;
            prdc(r.rows(), r.radii(), &self.rows, r.nearest_k())
        })
    }

    /// The metrics under the true density, when it is known (computed once).
    pub fn density(&self) -> Option<&DensityMetrics> {
        self.density
            .get_or_init(|| self.gmm.map(|g| density_metrics(g, self.generated.view())))
            .as_ref()
    }

    /// Every declared metric computed from samples, for a results row (per-expert metrics excluded).
    pub fn row_values(&self) -> Values {
        self.values(|m| m.applies != super::Applies::PerExpert)
    }

    /// The per-expert metrics, for an expert's own samples against its own training data.
    pub fn expert_values(&self) -> Values {
        self.values(|m| m.applies == super::Applies::PerExpert)
    }

    /// The metrics of one family computed from samples (e.g. the classifier's, for labelled images).
    pub fn family_values(&self, family: super::Family) -> Values {
        self.values(|m| m.family == family && m.applies != super::Applies::PerExpert)
    }

    fn values(&self, keep: impl Fn(&super::Metric) -> bool) -> Values {
        registry::metrics()
            .filter(|m| keep(m))
            .filter_map(|m| match m.computation {
                super::Computation::Samples(f) => f(self).map(|v| (m.column, v)),
                super::Computation::Analysis(_) => None,
            })
            .collect()
    }
}
