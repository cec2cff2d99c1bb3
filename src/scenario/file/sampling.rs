//! The `sampling` section: sampler steps, samples per policy, and experts lost at sampling time.

use crate::scenario::LostExperts;
use serde::{Deserialize, Serialize};

/// Sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// Number of sampler steps from t = 1 to 0 (DDM used 50).
    #[serde(default = "d_steps")]
    pub steps: usize,
    /// Number of samples generated per policy.
    #[serde(default = "d_sampling_samples")]
    pub samples: usize,
    /// Experts removed at sampling time (a list of indices, or a count lost in a seeded order); routed policies
    /// renormalise over the rest. Empty (the default): none, and the key is left out of resolved scenarios.
    #[serde(default, skip_serializing_if = "LostExperts::is_default")]
    pub lost_experts: LostExperts,
    /// Classifier-free guidance of conditional denoisers (none: unconditional sampling; left out of resolved
    /// scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<GuidanceConfig>,
}

/// Classifier-free guidance: each sample requests a class, and each conditional denoiser that runs predicts
/// u + w (c - u) from its unconditional (u) and conditional (c) predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuidanceConfig {
    /// The guidance scale w: 0 is unconditional sampling, 1 plain conditional sampling, above 1 guided.
    pub scale: f64,
    /// The class each sample requests.
    #[serde(default)]
    pub classes: RequestedClasses,
    /// Where u + w (c - u) is formed.
    #[serde(default)]
    pub apply: GuidanceApply,
}

/// The classes samples request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RequestedClasses {
    /// `balanced`: sample i requests class i modulo the number of classes.
    #[default]
    #[serde(serialize_with = "balanced")]
    Balanced,
    /// A list of classes, cycled over the samples (sample i requests entry i modulo its length).
    List(Vec<usize>),
}

/// Writes [`RequestedClasses::Balanced`] as the word `balanced`.
fn balanced<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("balanced")
}

/// How `classes` may be written: a word or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum ClassesText {
    Word(String),
    List(Vec<usize>),
}

impl<'de> Deserialize<'de> for RequestedClasses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = "`balanced` or a list of class numbers";
        match ClassesText::deserialize(d).map_err(|_| serde::de::Error::custom(format!("expected {expected}")))? {
            ClassesText::Word(word) if word == "balanced" => Ok(RequestedClasses::Balanced),
            ClassesText::Word(word) => Err(serde::de::Error::custom(format!("expected {expected}, got `{word}`"))),
            ClassesText::List(list) => Ok(RequestedClasses::List(list)),
        }
    }
}

/// Where guidance is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuidanceApply {
    /// Each expert that runs forms u_j + w (c_j - u_j); the policy combines those.
    #[default]
    PerExpert,
    /// The mixture's unconditional prediction U = sum_j p_j(none) u_j and conditional C = sum_j p_j(c) c_j give
    /// U + w (C - U); equal to `per_expert` when the router ignores the class.
    Combined,
}

/// DDM's evaluation used 50 steps.
fn d_steps() -> usize {
    50
}
/// 2,000 samples keep metric noise small for 2-D data.
fn d_sampling_samples() -> usize {
    2000
}

impl Default for SamplingConfig {
    /// 50 steps, 2,000 samples, every expert.
    fn default() -> Self {
        SamplingConfig {
            steps: d_steps(),
            samples: d_sampling_samples(),
            lost_experts: LostExperts::default(),
            guidance: None,
        }
    }
}
