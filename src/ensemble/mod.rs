//! Training of a decentralized diffusion model: one expert per client group (FedAvg within the group), a router
//! trained by all clients, and a monolith trained by all clients with the experts' total optimizer steps.

mod gang;
mod training;

use crate::data::Dataset;
use crate::diffusion::{DenoiserModel, DenoiserTask, LoadedNets};
use crate::error::Result;
use crate::federated::{ClientWork, LocalResult, RoundLog};
use crate::nn::TimeNet;
use crate::partition::{ExpertGroups, Roster};
use crate::progress::Progress;
use crate::routing::RouterModel;
use crate::scenario::{OptimizerConfig, Scenario};
use training::Training;

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

/// The denoiser architecture of a scenario for data of dimension `dim` whose training points have `classes`
/// classes (used only when `model.condition` is on).
pub fn denoiser_net(s: &Scenario, dim: usize, classes: usize) -> TimeNet {
    let m = &s.model;
    let classes = if m.condition.enabled { classes } else { 0 };
    TimeNet::conditional(dim, m.time_embedding, classes, &m.hidden, dim, m.residual)
}

/// The router architecture of a scenario for `experts` experts, on points of `classes` classes (used only when
/// `router.conditional` is on).
pub fn router_net(s: &Scenario, dim: usize, experts: usize, classes: usize) -> TimeNet {
    let r = &s.router;
    let classes = if r.conditional { classes } else { 0 };
    TimeNet::conditional(dim, r.time_embedding, classes, &r.hidden, experts, false)
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

/// Trains experts, router and monolith on the clients' data (`parts[c]` are client c's rows of `train`, grouped
/// into experts by `groups`, with the misbehaving clients of `roster`); with a `device`, the experts' and the
/// monolith's FedAvg local updates run on it, every model's round as one batch (the router always on the CPU).
/// Conditional denoisers train on `train`'s labels.
pub fn train_ensemble(
    s: &Scenario,
    train: &Dataset,
    clients: (&[Vec<usize>], &ExpertGroups, &Roster),
    needs: Needs,
    progress: &Progress,
    device: Option<&dyn DenoiserDevice>,
) -> Result<Ensemble> {
    let training = Training::new(s, train, clients, needs, progress);
    let (experts, (router, monolith)) = match device {
        Some(device) => {
            debug_assert!(
                training.batchable(),
                "the device path is refused for other plans when it is opened"
            );
            training.on_device(device)
        }
        None => training.on_cpu(),
    };
    training.bar.finish_and_clear();
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
