//! One FedAvg round with 100 clients (all taking part, 20 Adam steps of batch 64 each on the w=128, depth-3
//! denoiser), on the global rayon pool: the per-round cost of workload W at twice its participation.

use criterion::{Criterion, criterion_group, criterion_main};
use ddmsim::data::Gmm;
use ddmsim::diffusion::{DenoiserTask, Objective};
use ddmsim::federated::{Client, Faults, Plan, train};
use ddmsim::nn::TimeNet;
use ddmsim::rng::{Stream, derive};
use ddmsim::scenario::{FederationMode, LocalOptimizer, OptimizerConfig, OptimizerKind, Strategy};
use indicatif::ProgressBar;

const CLIENTS: usize = 100;
const PER_CLIENT: usize = 200;

fn bench_fedavg_round(c: &mut Criterion) {
    let gmm = Gmm::circle(8, 2, 4.0, 0.35, &[1.0; 8]);
    let (data, _) = gmm
        .sample(CLIENTS * PER_CLIENT, &mut derive(0, Stream::Data, &[]))
        .expect("a small sample");
    let task = DenoiserTask {
        net: TimeNet::new(2, 32, &[128, 128, 128], 2, false),
        objective: Objective::Flow,
        data: &data,
        condition: None,
    };
    let rows: Vec<usize> = (0..CLIENTS * PER_CLIENT).collect();
    let clients: Vec<Client> = rows
        .chunks(PER_CLIENT)
        .enumerate()
        .map(|(id, rows)| Client { id, rows })
        .collect();
    let plan = Plan {
        name: "bench".into(),
        tag: 0,
        mode: FederationMode::Fedavg,
        strategy: Strategy::default(),
        faults: Faults::default(),
        rounds: 1,
        clients_per_round: CLIENTS,
        local_steps: 20,
        batch_size: 64,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            grad_clip: 0.0,
            ..OptimizerConfig::default()
        },
        local_optimizer: LocalOptimizer::Fresh,
        ema: 0.0,
        seed: 0,
    };
    let init: Vec<f32> = task.net.mlp.init(&mut derive(0, Stream::Init, &[]));
    let hidden = ProgressBar::hidden();
    let mut group = c.benchmark_group("fedavg");
    group.sample_size(20);
    group.bench_function("round_100_clients", |b| {
        b.iter(|| train(&task, init.clone(), &clients, &plan, &hidden).expect("finite losses"))
    });
    group.finish();
}

criterion_group!(benches, bench_fedavg_round);
criterion_main!(benches);
