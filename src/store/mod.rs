//! The run store: the one owner of every folder ddmsim writes. Run folders are staged and swapped in whole,
//! sweep and study folders are updated by publishing staged files, every folder carries a `.ddmsim` marker
//! listing what ddmsim wrote, paths that hold the user's inputs (or the user's own files) are refused, and
//! trained models are cached in verified entries. Liveness of a writer is a file lock, never a process id.

pub mod cache;
pub mod claim;
mod guard;
mod live;
mod lock;
mod marker;
pub mod models;
mod record;
mod staging;

pub use cache::{Lookup, ModelCache};
pub use guard::{Protected, absolute, check_target};
pub use live::{LiveFolder, LiveStaging, Publishing};
pub use lock::{FileLock, remove_abandoned};
pub use marker::{Existing, FolderKind, MARKER, Marker, inspect};
pub use record::{
    ClassifierRecord, CostTotals, DataSizes, FaultsRecord, Parameters, PartitionRecord, RunRecord, TrainingRecord,
    holds_results_of, inputs_sha256_with,
};
pub use staging::{STAGING_INFIX, Staging, TargetLock, parent_of};

use std::path::{Path, PathBuf};

/// The default model cache of an output folder: `.ddmsim-cache` beside it.
pub fn default_cache_dir(out_dir: &Path) -> PathBuf {
    parent_of(out_dir).join(".ddmsim-cache")
}
