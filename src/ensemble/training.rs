//! One run's trainings laid out once: every model's plan (built by one function), its clients and its task,
//! then trained on the CPU (models in parallel) or with the denoisers' rounds batched on a device.

use super::gang::Gang;
use super::{DenoiserDevice, Needs, denoiser_net, router_net};
use crate::data::Dataset;
use crate::diffusion::{Conditioning, DenoiserModel, DenoiserTask, Objective};
use crate::error::Result;
use crate::federated::{BatchedLocal, Client, Faults, Plan, RoundLog, Task, train, train_batched};
use crate::partition::{ExpertGroups, Roster};
use crate::progress::Progress;
use crate::rng::{Stream, derive};
use crate::routing::{RouterModel, RouterTask};
use crate::scenario::Scenario;
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::sync::Arc;

/// A trained denoiser with its round log.
type ModelResult = Result<(DenoiserModel, Vec<RoundLog>)>;
/// The experts, in order.
type ModelsResult = Result<Vec<(DenoiserModel, Vec<RoundLog>)>>;
/// The router or the monolith, when needed.
type OptionalResult<M> = Result<Option<(M, Vec<RoundLog>)>>;
/// Everything trained: experts, and router and monolith.
pub(super) type Trained = (
    ModelsResult,
    (OptionalResult<RouterModel>, OptionalResult<DenoiserModel>),
);

/// Stream tag of the router (experts use their index).
const ROUTER_TAG: u64 = 1 << 32;
/// Stream tag of the monolith.
const MONOLITH_TAG: u64 = 2 << 32;

/// The models of one run to train, with what each is trained on.
pub(super) struct Training<'a> {
    s: &'a Scenario,
    parts: &'a [Vec<usize>],
    /// The rows each client trains the denoisers on (its own, or a data_swap attacker's poisoned points).
    denoiser_parts: Vec<&'a [usize]>,
    groups: &'a ExpertGroups,
    /// The faults every model meets (expert outages added per expert).
    faults: Faults,
    needs: Needs,
    task: DenoiserTask<'a>,
    objective: Objective,
    /// Clients per round of each expert.
    expert_per_round: Vec<usize>,
    /// Clients that hold data (the router's).
    active: Vec<Client<'a>>,
    /// Progress in optimizer steps of all models.
    pub bar: ProgressBar,
}

impl<'a> Training<'a> {
    /// Lays out the trainings of `groups` on `train` (its labels are the classes of conditional denoisers).
    pub fn new(
        s: &'a Scenario,
        train: &'a Dataset,
        (parts, groups, roster): (&'a [Vec<usize>], &'a ExpertGroups, &'a Roster),
        needs: Needs,
        progress: &Progress,
    ) -> Self {
        let f = &s.federation;
        let objective = Objective::new(s.model.objective);
        let expert_per_round: Vec<usize> = groups
            .experts
            .iter()
            .map(|g| f.clients_per_round.of(g.clients.len()))
            .collect();
        let active: Vec<Client> = (groups.active_clients(parts.len()).into_iter())
            .map(|id| Client { id, rows: &parts[id] })
            .collect();
        let mut training = Training {
            s,
            parts,
            denoiser_parts: roster.denoiser_parts(parts),
            groups,
            faults: faults(s, roster, parts.len()),
            needs,
            task: DenoiserTask {
                net: denoiser_net(s, train.dim(), train.num_classes().unwrap_or(0)),
                objective: objective.clone(),
                data: &train.x,
                condition: train
                    .labels
                    .as_deref()
                    .filter(|_| s.model.condition.enabled)
                    .map(|labels| Conditioning {
                        labels,
                        dropout: s.model.condition.dropout,
                    }),
            },
            objective,
            expert_per_round,
            active,
            bar: ProgressBar::hidden(),
        };
        training.bar = progress.bar(training.total_steps(), "training");
        training
    }

    /// Optimizer steps of every model to train.
    fn total_steps(&self) -> u64 {
        let expert_steps = (self.expert_per_round.iter().sum::<usize>() * self.s.federation.rounds) as u64
            * self.s.federation.local_steps as u64;
        let router = self.router_plan();
        let router_steps = (router.clients_per_round * router.rounds * router.local_steps) as u64;
        expert_steps
            + if self.needs.monolith { expert_steps } else { 0 }
            + if self.needs.router { router_steps } else { 0 }
    }

    /// The plan of one model; everything not given comes from the federation and model settings.
    fn plan(&self, name: String, tag: u64, clients_per_round: usize) -> Plan {
        let (f, m) = (&self.s.federation, &self.s.model);
        Plan {
            name,
            tag,
            mode: f.mode,
            strategy: f.strategy(),
            faults: self.faults.clone(),
            rounds: f.rounds,
            clients_per_round,
            local_steps: f.local_steps,
            batch_size: f.batch_size,
            optimizer: m.optimizer.clone(),
            local_optimizer: f.local_optimizer,
            ema: m.ema,
            seed: self.s.seed,
        }
    }

    /// Whether the denoisers' local updates can run batched on a device (see [`Plan::batchable`]).
    pub fn batchable(&self) -> bool {
        self.monolith_plan().batchable()
    }

    /// An expert's plan: the federation's, with the rounds its group is offline.
    fn expert_plan(&self, e: usize) -> Plan {
        let mut plan = self.plan(format!("expert {e}"), e as u64, self.expert_per_round[e]);
        plan.faults.outages = (self.s.faults.expert_outage.iter())
            .filter(|o| o.expert == e)
            .map(|o| (o.from_round, o.to_round))
            .collect();
        plan
    }

    /// The monolith trains with the experts' clients per round in all (matched optimizer steps).
    fn monolith_plan(&self) -> Plan {
        let matched = self.expert_per_round.iter().sum::<usize>().min(self.active.len());
        self.plan("monolith".into(), MONOLITH_TAG, matched)
    }

    /// The router's plan: the federation's, with the router's own rounds, clients, steps and optimizer.
    fn router_plan(&self) -> Plan {
        let (r, f) = (&self.s.router, &self.s.federation);
        Plan {
            rounds: r.rounds,
            local_steps: r.local_steps,
            optimizer: r.optimizer.clone(),
            local_optimizer: r.local_optimizer.unwrap_or(f.local_optimizer),
            strategy: r.strategy(f),
            ..self.plan("router".into(), ROUTER_TAG, r.clients_per_round.of(self.active.len()))
        }
    }

    /// An expert's clients, with the rows they train denoisers on.
    fn expert_clients(&self, e: usize) -> Vec<Client<'_>> {
        self.groups.experts[e]
            .clients
            .iter()
            .map(|&id| Client {
                id,
                rows: self.denoiser_parts[id],
            })
            .collect()
    }

