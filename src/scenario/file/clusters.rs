//! The `clusters` section: how training data is grouped into clusters (the DDM data shards).

use super::data::d_components;
use serde::{Deserialize, Serialize};

/// Clustering of the training data (the DDM data shards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `kmeans` (k-means++ seeding, then Lloyd iterations) or `labels` (cluster = class label).
    #[serde(default)]
    pub method: ClusterMethod,
    /// Number of clusters for k-means (ignored by `labels`, which uses the number of classes).
    #[serde(default = "d_components")]
    pub k: usize,
    /// Upper bound on Lloyd iterations; k-means stops earlier once assignments are stable.
    #[serde(default = "d_kmeans_iterations")]
    pub max_iterations: usize,
}

/// 100 Lloyd iterations is far more than well-separated data needs.
fn d_kmeans_iterations() -> usize {
    100
}

impl Default for ClusterConfig {
    /// k-means with 8 clusters.
    fn default() -> Self {
        ClusterConfig {
            method: ClusterMethod::Kmeans,
            k: d_components(),
            max_iterations: d_kmeans_iterations(),
        }
    }
}

/// How clusters are formed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMethod {
    /// k-means on raw coordinates (DDM clusters by k-means on features).
    #[default]
    Kmeans,
    /// The data set's class labels.
    Labels,
}
