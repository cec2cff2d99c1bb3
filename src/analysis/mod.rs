//! The paper's analyses of a sampling policy beyond quality: stability (trajectory sensitivity) and expert-data
//! alignment (cluster distance, per-expert accuracy, disagreement). Definitions: DESIGN section 6.

mod alignment;
mod expert_error;
mod policy;
mod stability;
pub mod stats;
mod subject;
#[cfg(test)]
mod testing;

pub use alignment::{Alignment, SampleDisagreement, StepAlignment, alignment};
pub use expert_error::{BinError, ErrorCell, HeldOut, cluster_owners, held_out};
pub use policy::{AnalysisSetup, PolicyAnalysis, analyse_policy};
pub use stability::{STABILITY_COLUMNS, Stability, StabilitySettings, StepStability, stability};
pub use subject::{Subject, over_chunks};

/// Alignment columns of `results.csv`, in order (DESIGN section 6, plus the centroid gap and the mixture's own
/// error on held-out data).
pub const ALIGNMENT_COLUMNS: [&str; 10] = [
    "align_gap",
    "align_gap_centroid",
    "align_nearest_rate",
    "err_selected",
    "err_nonselected",
    "err_oracle",
    "err_mixture",
    "disagreement",
    "angle_deg",
    "disagreement_spearman",
];
