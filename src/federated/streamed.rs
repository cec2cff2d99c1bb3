//! A round whose updates are aggregated as they arrive: the participants run in chunks of a fixed size, and each
//! chunk's accepted updates are added into the running mean in client order before the next chunk starts. Peak
//! memory then follows the chunk, not the cohort, and the sums are those of the collected mean, byte for byte.

use super::aggregate::RunningMean;
use super::fedavg::{States, Taken, local_round, receive, server_clip};
use super::participation::Participation;
use super::round::{Client, Plan};
use super::{BatchedLocal, Task};
use crate::error::Result;
use crate::scenario::{AggregateConfig, AlgorithmConfig, OnNonFinite, StragglerPolicy, Strategy};
use indicatif::ProgressBar;

/// Participants whose local updates are held at once: a constant, so the chunks (and the results) never depend
/// on the number of threads.
pub const STREAM_CHUNK: usize = 64;

/// Whether a round can aggregate its updates as they arrive: under a mean (Krum, the median and the trimmed
/// mean need every update at once), without FedNova's rescaling (which needs every participant's steps) or
/// SCAFFOLD (whose control variates are renewed from every update), and when a non-finite update fails the run
/// (under `skip` the mean's total weight is known only once every update has been screened).
pub fn streams(strategy: &Strategy, stragglers: StragglerPolicy, on_nonfinite: OnNonFinite) -> bool {
    matches!(strategy.aggregate, AggregateConfig::Mean { .. })
        && !matches!(strategy.algorithm, AlgorithmConfig::Scaffold { .. })
        && stragglers != StragglerPolicy::Fednova
        && on_nonfinite == OnNonFinite::Fail
}

/// Whether `plan`'s rounds stream (a round batched on a device collects its updates).
pub(super) fn plan_streams(plan: &Plan, batched: Option<&dyn BatchedLocal>) -> bool {
    let on_device = batched.is_some() && plan.batchable();
    !on_device && streams(&plan.strategy, plan.faults.straggler_policy, plan.faults.on_nonfinite)
}

/// The aggregate and the size-weighted mean loss of one round's `taken` clients, run and added in chunks of
/// [`STREAM_CHUNK`]; `None` when no update was accepted. Only for plans that [`plan_streams`].
pub(super) fn streamed_round(
    task: &dyn Task,
    global: &[f32],
    taken: Vec<Taken>,
    clients: &[Client],
    (plan, round): (&Plan, usize),
    progress: &ProgressBar,
    (states, counts): (&mut States, &mut Participation),
) -> Result<Option<(Vec<f32>, f64)>> {
    let AggregateConfig::Mean { weighting } = plan.strategy.aggregate else {
        unreachable!("only a mean streams");
    };
    let sizes = taken.iter().map(|t| clients[t.c].rows.len());
    let mut mean = RunningMean::new(global.len(), weighting, sizes);
    let (mut loss, mut total) = (0f64, 0usize);
    let mut pending = taken.into_iter();
    loop {
        let chunk: Vec<Taken> = pending.by_ref().take(STREAM_CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let results = local_round(task, global, chunk, clients, (plan, round), None, progress)?;
        for mut accepted in receive(plan, round, (global, clients), results, (states, counts))? {
            server_clip(plan, global, &mut accepted.params, counts);
            mean.add(&accepted.params, accepted.size);
            loss += accepted.loss as f64 * accepted.size as f64;
            total += accepted.size;
        }
    }
    Ok((total > 0).then(|| (mean.finish(), loss / total as f64)))
}
