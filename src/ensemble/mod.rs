//! Training of a decentralized diffusion model: one expert per client group (FedAvg within the group), a router
//! trained by all clients, and a monolith trained by all clients with the experts' total optimizer steps.

mod gang;

use crate::diffusion::{DenoiserModel, DenoiserTask, LoadedNets, Objective};
use crate::error::Result;
use crate::federated::{BatchedLocal, Client, ClientWork, LocalResult, Plan, RoundLog, Task, train, train_batched};
use crate::nn::TimeNet;
use crate::partition::ExpertGroups;
use crate::progress::Progress;
use crate::rng::{Stream, derive};
use crate::routing::{RouterModel, RouterTask};
use crate::scenario::{OptimizerConfig, Scenario};
use gang::Gang;
use ndarray::Array2;
use rayon::prelude::*;

/// A trained denoiser with its round log.
type ModelResult = Result<(DenoiserModel, Vec<RoundLog>)>;
/// The experts, in order.
type ModelsResult = Result<Vec<(DenoiserModel, Vec<RoundLog>)>>;
/// The router, when needed.
type RouterResult = Result<Option<(RouterModel, Vec<RoundLog>)>>;
/// The monolith, when needed.
type MonolithResult = Result<Option<(DenoiserModel, Vec<RoundLog>)>>;

/// Stream tag of the router (experts use their index).
const ROUTER_TAG: u64 = 1 << 32;
/// Stream tag of the monolith.
const MONOLITH_TAG: u64 = 2 << 32;

/// Everything trained for one run.
pub struct Ensemble {
    /// One denoiser per expert group, in expert order.
    pub experts: Vec<DenoiserModel>,
    /// The router, when a policy needs it.
    pub router: Option<RouterModel>,
    /// The monolith, when a policy needs it.
    pub monolith: Option<DenoiserModel>,
    /// Per-round log of every model.
    pub log: Vec<RoundLog>,
}

/// What to train besides the experts.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// Train the router.
    pub router: bool,
    /// Train the monolith.
    pub monolith: bool,
}

/// Clients selected per round out of `n` for a fraction (at least one).
fn per_round(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64).round() as usize).clamp(1, n.max(1))
}

/// The denoiser architecture of a scenario for data of dimension `dim`.
pub fn denoiser_net(s: &Scenario, dim: usize) -> TimeNet {
    TimeNet::new(dim, s.model.time_embedding, &s.model.hidden, dim, s.model.residual)
}

/// The router architecture of a scenario for `experts` experts.
pub fn router_net(s: &Scenario, dim: usize, experts: usize) -> TimeNet {
    TimeNet::new(dim, s.router.time_embedding, &s.router.hidden, experts, false)
}

/// A device that runs the denoisers' local updates of a round together and holds nets for sampling (the GPU of
/// the `gpu` feature).
pub trait DenoiserDevice: Sync {
    /// Each client's weights and mean loss after `steps` fresh-optimizer steps of `task`, client k from
    /// `starts[k]` (clients of different models may share a call).
    fn local_updates(
        &self,
        task: &DenoiserTask,
        starts: &[&[f32]],
        clients: &mut [ClientWork],
        steps: usize,
        batch_size: usize,
        optimizer: &OptimizerConfig,
    ) -> Result<Vec<LocalResult>>;

    /// Uploads `nets` (architecture and weights) for sampling; they keep their order.
    fn load_nets(&self, nets: &[(&TimeNet, &[f32])]) -> Result<Box<dyn LoadedNets + '_>>;

    /// The device's name for logs and run.json.
    fn describe(&self) -> String;
}

