//! Invariants of the federated strategies (issue 16): FedProx at mu 0 is FedAvg to the bit; the default server
//! step is FedAvg's replacement of the global model; one client holding all the data trains as central training
//! does; identical clients make the federation invisible under every algorithm and aggregator; SCAFFOLD reaches
//! the optimum of a two-client quadratic that FedAvg provably misses.

use ddmsim::diffusion::{DenoiserTask, Objective};
use ddmsim::federated::{Client, Correction, Faults, Plan, Task, local_update, train, weighted_mean};
use ddmsim::nn::{Optimizer, TimeNet};
use ddmsim::rng::{Stream, derive};
use ddmsim::scenario::{
    AggregateConfig, AlgorithmConfig, FederationMode, LocalOptimizer, ObjectiveKind, OptimizerConfig, OptimizerKind,
    ServerConfig, Strategy, Weighting,
};
use indicatif::ProgressBar;
use ndarray::Array2;

#[path = "common/quadratic.rs"]
mod quadratic;
use quadratic::{Quadratic, sgd};

fn plan(strategy: Strategy, rounds: usize, clients_per_round: usize, local_steps: usize, lr: f64) -> Plan {
    Plan {
        name: "test".into(),
        tag: 3,
        mode: FederationMode::Fedavg,
        strategy,
        faults: Faults::default(),
        rounds,
        clients_per_round,
        local_steps,
        batch_size: 64,
        optimizer: sgd(lr, 0.0),
        local_optimizer: LocalOptimizer::Fresh,
        ema: 0.0,
        seed: 11,
    }
}

fn with_algorithm(algorithm: AlgorithmConfig) -> Strategy {
    Strategy {
        algorithm,
        ..Strategy::default()
    }
}

const ALGORITHMS: [AlgorithmConfig; 4] = [
    AlgorithmConfig::Fedavg,
    AlgorithmConfig::Fedprox { mu: 0.3 },
    AlgorithmConfig::Scaffold { variant: 1 },
    AlgorithmConfig::Scaffold { variant: 2 },
];

fn clients(parts: &[Vec<usize>]) -> Vec<Client<'_>> {
    parts.iter().enumerate().map(|(id, rows)| Client { id, rows }).collect()
}

fn run(task: &dyn Task, parts: &[Vec<usize>], plan: &Plan, init: Vec<f32>) -> Vec<f32> {
    train(task, init, &clients(parts), plan, &ProgressBar::hidden())
        .unwrap()
        .params
}

fn assert_close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tolerance * y.abs().max(1e-3), "{what}: {a:?} vs {b:?}");
    }
}

/// A small denoiser on 240 two-dimensional points held by four clients of unequal size.
fn denoiser_setup() -> (Array2<f32>, Vec<Vec<usize>>, TimeNet) {
    let data = Array2::from_shape_fn((240, 2), |(i, j)| ((i * 7 + j * 3) as f32 * 0.37).sin() * 3.0);
    let parts = vec![
        (0..30).collect(),
        (30..100).collect(),
        (100..110).collect(),
        (110..240).collect(),
    ];
    (data, parts, TimeNet::new(2, 8, &[16, 16], 2, false))
}

#[test]
fn fedprox_at_mu_zero_is_fedavg_to_the_bit() {
    let (data, parts, net) = denoiser_setup();
    let task = DenoiserTask {
        net,
        objective: Objective::new(ObjectiveKind::Flow),
        data: &data,
        condition: None,
    };
    let init = task.net.mlp.init(&mut derive(1, Stream::Init, &[]));
    let mut fedavg = plan(Strategy::default(), 4, 3, 3, 0.05);
    fedavg.batch_size = 16;
    fedavg.optimizer = sgd(0.05, 0.9);
    let fedprox = Plan {
        strategy: with_algorithm(AlgorithmConfig::Fedprox { mu: 0.0 }),
        ..fedavg.clone()
    };
    let hidden = ProgressBar::hidden();
    let a = train(&task, init.clone(), &clients(&parts), &fedavg, &hidden).unwrap();
    let b = train(&task, init.clone(), &clients(&parts), &fedprox, &hidden).unwrap();
    assert_eq!(a.params, b.params);
    assert_eq!(a.log, b.log);
    // A positive mu changes the result: the proximal term is applied.
    let pulled = Plan {
        strategy: with_algorithm(AlgorithmConfig::Fedprox { mu: 1.0 }),
        ..fedavg.clone()
    };
    assert_ne!(
        train(&task, init, &clients(&parts), &pulled, &hidden).unwrap().params,
        a.params
    );
}

