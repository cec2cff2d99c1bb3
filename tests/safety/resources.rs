//! Resources and hangs: values that would need far more memory or time than a machine has are refused at once,
//! naming the key and `--force`, and large but reasonable inputs are handled within the timeout. Each runs under
//! an address-space cap so that a binary that does try to allocate fails alone.

use crate::common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// A run of the tiny scenario with `overrides` is refused within 60 s, in one line naming `key` and `--force`.
fn refused_unless_forced(overrides: &[(&str, Value)], key: &str) {
    let env = Env::new();
    env.scenario("s.yaml", overrides);
    let out = env.ddmsim_capped(&["run", "--quiet", "--out", "out", "s.yaml"]);
    out.error(&[key, "--force"]);
    assert!(
        out.elapsed < Duration::from_secs(60),
        "the refusal took {:?}",
        out.elapsed
    );
}

/// Defect 36: "`clients.count: 10000000000` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_client_count_is_refused_unless_forced() {
    refused_unless_forced(&[("clients.count", json!(10_000_000_000u64))], "clients.count");
}

/// Defect 37: "`data.samples: 100000000000` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_sample_count_is_refused_unless_forced() {
    refused_unless_forced(&[("data.samples", json!(100_000_000_000u64))], "data.samples");
}

/// Defect 38: "`model.hidden: [10000000, 10000000]` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_model_is_refused_unless_forced() {
    refused_unless_forced(&[("model.hidden", json!([10_000_000, 10_000_000]))], "model.hidden");
}

/// Defect 39: "`sampling.steps: 100000000000` (with samples 60) ... exit 1 within 60 s, one line naming the key
/// and containing `--force`."
#[test]
fn a_huge_sampling_step_count_is_refused_unless_forced() {
    refused_unless_forced(
        &[
            ("sampling.steps", json!(100_000_000_000u64)),
            ("sampling.samples", json!(60)),
        ],
        "sampling.steps",
    );
}

/// Defect 40: "`sampling.samples: 100000000000` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_generated_sample_count_is_refused_unless_forced() {
    refused_unless_forced(&[("sampling.samples", json!(100_000_000_000u64))], "sampling.samples");
}

/// Defect 41: "`federation.rounds: 100000000000000` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_round_count_is_refused_unless_forced() {
    refused_unless_forced(
        &[("federation.rounds", json!(100_000_000_000_000u64))],
        "federation.rounds",
    );
}

/// Defect 42: "`metrics.projections: 100000000000` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_projection_count_is_refused_unless_forced() {
    refused_unless_forced(
        &[("metrics.projections", json!(100_000_000_000u64))],
        "metrics.projections",
    );
}

/// Defect 43: "`router.time_embedding: 2000000000` ... exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_huge_router_time_embedding_is_refused_unless_forced() {
    refused_unless_forced(
        &[("router.time_embedding", json!(2_000_000_000u64))],
        "router.time_embedding",
    );
}

/// Defect 44: "`metrics.error_bins: 100000000000` (alignment on) ... exit 1 within 60 s, one line naming the key
/// and containing `--force`."
#[test]
fn a_huge_error_bin_count_is_refused_unless_forced() {
    refused_unless_forced(
        &[
            ("metrics.error_bins", json!(100_000_000_000u64)),
            ("metrics.alignment", json!(true)),
        ],
        "metrics.error_bins",
    );
}

/// Defect 45: "a sweep list of 3,000,000 seeds: exit 1 within 60 s, one line naming the key and containing
/// `--force`."
#[test]
fn a_sweep_of_three_million_cells_is_refused_unless_forced() {
    refused_unless_forced(
        &[("sweep", json!({ "seed": (0..3_000_000u64).collect::<Vec<_>>() }))],
        "sweep",
    );
}

/// Defect 46: "`clients.partition.alpha: 1e-300` -> exit 1 naming `clients.partition.alpha` within 60 s."
#[test]
fn a_vanishing_dirichlet_alpha_is_refused_without_hanging() {
    let env = Env::new();
    env.scenario("s.yaml", &[("clients.partition.alpha", json!(1e-300))]);
    let out = env.ddmsim_capped(&["run", "--quiet", "--out", "out", "s.yaml"]);
    out.error(&["clients.partition.alpha"]);
    assert!(out.elapsed < Duration::from_secs(60), "took {:?}", out.elapsed);
}

/// Defect 47: "A sweep of 20,000 cells (`seed: [0..19999]`) is validated by `ddmsim validate` within 60 s (it took
/// minutes)."
#[test]
fn validating_a_sweep_of_twenty_thousand_cells_is_quick() {
    let env = Env::new();
    env.scenario(
        "s.yaml",
        &[("sweep", json!({ "seed": (0..20_000u64).collect::<Vec<_>>() }))],
    );
    let out = env.ddmsim_capped(&["validate", "s.yaml"]);
    out.ok();
    assert!(out.elapsed < Duration::from_secs(60), "took {:?}", out.elapsed);
    assert!(
        !out.stdout.trim().is_empty(),
        "validate printed nothing: {}",
        out.describe()
    );
}
