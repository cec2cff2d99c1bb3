//! The `gpu` feature's kernels and one round of batched local updates, each beside the CPU path doing the same
//! work: `DDMSIM_ALLOW_CPU_ADAPTER=1 cargo bench --features gpu --bench gpu_kernels` (on lavapipe the GPU side is
//! emulated on the same cores; the figures document the path, not a speed). A GPU figure includes uploading the
//! inputs and reading the result back, as the host entry points do.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ddmsim::diffusion::{DenoiserTask, Objective};
use ddmsim::ensemble::DenoiserDevice;
use ddmsim::federated::{ClientWork, Correction, local_update};
use ddmsim::gpu::{AdamHyper, Epilogue, GpuContext, MatmulSpec, Operand};
use ddmsim::nn::{Adam, Optimizer, TimeNet, silu, silu_grad};
use ddmsim::rng::{Stream, derive};
use ddmsim::scenario::{OptimizerConfig, OptimizerKind};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rand::Rng as _;

/// Rows of a batch and width of the quickstart denoiser's hidden layers.
const ROWS: usize = 128;
const WIDTH: usize = 128;

fn random(n: usize, tag: u64) -> Vec<f32> {
    let rng = &mut derive(11, Stream::Init, &[tag]);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn context() -> GpuContext {
    GpuContext::new().unwrap_or_else(|e| panic!("{e}"))
}

/// A hidden layer's forward pass (x W + b, then SiLU) for `clients` clients at once.
fn bench_layer(c: &mut Criterion, ctx: &GpuContext) {
    let mut group = c.benchmark_group("gpu_layer_forward");
    group.sample_size(10);
    for clients in [1usize, 16] {
        let x = random(clients * ROWS * WIDTH, 1);
        let w = random(clients * WIDTH * WIDTH, 2);
        let b = random(clients * WIDTH, 3);
        let spec = MatmulSpec {
            batches: clients as u32,
            m: ROWS as u32,
            n: WIDTH as u32,
            k: WIDTH as u32,
            a: Operand::row_major(ROWS as u32, WIDTH as u32),
            b: Operand::row_major(WIDTH as u32, WIDTH as u32),
            epilogue: Epilogue::BiasSilu,
        };
        let name = format!("{clients}x{ROWS}x{WIDTH}x{WIDTH}");
        group.bench_function(BenchmarkId::new("gpu", &name), |bench| {
            bench.iter(|| ctx.matmul(&spec, &x, &w, &b))
        });
        group.bench_function(BenchmarkId::new("cpu", &name), |bench| {
            bench.iter(|| {
                (0..clients)
                    .map(|k| {
                        let xs = ArrayView2::from_shape((ROWS, WIDTH), &x[k * ROWS * WIDTH..][..ROWS * WIDTH]);
                        let ws = ArrayView2::from_shape((WIDTH, WIDTH), &w[k * WIDTH * WIDTH..][..WIDTH * WIDTH]);
                        let bias = Array1::from(b[k * WIDTH..][..WIDTH].to_vec());
                        (xs.unwrap().dot(&ws.unwrap()) + &bias).mapv(silu)
                    })
                    .collect::<Vec<Array2<f32>>>()
            })
        });
    }
    group.finish();
}

/// The elementwise kernels: SiLU backward, column sums, an Adam update of the quickstart denoiser's 37k
/// parameters, and the routed combination of 8 experts' predictions for 1,000 samples.
fn bench_elementwise(c: &mut Criterion, ctx: &GpuContext) {
    let mut group = c.benchmark_group("gpu_elementwise");
    group.sample_size(10);
    let pre = random(ROWS * WIDTH, 4);
    let mut grad = random(ROWS * WIDTH, 5);
    group.bench_function(BenchmarkId::new("gpu", "silu_backward"), |bench| {
        bench.iter(|| ctx.silu_backward(&pre, &mut grad))
    });
    let x = Array2::from_shape_vec((ROWS, WIDTH), pre.clone()).unwrap();
    let upstream = Array2::from_shape_vec((ROWS, WIDTH), random(ROWS * WIDTH, 5)).unwrap();
    group.bench_function(BenchmarkId::new("cpu", "silu_backward"), |bench| {
        bench.iter(|| Zip::from(&upstream).and(&x).map_collect(|&g, &z| g * silu_grad(z)))
    });
    group.bench_function(BenchmarkId::new("gpu", "column_sums"), |bench| {
        bench.iter(|| ctx.column_sums(&pre, 1, ROWS as u32, WIDTH as u32))
    });
    group.bench_function(BenchmarkId::new("cpu", "column_sums"), |bench| {
        bench.iter(|| x.sum_axis(Axis(0)))
    });
    let net = TimeNet::new(2, 32, &[WIDTH; 3], 2, false);
    let len = net.mlp.param_count();
    let (g, mut params, mut m, mut v) = (random(len, 6), random(len, 7), vec![0f32; len], vec![0f32; len]);
    let hyper = AdamHyper::first_step(1e-3);
    group.bench_function(BenchmarkId::new("gpu", "adam"), |bench| {
        bench.iter(|| ctx.adam(&hyper, &g, &mut params, &mut m, &mut v))
    });
    let config = OptimizerConfig {
        kind: OptimizerKind::Adam,
        ..OptimizerConfig::default()
    };
    let mut adam = Adam::new(&config, len);
    let mut cpu_params = random(len, 7);
    group.bench_function(BenchmarkId::new("cpu", "adam"), |bench| {
        bench.iter(|| {
            let mut g = g.clone();
            adam.update(&mut cpu_params, &mut g)
        })
    });
    let (rows, experts, dim) = (1000usize, 8usize, 2usize);
    let weights = random(rows * experts, 8);
    let pred = random(experts * rows * dim, 9);
    group.bench_function(BenchmarkId::new("gpu", "combine"), |bench| {
        bench.iter(|| ctx.combine(&weights, &pred, rows as u32, dim as u32, experts as u32))
    });
    group.bench_function(BenchmarkId::new("cpu", "combine"), |bench| {
        bench.iter(|| {
            let mut out = vec![0f32; rows * dim];
            for (i, o) in out.chunks_mut(dim).enumerate() {
                for j in 0..experts {
                    let w = weights[i * experts + j];
                    for (d, o) in o.iter_mut().enumerate() {
                        *o += w * pred[(j * rows + i) * dim + d];
                    }
                }
            }
            out
        })
    });
    group.finish();
}

/// One FedAvg round of quickstart's denoiser (5 clipped-SGD steps of batch 128) for 1 and 16 clients: the GPU's
/// batched local updates against the CPU's client-by-client `local_update` on one thread.
fn bench_round(c: &mut Criterion, ctx: &GpuContext) {
    let mut group = c.benchmark_group("gpu_round");
    group.sample_size(10);
    let rng = &mut derive(0, Stream::Data, &[]);
    let data = Array2::from_shape_simple_fn((4096, 2), || rng.random_range(-1.0f32..1.0));
    let task = DenoiserTask {
        net: TimeNet::new(2, 32, &[WIDTH; 3], 2, false),
        objective: Objective::Flow,
        data: &data,
        condition: None,
    };
    let global: Vec<f32> = task.net.mlp.init(&mut derive(0, Stream::Init, &[]));
    let config = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 0.05,
        grad_clip: 1.0,
        ..OptimizerConfig::default()
    };
    let (steps, batch) = (5usize, ROWS);
    for clients in [1usize, 16] {
        let parts: Vec<Vec<usize>> = (0..clients).map(|k| (k * 256..(k + 1) * 256).collect()).collect();
        let stream = |k: usize| derive(0, Stream::Local, &[k as u64]);
        let name = format!("{clients}_clients");
        group.bench_function(BenchmarkId::new("gpu", &name), |bench| {
            bench.iter(|| {
                let mut work: Vec<ClientWork> = parts
                    .iter()
                    .enumerate()
                    .map(|(k, rows)| ClientWork { rows, rng: stream(k) })
                    .collect();
                let starts = vec![&global[..]; work.len()];
                ctx.local_updates(&task, &starts, &mut work, steps, batch, &config)
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("cpu", &name), |bench| {
            bench.iter(|| {
                parts
                    .iter()
                    .enumerate()
                    .map(|(k, rows)| {
                        let mut params = global.clone();
                        let mut optimizer = Optimizer::new(&config, params.len());
                        local_update(
                            &task,
                            &mut params,
                            &mut optimizer,
                            rows,
                            (steps, batch),
                            Correction::None,
                            &mut stream(k),
                        )
                        .map(|loss| (params, loss))
                    })
                    .collect::<Vec<_>>()
            })
        });
    }
    group.finish();
}

fn bench_gpu(c: &mut Criterion) {
    let ctx = context();
    eprintln!("adapter: {}", ctx.adapter());
    bench_layer(c, &ctx);
    bench_elementwise(c, &ctx);
    bench_round(c, &ctx);
}

criterion_group!(benches, bench_gpu);
criterion_main!(benches);
