//! Federated training: clients run local optimizer steps from the global weights, the server averages them.
//!
//! The round loop ([`train`]) is written once and serves experts, router and monolith alike: what differs is the
//! [`Task`] (the loss) and the clients taking part.

mod aggregate;
mod client;
mod round;

pub use aggregate::weighted_mean;
pub use client::local_update;
pub use round::{Client, Plan, RoundLog, Trained, train};

use crate::rng::Rng;

/// A trainable model: its loss on a batch of training rows, with the gradient.
pub trait Task: Sync {
    /// Number of parameters of the model.
    fn param_count(&self) -> usize;

    /// Loss on the training points `rows` (fresh noise from `rng`); writes dLoss/dParams into `grad`.
    fn loss_and_grad(&self, params: &[f32], rows: &[usize], rng: &mut Rng, grad: &mut [f32]) -> f32;
}
