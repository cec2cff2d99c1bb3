//! Faults in the round loop (issue 17), on a quadratic whose optimum is known: dropout and participation counts,
//! NaN clients failing the run or rejected exactly, sign-flip attackers against the mean and the robust
//! aggregators, the update-norm clip, stragglers under partial, drop and FedNova, expert outages, availability,
//! and byte-identical results for one and two threads with every fault at once.

#[path = "common/quadratic.rs"]
mod quadratic;

use ddmsim::federated::{Client, Faults, Plan, Trained, train};
use ddmsim::scenario::{
    AggregateConfig, AttackKind, AvailabilityConfig, FederationMode, LocalOptimizer, OnNonFinite, ServerConfig,
    StragglerPolicy, Strategy,
};
use indicatif::ProgressBar;
use quadratic::{Quadratic, sgd};
use std::sync::Arc;

/// `n` clients holding one row each, all with the optimum (1, -2).
fn agreeing(n: usize) -> (Quadratic, Vec<Vec<usize>>) {
    let task = Quadratic {
        targets: vec![[1.0, -2.0]; n],
        curvature: vec![1.0; n],
    };
    (task, (0..n).map(|i| vec![i]).collect())
}

fn plan(rounds: usize, clients_per_round: usize, local_steps: usize, lr: f64, faults: Faults) -> Plan {
    Plan {
        name: "expert 2".into(),
        tag: 2,
        mode: FederationMode::Fedavg,
        strategy: Strategy::default(),
        faults,
        rounds,
        clients_per_round,
        local_steps,
        batch_size: 8,
        optimizer: sgd(lr, 0.0),
        local_optimizer: LocalOptimizer::Fresh,
        ema: 0.0,
        seed: 5,
    }
}

fn run(task: &Quadratic, parts: &[Vec<usize>], plan: &Plan) -> ddmsim::error::Result<Trained> {
    let clients: Vec<Client> = parts.iter().enumerate().map(|(id, rows)| Client { id, rows }).collect();
    train(task, vec![0.0, 0.0], &clients, plan, &ProgressBar::hidden())
}

fn flags(n: usize, on: &[usize]) -> Arc<Vec<bool>> {
    Arc::new((0..n).map(|i| on.contains(&i)).collect())
}

fn distance(p: &[f32], to: [f32; 2]) -> f32 {
    ((p[0] - to[0]).powi(2) + (p[1] - to[1]).powi(2)).sqrt()
}

#[test]
fn dropped_clients_are_counted_and_pay_no_upload() {
    let (task, parts) = agreeing(20);
    let faults = Faults {
        dropout: 0.3,
        ..Faults::default()
    };
    let trained = run(&task, &parts, &plan(300, 10, 2, 0.1, faults)).unwrap();
    let (mut dropped, mut selected) = (0, 0);
    for r in &trained.log {
        let c = &r.counts;
        assert_eq!((c.online, c.selected), (20, 10));
        assert_eq!(c.returned + c.dropped, c.selected, "round {}", r.round);
        assert_eq!(r.participants, c.returned);
        assert_eq!(r.bytes_down, 10 * 8);
        assert_eq!(r.bytes_up, c.returned as u64 * 8, "only returned updates are uploaded");
        assert_eq!(r.flops, c.returned as u64 * 2 * 6, "dropped clients do not train");
        (dropped, selected) = (dropped + c.dropped, selected + c.selected);
    }
    let rate = dropped as f64 / selected as f64;
    assert!((rate - 0.3).abs() < 0.03, "dropout rate {rate}");
    assert!(distance(&trained.params, [1.0, -2.0]) < 1e-3);
}

