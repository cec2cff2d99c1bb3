//! The `data` section: which data set, how many points, and the held-out share.

use serde::{Deserialize, Serialize};

/// Data sets; the `kind` key selects the variant (see [`crate::scenario::yaml`] for the file form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataConfig {
    /// Isotropic Gaussian mixture with a known density.
    Gmm {
        /// Number of mixture components.
        #[serde(default = "d_components")]
        components: usize,
        /// Dimension of the data.
        #[serde(default = "d_dim")]
        dim: usize,
        /// Distance of the component means from the origin.
        #[serde(default = "d_radius")]
        radius: f64,
        /// Standard deviation of every component (isotropic).
        #[serde(default = "d_std")]
        std: f64,
        /// Placement of the means: evenly on a circle in the first two coordinates, or random on the sphere.
        #[serde(default)]
        layout: GmmLayout,
        /// Mixture weights (normalised); empty means equal weights.
        #[serde(default)]
        weights: Vec<f64>,
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Share of points held out as the test (reference) split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// Two interleaved half circles (2-D).
    Moons {
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Standard deviation of the Gaussian noise added to each point.
        #[serde(default = "d_toy_noise")]
        noise: f64,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// Concentric rings (2-D); the ring index is the label.
    Rings {
        /// Number of rings.
        #[serde(default = "d_rings")]
        rings: usize,
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Standard deviation of the radial noise.
        #[serde(default = "d_toy_noise")]
        noise: f64,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// 4x4 checkerboard on [-2, 2]^2 (2-D); the occupied square is the label.
    Checkerboard {
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// Interleaved Archimedean spirals (2-D); the arm is the label.
    Spirals {
        /// Number of arms.
        #[serde(default = "d_arms")]
        arms: usize,
        /// Total number of points drawn (train + test).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Standard deviation of the Gaussian noise.
        #[serde(default = "d_toy_noise")]
        noise: f64,
        /// Share of points held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// The bundled UCI handwritten digits (1,797 images of 8x8 pixels scaled to [-1, 1], labels 0..9).
    Digits {
        /// Share of images held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
    /// A user CSV file with a header row and numeric columns.
    Csv {
        /// Path of the file, relative to the scenario file's folder unless absolute.
        path: String,
        /// Name of the column holding class labels (any text); absent means no labels.
        #[serde(default)]
        label_column: Option<String>,
        /// Share of rows held out as the test split.
        #[serde(default = "d_test_fraction")]
        test_fraction: f64,
    },
}

impl Default for DataConfig {
    /// The paper-like mixture: 8 well-separated 2-D components.
    fn default() -> Self {
        DataConfig::Gmm {
            components: d_components(),
            dim: d_dim(),
            radius: d_radius(),
            std: d_std(),
            layout: GmmLayout::Circle,
            weights: Vec::new(),
            samples: d_samples(),
            test_fraction: d_test_fraction(),
        }
    }
}

/// Placement of mixture means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GmmLayout {
    /// Evenly spaced on a circle in the first two coordinates (well separated, easy to picture).
    #[default]
    Circle,
    /// Uniform directions on the sphere of the given radius (seeded).
    Random,
}

/// Eight clusters, as in the DDM and Paris systems.
pub(super) fn d_components() -> usize {
    8
}
/// Two dimensions, so samples can be plotted over the true density.
fn d_dim() -> usize {
    2
}
/// Radius 4 with std 0.35 keeps the modes well separated (the independent probe's setting).
fn d_radius() -> f64 {
    4.0
}
/// See `d_radius`.
fn d_std() -> f64 {
    0.35
}
/// 20,000 points: enough for stable metrics at laptop cost.
fn d_samples() -> usize {
    20_000
}
/// 20 % of the data is held out as the metric reference set.
fn d_test_fraction() -> f64 {
    0.2
}
/// Small noise keeps the toy shapes recognisable.
fn d_toy_noise() -> f64 {
    0.05
}
/// Two rings, the classic toy.
fn d_rings() -> usize {
    2
}
/// Two arms, the classic toy.
fn d_arms() -> usize {
    2
}