/// The default strategy against FedAvg written out: every client from the global weights with a fresh optimizer
/// on its own stream, then the example-weighted mean replaces the global model.
#[test]
fn the_default_server_step_is_fedavg_written_out() {
    let (data, parts, net) = denoiser_setup();
    let task = DenoiserTask {
        net,
        objective: Objective::new(ObjectiveKind::Flow),
        data: &data,
        condition: None,
    };
    let init = task.net.mlp.init(&mut derive(2, Stream::Init, &[]));
    let mut p = plan(Strategy::default(), 5, parts.len(), 4, 0.05);
    p.batch_size = 16;
    p.optimizer = sgd(0.05, 0.9);
    let trained = run(&task, &parts, &p, init.clone());
    let mut global = init;
    for round in 1..=p.rounds {
        let updates: Vec<(Vec<f32>, usize)> = parts
            .iter()
            .enumerate()
            .map(|(id, rows)| {
                let mut params = global.clone();
                let mut optimizer = Optimizer::new(&p.optimizer, params.len());
                let rng = &mut derive(p.seed, Stream::Local, &[p.tag, round as u64, id as u64]);
                let steps = (p.local_steps, p.batch_size);
                local_update(&task, &mut params, &mut optimizer, rows, steps, Correction::None, rng).unwrap();
                (params, rows.len())
            })
            .collect();
        global = weighted_mean(&updates);
    }
    assert_close(&trained, &global, 1e-6, "server sgd (lr 1, momentum 0) vs FedAvg");
}

#[test]
fn one_client_holding_all_the_data_trains_as_central_training() {
    let task = Quadratic {
        targets: vec![[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0]],
        curvature: vec![1.0, 2.0, 0.5],
    };
    let parts = vec![vec![0, 1, 2]];
    for local_steps in [1, 5] {
        let central = Plan {
            mode: FederationMode::Pooled,
            ..plan(Strategy::default(), 20, 1, local_steps, 0.1)
        };
        let reference = run(&task, &parts, &central, vec![0.0, 0.0]);
        for algorithm in ALGORITHMS {
            // FedProx's pull towards the round's start differs from central training after the first local
            // step; with one local step the term is zero.
            if local_steps > 1 && matches!(algorithm, AlgorithmConfig::Fedprox { .. }) {
                continue;
            }
            let federated = run(
                &task,
                &parts,
                &plan(with_algorithm(algorithm), 20, 1, local_steps, 0.1),
                vec![0.0, 0.0],
            );
            assert_close(
                &federated,
                &reference,
                1e-5,
                &format!("{algorithm:?}, {local_steps} local steps"),
            );
        }
    }
}

#[test]
fn identical_clients_make_the_federation_invisible_under_every_algorithm_and_aggregator() {
    let task = Quadratic {
        targets: [[1.0f32, -2.0], [3.0, 0.5]].repeat(5),
        curvature: [1.0, 2.0].repeat(5),
    };
    let one = vec![vec![0, 1]];
    let five: Vec<Vec<usize>> = (0..5).map(|c| vec![2 * c, 2 * c + 1]).collect();
    let aggregates = [
        AggregateConfig::default(),
        AggregateConfig::Mean {
            weighting: Weighting::Uniform,
        },
        AggregateConfig::Median,
        AggregateConfig::TrimmedMean { trim: 0.2 },
        AggregateConfig::Krum {
            f: 1,
            m: 1,
            weighting: Weighting::Examples,
        },
        AggregateConfig::Krum {
            f: 0,
            m: 3,
            weighting: Weighting::Examples,
        },
    ];
    let servers = [
        ServerConfig::default(),
        ServerConfig::Sgd {
            lr: 0.7,
            momentum: 0.9,
            clip_update_norm: None,
        },
        ServerConfig::Yogi {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
            clip_update_norm: None,
        },
    ];
    for algorithm in ALGORITHMS {
        for aggregate in aggregates {
            for server in servers {
                let strategy = Strategy {
                    algorithm,
                    server,
                    aggregate,
                };
                let alone = run(&task, &one, &plan(strategy, 15, 1, 4, 0.1), vec![0.0, 0.0]);
                let together = run(&task, &five, &plan(strategy, 15, 5, 4, 0.1), vec![0.0, 0.0]);
                assert_close(&together, &alone, 1e-5, &format!("{strategy:?}"));
            }
        }
    }
}

