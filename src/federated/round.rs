//! How one model is trained ([`Plan`]), what each round did ([`RoundLog`]), and the two loops: federated rounds
//! (`fedavg`) or pooled training with the same number of optimizer steps. EMA over the rounds.

use super::cost::{RoundCost, rows_processed};
use super::faults::Faults;
use super::participation::Participation;
use super::{BatchedLocal, Task, local_update};
use crate::error::{Error, Result};
use crate::federated::client::Correction;
use crate::nn::{Optimizer, ema};
use crate::rng::{Stream, derive};
use crate::scenario::{AlgorithmConfig, FederationMode, LocalOptimizer, OptimizerConfig, Strategy};
use indicatif::ProgressBar;

/// A client taking part in training one model.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// Client id (stable across models; keys its random stream).
    pub id: usize,
    /// Its training rows.
    pub rows: &'a [usize],
}

/// How one model is trained.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Name used in logs and errors, e.g. `expert 3`.
    pub name: String,
    /// Distinguishes the random streams of different models.
    pub tag: u64,
    /// FedAvg or pooled.
    pub mode: FederationMode,
    /// The clients' algorithm, the aggregation and the server's optimizer.
    pub strategy: Strategy,
    /// What goes wrong (nothing by default).
    pub faults: Faults,
    /// Communication rounds.
    pub rounds: usize,
    /// Clients selected per round (clamped to the number of clients).
    pub clients_per_round: usize,
    /// Local optimizer steps per selected client.
    pub local_steps: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Optimizer settings.
    pub optimizer: OptimizerConfig,
    /// Whether clients keep their optimizer state across rounds (FedAvg only).
    pub local_optimizer: LocalOptimizer,
    /// EMA decay per optimizer step (0: sample with the raw weights).
    pub ema: f64,
    /// Root seed.
    pub seed: u64,
}

impl Plan {
    /// Whether a device may run this plan's local updates together: fresh optimizers, the plain local
    /// objective (FedProx's and SCAFFOLD's corrections run on the CPU) and the same steps for every client (no
    /// stragglers).
    pub fn batchable(&self) -> bool {
        self.local_optimizer == LocalOptimizer::Fresh
            && self.strategy.algorithm == AlgorithmConfig::Fedavg
            && !self.faults.has_stragglers()
    }
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundLog {
    /// Model name.
    pub model: String,
    /// 1-based round.
    pub round: usize,
    /// Clients whose update the server aggregated this round.
    pub participants: usize,
    /// Who was online, selected, returned, dropped, straggled, was rejected or clipped, or was Byzantine.
    #[serde(flatten)]
    pub counts: Participation,
    /// Bytes the server sent down (global weights, and SCAFFOLD's control variate, to each selected client; 0
    /// when pooled).
    pub bytes_down: u64,
    /// Bytes the server received (each returned client's weights, and SCAFFOLD's control variate change; 0 when
    /// pooled).
    pub bytes_up: u64,
    /// Training FLOPs of the round (forward and backward passes of every row processed).
    pub flops: u64,
    /// Mean training loss over the aggregated clients' local steps, weighted by client size (`None` when no
    /// update was aggregated).
    pub loss: Option<f64>,
}

/// A trained model: the weights to sample with (EMA if enabled) and the round log.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Final weights for inference.
    pub params: Vec<f32>,
    /// One entry per round.
    pub log: Vec<RoundLog>,
}

/// Trains `task` from `init` over `clients` according to `plan`; `progress` advances by optimizer steps.
pub fn train(
    task: &dyn Task,
    init: Vec<f32>,
    clients: &[Client],
    plan: &Plan,
    progress: &ProgressBar,
) -> Result<Trained> {
    train_batched(task, init, clients, plan, progress, None)
}

/// [`train`], with each round's local updates run together by `batched` when given and the plan is
/// [`Plan::batchable`] (pooled training and the other plans always run one by one).
pub fn train_batched(
    task: &dyn Task,
    init: Vec<f32>,
    clients: &[Client],
    plan: &Plan,
    progress: &ProgressBar,
    batched: Option<&dyn BatchedLocal>,
) -> Result<Trained> {
    match plan.mode {
        FederationMode::Fedavg => super::fedavg::federated(task, init, clients, plan, progress, batched),
        FederationMode::Pooled => pooled(task, init, clients, plan, progress),
    }
}

/// The log entry of `round`.
pub(super) fn round_log(
    plan: &Plan,
    round: usize,
    counts: Participation,
    cost: RoundCost,
    loss: Option<f64>,
) -> RoundLog {
    RoundLog {
        model: plan.name.clone(),
        round,
        participants: counts.aggregated(),
        counts,
        bytes_down: cost.bytes_down,
        bytes_up: cost.bytes_up,
        flops: cost.flops,
        loss,
    }
}

fn pooled(task: &dyn Task, init: Vec<f32>, clients: &[Client], plan: &Plan, progress: &ProgressBar) -> Result<Trained> {
    let rows: Vec<usize> = clients.iter().flat_map(|c| c.rows.iter().copied()).collect();
    let steps = plan.clients_per_round.clamp(1, clients.len()) * plan.local_steps;
    let mut params = init;
    let mut averaged = params.clone();
    let mut optimizer = Optimizer::new(&plan.optimizer, params.len());
    let mut path_steps = 0;
    let mut log = Vec::new();
    for round in 1..=plan.rounds {
        crate::interrupt::check()?;
        let rng = &mut derive(plan.seed, Stream::Local, &[plan.tag, round as u64, u64::MAX]);
        let loss = local_update(
            task,
            &mut params,
            &mut optimizer,
            &rows,
            (steps, plan.batch_size),
            Correction::None,
            rng,
        )
        .map_err(|loss| Error::Diverged {
            model: plan.name.clone(),
            client: "pooled".into(),
            round,
            loss,
        })?;
        progress.inc(steps as u64);
        path_steps += steps;
        smooth(&mut averaged, &params, plan.ema, path_steps, steps);
        let cost = RoundCost {
            flops: rows_processed(rows.len(), steps, plan.batch_size) * task.flops_per_row(),
            ..RoundCost::default()
        };
        log.push(round_log(
            plan,
            round,
            Participation::everyone(clients.len()),
            cost,
            Some(loss as f64),
        ));
    }
    Ok(finish(params, averaged, plan.ema, log))
}

/// EMA over rounds: a round of `steps` optimizer steps counts as `steps` decays of the warmed-up per-step rate.
pub(super) fn smooth(averaged: &mut [f32], current: &[f32], decay: f64, path_steps: usize, steps: usize) {
    if decay > 0.0 {
        let d = ema::warmed_decay(decay, path_steps).powi(steps as i32);
        ema::update(averaged, current, d);
    }
}

pub(super) fn finish(current: Vec<f32>, averaged: Vec<f32>, decay: f64, log: Vec<RoundLog>) -> Trained {
    Trained {
        params: if decay > 0.0 { averaged } else { current },
        log,
    }
}
