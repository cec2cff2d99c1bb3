//! The `metrics` section: settings of the quality, stability and alignment metrics and the evaluation
//! classifier.

use super::d_true;
use serde::{Deserialize, Serialize};

/// Settings of the quality, stability and alignment metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Compute the stability metrics (one-step Lipschitz, amplification, flips, convergence) per policy.
    #[serde(default = "d_true")]
    pub stability: bool,
    /// Compute the alignment analyses (cluster distance, per-expert accuracy, disagreement) per routed policy.
    #[serde(default = "d_true")]
    pub alignment: bool,
    /// Small perturbation, as a multiple of the data scale (root mean per-coordinate variance of the training data).
    #[serde(default = "d_perturbation_small")]
    pub perturbation_small: f64,
    /// Large perturbation, as a multiple of the data scale.
    #[serde(default = "d_perturbation_large")]
    pub perturbation_large: f64,
    /// Nearest training points averaged in the distance from x0_hat to an expert's data.
    #[serde(default = "d_alignment_neighbors")]
    pub alignment_neighbors: usize,
    /// Training points kept per expert for that distance (seeded subsample beyond it).
    #[serde(default = "d_alignment_points")]
    pub alignment_points: usize,
    /// Timestep bins of the per-expert error on noised held-out data.
    #[serde(default = "d_error_bins")]
    pub error_bins: usize,
    /// Held-out points used for the per-expert error (seeded subsample of the test split beyond it).
    #[serde(default = "d_error_points")]
    pub error_points: usize,
    /// k of the k-nearest-neighbour manifolds of precision, recall, density and coverage (Naeem et al. use 5).
    #[serde(default = "d_nearest_k")]
    pub nearest_k: usize,
    /// Number of random projections of the sliced Wasserstein distance.
    #[serde(default = "d_projections")]
    pub projections: usize,
    /// Largest reference set used by the metrics (the test split is subsampled, seeded, beyond it).
    #[serde(default = "d_max_reference")]
    pub max_reference: usize,
    /// Quantile of held-out-to-training nearest-neighbour distances below which a generated sample counts as
    /// memorized, in (0, 1). Written out only when it differs from the default, so resolved scenarios from before
    /// the key existed keep their bytes (and their cache keys).
    #[serde(
        default = "d_memorization_quantile",
        skip_serializing_if = "is_default_memorization_quantile"
    )]
    pub memorization_quantile: f64,
    /// The evaluation classifier of labelled image data, whose features give `fd_classifier` (FID-like).
    #[serde(default)]
    pub classifier: ClassifierConfig,
}

/// The evaluation classifier: an MLP trained on the labelled training split only (never on generated data),
/// seeded and cached; its last hidden layer is the feature space of `fd_classifier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Train it and report `fd_classifier`, `class_tv`, `confidence`: `true`, `false`, or absent for "with the
    /// bundled digits only".
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Hidden widths; the last one is the feature dimension.
    #[serde(default = "d_classifier_hidden")]
    pub hidden: Vec<usize>,
    /// Passes over the training split.
    #[serde(default = "d_classifier_epochs")]
    pub epochs: usize,
    /// Images per Adam step.
    #[serde(default = "d_classifier_batch")]
    pub batch_size: usize,
    /// Adam learning rate.
    #[serde(default = "d_classifier_lr")]
    pub lr: f64,
}

/// Two hidden layers; 64 features, like the images' 64 pixels.
fn d_classifier_hidden() -> Vec<usize> {
    vec![256, 64]
}
/// Enough passes for the digits to be learnt well (test accuracy reported by every run).
fn d_classifier_epochs() -> usize {
    60
}
/// A common minibatch size.
fn d_classifier_batch() -> usize {
    64
}
/// Adam's usual rate for small MLPs.
fn d_classifier_lr() -> f64 {
    1e-3
}

impl Default for ClassifierConfig {
    /// On for digits only; [256, 64], 60 epochs, batches of 64, Adam at 1e-3.
    fn default() -> Self {
        ClassifierConfig {
            enabled: None,
            hidden: d_classifier_hidden(),
            epochs: d_classifier_epochs(),
            batch_size: d_classifier_batch(),
            lr: d_classifier_lr(),
        }
    }
}

/// Naeem et al. (2020) recommend k = 5.
fn d_nearest_k() -> usize {
    5
}
/// 1e-3 of the data scale: the smooth part of the dynamics (DESIGN section 6).
fn d_perturbation_small() -> f64 {
    1e-3
}
/// 1e-1 of the data scale: large enough to cross routing boundaries (DESIGN section 6).
fn d_perturbation_large() -> f64 {
    1e-1
}
/// Mean distance to the 5 nearest training points (DESIGN section 6).
fn d_alignment_neighbors() -> usize {
    5
}
/// 1,000 points per expert keep the distance exact to a few percent and cheap at every step.
fn d_alignment_points() -> usize {
    1000
}
/// Ten bins of width 0.1 in t.
fn d_error_bins() -> usize {
    10
}
/// 2,000 held-out points: 200 per bin and at least dozens per cluster.
fn d_error_points() -> usize {
    2000
}
/// 128 directions estimate SW2 to about 1 % in low dimension.
fn d_projections() -> usize {
    128
}
/// 4,000 points: the default test split, and O(n^2) metrics stay fast.
fn d_max_reference() -> usize {
    4000
}
/// 1 %: a generated sample nearer to a training point than 99 % of held-out points are counts as a copy.
fn d_memorization_quantile() -> f64 {
    0.01
}
/// Whether `q` is the default (compared bit for bit, so any other value, NaN included, is written out).
fn is_default_memorization_quantile(q: &f64) -> bool {
    q.to_bits() == d_memorization_quantile().to_bits()
}

impl Default for MetricsConfig {
    /// Stability and alignment on; k = 5, 128 projections, at most 4,000 reference points.
    fn default() -> Self {
        MetricsConfig {
            stability: true,
            alignment: true,
            perturbation_small: d_perturbation_small(),
            perturbation_large: d_perturbation_large(),
            alignment_neighbors: d_alignment_neighbors(),
            alignment_points: d_alignment_points(),
            error_bins: d_error_bins(),
            error_points: d_error_points(),
            nearest_k: d_nearest_k(),
            projections: d_projections(),
            max_reference: d_max_reference(),
            memorization_quantile: d_memorization_quantile(),
            classifier: ClassifierConfig::default(),
        }
    }
}
