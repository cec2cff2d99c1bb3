//! The round loop, written once: FedAvg (select clients, local updates in parallel, weighted mean in client-id
//! order) or pooled training with the same number of optimizer steps; EMA and per-round accounting.

use super::{BatchedLocal, ClientWork, Task, local_update, weighted_mean};
use crate::error::{Error, Result};
use crate::nn::{Optimizer, ema};
use crate::rng::{Stream, derive};
use crate::scenario::{FederationMode, LocalOptimizer, OptimizerConfig};
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

/// What one round did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundLog {
    /// Model name.
    pub model: String,
    /// 1-based round.
    pub round: usize,
    /// Clients that trained this round.
    pub participants: usize,
    /// Bytes the server sent (global weights to each participant; 0 when pooled).
    pub bytes_sent: u64,
    /// Bytes the server received (updates; 0 when pooled).
    pub bytes_received: u64,
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

/// [`train`], with each FedAvg round's local updates run together by `batched` when given (stateless clients
/// only; pooled training and persistent optimizers always run one by one).
pub fn train_batched(
    task: &dyn Task,
    init: Vec<f32>,
    clients: &[Client],
    plan: &Plan,
    progress: &ProgressBar,
    batched: Option<&dyn BatchedLocal>,
) -> Result<Trained> {
    match plan.mode {
        FederationMode::Fedavg => fedavg(task, init, clients, plan, progress, batched),
        FederationMode::Pooled => pooled(task, init, clients, plan, progress),
    }
}

/// The local updates of one round's `chosen` clients: together through `batched`, or one by one in parallel.
fn local_round(
    task: &dyn Task,
    global: &[f32],
    taken: Vec<(usize, Option<Optimizer>)>,
    clients: &[Client],
    (plan, round): (&Plan, usize),
    batched: Option<&dyn BatchedLocal>,
    progress: &ProgressBar,
) -> Result<Vec<LocalOutcome>> {
    let rng = |client: &Client| derive(plan.seed, Stream::Local, &[plan.tag, round as u64, client.id as u64]);
    if let Some(batched) = batched.filter(|_| plan.local_optimizer == LocalOptimizer::Fresh) {
        let mut work: Vec<ClientWork> = taken
            .iter()
            .map(|&(c, _)| ClientWork {
                rows: clients[c].rows,
                rng: rng(&clients[c]),
            })
            .collect();
        let results = batched.local_updates(global, &mut work, plan.local_steps, plan.batch_size, &plan.optimizer)?;
        progress.inc((plan.local_steps * taken.len()) as u64);
        return Ok(taken
            .iter()
            .zip(results)
            .map(|(&(c, _), (params, loss))| LocalOutcome {
                params,
                size: clients[c].rows.len(),
                loss,
                optimizer: None,
            })
            .collect());
    }
    Ok(taken
        .into_par_iter()
        .map(|(c, state)| {
            let client = clients[c];
            let mut params = global.to_vec();
            let mut optimizer = state.unwrap_or_else(|| Optimizer::new(&plan.optimizer, params.len()));
            let loss = local_update(
                task,
                &mut params,
                &mut optimizer,
                client.rows,
                plan.local_steps,
                plan.batch_size,
                &mut rng(&client),
            );
            progress.inc(plan.local_steps as u64);
            LocalOutcome {
                params,
                size: client.rows.len(),
                loss,
                optimizer: Some(optimizer),
            }
        })
        .collect())
}

