//! Stage 1, prepare: everything a run derives from its scenario and data before training. The data (checked
//! usable), its clusters (k resolved, from the labels when clustering by label), the partition over clients,
//! the expert groups, the experts that survive `sampling.lost_experts`, and the routing policies that can run
//! with the experts that exist.

use super::inputs::{check_k_against_experts, k_beyond_experts};
use super::survivors::Survivors;
use super::{Clock, RunOptions, budget, device};
use crate::cluster::{Clustering, cluster};
use crate::data::{self, DataSplit, NaturalIds};
use crate::diffusion::Objective;
use crate::ensemble::{DenoiserDevice, Needs};
use crate::error::{Error, Result};
use crate::partition::{self, ExpertGroups, Roster, client_cluster_counts};
use crate::rng::{Stream, derive};
use crate::routing::{self, BuildContext, Built, ExpertData, PolicyLabel};
use crate::scenario::{LoadedScenario, Scenario};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Everything known before training.
pub(super) struct Prepared<'a> {
    /// The scenario and the folder its paths resolve against.
    pub loaded: &'a LoadedScenario,
    /// SHA-256 of the run's inputs (resolved scenario and data file), for `run.json`.
    pub inputs_sha256: String,
    /// Train and test splits.
    pub split: DataSplit,
    /// The clusters of the training split; their number is the resolved k.
    pub clusters: Clustering,
    /// Training rows of each client.
    pub parts: Vec<Vec<usize>>,
    /// Points of each cluster on each client.
    pub counts: Vec<Vec<usize>>,
    /// The experts and their clients.
    pub groups: ExpertGroups,
    /// The misbehaving clients (Byzantine, stragglers) and a data_swap attacker's poisoned points.
    pub roster: Roster,
    /// The policies to evaluate, in scenario order.
    pub policies: Vec<(PolicyLabel, Built)>,
    /// Policies skipped for asking more experts than exist (sweep cells), with the reason.
    pub skipped: BTreeMap<String, String>,
    /// Whether a router and a monolith must be trained.
    pub needs: Needs,
    /// Training rows of each expert (its clients' rows, sorted).
    pub expert_rows: Vec<Vec<usize>>,
    /// The experts sampling uses (all but `sampling.lost_experts`).
    pub survivors: Survivors,
    /// Each surviving expert's training data, in the order of `survivors.kept` (the oracle and the alignment
    /// analyses).
    pub expert_data: Arc<ExpertData>,
    /// The diffusion objective.
    pub objective: Objective,
    /// The device training and sampling run on (`None`: the CPU).
    pub device: Option<Box<dyn DenoiserDevice>>,
}

impl Prepared<'_> {
    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.loaded.scenario
    }
}

/// Prepares a run: budget check, data, clusters, partition, groups and policies.
pub(super) fn prepare<'a>(loaded: &'a LoadedScenario, options: &RunOptions, clock: &mut Clock) -> Result<Prepared<'a>> {
    let s = &loaded.scenario;
    let device = device::open(s)?;
    budget::check(s, &loaded.base_dir, options.force)?;
    let inputs_sha256 = inputs_sha256(s, &loaded.base_dir)?;
    let split = data::load(&s.data, s.clients.partition.natural_column(), &loaded.base_dir, s.seed)?;
    data::check_usable(&split, &s.metrics)?;
    check_conditionable(s, &split)?;
    let clusters = cluster(&split.train, &s.clusters, s.seed)?;
    let (parts, counts, groups) = group_clients(s, &clusters, split.train.natural_ids.as_ref())?;
    let survivors = Survivors::of(s, groups.experts.len())?;
    let skipped = infeasible(s, groups.experts.len(), options.skip_infeasible)?;
    check_fault_experts(s, groups.experts.len())?;
    let active = parts.len() - groups.idle_clients.len();
    for warning in super::krum_bound::krum_warnings(s, &groups, active) {
        crate::progress::warn(&warning);
    }
    let assignment = (clusters.assignment.as_slice(), clusters.k());
    let roster = partition::roster(&s.faults, (&parts, &groups), assignment, s.seed)?;
    let expert_rows = expert_rows(&parts, &groups);
    let expert_data = Arc::new(expert_data(s, &split, &expert_rows, &survivors));
    let objective = Objective::new(s.model.objective);
    let policies = build_policies(s, &skipped, &expert_data, &objective);
    let needs = Needs {
        router: policies
            .iter()
            .any(|(_, b)| matches!(b, Built::Routed(p) if p.needs_router())),
        monolith: policies.iter().any(|(_, b)| matches!(b, Built::Monolith)),
    };
    clock.lap("data_and_partition");
    Ok(Prepared {
        loaded,
        inputs_sha256,
        split,
        clusters,
        parts,
        counts,
        groups,
        roster,
        policies,
        skipped,
        needs,
        expert_rows,
        survivors,
        expert_data,
        objective,
        device,
    })
}

/// Every expert a `faults.expert_outage` entry names must exist (their number is known once clients are grouped).
fn check_fault_experts(s: &Scenario, experts: usize) -> Result<()> {
    for (i, outage) in s.faults.expert_outage.iter().enumerate() {
        if outage.expert >= experts {
            return Err(Error::invalid(
                format!("faults.expert_outage[{i}].expert"),
                format!(
                    "expert {} does not exist: the run has {experts} experts (0 to {})",
                    outage.expert,
                    experts.saturating_sub(1)
                ),
            ));
        }
    }
    Ok(())
}

