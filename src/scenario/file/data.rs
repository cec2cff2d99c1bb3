//! The `data` section: which data set (`kind` and its own settings), how many points, and the held-out share.
//!
//! In a file every key sits beside `kind` (`data: { kind: moons, noise: 0.1, samples: 500 }`); in serde's form the
//! kind's own settings are the `kind` value and the keys every kind shares sit beside it (see
//! [`crate::scenario::yaml`] for the rewrite between the two).

use serde::{Deserialize, Serialize};

/// The data set and its train/test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DataFields", into = "DataFields")]
pub struct DataConfig {
    /// Which data set, with its own settings.
    pub kind: DataKind,
    /// Total number of points drawn (train + test). Used only by the kinds that draw points
    /// ([`DataKind::draws_points`]); `digits` and `csv` bring their own points, refuse the key and leave it out of
    /// the resolved scenario (for them it holds the default and is never read).
    pub samples: usize,
    /// Share of points held out as the test (reference) split.
    pub test_fraction: f64,
}

impl Default for DataConfig {
    /// The paper-like mixture: 8 well-separated 2-D components, 20,000 points, a fifth held out.
    fn default() -> Self {
        DataConfig {
            kind: DataKind::default(),
            samples: d_samples(),
            test_fraction: d_test_fraction(),
        }
    }
}

/// 20,000 points: enough for stable metrics at laptop cost.
fn d_samples() -> usize {
    20_000
}
/// 20 % of the data is held out as the metric reference set.
fn d_test_fraction() -> f64 {
    0.2
}

impl DataConfig {
    /// The keys every kind shares, beside `kind` (the kinds that bring their own points take only `test_fraction`).
    pub(crate) const COMMON_KEYS: [&str; 2] = ["samples", "test_fraction"];

    /// The keys a data section of the kind named `name` takes besides `kind`, in the file's order, from the kind's
    /// own keys in serde's order: the kind's keys, then `samples` (for kinds that draw points) and
    /// `test_fraction`, except that `samples` comes just before `noise`. This is the order of the files written
    /// before the shared keys were split out, kept so resolved scenarios (and the cache keys hashed from them)
    /// stay byte for byte the same.
    pub(crate) fn file_keys(name: &str, own: Vec<String>) -> Vec<String> {
        let mut keys = own;
        if !DataKind::OWN_POINTS.contains(&name) {
            let at = keys.iter().position(|k| k == "noise").unwrap_or(keys.len());
            keys.insert(at, "samples".into());
        }
        keys.push("test_fraction".into());
        keys
    }
}

/// Data sets; the `kind` key selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataKind {
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
    },
    /// Two interleaved half circles (2-D).
    Moons {
        /// Standard deviation of the Gaussian noise added to each point.
        #[serde(default = "d_toy_noise")]
        noise: f64,
    },
    /// Concentric rings (2-D); the ring index is the label.
    Rings {
        /// Number of rings.
        #[serde(default = "d_rings")]
        rings: usize,
        /// Standard deviation of the radial noise.
        #[serde(default = "d_toy_noise")]
        noise: f64,
    },
    /// 4x4 checkerboard on [-2, 2]^2 (2-D); the occupied square is the label.
    Checkerboard,
    /// Interleaved Archimedean spirals (2-D); the arm is the label.
    Spirals {
        /// Number of arms.
        #[serde(default = "d_arms")]
        arms: usize,
        /// Standard deviation of the Gaussian noise.
        #[serde(default = "d_toy_noise")]
        noise: f64,
    },
    /// The bundled UCI handwritten digits (1,797 images of 8x8 pixels scaled to [-1, 1], labels 0..9).
    Digits,
    /// A user CSV file with a header row and numeric columns.
    Csv {
        /// Path of the file, relative to the scenario file's folder unless absolute.
        path: String,
        /// Name of the column holding class labels (any text); absent means no labels.
        #[serde(default)]
        label_column: Option<String>,
    },
}