/// Two clients, f_i(p) = a_i / 2 |p - c_i|^2 with c_1 = 0, a_1 = 1 and c_2 = 1, a_2 = 4, equal sizes. The global
/// optimum is (a_1 c_1 + a_2 c_2) / (a_1 + a_2) = 0.8 per coordinate. K steps of gradient descent from p take
/// client i to c_i + r_i (p - c_i) with r_i = (1 - lr a_i)^K, so FedAvg settles where p is the mean of those:
/// p = sum (1 - r_i) c_i / sum (1 - r_i), about 0.501 for lr 0.1 and K = 50. SCAFFOLD's corrected local steps
/// have the global optimum as their fixed point.
#[test]
fn scaffold_reaches_the_global_optimum_of_a_quadratic_where_fedavg_drifts() {
    let task = Quadratic {
        targets: vec![[0.0, 0.0], [1.0, 1.0]],
        curvature: vec![1.0, 4.0],
    };
    let parts = vec![vec![0], vec![1]];
    let (lr, steps) = (0.1f64, 50);
    let r: Vec<f64> = [1.0, 4.0]
        .iter()
        .map(|a: &f64| (1.0 - lr * a).powi(steps as i32))
        .collect();
    let drift = (1.0 - r[1]) / ((1.0 - r[0]) + (1.0 - r[1]));
    let fedavg = run(
        &task,
        &parts,
        &plan(Strategy::default(), 100, 2, steps, lr),
        vec![0.5, 0.5],
    );
    for v in &fedavg {
        assert!(
            (*v as f64 - drift).abs() < 1e-4,
            "FedAvg at {fedavg:?}, analytic fixed point {drift}"
        );
        assert!((*v as f64 - 0.8).abs() > 0.25);
    }
    for variant in [1, 2] {
        let scaffold = plan(with_algorithm(AlgorithmConfig::Scaffold { variant }), 100, 2, steps, lr);
        let got = run(&task, &parts, &scaffold, vec![0.5, 0.5]);
        for v in &got {
            assert!(
                (v - 0.8).abs() < 1e-3,
                "SCAFFOLD option {variant} at {got:?}, optimum 0.8"
            );
        }
    }
}

/// With every client each round and one local step, persistent local SGD momentum is server momentum on the
/// mean gradient (FedSGD with momentum); fresh optimizers lose it.
#[test]
fn fedsgd_with_persistent_momentum_is_server_momentum_on_the_mean_gradient() {
    let task = Quadratic {
        targets: vec![[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0], [0.0, 0.0], [2.0, 2.0]],
        curvature: vec![1.0; 5],
    };
    let rows = [vec![0, 1], vec![2], vec![3, 4]];
    let clients: Vec<Client> = rows.iter().enumerate().map(|(id, r)| Client { id, rows: r }).collect();
    let (lr, momentum, rounds) = (0.1f32, 0.9f32, 30);
    let plan = |local_optimizer| Plan {
        name: "quadratic".into(),
        tag: 0,
        mode: FederationMode::Fedavg,
        strategy: Strategy::default(),
        faults: Faults::default(),
        rounds,
        clients_per_round: clients.len(),
        local_steps: 1,
        batch_size: 8,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: lr as f64,
            grad_clip: 0.0,
            momentum: momentum as f64,
            ..OptimizerConfig::default()
        },
        local_optimizer,
        ema: 0.0,
        seed: 0,
    };
    let hidden = ProgressBar::hidden();
    let run = |lo| {
        train(&task, vec![0.0, 0.0], &clients, &plan(lo), &hidden)
            .unwrap()
            .params
    };
    // Reference: full-gradient SGD with momentum; the size-weighted mean of the clients' gradients is p minus
    // the mean of all five targets.
    let mean = [1.0f32, 0.9];
    let (mut p, mut v) = ([0.0f32; 2], [0.0f32; 2]);
    for _ in 0..rounds {
        for k in 0..2 {
            v[k] = momentum * v[k] + (p[k] - mean[k]);
            p[k] -= lr * v[k];
        }
    }
    let persistent = run(LocalOptimizer::Persistent);
    for k in 0..2 {
        assert!(
            (persistent[k] - p[k]).abs() < 1e-4,
            "{persistent:?} vs server momentum {p:?}"
        );
    }
    // With a fresh optimizer every round the momentum is lost: plain full-gradient SGD, a different path.
    let fresh = run(LocalOptimizer::Fresh);
    let mut q = [0.0f32; 2];
    for _ in 0..rounds {
        for k in 0..2 {
            q[k] -= lr * (q[k] - mean[k]);
        }
    }
    for k in 0..2 {
        assert!((fresh[k] - q[k]).abs() < 1e-4, "{fresh:?} vs plain SGD {q:?}");
    }
    assert!((persistent[0] - fresh[0]).abs() > 1e-3);
}

/// A server step that overflows is named where it arose, not as the next round's client loss.
#[test]
fn a_non_finite_server_step_is_an_error_naming_the_step() {
    let task = Quadratic {
        targets: vec![[1.0, -2.0], [3.0, 0.5]],
        curvature: vec![1.0, 1.0],
    };
    let parts = vec![vec![0], vec![1]];
    let strategy = Strategy {
        server: ServerConfig::Sgd {
            lr: 1e300,
            momentum: 0.0,
            clip_update_norm: None,
        },
        ..Strategy::default()
    };
    let err = train(
        &task,
        vec![0.0, 0.0],
        &clients(&parts),
        &plan(strategy, 3, 2, 2, 0.1),
        &ProgressBar::hidden(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("test, server step of round 1"), "{err}");
}
