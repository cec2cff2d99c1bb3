//! The federated round loop, written once: the online clients, selection among them, dropouts and stragglers'
//! work, the local updates in parallel (with their algorithm's correction), what the server receives (Byzantine
//! updates, the non-finite screen, the update-norm clip, FedNova's normalisation), the aggregation in client-id
//! order and the server's optimizer step. Per-round accounting of participation, bytes and FLOPs.

use super::aggregate::aggregate;
use super::client::{Correction, full_gradient};
use super::cost::{RoundCost, round_cost, rows_processed};
use super::faults::{Screened, Work, attack, clip_update, normalise, screen};
use super::participation::Participation;
use super::round::{Client, Plan, Trained, finish, round_log, smooth};
use super::scaffold::{Controls, Renewal, effective_steps};
use super::selection::select;
use super::server::ServerOptimizer;
use super::streamed::{plan_streams, streamed_round};
use super::{BatchedLocal, ClientWork, Task, local_update};
use crate::error::{Error, Result};
use crate::nn::{Optimizer, clip_global_norm};
use crate::scenario::{AggregateConfig, AlgorithmConfig, LocalOptimizer, OnNonFinite, StragglerPolicy, Weighting};
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// What one client's local update returns to the server.
pub(super) struct LocalOutcome {
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

/// The kept optimizers of the clients (index into the model's clients) that have trained.
pub(super) type States = BTreeMap<usize, Optimizer>;

/// One round's dispatched client: index into the model's clients, its work, kept optimizer, SCAFFOLD's shift
/// c - c_i.
pub(super) struct Taken {
    pub(super) c: usize,
    work: Work,
    state: Option<Optimizer>,
    shift: Option<Vec<f32>>,
}

/// An update the server accepted: the client, its weights, its examples, its local steps and its loss.
pub(super) struct Accepted {
    c: usize,
    pub(super) params: Vec<f32>,
    pub(super) size: usize,
    steps: usize,
    pub(super) loss: f32,
    gradient: Option<Vec<f32>>,
}

/// The federated round loop.
pub(super) fn federated(
    task: &dyn Task,
    init: Vec<f32>,
    clients: &[Client],
    plan: &Plan,
    progress: &ProgressBar,
    batched: Option<&dyn BatchedLocal>,
) -> Result<Trained> {
    let mut global = init;
    let mut averaged = global.clone();
    let mut server = ServerOptimizer::new(plan.strategy.server, global.len());
    let mut controls = matches!(plan.strategy.algorithm, AlgorithmConfig::Scaffold { .. })
        .then(|| Controls::new(clients.len(), global.len()));
    let mut path_steps = 0;
    let mut log = Vec::new();
    // Optimizer state of each client that has trained, kept between rounds only for persistent local optimizers
    // (so it grows with the clients that took part, not with all of them).
    let mut states = States::new();
    for round in 1..=plan.rounds {
        crate::interrupt::check()?;
        let (taken, mut counts, late_rows) = dispatch(plan, round, clients, &mut states, controls.as_ref());
        let rows = late_rows
            + taken
                .iter()
                .map(|t| round_rows(plan, clients[t.c].rows.len(), t.work.steps))
                .sum::<u64>();
        let update = if plan_streams(plan, batched) {
            let (states, counts) = (&mut states, &mut counts);
            streamed_round(task, &global, taken, clients, (plan, round), progress, (states, counts))?
        } else {
            let held = (&mut states, &mut counts, controls.as_mut());
            collected_round(
                task,
                (&global, clients),
                taken,
                (plan, round),
                (batched, progress),
                held,
            )?
        };
        let Some((combined, loss)) = update else {
            let cost = federated_cost(task, &counts, rows, controls.is_some());
            log.push(round_log(plan, round, counts, cost, None));
            continue;
        };
        server.step(&mut global, &combined, round);
        if global.iter().any(|v| !v.is_finite()) {
            return Err(server_diverged(plan, round));
        }
        let cost = federated_cost(task, &counts, rows, controls.is_some());
        path_steps += plan.local_steps;
        smooth(&mut averaged, &global, plan.ema, path_steps, plan.local_steps);
        log.push(round_log(plan, round, counts, cost, Some(loss)));
    }
    if log.iter().all(|r| r.participants == 0) {
        return Err(never_updated(plan));
    }
    Ok(finish(global, averaged, plan.ema, log))
}

/// The aggregate and the size-weighted mean loss of one round's `taken` clients with every update held at once
/// (the rules and corrections that need them all, and device batches); `None` when no update was accepted.
fn collected_round(
    task: &dyn Task,
    (global, clients): (&[f32], &[Client]),
    taken: Vec<Taken>,
    (plan, round): (&Plan, usize),
    (batched, progress): (Option<&dyn BatchedLocal>, &ProgressBar),
    (states, counts, controls): (&mut States, &mut Participation, Option<&mut Controls>),
) -> Result<Option<(Vec<f32>, f64)>> {
    let results = local_round(task, global, taken, clients, (plan, round), batched, progress)?;
    let accepted = receive(plan, round, (global, clients), results, (states, counts))?;
    if accepted.is_empty() {
        return Ok(None);
    }
    let total: usize = accepted.iter().map(|a| a.size).sum();
    let loss = accepted.iter().map(|a| a.loss as f64 * a.size as f64).sum::<f64>() / total as f64;
    if let Some(controls) = controls {
        renew_controls(controls, plan, global, &accepted);
    }
    Ok(Some((combine(plan, global, accepted, counts), loss)))
}

/// What the server keeps of a round's local `results`: each kept optimizer stored (or reset when its update is
/// rejected), Byzantine updates replaced by what their senders send, non-finite ones failing the run or rejected
/// and counted.
pub(super) fn receive(
    plan: &Plan,
    round: usize,
    (global, clients): (&[f32], &[Client]),
    results: Vec<(usize, usize, LocalOutcome)>,
    (states, counts): (&mut States, &mut Participation),
) -> Result<Vec<Accepted>> {
    let mut accepted = Vec::with_capacity(results.len());
    for (c, steps, outcome) in results {
        if let (LocalOptimizer::Persistent, Some(optimizer)) = (plan.local_optimizer, outcome.optimizer) {
            states.insert(c, optimizer);
        }
        let (mut params, id) = (outcome.params, clients[c].id);
        if plan.faults.is_byzantine(id) {
            counts.byzantine += 1;
            attack(&plan.faults, global, &mut params, (plan.seed, plan.tag, round, id));
        }
        let loss = match screen(outcome.loss, &params) {
            Screened::Finite => outcome.loss.expect("screened finite"),
            Screened::NonFinite(bad) => match plan.faults.on_nonfinite {
                OnNonFinite::Fail => return Err(non_finite_update(plan, id, round, outcome.loss, bad)),
                OnNonFinite::Skip => {
                    // A kept optimizer that went non-finite would spoil every later update of the client.
                    states.remove(&c);
                    counts.rejected += 1;
                    continue;
                }
            },
        };
        accepted.push(Accepted {
            c,
            params,
            size: outcome.size,
            steps,
            loss,
            gradient: outcome.gradient,
        });
    }
    Ok(accepted)
}

/// The aggregate of the `accepted` updates: FedNova's rescaling, then the server's clip (counted), then the rule.
fn combine(plan: &Plan, global: &[f32], accepted: Vec<Accepted>, counts: &mut Participation) -> Vec<f32> {
    let mut updates: Vec<(Vec<f32>, usize, usize)> =
        accepted.into_iter().map(|a| (a.params, a.size, a.steps)).collect();
    if plan.faults.straggler_policy == StragglerPolicy::Fednova {
        normalise(&mut updates, global, mean_weighting(plan), &plan.optimizer);
    }
    // The clip bounds what is aggregated: after FedNova's rescaling, which can lengthen a straggler's update.
    for (params, _, _) in &mut updates {
        server_clip(plan, global, params, counts);
    }
    let updates: Vec<(Vec<f32>, usize)> = updates.into_iter().map(|(p, n, _)| (p, n)).collect();
    aggregate(&plan.strategy.aggregate, &updates)
}

/// The server's update-norm clip of one received model `params` about `global`, if the plan has one; counted.
pub(super) fn server_clip(plan: &Plan, global: &[f32], params: &mut [f32], counts: &mut Participation) {
    if let Some(clip) = plan.strategy.server.clip_update_norm() {
        counts.clipped += usize::from(clip_update(params, global, clip));
    }
}

/// The clients of `round` that train, with their work: the online ones, those selected among them, less the
/// dropouts and (under a deadline) the stragglers that would not finish; the round's counts so far; and the rows
/// those late stragglers processed before the deadline (spent, though their updates never arrive; a dropout is
/// taken to fail before it trains).
fn dispatch(
    plan: &Plan,
    round: usize,
    clients: &[Client],
    states: &mut States,
    controls: Option<&Controls>,
) -> (Vec<Taken>, Participation, u64) {
    let faults = &plan.faults;
    let online = faults.online(plan.seed, round, clients);
    let per_round = plan.clients_per_round.clamp(1, clients.len()).min(online.len());
    let chosen: Vec<usize> = select(plan.seed, plan.tag, round, online.len(), per_round)
        .into_iter()
        .map(|i| online[i])
        .collect();
    let mut counts = Participation {
        online: online.len(),
        selected: chosen.len(),
        ..Participation::default()
    };
    let mut shares = Vec::new();
    let mut late_rows = 0;
    let mut taken = Vec::with_capacity(chosen.len());
    for c in chosen {
        let id = clients[c].id;
        let work = faults.work(plan.seed, plan.tag, round, id, plan.local_steps);
        shares.extend(work.share);
        let late = faults.straggler_policy == StragglerPolicy::Drop && work.steps < plan.local_steps;
        if faults.drops_out(plan.seed, plan.tag, round, id) {
            counts.dropped += 1;
            continue;
        }
        if late {
            late_rows += round_rows(plan, clients[c].rows.len(), work.steps);
            counts.dropped += 1;
            continue;
        }
        taken.push(Taken {
            c,
            work,
            state: states.remove(&c),
            shift: controls.map(|k| k.shift(c)),
        });
    }
    counts.returned = taken.len();
    counts.stragglers = shares.len();
    counts.straggler_work = (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64);
    (taken, counts, late_rows)
}

/// The local updates of one round's `taken` clients, each with its client index and local steps: together
/// through `batched`, or one by one in parallel.
pub(super) fn local_round(
    task: &dyn Task,
    global: &[f32],
    taken: Vec<Taken>,
    clients: &[Client],
    (plan, round): (&Plan, usize),
    batched: Option<&dyn BatchedLocal>,
    progress: &ProgressBar,
) -> Result<Vec<(usize, usize, LocalOutcome)>> {
    let rng = |client: &Client| {
        crate::rng::derive(
            plan.seed,
            crate::rng::Stream::Local,
            &[plan.tag, round as u64, client.id as u64],
        )
    };
    if let Some(batched) = batched.filter(|_| plan.batchable()) {
        let mut work: Vec<ClientWork> = taken
            .iter()
            .map(|t| ClientWork {
                rows: clients[t.c].rows,
                rng: rng(&clients[t.c]),
            })
            .collect();
        let results = batched.local_updates(global, &mut work, plan.local_steps, plan.batch_size, &plan.optimizer)?;
        progress.inc((plan.local_steps * taken.len()) as u64);
        return Ok(taken
            .iter()
            .zip(results)
            .map(|(t, (params, loss))| {
                let outcome = LocalOutcome {
                    params,
                    size: clients[t.c].rows.len(),
                    loss,
                    optimizer: None,
                    gradient: None,
                };
                (t.c, t.work.steps, outcome)
            })
            .collect());
    }
    Ok(taken
        .into_par_iter()
        .map(|t| {
            let stream = rng(&clients[t.c]);
            let (c, steps) = (t.c, t.work.steps);
            let outcome = local_client(task, global, t, clients, plan, &stream);
            progress.inc(plan.local_steps as u64);
            (c, steps, outcome)
        })
        .collect())
}

/// One client's local update on the CPU from `global`, with its algorithm's correction; under SCAFFOLD option I
/// also the (clipped) gradient of its data at `global`, drawn from the same stream after its steps.
fn local_client(
    task: &dyn Task,
    global: &[f32],
    t: Taken,
    clients: &[Client],
    plan: &Plan,
    stream: &crate::rng::Rng,
) -> LocalOutcome {
    let client = clients[t.c];
    let mut params = global.to_vec();
    let mut optimizer = t.state.unwrap_or_else(|| Optimizer::new(&plan.optimizer, params.len()));
    let correction = match (plan.strategy.algorithm, &t.shift) {
        (AlgorithmConfig::Fedprox { mu }, _) => Correction::Proximal {
            mu: mu as f32,
            anchor: global,
        },
        (_, Some(shift)) => Correction::Shift(shift),
        _ => Correction::None,
    };
    let rng = &mut stream.clone();
    let steps = (t.work.steps, plan.batch_size);
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

/// SCAFFOLD: renews the control variates of the accepted clients from their updates as received, before the
/// server's clip (option II, from the distance travelled in their own number of steps), or their gradients at the
/// global weights (option I).
fn renew_controls(controls: &mut Controls, plan: &Plan, global: &[f32], accepted: &[Accepted]) {
    let renewed = accepted
        .iter()
        .map(|a| {
            let renewal = match &a.gradient {
                Some(g) => Renewal::Gradient(g),
                None => Renewal::Travelled {
                    global,
                    local: &a.params,
                    lr_steps: plan.optimizer.lr * effective_steps(a.steps, plan.optimizer.momentum),
                },
            };
            let (new, delta) = controls.renewed(a.c, renewal);
            (a.c, new, delta)
        })
        .collect();
    controls.finish_round(renewed);
}

/// The weighting of the plan's mean aggregation (FedNova is only defined with a mean, checked when the scenario
/// is read).
fn mean_weighting(plan: &Plan) -> Weighting {
    match plan.strategy.aggregate {
        AggregateConfig::Mean { weighting } => weighting,
        _ => Weighting::Examples,
    }
}

/// The error for a non-finite update from client `id` in `round` under `on_nonfinite: fail`.
fn non_finite_update(plan: &Plan, id: usize, round: usize, loss: std::result::Result<f32, f32>, bad: f32) -> Error {
    match loss {
        Err(loss) => Error::Diverged {
            model: plan.name.clone(),
            client: id.to_string(),
            round,
            loss,
        },
        Ok(_) => Error::NonFinite {
            place: format!("{}, client {id}, round {round}", plan.name),
            what: format!(
                "the client's update holds a weight {bad}; set faults.on_nonfinite: skip to drop such updates and \
                 count them as rejected"
            ),
        },
    }
}

/// The error for a model no client update ever reached.
fn never_updated(plan: &Plan) -> Error {
    Error::NonFinite {
        place: format!("{}, all {} rounds", plan.name, plan.rounds),
        what: "no client update reached the server in any round (every client offline, dropped out, or \
               rejected), so the model was never trained; lower faults.dropout, raise the availability, shorten \
               faults.expert_outage, or fix the non-finite updates"
            .into(),
    }
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

/// Training rows a dispatched client with `rows` points processes in `steps` local steps (and SCAFFOLD option
/// I's pass over its points).
fn round_rows(plan: &Plan, rows: usize, steps: usize) -> u64 {
    let option_one = plan.strategy.algorithm == (AlgorithmConfig::Scaffold { variant: 1 });
    rows_processed(rows, steps, plan.batch_size) + if option_one { rows as u64 } else { 0 }
}

/// The bytes and FLOPs of a round: the model (and SCAFFOLD's control variate) down to every selected client, up
/// from every returning one, and the `rows` the dispatched clients processed.
fn federated_cost(task: &dyn Task, counts: &Participation, rows: u64, scaffold: bool) -> RoundCost {
    let vectors = 1 + u64::from(scaffold);
    round_cost(
        task.param_count(),
        vectors,
        (counts.selected, counts.returned),
        rows,
        task.flops_per_row(),
    )
}
