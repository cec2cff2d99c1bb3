//! The round loop, written once: select clients, run their local updates in parallel (with their algorithm's
//! correction), combine their models in client-id order, and move the global model with the server's optimizer;
//! or pooled training with the same number of optimizer steps. EMA and per-round accounting of bytes and FLOPs.

use super::aggregate::aggregate;
use super::client::{Correction, full_gradient};
use super::cost::{RoundCost, round_cost};
use super::scaffold::{Controls, Renewal, effective_steps};
use super::selection::select;
use super::server::ServerOptimizer;
use super::{BatchedLocal, ClientWork, Task, local_update};
use crate::error::{Error, Result};
use crate::nn::{Optimizer, clip_global_norm, ema};
use crate::rng::{Stream, derive};
use crate::scenario::{AlgorithmConfig, FederationMode, LocalOptimizer, OptimizerConfig, Strategy};
use indicatif::ProgressBar;
use rayon::prelude::*;

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
    /// Whether a device may run this plan's local updates together: fresh optimizers and the plain local
    /// objective (FedProx's and SCAFFOLD's corrections run on the CPU).
    pub fn batchable(&self) -> bool {
        self.local_optimizer == LocalOptimizer::Fresh && self.strategy.algorithm == AlgorithmConfig::Fedavg
    }
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundLog {
    /// Model name.
    pub model: String,
    /// 1-based round.
    pub round: usize,
    /// Clients that trained this round.
    pub participants: usize,
    /// Bytes the server sent down (global weights, and SCAFFOLD's control variate, to each participant; 0 when
    /// pooled).
    pub bytes_down: u64,
    /// Bytes the server received (each participant's weights, and SCAFFOLD's control variate change; 0 when
    /// pooled).
    pub bytes_up: u64,
    /// Training FLOPs of the round (forward and backward passes of every row processed).
    pub flops: u64,
    /// Mean training loss over the round's local steps, weighted by client size.
    pub loss: f64,
}

/// A trained model: the weights to sample with (EMA if enabled) and the round log.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Final weights for inference.
    pub params: Vec<f32>,
    /// One entry per round.
    pub log: Vec<RoundLog>,
}

/// What one client's local update returns to the server.
struct LocalOutcome {
    /// The client's weights after its local steps.
    params: Vec<f32>,
    /// Its number of training points (the aggregation weight).
    size: usize,
    /// Mean local loss, or the first non-finite loss.
    loss: std::result::Result<f32, f32>,
    /// Its optimizer, kept for the next round when clients are stateful (`None` from batched updates, which run
    /// fresh optimizers only).
    optimizer: Option<Optimizer>,
    /// SCAFFOLD option I: the gradient of its data at the global weights.
    gradient: Option<Vec<f32>>,
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
        FederationMode::Fedavg => federated(task, init, clients, plan, progress, batched),
        FederationMode::Pooled => pooled(task, init, clients, plan, progress),
    }
}

/// One round's chosen clients: index into the model's clients, kept optimizer, SCAFFOLD's shift c - c_i.
type Taken = (usize, Option<Optimizer>, Option<Vec<f32>>);

/// The local updates of one round's `taken` clients: together through `batched`, or one by one in parallel.
fn local_round(
    task: &dyn Task,
    global: &[f32],
    taken: Vec<Taken>,
    clients: &[Client],
    (plan, round): (&Plan, usize),
    batched: Option<&dyn BatchedLocal>,
    progress: &ProgressBar,
) -> Result<Vec<LocalOutcome>> {
    let rng = |client: &Client| derive(plan.seed, Stream::Local, &[plan.tag, round as u64, client.id as u64]);
    if let Some(batched) = batched.filter(|_| plan.batchable()) {
        let mut work: Vec<ClientWork> = taken
            .iter()
            .map(|&(c, _, _)| ClientWork {
                rows: clients[c].rows,
                rng: rng(&clients[c]),
            })
            .collect();
        let results = batched.local_updates(global, &mut work, plan.local_steps, plan.batch_size, &plan.optimizer)?;
        progress.inc((plan.local_steps * taken.len()) as u64);
        return Ok(taken
            .iter()
            .zip(results)
            .map(|(&(c, _, _), (params, loss))| LocalOutcome {
                params,
                size: clients[c].rows.len(),
                loss,
                optimizer: None,
                gradient: None,
            })
            .collect());
    }
    Ok(taken
        .into_par_iter()
        .map(|one| {
            let stream = rng(&clients[one.0]);
            let outcome = local_client(task, global, one, clients, plan, &stream);
            progress.inc(plan.local_steps as u64);
            outcome
        })
        .collect())
}

