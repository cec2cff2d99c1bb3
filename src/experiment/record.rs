//! Stage 4, record: every file of the run (tables, models, samples, `run.json` and, for single runs, the report)
//! is written into the staging folder, which is then committed whole. Nothing is written after the commit.

use super::evaluate::Evaluated;
use super::prepare::Prepared;
use super::train::Trained;
use super::{Clock, RunOptions, RunOutcome};
use crate::analysis::PolicyAnalysis;
use crate::error::Result;
use crate::nn::weights;
use crate::partition::{mean_pairwise_tv, purity};
use crate::report::{self, PolicyRows};
use crate::routing::PolicyLabel;
use crate::scenario::to_yaml;
use crate::store::{
    ClassifierRecord, CostTotals, DataSizes, FaultsRecord, FolderKind, Parameters, PartitionRecord, RunRecord, Staging,
    TrainingRecord,
};
use std::path::Path;

/// Writes the run's folder and commits it.
pub(super) fn record(
    staging: Staging,
    p: &Prepared,
    t: &Trained,
    evaluated: Option<Evaluated>,
    options: &RunOptions,
    clock: Clock,
) -> Result<RunOutcome> {
    let dir = staging.path();
    write_inputs(dir, p)?;
    write_models(dir, p, t)?;
    if let Some(e) = &evaluated {
        write_evaluation(dir, p, e)?;
    }
    run_record(p, t, evaluated.as_ref(), options, clock).write(dir)?;
    if let (Some(report), Some(_)) = (options.report, &evaluated) {
        report(dir)?;
    }
    let out_dir = staging.commit(FolderKind::Run)?;
    let classifier_accuracy = evaluated
        .as_ref()
        .and_then(|e| e.classifier.as_ref())
        .map(|(c, _)| c.test_accuracy);
    Ok(RunOutcome {
        out_dir,
        records: evaluated.map(|e| e.records).unwrap_or_default(),
        classifier_accuracy,
    })
}

/// The resolved scenario, the clients' cluster counts and the experts' purity.
fn write_inputs(dir: &Path, p: &Prepared) -> Result<()> {
    crate::atomic::write_atomic(&dir.join("scenario.resolved.yaml"), to_yaml(p.scenario()).as_bytes())?;
    report::write_client_counts(&dir.join("client_cluster_counts.csv"), &p.counts, &p.groups)?;
    let purity = purity(&p.groups, &p.counts, p.clusters.k());
    report::write_purity(&dir.join("expert_purity.csv"), &purity, &p.groups, &p.counts)
}

/// The training log and every model's weights.
fn write_models(dir: &Path, p: &Prepared, t: &Trained) -> Result<()> {
    let ensemble = &t.ensemble;
    report::write_training_log(&dir.join("training_loss.csv"), &ensemble.log)?;
    for (j, expert) in ensemble.experts.iter().enumerate() {
        let meta = [("role", "expert".to_string()), ("expert", j.to_string())];
        let path = dir.join(format!("models/expert_{j}.safetensors"));
        weights::save(&path, &expert.net, &expert.params, &meta)?;
    }
    if let Some(router) = &ensemble.router {
        let temperature = p.scenario().router.temperature.to_string();
        let meta = [("role", "router".to_string()), ("temperature", temperature)];
        weights::save(
            &dir.join("models/router.safetensors"),
            &router.net,
            &router.params,
            &meta,
        )?;
    }
    if let Some(mono) = &ensemble.monolith {
        let meta = [("role", "monolith".to_string())];
        weights::save(&dir.join("models/monolith.safetensors"), &mono.net, &mono.params, &meta)?;
    }
    Ok(())
}

