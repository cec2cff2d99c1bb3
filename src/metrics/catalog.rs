//! What a metric is: one declaration (column, title, direction, applicability, description, computation) from
//! which every table, summary, figure and CSV header follows, and the checked map of a row's values.

use super::sample_set::SampleSet;
use std::collections::BTreeMap;

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Lower values are better (distances, error rates).
    Lower,
    /// Higher values are better (likelihood, coverage).
    Higher,
    /// Describes the run without a better side (e.g. alignment diagnostics).
    Neither,
}

/// The block of the terminal table and of the report a metric belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Sample quality against held-out data.
    Quality,
    /// Scores from the evaluation classifier (labelled images).
    Classifier,
    /// Trajectory stability.
    Stability,
    /// Expert-data alignment.
    Alignment,
}

/// Where a metric has a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Every row of the results table.
    Always,
    /// Data with a known density (Gaussian mixtures).
    KnownDensity,
    /// Labelled images scored by the evaluation classifier.
    Classified,
    /// Policies (not reference rows) with the stability analysis on.
    Stability,
    /// Routed policies with the stability analysis on.
    RoutedStability,
    /// Routed policies with the alignment analysis on.
    Alignment,
    /// Each expert sampling alone, against its own training data (the per-expert table).
    PerExpert,
    /// Guided samples (`sampling.guidance`), each requesting a class; the column is left out of tables where
    /// no row has a value, so unguided runs keep their tables.
    Guided,
}

impl Applies {
    /// A short phrase for documentation and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Applies::Always => "every row",
            Applies::KnownDensity => "known densities (Gaussian mixtures)",
            Applies::Classified => "labelled images (the evaluation classifier)",
            Applies::Stability => "policies, with metrics.stability",
            Applies::RoutedStability => "routed policies, with metrics.stability",
            Applies::Alignment => "routed policies, with metrics.alignment",
            Applies::PerExpert => "each expert alone (experts.csv)",
            Applies::Guided => "guided samples (sampling.guidance)",
        }
    }
}

/// How a metric's value comes about.
#[derive(Clone, Copy)]
pub enum Computation {
    /// From a sample set against the reference (`None`: not applicable to this set).
    Samples(fn(&SampleSet) -> Option<f64>),
    /// Set by the named analysis of a policy's trajectories (the `analysis` module).
    Analysis(&'static str),
}

impl std::fmt::Debug for Computation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Computation::Samples(_) => f.write_str("Samples"),
            Computation::Analysis(name) => write!(f, "Analysis({name})"),
        }
    }
}

/// One metric, declared once.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Column name in every table and CSV header.
    pub column: &'static str,
    /// Human name for axes and headings.
    pub title: &'static str,
    /// Which way it improves.
    pub direction: Direction,
    /// Its block.
    pub family: Family,
    /// Where it has a value.
    pub applies: Applies,
    /// A key metric: ranked in the report's reading, drawn against the groups, and given a table of its own.
    pub key: bool,
    /// One or two sentences for reports and the README.
    pub description: &'static str,
    /// How it is computed.
    pub computation: Computation,
}

impl Metric {
    /// "(lower is better)", "(higher is better)" or "".
    pub fn direction_note(&self) -> &'static str {
        match self.direction {
            Direction::Lower => "lower is better",
            Direction::Higher => "higher is better",
            Direction::Neither => "descriptive",
        }
    }

    /// Whether `a` is better than `b` by this metric (never for descriptive metrics).
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.direction {
            Direction::Lower => a < b,
            Direction::Higher => a > b,
            Direction::Neither => false,
        }
    }
}

/// Metric values of one row, by declared column (absent = not applicable). Inserting a column that no
/// declaration names is a programming error and panics, so a metric can never be silently dropped from tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values(BTreeMap<&'static str, f64>);

impl Values {
    /// No values.
    pub fn new() -> Self {
        Values(BTreeMap::new())
    }

    /// Sets `column` (a declared metric) to `value`.
    pub fn insert(&mut self, column: &'static str, value: f64) {
        assert!(
            super::registry::find(column).is_some(),
            "metric `{column}` is not declared in metrics::registry"
        );
        self.0.insert(column, value);
    }
}

impl std::ops::Deref for Values {
    type Target = BTreeMap<&'static str, f64>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Extend<(&'static str, f64)> for Values {
    fn extend<I: IntoIterator<Item = (&'static str, f64)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Values {
    type Item = (&'static str, f64);
    type IntoIter = std::collections::btree_map::IntoIter<&'static str, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a &'static str, &'a f64);
    type IntoIter = std::collections::btree_map::Iter<'a, &'static str, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<const N: usize> From<[(&'static str, f64); N]> for Values {
    fn from(pairs: [(&'static str, f64); N]) -> Self {
        let mut v = Values::new();
        v.extend(pairs);
        v
    }
}

impl FromIterator<(&'static str, f64)> for Values {
    fn from_iter<I: IntoIterator<Item = (&'static str, f64)>>(iter: I) -> Self {
        let mut v = Values::new();
        v.extend(iter);
        v
    }
}
