//! Federated training: clients run local optimizer steps from the global weights, the server combines them.
//!
//! The round loop ([`train`]) is written once and serves experts, router and monolith alike: what differs is the
//! [`Task`] (the loss), the clients taking part, and the plan's strategy, whose parts are small and pure where
//! they can be: client selection (`selection`), the local objective ([`Correction`], SCAFFOLD's control variates
//! in `scaffold`), the aggregation ([`aggregate`], robust rules in `robust`) and the server's optimizer
//! ([`ServerOptimizer`]).

mod aggregate;
mod client;
mod cost;
mod faults;
mod fedavg;
mod participation;
mod robust;
mod round;
pub(crate) mod scaffold;
mod selection;
mod server;
mod streamed;

pub use aggregate::{RunningMean, aggregate, weighted_mean};
pub use client::{Correction, full_gradient, local_update};
pub use cost::RoundCost;
pub use faults::{Faults, Work};
pub use participation::Participation;
pub use round::{Client, Plan, RoundLog, Trained, train, train_batched};
pub use server::ServerOptimizer;
pub use streamed::{STREAM_CHUNK, streams};

use crate::rng::Rng;
use crate::scenario::OptimizerConfig;

/// A trainable model: its loss on a batch of training rows, with the gradient.
pub trait Task: Sync {
    /// Number of parameters of the model.
    fn param_count(&self) -> usize;

    /// Floating-point operations of one training row, forward and backward (the cost accounting's unit).
    fn flops_per_row(&self) -> u64;

    /// Loss on the training points `rows` (fresh noise from `rng`); writes dLoss/dParams into `grad`.
    fn loss_and_grad(&self, params: &[f32], rows: &[usize], rng: &mut Rng, grad: &mut [f32]) -> f32;
}

/// One client of a round's local updates run together: its training rows and its random stream for the round.
pub struct ClientWork<'a> {
    /// Rows of the task's data it holds.
    pub rows: &'a [usize],
    /// Its random stream (mini-batches and noise), derived as the one-by-one path derives it.
    pub rng: Rng,
}

/// What a client's local update returns: its weights and its mean loss (or the first non-finite loss as `Err`).
pub type LocalResult = (Vec<f32>, std::result::Result<f32, f32>);

/// Runs the local updates of one round's clients together (batched on a GPU) instead of one by one on the CPU.
pub trait BatchedLocal: Sync {
    /// Each client's result after `steps` steps of a fresh `optimizer` from `global`, on mini-batches of
    /// `batch_size` drawn from its own stream exactly as [`local_update`] draws them.
    fn local_updates(
        &self,
        global: &[f32],
        clients: &mut [ClientWork],
        steps: usize,
        batch_size: usize,
        optimizer: &OptimizerConfig,
    ) -> crate::error::Result<Vec<LocalResult>>;
}
