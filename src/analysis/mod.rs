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
pub use stability::{Stability, StabilitySettings, StepStability, stability};
pub use subject::{Subject, over_chunks};