/// Trains experts, router and monolith on the clients' data (`parts[c]` are client c's rows of `train`); with a
/// `device`, the experts' and the monolith's FedAvg local updates run on it, every model's round as one batch
/// (the router always on the CPU).
pub fn train_ensemble(
    s: &Scenario,
    train_x: &Array2<f32>,
    parts: &[Vec<usize>],
    groups: &ExpertGroups,
    needs: Needs,
    progress: &Progress,
    device: Option<&dyn DenoiserDevice>,
) -> Result<Ensemble> {
    let dim = train_x.ncols();
    let objective = Objective::new(s.model.objective);
    let f = &s.federation;
    let plan = |name: String, tag: u64, clients_per_round: usize| Plan {
        name,
        tag,
        mode: f.mode,
        rounds: f.rounds,
        clients_per_round,
        local_steps: f.local_steps,
        batch_size: f.batch_size,
        optimizer: s.model.optimizer.clone(),
        local_optimizer: f.local_optimizer,
        ema: s.model.ema,
        seed: s.seed,
    };
    let expert_per_round: Vec<usize> = groups
        .experts
        .iter()
        .map(|g| per_round(f.clients_per_round, g.clients.len()))
        .collect();
    let active: Vec<Client> = (0..parts.len())
        .filter(|c| !groups.idle_clients.contains(c))
        .map(|id| Client { id, rows: &parts[id] })
        .collect();
    let expert_steps: usize = expert_per_round.iter().sum::<usize>() * f.rounds * f.local_steps;
    let router_per_round = per_round(s.router.clients_per_round, active.len());
    let router_steps = router_per_round * s.router.rounds * s.router.local_steps;
    let total = expert_steps as u64
        + if needs.monolith { expert_steps as u64 } else { 0 }
        + if needs.router { router_steps as u64 } else { 0 };
    let bar = progress.bar(total, "training");

    let net = denoiser_net(s, dim);
    let task = DenoiserTask {
        net: net.clone(),
        objective: objective.clone(),
        data: train_x,
    };
    let train_model = |plan: Plan, clients: &[Client], batched: Option<&dyn BatchedLocal>| -> ModelResult {
        let init = task.net.mlp.init(&mut derive(s.seed, Stream::Init, &[plan.tag]));
        let trained = train_batched(&task, init, clients, &plan, &bar, batched)?;
        Ok((
            DenoiserModel {
                net: net.clone(),
                params: trained.params,
            },
            trained.log,
        ))
    };
    let expert_clients = |e: usize| -> Vec<Client> {
        groups.experts[e]
            .clients
            .iter()
            .map(|&id| Client { id, rows: &parts[id] })
            .collect()
    };
    let expert_plan = |e: usize| plan(format!("expert {e}"), e as u64, expert_per_round[e]);
    let monolith_plan = || {
        let matched = expert_per_round.iter().sum::<usize>().min(active.len());
        plan("monolith".into(), MONOLITH_TAG, matched)
    };
    let router_job = || -> Result<Option<(RouterModel, Vec<RoundLog>)>> {
        if !needs.router {
            return Ok(None);
        }
        let mut labels = vec![0usize; train_x.nrows()];
        for (e, g) in groups.experts.iter().enumerate() {
            for &c in &g.clients {
                parts[c].iter().for_each(|&i| labels[i] = e);
            }
        }
        let rnet = router_net(s, dim, groups.experts.len());
        let rtask = RouterTask {
            net: rnet.clone(),
            objective: objective.clone(),
            data: train_x,
            labels: &labels,
        };
        let rplan = Plan {
            name: "router".into(),
            tag: ROUTER_TAG,
            mode: f.mode,
            rounds: s.router.rounds,
            clients_per_round: router_per_round,
            local_steps: s.router.local_steps,
            batch_size: f.batch_size,
            optimizer: s.router.optimizer.clone(),
            local_optimizer: s.router.local_optimizer.unwrap_or(f.local_optimizer),
            ema: s.model.ema,
            seed: s.seed,
        };
        let init = rtask.net.mlp.init(&mut derive(s.seed, Stream::Init, &[ROUTER_TAG]));
        debug_assert_eq!(init.len(), rtask.param_count());
        let trained = train(&rtask, init, &active, &rplan, &bar)?;
        Ok(Some((
            RouterModel {
                net: rnet,
                params: trained.params,
                temperature: s.router.temperature as f32,
            },
            trained.log,
        )))
    };

    let (experts, (router, monolith)): (ModelsResult, (RouterResult, MonolithResult)) = match device {
        None => {
            let experts_job = || {
                (0..groups.experts.len())
                    .into_par_iter()
                    .map(|e| train_model(expert_plan(e), &expert_clients(e), None))
                    .collect()
            };
            let monolith_job = || {
                needs
                    .monolith
                    .then(|| train_model(monolith_plan(), &active, None))
                    .transpose()
            };
            rayon::join(experts_job, || rayon::join(router_job, monolith_job))
        }
        Some(device) => {
            // Every denoiser's round loop on its own thread, their rounds batched together on the device.
            let gang = Gang::new(device, &task, groups.experts.len() + usize::from(needs.monolith));
            std::thread::scope(|scope| {
                let experts: Vec<_> = (0..groups.experts.len())
                    .map(|e| {
                        let member = gang.member();
                        let (plan, clients) = (expert_plan(e), expert_clients(e));
                        scope.spawn(move || train_model(plan, &clients, Some(&member)))
                    })
                    .collect();
                let monolith = needs.monolith.then(|| {
                    let member = gang.member();
                    let plan = monolith_plan();
                    let active = &active;
                    scope.spawn(move || train_model(plan, active, Some(&member)))
                });
                let router = router_job();
                let join = |h: std::thread::ScopedJoinHandle<'_, _>| h.join().expect("a training thread panicked");
                let experts = experts.into_iter().map(join).collect();
                (experts, (router, monolith.map(join).transpose()))
            })
        }
    };
    bar.finish_and_clear();
    let mut log = Vec::new();
    let mut expert_models = Vec::new();
    for (model, l) in experts? {
        expert_models.push(model);
        log.extend(l);
    }
    let router = router?.map(|(m, l)| {
        log.extend(l);
        m
    });
    let monolith = monolith?.map(|(m, l)| {
        log.extend(l);
        m
    });
    Ok(Ensemble {
        experts: expert_models,
        router,
        monolith,
        log,
    })
}