impl Default for DataKind {
    /// 8 components on a circle of radius 4, std 0.35, in 2-D.
    fn default() -> Self {
        DataKind::Gmm {
            components: d_components(),
            dim: d_dim(),
            radius: d_radius(),
            std: d_std(),
            layout: GmmLayout::Circle,
            weights: Vec::new(),
        }
    }
}

impl DataKind {
    /// The `kind:` names of the kinds that bring their own points (see [`DataKind::draws_points`]).
    const OWN_POINTS: [&str; 2] = ["digits", "csv"];

    /// Whether this kind draws `samples` points; `digits` (all 1,797 images) and `csv` (every row) bring their own.
    pub fn draws_points(&self) -> bool {
        !matches!(self, DataKind::Digits | DataKind::Csv { .. })
    }

    /// Whether the points are read from a user's file (`csv`), whose bytes the scenario does not fix.
    pub fn reads_file(&self) -> bool {
        matches!(self, DataKind::Csv { .. })
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

/// The data section in serde's form: `samples` is optional, since the kinds that bring their own points refuse it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFields {
    kind: DataKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    samples: Option<usize>,
    #[serde(default = "d_test_fraction")]
    test_fraction: f64,
}

impl TryFrom<DataFields> for DataConfig {
    type Error = String;

    fn try_from(fields: DataFields) -> Result<Self, String> {
        let DataFields {
            kind,
            samples,
            test_fraction,
        } = fields;
        if samples.is_some() && !kind.draws_points() {
            let own = match kind {
                DataKind::Digits => "`kind: digits` uses all 1,797 bundled images",
                _ => "`kind: csv` uses every row of its file",
            };
            // "unknown field `samples`" first, so the error is reported at `data.samples` (see `yaml::typed`).
            return Err(format!(
                "unknown field `samples`: {own}, so it takes no `samples` (only `test_fraction`)"
            ));
        }
        Ok(DataConfig {
            kind,
            samples: samples.unwrap_or_else(d_samples),
            test_fraction,
        })
    }
}

impl From<DataConfig> for DataFields {
    fn from(config: DataConfig) -> Self {
        DataFields {
            samples: config.kind.draws_points().then_some(config.samples),
            kind: config.kind,
            test_fraction: config.test_fraction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind: its `kind:` name and whether it draws points agree with [`DataKind::OWN_POINTS`].
    #[test]
    fn own_points_names_the_kinds_that_do_not_draw_points() {
        let kinds = [
            DataKind::default(),
            DataKind::Moons { noise: 0.1 },
            DataKind::Rings { rings: 2, noise: 0.1 },
            DataKind::Checkerboard,
            DataKind::Spirals { arms: 2, noise: 0.1 },
            DataKind::Digits,
            DataKind::Csv {
                path: "a.csv".into(),
                label_column: None,
            },
        ];
        for kind in kinds {
            let name = match serde_norway::to_value(&kind).unwrap() {
                serde_norway::Value::String(name) => name,
                serde_norway::Value::Tagged(tagged) => tagged.tag.to_string().trim_start_matches('!').to_string(),
                other => panic!("{other:?}"),
            };
            assert_eq!(
                kind.draws_points(),
                !DataKind::OWN_POINTS.contains(&name.as_str()),
                "{name}"
            );
        }
    }

    #[test]
    fn file_keys_keep_the_order_of_the_files() {
        let keys = |name: &str, own: &[&str]| DataConfig::file_keys(name, own.iter().map(|k| k.to_string()).collect());
        assert_eq!(keys("moons", &["noise"]), ["samples", "noise", "test_fraction"]);
        assert_eq!(
            keys("rings", &["rings", "noise"]),
            ["rings", "samples", "noise", "test_fraction"]
        );
        assert_eq!(
            keys("gmm", &["std", "weights"]),
            ["std", "weights", "samples", "test_fraction"]
        );
        assert_eq!(keys("checkerboard", &[]), ["samples", "test_fraction"]);
        assert_eq!(keys("digits", &[]), ["test_fraction"]);
        assert_eq!(
            keys("csv", &["path", "label_column"]),
            ["path", "label_column", "test_fraction"]
        );
    }
}