#[test]
fn nan_clients_fail_the_run_by_default_and_are_rejected_exactly_under_skip() {
    let (task, parts) = agreeing(20);
    let planted = [3, 7];
    let faults = Faults {
        byzantine: flags(20, &planted),
        attack: AttackKind::Nan,
        ..Faults::default()
    };
    let e = run(&task, &parts, &plan(5, 20, 2, 0.1, faults.clone()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expert 2, client 3, round 1"), "{e}");
    assert!(e.contains("faults.on_nonfinite: skip"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let skip = Faults {
        on_nonfinite: OnNonFinite::Skip,
        ..faults
    };
    let trained = run(&task, &parts, &plan(40, 20, 2, 0.3, skip)).unwrap();
    for r in &trained.log {
        assert_eq!((r.counts.rejected, r.counts.byzantine), (2, 2), "round {}", r.round);
        assert_eq!(r.participants, 18);
    }
    assert!(distance(&trained.params, [1.0, -2.0]) < 1e-3, "{:?}", trained.params);
}

/// Four of twenty clients flip and amplify their update five times.
fn sign_flipped(aggregate: AggregateConfig) -> Vec<f32> {
    let (task, parts) = agreeing(20);
    let faults = Faults {
        byzantine: flags(20, &[0, 5, 10, 15]),
        attack: AttackKind::SignFlip,
        scale: 5.0,
        ..Faults::default()
    };
    let mut p = plan(30, 20, 3, 0.2, faults);
    p.strategy.aggregate = aggregate;
    run(&task, &parts, &p).unwrap().params
}

#[test]
fn sign_flippers_drive_the_mean_away_and_the_robust_rules_hold() {
    // The mean moves by (16 - 4 * 5) / 20 of the honest update: away from the optimum, every round.
    let mean = sign_flipped(AggregateConfig::default());
    assert!(
        distance(&mean, [1.0, -2.0]) > distance(&[0.0, 0.0], [1.0, -2.0]),
        "{mean:?}"
    );
    for robust in [
        AggregateConfig::Median,
        AggregateConfig::TrimmedMean { trim: 0.25 },
        AggregateConfig::Krum {
            f: 4,
            m: 1,
            weighting: Default::default(),
        },
    ] {
        let params = sign_flipped(robust);
        assert!(distance(&params, [1.0, -2.0]) < 1e-3, "{}: {params:?}", robust.name());
    }
}

#[test]
fn the_update_clip_bounds_each_update_and_counts_it() {
    let (task, parts) = agreeing(10);
    let faults = Faults {
        byzantine: flags(10, &[4]),
        attack: AttackKind::Scale,
        scale: 100.0,
        ..Faults::default()
    };
    let mut p = plan(1, 10, 1, 0.1, faults);
    p.strategy.server = ServerConfig::Sgd {
        lr: 1.0,
        momentum: 0.0,
        clip_update_norm: Some(0.05),
    };
    let trained = run(&task, &parts, &p).unwrap();
    // Honest updates are 0.1 (1, -2), norm 0.22: all ten are clipped to 0.05, so the mean moves 0.05.
    assert_eq!(trained.log[0].counts.clipped, 10);
    assert!(
        (distance(&trained.params, [0.0, 0.0]) - 0.05).abs() < 1e-6,
        "{:?}",
        trained.params
    );
}

/// Ten clients: 0-4 at (0, 0) are stragglers doing 10-30 % of 20 steps, 5-9 at (4, 4) do all; the optimum of
/// the federation is (2, 2).
fn straggling(policy: StragglerPolicy) -> Trained {
    let task = Quadratic {
        targets: (0..10).map(|i| if i < 5 { [0.0, 0.0] } else { [4.0, 4.0] }).collect(),
        curvature: vec![1.0; 10],
    };
    let parts: Vec<Vec<usize>> = (0..10).map(|i| vec![i]).collect();
    let faults = Faults {
        stragglers: flags(10, &[0, 1, 2, 3, 4]),
        work: [0.1, 0.3],
        straggler_policy: policy,
        ..Faults::default()
    };
    run(&task, &parts, &plan(200, 10, 20, 0.01, faults)).unwrap()
}

#[test]
fn stragglers_partial_work_biases_fedavg_and_fednova_removes_the_bias() {
    let partial = straggling(StragglerPolicy::Partial);
    let fednova = straggling(StragglerPolicy::Fednova);
    let drop = straggling(StragglerPolicy::Drop);
    for r in partial.log.iter().chain(&fednova.log) {
        assert_eq!((r.counts.stragglers, r.counts.returned), (5, 10));
        let share = r.counts.straggler_work.unwrap();
        assert!((0.1..=0.3).contains(&share), "{share}");
    }
    for r in &drop.log {
        assert_eq!((r.counts.stragglers, r.counts.dropped, r.participants), (5, 5, 5));
    }
    let (p, n) = (
        distance(&partial.params, [2.0, 2.0]),
        distance(&fednova.params, [2.0, 2.0]),
    );
    assert!(
        p > 0.5,
        "partial work pulls FedAvg toward the full-work clients: {:?}",
        partial.params
    );
    assert!(
        n < 0.1 * p,
        "FedNova {:?} vs partial {:?}",
        fednova.params,
        partial.params
    );
    assert!(
        distance(&drop.params, [4.0, 4.0]) < 1e-3,
        "the deadline leaves only (4, 4)'s clients"
    );
}

#[test]
fn an_outage_skips_its_rounds_and_a_model_never_updated_is_an_error() {
    let (task, parts) = agreeing(6);
    let outage = |from, to| Faults {
        outages: vec![(from, to)],
        ..Faults::default()
    };
    let trained = run(&task, &parts, &plan(10, 3, 2, 0.1, outage(2, 6))).unwrap();
    for r in &trained.log {
        let off = (2..=6).contains(&r.round);
        assert_eq!(r.participants == 0, off, "round {}", r.round);
        assert_eq!(r.loss.is_none(), off);
        assert_eq!(r.flops == 0, off);
    }
    let e = run(&task, &parts, &plan(10, 3, 2, 0.1, outage(1, 10)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expert 2, all 10 rounds") && e.contains("no client update reached"),
        "{e}"
    );
}

#[test]
fn only_online_clients_are_selected() {
    let (task, parts) = agreeing(40);
    let faults = Faults {
        availability: AvailabilityConfig::Bernoulli {
            mean: 0.25,
            concentration: 2.0,
        },
        ..Faults::default()
    };
    let trained = run(&task, &parts, &plan(100, 20, 1, 0.1, faults)).unwrap();
    let online: Vec<usize> = trained.log.iter().map(|r| r.counts.online).collect();
    assert!(trained.log.iter().all(|r| r.counts.selected == r.counts.online.min(20)));
    let mean = online.iter().sum::<usize>() as f64 / online.len() as f64;
    assert!((mean - 10.0).abs() < 3.0, "about a quarter of 40 online: {mean}");
    assert!(
        online.iter().min() != online.iter().max(),
        "availability varies by round"
    );
}

#[test]
fn every_fault_at_once_gives_the_same_bits_on_one_and_two_threads() {
    let task = Quadratic {
        targets: (0..30).map(|i| [(i % 3) as f32, -(i % 5) as f32]).collect(),
        curvature: (0..30).map(|i| 0.5 + (i % 4) as f32 * 0.25).collect(),
    };
    let parts: Vec<Vec<usize>> = (0..30).map(|i| vec![i]).collect();
    let faults = Faults {
        dropout: 0.2,
        availability: AvailabilityConfig::Diurnal {
            period: 7,
            online_fraction: 0.6,
        },
        outages: vec![(4, 5)],
        stragglers: flags(30, &[1, 2, 8, 20]),
        work: [0.2, 0.9],
        straggler_policy: StragglerPolicy::Fednova,
        byzantine: flags(30, &[3, 9, 27]),
        attack: AttackKind::Gaussian,
        scale: 0.5,
        on_nonfinite: OnNonFinite::Skip,
    };
    let mut p = plan(25, 12, 4, 0.1, faults);
    p.strategy.server = ServerConfig::Sgd {
        lr: 1.0,
        momentum: 0.5,
        clip_update_norm: Some(0.3),
    };
    let on = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| run(&task, &parts, &p).unwrap())
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(one.params, two.params);
    assert_eq!(one.log, two.log);
    assert!(
        one.log
            .iter()
            .any(|r| r.counts.dropped > 0 && r.counts.byzantine > 0 && r.counts.stragglers > 0)
    );
}

#[test]
fn the_clip_bounds_what_is_aggregated_even_after_fednova_lengthens_a_straggler() {
    let (task, parts) = agreeing(4);
    let faults = Faults {
        stragglers: flags(4, &[0, 1]),
        work: [0.1, 0.1],
        straggler_policy: StragglerPolicy::Fednova,
        ..Faults::default()
    };
    let mut p = plan(1, 4, 10, 0.01, faults);
    p.strategy.server = ServerConfig::Sgd {
        lr: 1.0,
        momentum: 0.0,
        clip_update_norm: Some(0.05),
    };
    let trained = run(&task, &parts, &p).unwrap();
    // Full clients move about 0.22 and stragglers 0.022, scaled by FedNova to about 0.12: all four are clipped.
    assert_eq!(trained.log[0].counts.clipped, 4);
    assert!(
        distance(&trained.params, [0.0, 0.0]) <= 0.05 + 1e-6,
        "{:?}",
        trained.params
    );
}

/// A round of more participants than one chunk streams its updates into the mean (issue 20); Krum keeping every
/// model collects them and sums the same products in the same order. With dropouts, a scaling attacker, the
/// server's clip and kept momentum, the two agree to the bit, on one and two threads.
#[test]
fn a_streamed_round_equals_the_collected_mean_to_the_bit() {
    let n = 3 * ddmsim::federated::STREAM_CHUNK + 17;
    let task = Quadratic {
        targets: (0..2 * n).map(|i| [(i % 7) as f32 - 3.0, (i % 5) as f32]).collect(),
        curvature: (0..2 * n).map(|i| 0.5 + (i % 4) as f32 * 0.25).collect(),
    };
    // Unequal sizes, so the weights matter: client i holds one or two rows.
    let parts: Vec<Vec<usize>> = (0..n).map(|i| (2 * i..2 * i + 1 + i % 2).collect()).collect();
    let faults = Faults {
        dropout: 0.1,
        byzantine: flags(n, &[5, 70, 150]),
        attack: AttackKind::Scale,
        scale: 4.0,
        ..Faults::default()
    };
    let mut streamed = plan(6, n - 9, 3, 0.1, faults);
    streamed.optimizer = sgd(0.1, 0.9);
    streamed.local_optimizer = LocalOptimizer::Persistent;
    streamed.strategy.server = ServerConfig::Sgd {
        lr: 1.0,
        momentum: 0.0,
        clip_update_norm: Some(0.8),
    };
    assert!(ddmsim::federated::streams(
        &streamed.strategy,
        streamed.faults.straggler_policy,
        streamed.faults.on_nonfinite
    ));
    let mut collected = streamed.clone();
    collected.strategy.aggregate = AggregateConfig::Krum {
        f: 0,
        m: n,
        weighting: ddmsim::scenario::Weighting::Examples,
    };
    let on = |threads, plan: &Plan| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| run(&task, &parts, plan).unwrap())
    };
    let reference = on(2, &collected);
    for threads in [1, 2] {
        let got = on(threads, &streamed);
        assert_eq!(got.params, reference.params, "{threads} threads");
        assert_eq!(got.log, reference.log, "{threads} threads");
    }
    let first = &reference.log[0].counts;
    assert!(
        first.dropped > 0 && first.byzantine > 0 && first.clipped > 0,
        "{first:?}"
    );
    assert!(reference.log[0].participants > 2 * ddmsim::federated::STREAM_CHUNK);
}
