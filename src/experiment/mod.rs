//! The experiment driver: the only place that knows the order of the pipeline.
//!
//! scenario -> data -> clusters -> partition -> expert groups -> federated training -> routed sampling
//! -> metrics -> records.

mod device;
mod inputs;

use crate::analysis::{AnalysisSetup, PolicyAnalysis, StabilitySettings, Subject, analyse_policy};
use crate::classifier::{self, ClassifierScores};
use crate::cluster::cluster;
use crate::data;
use crate::diffusion::{Denoiser, DeviceDenoiser, Objective, sampler};
use crate::ensemble::{Needs, train_ensemble};
use crate::error::{Error, Result};
use crate::metrics::Reference;
use crate::model_cache::{ModelCache, training_key};
use crate::nn::weights;
use crate::output::{Staging, write_atomic};
use crate::partition::{self, client_cluster_counts, mean_pairwise_tv, purity};
use crate::progress::Progress;
use crate::report::{self, Record};
use crate::rng::{Stream, derive};
use crate::routing::{self, BuildContext, Built, ExpertData, RoutedMixture};
use crate::scenario::{LoadedScenario, to_yaml};
use inputs::{check_k_against_experts, data_scale, gaussian, held_out_points, k_beyond_experts, nearest_distance};
use ndarray::{ArrayView2, Axis};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// How to run: where to write and whether to show progress.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The output folder (replaced only when the run succeeds).
    pub out_dir: PathBuf,
    /// Hide progress bars.
    pub quiet: bool,
    /// Where trained models are cached and reused (`None`: always train, store nothing).
    pub cache: Option<PathBuf>,
    /// Skip (and list in `run.json`) the policies that ask for more experts than the grouping produced, instead
    /// of failing the run; sweeps use this so that, e.g., top-4 at near-IID skew does not sink the whole cell.
    pub skip_infeasible: bool,
    /// Stop after training: write the models, `training_loss.csv` and `run.json`, no sampling or metrics (the
    /// training workload alone, e.g. to time it against another framework).
    pub train_only: bool,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The output folder.
    pub out_dir: PathBuf,
    /// The rows of `results.csv`.
    pub records: Vec<Record>,
    /// The evaluation classifier's accuracy on the held-out split, when it was used.
    pub classifier_accuracy: Option<f64>,
}

