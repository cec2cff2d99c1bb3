//! Routed sampling cost: one expert alone vs top-1, top-2 and full routing over 8 experts, on the same batch and
//! number of Euler steps (issue 6 asks top-1 <= 1.3x and full <= 8.5x one expert; benches/README.md has the table);
//! and guidance's cost: top-1 and full over 8 class-conditional experts at w = 1 (one prediction per expert) and
//! w = 7.5 (two: u and c).

use criterion::{Criterion, criterion_group, criterion_main};
use ddmsim::diffusion::{Denoiser, DenoiserModel, Guidance, Objective, sampler};
use ddmsim::nn::TimeNet;
use ddmsim::rng::{Stream, derive};
use ddmsim::routing::{Full, RoutedMixture, RouterModel, RoutingPolicy, TopK};
use ddmsim::scenario::GuidanceApply;
use ndarray::Array2;
use rand::Rng as _;
use std::hint::black_box;

const EXPERTS: usize = 8;
const SAMPLES: usize = 2000;
const STEPS: usize = 5;

/// A network with random weights everywhere (including the output layer, so routing is spread over experts).
fn random_params(net: &TimeNet, tag: u64) -> Vec<f32> {
    let rng = &mut derive(0, Stream::Init, &[tag]);
    (0..net.mlp.param_count())
        .map(|_| rng.random_range(-0.2..0.2))
        .collect()
}

/// Eight experts of 3 x 256 (conditioned on `classes` classes; 0: unconditional), a router, and the starting noise.
fn setup(classes: usize) -> (Vec<DenoiserModel>, RouterModel, Array2<f32>) {
    let experts = (0..EXPERTS as u64)
        .map(|j| {
            let net = TimeNet::conditional(2, 32, classes, &[256, 256, 256], 2, false);
            let params = random_params(&net, j);
            DenoiserModel { net, params }
        })
        .collect();
    let rnet = TimeNet::new(2, 32, &[128, 128], EXPERTS, false);
    let router = RouterModel {
        params: random_params(&rnet, 99),
        net: rnet,
        temperature: 1.0,
    };
    let rng = &mut derive(0, Stream::Sampling, &[]);
    let x1 = Array2::from_shape_simple_fn((SAMPLES, 2), || rng.random_range(-3.0f32..3.0));
    (experts, router, x1)
}

fn bench_routed_sampling(c: &mut Criterion) {
    let (experts, router, x1) = setup(0);
    let objective = Objective::Flow;
    let mut group = c.benchmark_group("routed_sampling");
    group.sample_size(20);
    group.bench_function("one_expert", |b| {
        b.iter(|| black_box(sampler::sample(&experts[0] as &dyn Denoiser, &objective, &x1, STEPS)))
    });
    let policies: [(&str, Box<dyn RoutingPolicy>); 3] = [
        (
            "top1_of_8",
            Box::new(TopK {
                k: 1,
                renormalize: true,
            }),
        ),
        (
            "top2_of_8",
            Box::new(TopK {
                k: 2,
                renormalize: true,
            }),
        ),
        ("full_of_8", Box::new(Full)),
    ];
    for (name, policy) in &policies {
        let mixture = RoutedMixture {
            experts: &experts,
            router: Some(&router),
            policy: policy.as_ref(),
            device: None,
            guidance: None,
        };
        group.bench_function(*name, |b| {
            b.iter(|| black_box(sampler::sample(&mixture, &objective, &x1, STEPS)))
        });
    }
    group.finish();
}

fn bench_guided_sampling(c: &mut Criterion) {
    let (experts, router, x1) = setup(EXPERTS);
    let objective = Objective::Flow;
    let top1 = TopK {
        k: 1,
        renormalize: true,
    };
    let mut group = c.benchmark_group("guided_sampling");
    group.sample_size(20);
    for (name, policy, scale) in [
        ("top1_w1", &top1 as &dyn RoutingPolicy, 1.0f32),
        ("top1_w7.5", &top1, 7.5),
        ("full_w1", &Full, 1.0),
        ("full_w7.5", &Full, 7.5),
    ] {
        let guidance = Guidance {
            scale,
            classes: (0..SAMPLES).map(|i| i % EXPERTS).collect(),
            held_out: Vec::new(),
            apply: GuidanceApply::PerExpert,
        };
        let mixture = RoutedMixture {
            experts: &experts,
            router: Some(&router),
            policy,
            device: None,
            guidance: Some(&guidance),
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(sampler::sample(&mixture, &objective, &x1, STEPS)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_routed_sampling, bench_guided_sampling);
criterion_main!(benches);