/// SHA-256 of what a run reads: its resolved scenario and the bytes of its data file, if it has one, and the
/// ddmsim version that reads them. A sweep or study cell is reused only while this is unchanged.
pub fn inputs_sha256(s: &Scenario, base_dir: &Path) -> Result<String> {
    Ok(crate::store::inputs_sha256_with(
        s,
        data::source_sha256(&s.data, base_dir)?.as_deref(),
    ))
}

/// Each client's rows, each client's cluster counts, and the expert groups.
type Grouped = (Vec<Vec<usize>>, Vec<Vec<usize>>, ExpertGroups);

/// The partition over clients, the cluster counts of each client and the expert groups.
fn group_clients(s: &Scenario, clusters: &Clustering, natural_ids: Option<&NaturalIds>) -> Result<Grouped> {
    let k = clusters.k();
    let parts = partition::partition(
        &s.clients.partition,
        &clusters.assignment,
        k,
        s.clients.count,
        natural_ids,
        s.seed,
    )?;
    let counts = client_cluster_counts(&parts, &clusters.assignment, k);
    let groups = partition::group(
        &counts,
        k,
        s.experts.grouping,
        &mut derive(s.seed, Stream::Grouping, &[]),
    );
    if groups.experts.is_empty() {
        return Err(Error::Partition {
            path: "clients".into(),
            message: "no client holds any data, so there is no expert to train".into(),
        });
    }
    Ok((parts, counts, groups))
}

/// The policies that ask for more experts than exist: skipped and listed (sweep cells), or an error.
fn infeasible(s: &Scenario, experts: usize, skip: bool) -> Result<BTreeMap<String, String>> {
    if !skip {
        check_k_against_experts(&s.routing, experts)?;
        return Ok(BTreeMap::new());
    }
    Ok(s.routing
        .iter()
        .enumerate()
        .filter_map(|(i, r)| k_beyond_experts(i, r, experts).map(|e| (PolicyLabel::of(r).to_string(), e.to_string())))
        .collect())
}

/// The training rows of each expert: its clients' rows, sorted.
fn expert_rows(parts: &[Vec<usize>], groups: &ExpertGroups) -> Vec<Vec<usize>> {
    groups
        .experts
        .iter()
        .map(|g| {
            let mut rows: Vec<usize> = g.clients.iter().flat_map(|&c| parts[c].iter().copied()).collect();
            rows.sort_unstable();
            rows
        })
        .collect()
}

/// Each surviving expert's training data: a seeded subsample for the 5-NN distances, and its centroid. The
/// subsamples are drawn for every trained expert, so a survivor's are the same whichever experts are lost.
fn expert_data(s: &Scenario, split: &DataSplit, expert_rows: &[Vec<usize>], survivors: &Survivors) -> ExpertData {
    let all = ExpertData::new(
        &split.train.x,
        expert_rows,
        s.metrics.alignment_points,
        s.metrics.alignment_neighbors,
        &mut derive(s.seed, Stream::Metrics, &[4]),
    );
    match survivors.all() {
        true => all,
        false => all.restricted_to(&survivors.kept),
    }
}

/// The scenario's policies that are not skipped, built, with their labels.
fn build_policies(
    s: &Scenario,
    skipped: &BTreeMap<String, String>,
    data: &Arc<ExpertData>,
    objective: &Objective,
) -> Vec<(PolicyLabel, Built)> {
    s.routing
        .iter()
        .enumerate()
        .map(|(index, r)| (index, r, PolicyLabel::of(r)))
        .filter(|(_, _, label)| !skipped.contains_key(&label.to_string()))
        .map(|(index, r, label)| {
            let context = BuildContext {
                seed: s.seed,
                index,
                data: Arc::clone(data),
                objective: objective.clone(),
            };
            (label, routing::build(r, &context))
        })
        .collect()
}

/// Conditional denoisers need a class for every training point; every class the held-out points have, and every
/// class samples request, must have training points (its embedding is otherwise untrained).
fn check_conditionable(s: &Scenario, split: &DataSplit) -> Result<()> {
    if !s.model.condition.enabled {
        return Ok(());
    }
    let (Some(train), Some(test), Some(classes)) = (
        split.train.labels.as_ref(),
        split.test.labels.as_ref(),
        split.train.num_classes(),
    ) else {
        return Err(Error::invalid(
            "model.condition.enabled",
            "class-conditional denoisers need labelled data (gmm: the mixture component; digits; csv: set \
             label_column)",
        ));
    };
    let trained: std::collections::BTreeSet<usize> = train.iter().copied().collect();
    let requested: Vec<usize> = match &s.sampling.guidance {
        Some(crate::scenario::GuidanceConfig {
            classes: crate::scenario::RequestedClasses::List(list),
            ..
        }) => list.clone(),
        Some(_) => (0..classes).collect(),
        None => Vec::new(),
    };
    if let Some(&missing) = requested.iter().find(|c| !trained.contains(c)) {
        let known: Vec<String> = trained.iter().map(usize::to_string).collect();
        return Err(Error::invalid(
            "sampling.guidance.classes",
            format!(
                "class {missing} has no training point, so samples cannot request it; the training points have \
                 classes {}: list the ones to request",
                known.join(", ")
            ),
        ));
    }
    if let Some(&missing) = test.iter().find(|c| !trained.contains(c)) {
        return Err(Error::invalid(
            "model.condition.enabled",
            format!("the held-out points have class {missing} but no training point has it; use more points"),
        ));
    }
    Ok(())
}
