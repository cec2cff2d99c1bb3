//! The `experts` section: how clients are grouped into experts.

use serde::{Deserialize, Serialize};

/// How clients are grouped into experts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpertsConfig {
    /// `majority` (join the expert of the client's majority cluster) or `random` (control that breaks alignment).
    #[serde(default)]
    pub grouping: Grouping,
}

impl Default for ExpertsConfig {
    /// Majority grouping.
    fn default() -> Self {
        ExpertsConfig {
            grouping: Grouping::Majority,
        }
    }
}

/// Client-to-expert grouping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// Each client joins the expert of its majority cluster; one expert per cluster.
    #[default]
    Majority,
    /// Each client joins one of as many experts as clusters, uniformly at random.
    Random,
}
