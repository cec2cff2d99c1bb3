//! The experiment driver: the only place that knows the order of the pipeline.
//!
//! scenario -> data -> clusters -> partition -> expert groups -> federated training -> routed sampling
//! -> metrics -> records.

use crate::cluster::cluster;
use crate::data;
use crate::diffusion::{Denoiser, Objective, sampler};
use crate::ensemble::{Needs, train_ensemble};
use crate::error::{Error, Result};
use crate::metrics::Reference;
use crate::nn::weights;
use crate::output::{Staging, write_atomic};
use crate::partition::{self, client_cluster_counts, mean_pairwise_tv, purity};
use crate::progress::Progress;
use crate::report::{self, Record};
use crate::rng::{Stream, derive};
use crate::routing::{self, Built, RoutedMixture};
use crate::scenario::{LoadedScenario, RoutingConfig, to_yaml};
use ndarray::{Array2, Axis};
use rand_distr::{Distribution, StandardNormal};
use std::path::PathBuf;
use std::time::Instant;

/// How to run: where to write and whether to show progress.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The output folder (replaced only when the run succeeds).
    pub out_dir: PathBuf,
    /// Hide progress bars.
    pub quiet: bool,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The output folder.
    pub out_dir: PathBuf,
    /// The rows of `results.csv`.
    pub records: Vec<Record>,
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
    for (i, r) in s.routing.iter().enumerate() {
        if let RoutingConfig::TopK { k, .. } = r
            && *k > experts
        {
            return Err(Error::invalid(
                format!("routing[{i}].k"),
                format!("must be <= the number of experts that have clients ({experts}), got {k}"),
            ));
        }
    }
    time("data_and_partition", &mut timings);

    let staging = Staging::create(&options.out_dir)?;
    let out = staging.path().to_path_buf();
    write_atomic(&out.join("scenario.resolved.yaml"), to_yaml(s).as_bytes())?;
    report::write_client_counts(&out.join("client_cluster_counts.csv"), &counts, &groups)?;
    let purity = purity(&groups, &counts, k);
    report::write_purity(&out.join("expert_purity.csv"), &purity, &groups, &counts)?;

    let built: Vec<(String, Built)> = s
        .routing
        .iter()
        .map(|r| (routing::label(r), routing::build(r)))
        .collect();
    let needs = Needs {
        router: built
            .iter()
            .any(|(_, b)| matches!(b, Built::Routed(p) if p.needs_router())),
        monolith: built.iter().any(|(_, b)| matches!(b, Built::Monolith)),
    };
    let ensemble = train_ensemble(s, &split.train.x, &parts, &groups, needs, &progress)?;
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
    records.push(Record {
        policy: "reference:data".into(),
        seed,
        values: reference.quality(data_rows.view(), gmm),
    });
    let noise = gaussian(n, dim, &mut derive(seed, Stream::Metrics, &[3]));
    records.push(Record {
        policy: "reference:noise".into(),
        seed,
        values: reference.quality(noise.view(), gmm),
    });
    time("reference_metrics", &mut timings);

    let objective = Objective::new(s.model.objective);
    let x1 = gaussian(n, dim, &mut derive(seed, Stream::Sampling, &[]));
    let mut sampling_times = serde_json::Map::new();
    let bar = progress.bar(built.len() as u64, "sampling");
    for (label, policy) in &built {
        bar.set_message(label.clone());
        let t0 = Instant::now();
        let samples = match policy {
            Built::Monolith => {
                let mono = ensemble.monolith.as_ref().expect("trained when a policy needs it");
                sampler::sample(mono as &dyn Denoiser, &objective, &x1, s.sampling.steps)
            }
            Built::Routed(p) => {
                let mixture = RoutedMixture {
                    experts: &ensemble.experts,
                    router: ensemble.router.as_ref(),
                    policy: p.as_ref(),
                };
                sampler::sample(&mixture, &objective, &x1, s.sampling.steps)
            }
        };
        sampling_times.insert(label.clone(), t0.elapsed().as_secs_f64().into());
        report::write_points(
            &out.join(format!("samples/{}.csv", routing::file_stem(label))),
            samples.view(),
        )?;
        records.push(Record {
            policy: label.clone(),
            seed,
            values: reference.quality(samples.view(), gmm),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    time("sampling_and_metrics", &mut timings);
    report::write_results(&out, &records)?;

    timings.insert("total".into(), started.elapsed().as_secs_f64().into());
    let run_info = serde_json::json!({
        "ddmsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": s.name,
        "seed": seed,
        "threads": rayon::current_num_threads(),
        "data": { "train": split.train.len(), "test": split.test.len(), "dim": dim, "reference": reference.points().nrows() },
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
        "timings_seconds": timings,
        "sampling_seconds": sampling_times,
    });
    let json = serde_json::to_string_pretty(&run_info).expect("json");
    write_atomic(&out.join("run.json"), json.as_bytes())?;
    let out_dir = staging.commit()?;
    Ok(RunOutcome { out_dir, records })
}

/// `n` standard normal points in `dim` dimensions.
fn gaussian(n: usize, dim: usize, rng: &mut crate::rng::Rng) -> Array2<f32> {
    Array2::from_shape_simple_fn((n, dim), || {
        let z: f64 = StandardNormal.sample(rng);
        z as f32
    })
}