/// Runs one scenario end to end and writes its output folder.
pub fn run(loaded: &LoadedScenario, options: &RunOptions) -> Result<RunOutcome> {
    let s = &loaded.scenario;
    let seed = s.seed;
    let progress = Progress::new(options.quiet);
    let started = Instant::now();
    let mut timings = serde_json::Map::new();
    let mut lap = Instant::now();
    let mut time = |name: &str, timings: &mut serde_json::Map<String, serde_json::Value>| {
        timings.insert(name.into(), lap.elapsed().as_secs_f64().into());
        lap = Instant::now();
    };

    let device = device::open(s)?;
    let split = data::load(&s.data, &loaded.base_dir, seed)?;
    let clusters = cluster(&split.train, &s.clusters, seed)?;
    let k = clusters.k();
    let parts = partition::partition(&s.clients.partition, &clusters.assignment, k, s.clients.count, seed)?;
    let counts = client_cluster_counts(&parts, &clusters.assignment, k);
    let groups = partition::group(&counts, k, s.experts.grouping, &mut derive(seed, Stream::Grouping, &[]));
    let experts = groups.experts.len();
    if experts == 0 {
        return Err(Error::Partition {
            path: "clients".into(),
            message: "no client holds any data, so there is no expert to train".into(),
        });
    }
    let mut skipped = serde_json::Map::new();
    if options.skip_infeasible {
        for (i, r) in s.routing.iter().enumerate() {
            if let Some(e) = k_beyond_experts(i, r, experts) {
                skipped.insert(routing::label(r), e.to_string().into());
            }
        }
    } else {
        check_k_against_experts(&s.routing, experts)?;
    }
    time("data_and_partition", &mut timings);

    let staging = Staging::create(&options.out_dir)?;
    let out = staging.path().to_path_buf();
    write_atomic(&out.join("scenario.resolved.yaml"), to_yaml(s).as_bytes())?;
    report::write_client_counts(&out.join("client_cluster_counts.csv"), &counts, &groups)?;
    let purity = purity(&groups, &counts, k);
    report::write_purity(&out.join("expert_purity.csv"), &purity, &groups, &counts)?;

    let expert_rows: Vec<Vec<usize>> = groups
        .experts
        .iter()
        .map(|g| {
            let mut rows: Vec<usize> = g.clients.iter().flat_map(|&c| parts[c].iter().copied()).collect();
            rows.sort_unstable();
            rows
        })
        .collect();
    let expert_data = Arc::new(ExpertData::new(
        &split.train.x,
        &expert_rows,
        s.metrics.alignment_points,
        s.metrics.alignment_neighbors,
        &mut derive(seed, Stream::Metrics, &[4]),
    ));
    let objective = Objective::new(s.model.objective);
    let built: Vec<(String, Built)> = s
        .routing
        .iter()
        .enumerate()
        .filter(|(_, r)| !skipped.contains_key(&routing::label(r)))
        .map(|(index, r)| {
            let context = BuildContext {
                seed,
                index,
                data: Arc::clone(&expert_data),
                objective: objective.clone(),
            };
            (routing::label(r), routing::build(r, &context))
        })
        .collect();
    let needs = Needs {
        router: built
            .iter()
            .any(|(_, b)| matches!(b, Built::Routed(p) if p.needs_router())),
        monolith: built.iter().any(|(_, b)| matches!(b, Built::Monolith)),
    };
    let device_name = device.as_ref().map(|d| d.describe());
    let key = training_key(s, &split.train.x, needs, device_name.as_deref());
    let cache = options.cache.as_ref().map(|dir| ModelCache { dir: dir.clone() });
    let cached = match &cache {
        Some(c) => c.load(&key, s, split.train.dim(), experts, needs)?,
        None => None,
    };
    let from_cache = cached.is_some();
    let ensemble = match cached {
        Some(e) => e,
        None => {
            let trained = train_ensemble(s, &split.train.x, &parts, &groups, needs, &progress, device.as_deref())?;
            if let Some(c) = &cache {
                c.store(&key, &trained)?;
            }
            trained
        }
    };
    report::write_training_log(&out.join("training_loss.csv"), &ensemble.log)?;
    for (j, expert) in ensemble.experts.iter().enumerate() {
        let meta = [("role", "expert".to_string()), ("expert", j.to_string())];
        weights::save(
            &out.join(format!("models/expert_{j}.safetensors")),
            &expert.net,
            &expert.params,
            &meta,
        )?;
    }
    if let Some(router) = &ensemble.router {
        let meta = [
            ("role", "router".to_string()),
            ("temperature", s.router.temperature.to_string()),
        ];
        weights::save(
            &out.join("models/router.safetensors"),
            &router.net,
            &router.params,
            &meta,
        )?;
    }
    if let Some(mono) = &ensemble.monolith {
        weights::save(
            &out.join("models/monolith.safetensors"),
            &mono.net,
            &mono.params,
            &[("role", "monolith".into())],
        )?;
    }
    time("training", &mut timings);
    let mut run_info = serde_json::json!({
        "ddmsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": s.name,
        "seed": seed,
        "threads": rayon::current_num_threads(),
        "data": { "train": split.train.len(), "test": split.test.len(), "dim": split.train.dim() },
        "clusters": k,
        "experts": experts,
        "partition": {
            "mean_pairwise_tv": mean_pairwise_tv(&counts),
            "dropped_experts": groups.dropped,
            "idle_clients": groups.idle_clients,
            "expert_clients": groups.experts.iter().map(|g| g.clients.len()).collect::<Vec<_>>(),
        },
        "parameters": {
            "expert": ensemble.experts[0].params.len(),
            "router": ensemble.router.as_ref().map(|r| r.params.len()),
        },
        "training": { "key": key, "from_cache": from_cache },
        "device": device_name.as_ref().map_or_else(|| "cpu".to_string(), |name| format!("gpu: {name}")),
    });
    if options.train_only {
        timings.insert("total".into(), started.elapsed().as_secs_f64().into());
        run_info["train_only"] = true.into();
        run_info["timings_seconds"] = timings.into();
        let json = serde_json::to_string_pretty(&run_info).expect("json");
        write_atomic(&out.join("run.json"), json.as_bytes())?;
        return Ok(RunOutcome {
            out_dir: staging.commit()?,
            records: Vec::new(),
            classifier_accuracy: None,
        });
    }

    let classifier = if classifier::enabled(&s.metrics.classifier, &s.data) {
        let config = &s.metrics.classifier;
        Some(classifier::load_or_train(
            &split.train,
            &split.test,
            config,
            seed,
            options.cache.as_deref(),
        )?)
    } else {
        None
    };
    let scores = classifier
        .as_ref()
        .map(|(c, _)| ClassifierScores::new(c, split.test.x.view()));
    let mut class_counts: Vec<(String, Vec<usize>)> = scores
        .iter()
        .map(|sc| ("reference:test".to_string(), sc.reference_counts().to_vec()))
        .collect();
    let mut score = |label: &str, x: ArrayView2<f32>, values: &mut crate::metrics::Values| {
        if let Some(sc) = &scores {
            let (v, counts) = sc.score(x);
            values.extend(v);
            class_counts.push((label.to_string(), counts));
        }
    };
    time("classifier", &mut timings);

    let reference = Reference::new(split.test.x.view(), &s.metrics, seed);
    report::write_points(&out.join("samples/reference_test.csv"), reference.points().view())?;
    let gmm = split.density.as_ref();
    let n = s.sampling.samples;
    let dim = split.train.dim();
    let mut records = Vec::new();
    let data_rows = {
        let m = n.min(split.train.len());
        let mut idx =
            rand::seq::index::sample(&mut derive(seed, Stream::Metrics, &[2]), split.train.len(), m).into_vec();
        idx.sort_unstable();
        split.train.x.select(Axis(0), &idx)
    };
    let mut values = reference.quality(data_rows.view(), gmm);
    score("reference:data", data_rows.view(), &mut values);
    records.push(Record {
        policy: "reference:data".into(),
        seed,
        values,
    });
    let noise = gaussian(n, dim, &mut derive(seed, Stream::Metrics, &[3]));
    let mut values = reference.quality(noise.view(), gmm);
    score("reference:noise", noise.view(), &mut values);
    records.push(Record {
        policy: "reference:noise".into(),
        seed,
        values,
    });
    time("reference_metrics", &mut timings);

    let x1 = gaussian(n, dim, &mut derive(seed, Stream::Sampling, &[]));
    let held = s.metrics.alignment.then(|| {
        let experts: Vec<&dyn Denoiser> = ensemble.experts.iter().map(|e| e as &dyn Denoiser).collect();
        held_out_points(s, &split.test, &clusters, &counts, &groups, &experts, &objective)
    });
    let badness = |x: ArrayView2<f32>| match gmm {
        Some(g) => x
            .rows()
            .into_iter()
            .map(|r| -g.log_density(r.mapv(f64::from).view()))
            .collect(),
        None => nearest_distance(x, reference.points().view()),
    };
    let setup = AnalysisSetup {
        objective: &objective,
        x1: &x1,
        steps: s.sampling.steps,
        stability: s.metrics.stability.then(|| StabilitySettings {
            small: s.metrics.perturbation_small,
            large: s.metrics.perturbation_large,
            data_scale: data_scale(&split.train.x),
            seed,
        }),
        alignment: held.as_ref().map(|h| (expert_data.as_ref(), h)),
        badness: &badness,
    };
    let mut sampling_times = serde_json::Map::new();
    let mut analysis_times = serde_json::Map::new();
    let mut analyses = Vec::new();
    // On a device, the sampler's calls run there (weights uploaded once); the analyses stay on the CPU.
    let on_device = device
        .as_deref()
        .map(|d| device::load_for_sampling(d, &ensemble))
        .transpose()?;
    let bar = progress.bar(built.len() as u64, "sampling");
    for (label, policy) in &built {
        bar.set_message(label.clone());
        let t0 = Instant::now();
        let (mixture, on_device_mixture);
        let (mono, mono_on_device);
        let (subject, sampled): (Subject, &dyn Denoiser) = match policy {
            Built::Monolith => {
                mono = ensemble.monolith.as_ref().expect("trained when a policy needs it");
                let sampled: &dyn Denoiser = match on_device.as_ref().and_then(|d| d.monolith.as_ref()) {
                    Some(nets) => {
                        mono_on_device = DeviceDenoiser {
                            nets: nets.as_ref(),
                            index: 0,
                        };
                        &mono_on_device
                    }
                    None => mono,
                };
                (Subject::Single(mono as &dyn Denoiser), sampled)
            }
            Built::Routed(p) => {
                mixture = RoutedMixture {
                    experts: &ensemble.experts,
                    router: ensemble.router.as_ref(),
                    policy: p.as_ref(),
                    device: None,
                };
                on_device_mixture = RoutedMixture {
                    device: on_device.as_ref().map(|d| d.routed.as_ref()),
                    ..mixture
                };
                (Subject::Routed(&mixture), &on_device_mixture)
            }
        };
        let samples = sampler::sample(sampled, &objective, &x1, s.sampling.steps);
        report::write_points(
            &out.join(format!("samples/{}.csv", routing::file_stem(label))),
            samples.view(),
        )?;
        let mut values = reference.quality(samples.view(), gmm);
        score(label, samples.view(), &mut values);
        sampling_times.insert(label.clone(), t0.elapsed().as_secs_f64().into());
        let t1 = Instant::now();
        let analysis = analyse_policy(subject, &setup);
        analysis_times.insert(label.clone(), t1.elapsed().as_secs_f64().into());
        values.extend(analysis.values.clone());
        records.push(Record {
            policy: label.clone(),
            seed,
            values,
        });
        analyses.push((label.clone(), analysis));
        bar.inc(1);
    }
    bar.finish_and_clear();
    time("sampling_and_metrics", &mut timings);
    report::write_results(&out, &records)?;
    if !class_counts.is_empty() {
        report::write_class_counts(&out.join("class_counts.csv"), &class_counts)?;
    }
    if s.metrics.stability {
        let rows = policy_rows(&analyses, seed, |a| &a.stability);
        report::write_stability_by_step(&out.join("stability_by_step.csv"), &rows)?;
    }
    if let Some(h) = &held {
        let rows = policy_rows(&analyses, seed, |a| &a.alignment);
        report::write_alignment_by_step(&out.join("alignment_by_step.csv"), &rows)?;
        report::write_routing_share(&out.join("routing_share_by_step.csv"), &rows)?;
        let rows = policy_rows(&analyses, seed, |a| &a.per_sample);
        report::write_per_sample(&out.join("per_sample.csv"), &rows)?;
        let rows = policy_rows(&analyses, seed, |a| &a.errors);
        report::write_routing_error(&out.join("routing_error_by_bin.csv"), &rows)?;
        report::write_expert_error(&out.join("expert_error.csv"), seed, &h.matrix())?;
    }

    timings.insert("total".into(), started.elapsed().as_secs_f64().into());
    run_info["data"]["reference"] = reference.points().nrows().into();
    let extra = serde_json::json!({
        "classifier": classifier.as_ref().map(|(c, cached)| serde_json::json!({
            "test_accuracy": c.test_accuracy,
            "from_cache": cached,
            "parameters": c.params.len(),
        })),
        "skipped_policies": skipped,
        "timings_seconds": timings,
        "sampling_seconds": sampling_times,
        "analysis_seconds": analysis_times,
    });
    if let (Some(info), serde_json::Value::Object(more)) = (run_info.as_object_mut(), extra) {
        info.extend(more);
    }
    let json = serde_json::to_string_pretty(&run_info).expect("json");
    write_atomic(&out.join("run.json"), json.as_bytes())?;
    let out_dir = staging.commit()?;
    Ok(RunOutcome {
        out_dir,
        records,
        classifier_accuracy: classifier.map(|(c, _)| c.test_accuracy),
    })
}

/// One long table's rows: every policy whose analysis produced rows of the kind `rows` picks.
fn policy_rows<'a, T>(
    analyses: &'a [(String, PolicyAnalysis)],
    seed: u64,
    rows: impl Fn(&'a PolicyAnalysis) -> &'a Vec<T>,
) -> Vec<report::PolicyRows<'a, T>> {
    analyses
        .iter()
        .filter(|(_, a)| !rows(a).is_empty())
        .map(|(label, a)| (label.as_str(), seed, rows(a).as_slice()))
        .collect()
}
