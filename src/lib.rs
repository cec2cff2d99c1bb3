//! ddmsim simulates decentralized diffusion models (DDMs) trained by federations of clients with non-IID data.
//!
//! A scenario ([`scenario`]) describes the data ([`data`]), its clusters ([`cluster`]), how it is spread over
//! clients and how clients form experts ([`partition`]). Experts, a router and a monolithic baseline are trained
//! with federated averaging ([`federated`], [`ensemble`]) from hand-written networks ([`nn`]) on a diffusion
//! objective ([`diffusion`]). Samples are drawn with many routing policies ([`routing`]), scored ([`metrics`]) and
//! analysed for stability and expert-data alignment ([`analysis`]); [`experiment::run`] is the whole pipeline in
//! one function, [`store`] owns every folder ddmsim writes and the model cache, [`study`] runs settings x seeds, and [`report`] writes the
//! tables and figures.

#![warn(missing_docs)]

pub mod alloc;
pub mod analysis;
pub mod atomic;
pub mod cells;
pub mod classifier;
pub mod cluster;
pub mod data;
pub mod diffusion;
pub mod ensemble;
pub mod error;
pub mod experiment;
pub mod federated;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod hash;
pub mod interrupt;
pub mod metrics;
pub mod nn;
pub mod partition;
pub mod progress;
pub mod report;
pub mod rng;
pub mod routing;
pub mod scenario;
pub mod slurm;
pub mod store;
pub mod study;
pub mod sweep;

pub use error::{Error, Result};
pub use experiment::{RunOptions, RunOutcome, run};
