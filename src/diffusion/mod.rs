//! Diffusion: objectives (flow matching, DDPM), schedules, samplers, and the denoiser trait they drive.
//!
//! The sampler never knows routing exists: a routed mixture of experts is just another [`Denoiser`].

pub mod guidance;
mod model;
mod objective;
mod on_device;
pub mod sampler;
pub mod schedule;

pub use guidance::{Branch, Guidance, Guided};
pub use model::{Conditioning, DenoiserModel, DenoiserTask, forward_noised};
pub use objective::{NoisedBatch, Objective};
pub use on_device::{DeviceDenoiser, LoadedNets};

use ndarray::{Array2, ArrayView2};

/// Where in sampling a batch is evaluated: the network time, the sampler step, and the global id of the batch's
/// first row (rows are consecutive). Stochastic routing keys its draws on (step, row), so a sample's draws do not
/// depend on how rows are split into chunks or threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct At {
    /// Network time in [0, 1].
    pub t: f64,
    /// Sampler step (0 = first, at t = 1).
    pub step: usize,
    /// Sampler steps of the trajectory the batch is on (0: not on a trajectory, e.g. noised held-out points).
    pub steps: usize,
    /// Global id of the batch's first row.
    pub first_row: usize,
    /// Which set the rows belong to (guidance looks up a row's requested class in it).
    pub rows: Rows,
}

/// The sets of rows a denoiser is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rows {
    /// The samples (row i of the sampler's noise).
    #[default]
    Samples,
    /// The noised held-out points of the alignment analyses.
    HeldOut,
}

impl At {
    /// Time `t` at step 0 for rows starting at 0 (for callers outside a sampler).
    pub fn time(t: f64) -> Self {
        At {
            t,
            step: 0,
            steps: 0,
            first_row: 0,
            rows: Rows::Samples,
        }
    }
}

/// Anything that predicts the objective's target (velocity or epsilon) for a batch at network time t in [0, 1].
pub trait Denoiser: Sync {
    /// Prediction for every row of `x`. Shapes: x [n, dim] -> [n, dim].
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32>;

    /// Prediction for every row of a whole sample set (row r has the global id `at.first_row + r`): by default
    /// [`Denoiser::predict`] on chunks of [`sampler::CHUNK`] rows in parallel. An override may batch work across
    /// chunks (a routed mixture groups rows by expert) but must return, row for row, what the default returns.
    fn predict_all(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        sampler::predict_in_chunks(self, x, at)
    }
}
