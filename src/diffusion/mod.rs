//! Diffusion: objectives (flow matching, DDPM), schedules, samplers, and the denoiser trait they drive.
//!
//! The sampler never knows routing exists: a routed mixture of experts is just another [`Denoiser`].

mod model;
mod objective;
pub mod sampler;
pub mod schedule;

pub use model::{DenoiserModel, DenoiserTask, forward_noised};
pub use objective::{NoisedBatch, Objective};

use ndarray::{Array2, ArrayView2};

/// Anything that predicts the objective's target (velocity or epsilon) for a batch at network time t in [0, 1].
pub trait Denoiser: Sync {
    /// Prediction for every row of `x`. Shapes: x [n, dim] -> [n, dim].
    fn predict(&self, x: ArrayView2<f32>, t: f64) -> Array2<f32>;
}
