//! Regression tests of issue 14: ddmsim never destroys what it did not write, never reports garbage as a result,
//! never reuses stale results or bad cache files, never panics, aborts or hangs on huge or odd input, keeps every
//! path inside its output folder, and says what went wrong in one line. One test per defect of
//! shared/spec14-tests.md; run another binary with `DDMSIM_BIN=/path/to/ddmsim cargo test --release --test safety`.

#[path = "safety/common.rs"]
mod common;
#[path = "common/external.rs"]
mod external;
#[path = "common/run_files.rs"]
mod run_files;

#[path = "safety/cache_files.rs"]
mod cache_files;
#[path = "safety/concurrency.rs"]
mod concurrency;
#[path = "safety/data_loss.rs"]
mod data_loss;
#[path = "safety/garbage.rs"]
mod garbage;
#[path = "safety/messages.rs"]
mod messages;
#[path = "safety/panics.rs"]
mod panics;
#[path = "safety/paths.rs"]
mod paths;
#[path = "safety/resources.rs"]
mod resources;
#[path = "safety/review.rs"]
mod review;
#[path = "safety/stale.rs"]
mod stale;