fn fedavg(
    task: &dyn Task,
    init: Vec<f32>,
    clients: &[Client],
    plan: &Plan,
    progress: &ProgressBar,
    batched: Option<&dyn BatchedLocal>,
) -> Result<Trained> {
    let mut global = init;
    let mut averaged = global.clone();
    let bytes = (global.len() * std::mem::size_of::<f32>()) as u64;
    let per_round = plan.clients_per_round.clamp(1, clients.len());
    let mut path_steps = 0;
    let mut log = Vec::new();
    // Optimizer state per client, kept between rounds only for persistent local optimizers.
    let mut states: Vec<Option<Optimizer>> = vec![None; clients.len()];
    for round in 1..=plan.rounds {
        let mut chosen: Vec<usize> = rand::seq::index::sample(
            &mut derive(plan.seed, Stream::Selection, &[plan.tag, round as u64]),
            clients.len(),
            per_round,
        )
        .into_vec();
        chosen.sort_unstable();
        let taken: Vec<(usize, Option<Optimizer>)> = chosen.iter().map(|&c| (c, states[c].take())).collect();
        let results = local_round(task, &global, taken, clients, (plan, round), batched, progress)?;
        let mut loss_sum = 0.0;
        let mut updates = Vec::with_capacity(results.len());
        for (&c, outcome) in chosen.iter().zip(results) {
            let LocalOutcome {
                params,
                size: n,
                loss,
                optimizer,
            } = outcome;
            if plan.local_optimizer == LocalOptimizer::Persistent {
                states[c] = optimizer;
            }
            let loss = loss.map_err(|loss| Error::Diverged {
                model: plan.name.clone(),
                client: clients[c].id.to_string(),
                round,
                loss,
            })?;
            loss_sum += loss as f64 * n as f64;
            updates.push((params, n));
        }
        let total: usize = updates.iter().map(|(_, n)| n).sum();
        global = weighted_mean(&updates);
        path_steps += plan.local_steps;
        smooth(&mut averaged, &global, plan.ema, path_steps, plan.local_steps);
        log.push(RoundLog {
            model: plan.name.clone(),
            round,
            participants: chosen.len(),
            bytes_sent: bytes * chosen.len() as u64,
            bytes_received: bytes * chosen.len() as u64,
            loss: loss_sum / total as f64,
        });
    }
    Ok(finish(global, averaged, plan.ema, log))
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
        let loss =
            local_update(task, &mut params, &mut optimizer, &rows, steps, plan.batch_size, rng).map_err(|loss| {
                Error::Diverged {
                    model: plan.name.clone(),
                    client: "pooled".into(),
                    round,
                    loss,
                }
            })?;
        progress.inc(steps as u64);
        path_steps += steps;
        smooth(&mut averaged, &params, plan.ema, path_steps, steps);
        log.push(RoundLog {
            model: plan.name.clone(),
            round,
            participants: clients.len(),
            bytes_sent: 0,
            bytes_received: 0,
            loss: loss as f64,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federated::Task;
    use crate::rng::Rng;
    use crate::scenario::OptimizerKind;

    /// Loss 1/2 |p - c|^2 averaged over the rows, where row r stands for the point c = targets[r]: no randomness,
    /// so the gradient of a client is exactly p - mean of its targets.
    struct Quadratic {
        targets: Vec<[f32; 2]>,
    }

    impl Task for Quadratic {
        fn param_count(&self) -> usize {
            2
        }

        fn loss_and_grad(&self, params: &[f32], rows: &[usize], _: &mut Rng, grad: &mut [f32]) -> f32 {
            grad.fill(0.0);
            let mut loss = 0.0;
            for &r in rows {
                for k in 0..2 {
                    let d = params[k] - self.targets[r][k];
                    grad[k] += d / rows.len() as f32;
                    loss += 0.5 * d * d / rows.len() as f32;
                }
            }
            loss
        }
    }

    #[test]
    fn fedsgd_with_persistent_momentum_is_server_momentum_on_the_mean_gradient() {
        let task = Quadratic {
            targets: vec![[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0], [0.0, 0.0], [2.0, 2.0]],
        };
        let rows = [vec![0, 1], vec![2], vec![3, 4]];
        let clients: Vec<Client> = rows.iter().enumerate().map(|(id, r)| Client { id, rows: r }).collect();
        let (lr, momentum, rounds) = (0.1f32, 0.9f32, 30);
        let plan = |local_optimizer| Plan {
            name: "quadratic".into(),
            tag: 0,
            mode: FederationMode::Fedavg,
            rounds,
            clients_per_round: clients.len(),
            local_steps: 1,
            batch_size: 8,
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Sgd,
                lr: lr as f64,
                grad_clip: 0.0,
                momentum: momentum as f64,
                ..OptimizerConfig::default()
            },
            local_optimizer,
            ema: 0.0,
            seed: 0,
        };
        let hidden = ProgressBar::hidden();
        let run = |lo| {
            train(&task, vec![0.0, 0.0], &clients, &plan(lo), &hidden)
                .unwrap()
                .params
        };
        // Reference: full-gradient SGD with momentum; the size-weighted mean of the clients' gradients is p minus
        // the mean of all five targets.
        let mean = [1.0f32, 0.9];
        let (mut p, mut v) = ([0.0f32; 2], [0.0f32; 2]);
        for _ in 0..rounds {
            for k in 0..2 {
                v[k] = momentum * v[k] + (p[k] - mean[k]);
                p[k] -= lr * v[k];
            }
        }
        let persistent = run(LocalOptimizer::Persistent);
        for k in 0..2 {
            assert!(
                (persistent[k] - p[k]).abs() < 1e-4,
                "{persistent:?} vs server momentum {p:?}"
            );
        }
        // With a fresh optimizer every round the momentum is lost: plain full-gradient SGD, a different path.
        let fresh = run(LocalOptimizer::Fresh);
        let mut q = [0.0f32; 2];
        for _ in 0..rounds {
            for k in 0..2 {
                q[k] -= lr * (q[k] - mean[k]);
            }
        }
        for k in 0..2 {
            assert!((fresh[k] - q[k]).abs() < 1e-4, "{fresh:?} vs plain SGD {q:?}");
        }
        assert!((persistent[0] - fresh[0]).abs() > 1e-3);
    }
}