/// One client's local update on the CPU from `global`, with its algorithm's correction; under SCAFFOLD option I
/// also the (clipped) gradient of its data at `global`, drawn from the same stream after its steps.
fn local_client(
    task: &dyn Task,
    global: &[f32],
    (c, state, shift): Taken,
    clients: &[Client],
    plan: &Plan,
    stream: &crate::rng::Rng,
) -> LocalOutcome {
    let client = clients[c];
    let mut params = global.to_vec();
    let mut optimizer = state.unwrap_or_else(|| Optimizer::new(&plan.optimizer, params.len()));
    let correction = match (plan.strategy.algorithm, &shift) {
        (AlgorithmConfig::Fedprox { mu }, _) => Correction::Proximal {
            mu: mu as f32,
            anchor: global,
        },
        (_, Some(shift)) => Correction::Shift(shift),
        _ => Correction::None,
    };
    let rng = &mut stream.clone();
    let steps = (plan.local_steps, plan.batch_size);
    let mut loss = local_update(task, &mut params, &mut optimizer, client.rows, steps, correction, rng);
    let mut gradient = None;
    if loss.is_ok() && plan.strategy.algorithm == (AlgorithmConfig::Scaffold { variant: 1 }) {
        match full_gradient(task, global, client.rows, plan.batch_size, rng) {
            Ok(mut g) => {
                // In the clipped gradients' units, as the steps and the shift are.
                clip_global_norm(&mut g, plan.optimizer.grad_clip as f32);
                gradient = Some(g);
            }
            Err(bad) => loss = Err(bad),
        }
    }
    LocalOutcome {
        params,
        size: client.rows.len(),
        loss,
        optimizer: Some(optimizer),
        gradient,
    }
}