    /// The monolith's clients (every client with data), with the rows they train denoisers on.
    fn monolith_clients(&self) -> Vec<Client<'_>> {
        (self.active.iter())
            .map(|c| Client {
                id: c.id,
                rows: self.denoiser_parts[c.id],
            })
            .collect()
    }

    /// Trains one denoiser (an expert or the monolith) by `plan` over `clients`.
    fn denoiser(&self, plan: Plan, clients: &[Client], batched: Option<&dyn BatchedLocal>) -> ModelResult {
        let init = self
            .task
            .net
            .mlp
            .init(&mut derive(self.s.seed, Stream::Init, &[plan.tag]));
        let trained = train_batched(&self.task, init, clients, &plan, &self.bar, batched)?;
        let model = DenoiserModel {
            net: self.task.net.clone(),
            params: trained.params,
        };
        Ok((model, trained.log))
    }

    /// Trains the router on every active client, when needed: each training point is labelled with the expert
    /// of the client that holds it.
    fn router(&self) -> OptionalResult<RouterModel> {
        if !self.needs.router {
            return Ok(None);
        }
        let data = self.task.data;
        let mut labels = vec![0usize; data.nrows()];
        for (e, g) in self.groups.experts.iter().enumerate() {
            for &c in &g.clients {
                self.parts[c].iter().for_each(|&i| labels[i] = e);
            }
        }
        let classes = self.task.net.classes;
        let net = router_net(self.s, data.ncols(), self.groups.experts.len(), classes);
        let task = RouterTask {
            net: net.clone(),
            objective: self.objective.clone(),
            data,
            labels: &labels,
            condition: self.task.condition.filter(|_| self.s.router.conditional),
        };
        let init = task.net.mlp.init(&mut derive(self.s.seed, Stream::Init, &[ROUTER_TAG]));
        debug_assert_eq!(init.len(), task.param_count());
        let trained = train(&task, init, &self.active, &self.router_plan(), &self.bar)?;
        let temperature = self.s.router.temperature as f32;
        Ok(Some((
            RouterModel {
                net,
                params: trained.params,
                temperature,
            },
            trained.log,
        )))
    }

    /// Everything on the CPU: experts in parallel, beside the router and the monolith.
    pub fn on_cpu(&self) -> Trained {
        let experts = || {
            (0..self.groups.experts.len())
                .into_par_iter()
                .map(|e| self.denoiser(self.expert_plan(e), &self.expert_clients(e), None))
                .collect()
        };
        let monolith = || {
            self.needs
                .monolith
                .then(|| self.denoiser(self.monolith_plan(), &self.monolith_clients(), None))
                .transpose()
        };
        rayon::join(experts, || rayon::join(|| self.router(), monolith))
    }

    /// Every denoiser's round loop on its own thread, their rounds batched together on `device`; the router on
    /// the CPU meanwhile.
    pub fn on_device(&self, device: &dyn DenoiserDevice) -> Trained {
        let gang = Gang::new(
            device,
            &self.task,
            self.groups.experts.len() + usize::from(self.needs.monolith),
        );
        std::thread::scope(|scope| {
            let experts: Vec<_> = (0..self.groups.experts.len())
                .map(|e| {
                    let member = gang.member();
                    let (plan, clients) = (self.expert_plan(e), self.expert_clients(e));
                    scope.spawn(move || self.denoiser(plan, &clients, Some(&member)))
                })
                .collect();
            let monolith = self.needs.monolith.then(|| {
                let member = gang.member();
                let (plan, clients) = (self.monolith_plan(), self.monolith_clients());
                scope.spawn(move || self.denoiser(plan, &clients, Some(&member)))
            });
            let router = self.router();
            let join = |h: std::thread::ScopedJoinHandle<'_, _>| h.join().expect("a training thread panicked");
            let experts = experts.into_iter().map(join).collect();
            (experts, (router, monolith.map(join).transpose()))
        })
    }
}

/// The faults of the scenario as every model's training meets them (outages are per expert, added to its plan).
fn faults(s: &Scenario, roster: &Roster, clients: usize) -> Faults {
    let f = &s.faults;
    Faults {
        dropout: f.dropout,
        availability: f.availability,
        outages: Vec::new(),
        stragglers: Arc::new(Roster::flags(&roster.stragglers, clients)),
        work: f.stragglers.work,
        straggler_policy: f.stragglers.policy,
        byzantine: Arc::new(Roster::flags(&roster.byzantine, clients)),
        attack: f.byzantine.kind,
        scale: f.byzantine.scale,
        on_nonfinite: f.on_nonfinite,
    }
}