/// Samples, results and the analyses' long tables.
fn write_evaluation(dir: &Path, p: &Prepared, e: &Evaluated) -> Result<()> {
    let s = p.scenario();
    report::write_points(&dir.join("samples/reference_test.csv"), e.reference.view(), &[])?;
    for (label, samples) in &e.samples {
        let path = dir.join(format!("samples/{}.csv", label.file_stem()));
        report::write_points(&path, samples.view(), &e.requested)?;
    }
    report::write_results(dir, &e.records)?;
    if !e.experts.is_empty() {
        report::write_experts_alone(&dir.join("experts.csv"), s.seed, &e.experts)?;
    }
    if !p.survivors.all() {
        report::write_lost_experts(&dir.join("lost_experts.csv"), s.seed, &p.survivors.lost)?;
    }
    if let Some(g) = &s.sampling.guidance {
        let combined = g.apply == crate::scenario::GuidanceApply::Combined;
        report::write_guidance(
            &dir.join("guidance.csv"),
            s.seed,
            g.scale,
            combined,
            s.router.conditional,
        )?;
    }
    if !e.class_counts.is_empty() {
        report::write_class_counts(&dir.join("class_counts.csv"), &e.class_counts)?;
    }
    if s.metrics.stability {
        let rows = policy_rows(&e.analyses, s.seed, |a| &a.stability);
        report::write_stability_by_step(&dir.join("stability_by_step.csv"), &rows)?;
    }
    if let Some(held) = &e.held {
        let rows = policy_rows(&e.analyses, s.seed, |a| &a.alignment);
        report::write_alignment_by_step(&dir.join("alignment_by_step.csv"), &rows)?;
        report::write_routing_share(&dir.join("routing_share_by_step.csv"), &rows)?;
        let rows = policy_rows(&e.analyses, s.seed, |a| &a.per_sample);
        report::write_per_sample(&dir.join("per_sample.csv"), &rows)?;
        let rows = policy_rows(&e.analyses, s.seed, |a| &a.errors);
        report::write_routing_error(&dir.join("routing_error_by_bin.csv"), &rows)?;
        report::write_expert_error(&dir.join("expert_error.csv"), s.seed, &held.matrix())?;
    }
    Ok(())
}

/// One long table's rows: every policy whose analysis produced rows of the kind `rows` picks.
fn policy_rows<'a, T>(
    analyses: &'a [(PolicyLabel, PolicyAnalysis)],
    seed: u64,
    rows: impl Fn(&'a PolicyAnalysis) -> &'a Vec<T>,
) -> Vec<PolicyRows<'a, T>> {
    analyses
        .iter()
        .filter(|(_, a)| !rows(a).is_empty())
        .map(|(label, a)| (label, seed, rows(a).as_slice()))
        .collect()
}

/// The typed `run.json`.
fn run_record(p: &Prepared, t: &Trained, e: Option<&Evaluated>, options: &RunOptions, clock: Clock) -> RunRecord {
    let s = p.scenario();
    let groups = &p.groups;
    RunRecord {
        ddmsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: s.name.clone(),
        seed: s.seed,
        threads: rayon::current_num_threads(),
        inputs_sha256: p.inputs_sha256.clone(),
        data: DataSizes {
            train: p.split.train.len(),
            test: p.split.test.len(),
            dim: p.split.train.dim(),
            reference: e.map(|e| e.reference.nrows()),
        },
        clusters: p.clusters.k(),
        experts: groups.experts.len(),
        partition: PartitionRecord {
            mean_pairwise_tv: mean_pairwise_tv(&p.counts),
            dropped_experts: groups.dropped.clone(),
            idle_clients: groups.idle_clients.clone(),
            expert_clients: groups.experts.iter().map(|g| g.clients.len()).collect(),
        },
        parameters: Parameters {
            expert: t.ensemble.experts[0].params.len(),
            router: t.ensemble.router.as_ref().map(|r| r.params.len()),
        },
        training: TrainingRecord {
            key: t.key.clone(),
            from_cache: t.from_cache,
            cost: CostTotals::by_group(
                t.ensemble
                    .log
                    .iter()
                    .map(|r| (r.model.as_str(), r.bytes_down, r.bytes_up, r.flops)),
            ),
        },
        faults: (!p.roster.byzantine.is_empty() || !p.roster.stragglers.is_empty()).then(|| FaultsRecord {
            byzantine: p.roster.byzantine.clone(),
            stragglers: p.roster.stragglers.clone(),
            data_swap: p.roster.swapped.iter().map(|w| (w.client, w.cluster)).collect(),
        }),
        device: p
            .device
            .as_ref()
            .map_or_else(|| "cpu".into(), |d| format!("gpu: {}", d.describe())),
        train_only: options.train_only,
        classifier: e
            .and_then(|e| e.classifier.as_ref())
            .map(|(c, from_cache)| ClassifierRecord {
                test_accuracy: c.test_accuracy,
                from_cache: *from_cache,
                parameters: c.params.len(),
            }),
        skipped_policies: p.skipped.clone(),
        lost_experts: p.survivors.lost.clone(),
        timings_seconds: clock.finish(),
        sampling_seconds: e.map(|e| e.sampling_seconds.clone()).unwrap_or_default(),
        analysis_seconds: e.map(|e| e.analysis_seconds.clone()).unwrap_or_default(),
    }
}