/// The federated round loop.
fn federated(
    task: &dyn Task,
    init: Vec<f32>,
    clients: &[Client],
    plan: &Plan,
    progress: &ProgressBar,
    batched: Option<&dyn BatchedLocal>,
) -> Result<Trained> {
    let mut global = init;
    let mut averaged = global.clone();
    let per_round = plan.clients_per_round.clamp(1, clients.len());
    let mut server = ServerOptimizer::new(plan.strategy.server, global.len());
    let mut controls = matches!(plan.strategy.algorithm, AlgorithmConfig::Scaffold { .. })
        .then(|| Controls::new(clients.len(), global.len()));
    let mut path_steps = 0;
    let mut log = Vec::new();
    // Optimizer state per client, kept between rounds only for persistent local optimizers.
    let mut states: Vec<Option<Optimizer>> = vec![None; clients.len()];
    for round in 1..=plan.rounds {
        let chosen = select(plan.seed, plan.tag, round, clients.len(), per_round);
        let taken: Vec<Taken> = chosen
            .iter()
            .map(|&c| (c, states[c].take(), controls.as_ref().map(|k| k.shift(c))))
            .collect();
        let results = local_round(task, &global, taken, clients, (plan, round), batched, progress)?;
        let mut loss_sum = 0.0;
        let mut updates = Vec::with_capacity(results.len());
        let mut renewed = Vec::new();
        for (&c, outcome) in chosen.iter().zip(results) {
            if plan.local_optimizer == LocalOptimizer::Persistent {
                states[c] = outcome.optimizer;
            }
            let loss = outcome.loss.map_err(|loss| Error::Diverged {
                model: plan.name.clone(),
                client: clients[c].id.to_string(),
                round,
                loss,
            })?;
            loss_sum += loss as f64 * outcome.size as f64;
            if let Some(controls) = &controls {
                let renewal = match &outcome.gradient {
                    Some(g) => Renewal::Gradient(g),
                    None => Renewal::Travelled {
                        global: &global,
                        local: &outcome.params,
                        lr_steps: plan.optimizer.lr * effective_steps(plan.local_steps, plan.optimizer.momentum),
                    },
                };
                let (new, delta) = controls.renewed(c, renewal);
                renewed.push((c, new, delta));
            }
            updates.push((outcome.params, outcome.size));
        }
        if let Some(controls) = &mut controls {
            controls.finish_round(renewed);
        }
        let total: usize = updates.iter().map(|(_, n)| n).sum();
        let combined = aggregate(&plan.strategy.aggregate, &updates);
        server.step(&mut global, &combined, round);
        if global.iter().any(|v| !v.is_finite()) {
            return Err(server_diverged(plan, round));
        }
        path_steps += plan.local_steps;
        smooth(&mut averaged, &global, plan.ema, path_steps, plan.local_steps);
        let cost = federated_cost(task, plan, clients, &chosen, controls.is_some());
        log.push(round_log(plan, round, chosen.len(), cost, loss_sum / total as f64));
    }
    Ok(finish(global, averaged, plan.ema, log))
}

/// The error for a non-finite global weight after the server's step of `round`.
fn server_diverged(plan: &Plan, round: usize) -> Error {
    Error::NonFinite {
        place: format!("{}, server step of round {round}", plan.name),
        what: format!(
            "the {} server optimizer made a global weight non-finite from finite client models; lower its lr (or \
             raise its tau)",
            plan.strategy.server.name()
        ),
    }
}

/// Rows a client processes in `steps` local steps of `batch_size`.
fn rows_processed(rows: usize, steps: usize, batch_size: usize) -> u64 {
    (steps * rows.min(batch_size)) as u64
}

/// The bytes and FLOPs of a federated round with the `chosen` clients.
fn federated_cost(task: &dyn Task, plan: &Plan, clients: &[Client], chosen: &[usize], scaffold: bool) -> RoundCost {
    let option_one = plan.strategy.algorithm == (AlgorithmConfig::Scaffold { variant: 1 });
    let rows: u64 = chosen
        .iter()
        .map(|&c| {
            let n = clients[c].rows.len();
            rows_processed(n, plan.local_steps, plan.batch_size) + if option_one { n as u64 } else { 0 }
        })
        .sum();
    let vectors = 1 + u64::from(scaffold);
    round_cost(task.param_count(), vectors, chosen.len(), rows, task.flops_per_row())
}

fn round_log(plan: &Plan, round: usize, participants: usize, cost: RoundCost, loss: f64) -> RoundLog {
    RoundLog {
        model: plan.name.clone(),
        round,
        participants,
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
        log.push(round_log(plan, round, clients.len(), cost, loss as f64));
    }
    Ok(finish(params, averaged, plan.ema, log))
}

/// EMA over rounds: a round of `steps` optimizer steps counts as `steps` decays of the warmed-up per-step rate.
fn smooth(averaged: &mut [f32], current: &[f32], decay: f64, path_steps: usize, steps: usize) {
    if decay > 0.0 {
        let d = ema::warmed_decay(decay, path_steps).powi(steps as i32);
        ema::update(averaged, current, d);
    }
}

fn finish(current: Vec<f32>, averaged: Vec<f32>, decay: f64, log: Vec<RoundLog>) -> Trained {
    Trained {
        params: if decay > 0.0 { averaged } else { current },
        log,
    }
}
