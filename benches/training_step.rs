//! One Adam training step of the flow-matching denoiser (noise a batch, forward, backward, update) at the four
//! shapes of the PyTorch comparison in benches/README.md. The step runs inside a rayon pool of
//! `RAYON_NUM_THREADS` threads (default: one per core), as ddmsim's work does: with 1 it is the single-thread
//! figure, with more the step's large matrix products are split over the idle threads.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ddmsim::diffusion::{DenoiserTask, Objective};
use ddmsim::federated::Task;
use ddmsim::nn::{Optimizer, TimeNet};
use ddmsim::rng::{Stream, derive};
use ddmsim::scenario::{OptimizerConfig, OptimizerKind};
use ndarray::Array2;
use rand::Rng as _;

/// (input dimension d, width, depth = hidden layers, batch).
pub const SHAPES: [(usize, usize, usize, usize); 4] = [
    (2, 128, 3, 128),
    (2, 256, 4, 256),
    (64, 512, 4, 256),
    (64, 1024, 4, 1024),
];

fn bench_training_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("training_step");
    let pool = rayon::ThreadPoolBuilder::new().build().expect("a rayon pool");
    for (d, width, depth, batch) in SHAPES {
        let rng = &mut derive(0, Stream::Data, &[d as u64]);
        let data = Array2::from_shape_simple_fn((4 * batch, d), || rng.random_range(-1.0f32..1.0));
        let task = DenoiserTask {
            net: TimeNet::new(d, 32, &vec![width; depth], d, false),
            objective: Objective::Flow,
            data: &data,
            condition: None,
        };
        let mut params: Vec<f32> = task.net.mlp.init(&mut derive(0, Stream::Init, &[]));
        let config = OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            grad_clip: 0.0,
            ..OptimizerConfig::default()
        };
        let mut optimizer = Optimizer::new(&config, params.len());
        let mut grad = vec![0f32; params.len()];
        let rows: Vec<usize> = (0..batch).collect();
        let step_rng = &mut derive(0, Stream::Local, &[]);
        if width >= 1024 {
            group.sample_size(10);
        }
        let id = BenchmarkId::from_parameter(format!("d{d}_w{width}_depth{depth}_b{batch}"));
        group.bench_function(id, |b| {
            pool.install(|| {
                b.iter(|| {
                    task.loss_and_grad(&params, &rows, step_rng, &mut grad);
                    optimizer.update(&mut params, &mut grad);
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_training_step);
criterion_main!(benches);
