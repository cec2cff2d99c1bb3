//! Garbage reported as a result: values that make probabilities, weights, data or metrics non-finite, degenerate
//! data, unknown policy labels and keys that do not belong to the chosen kind are errors naming what is wrong,
//! never rows of results.csv.

use crate::common::*;
use serde_json::json;

/// Defect 12: "`router.temperature: 1e-300` -> names `router.temperature`."
#[test]
fn a_vanishing_router_temperature_is_refused() {
    let env = Env::new();
    env.scenario("s.yaml", &[("router.temperature", json!(1e-300))]);
    env.run("s.yaml", "out", &[]).error(&["router.temperature"]);
}

/// Defect 13: "Router optimizer lr 1e30 (sgd): exit 1, message contains `router` (diverged or non-finite
/// weights/probabilities)."
#[test]
fn a_diverging_router_is_an_error() {
    let env = Env::new();
    env.scenario("s.yaml", &[("router.optimizer", json!({ "kind": "sgd", "lr": 1e30 }))]);
    env.run("s.yaml", "out", &[]).error(&["router"]);
}

/// Defect 14: "A cached model with all-NaN weights (keep the manifest consistent: rewrite the safetensors with
/// NaN and update its sha256 in manifest.json): warning + retrain + exit 0, results.csv has no NaN/inf/empty fd."
#[test]
fn a_cached_model_of_nan_weights_is_retrained() {
    let env = bad_entry_is_retrained(|entry| {
        let (old, new) = rewrite_safetensors(&entry.join("expert_0.safetensors"), |tensors| {
            for t in tensors.iter_mut() {
                assert_eq!(t.dtype, safetensors::Dtype::F32);
                t.data = f32::NAN.to_le_bytes().repeat(t.data.len() / 4);
            }
        });
        fix_manifest(entry, &old, &new);
        "expert_0.safetensors".to_string()
    });
    for fd in csv_column(&env.path("reports/rerun/results.csv"), "fd") {
        assert!(fd.parse::<f64>().is_ok_and(f64::is_finite), "results.csv has fd {fd:?}");
    }
}

/// Defect 15: "`data.std: 1e-300` -> names `data.std`."
#[test]
fn a_vanishing_data_std_is_refused() {
    let env = Env::new();
    env.scenario("s.yaml", &[("data.std", json!(1e-300))]);
    env.run("s.yaml", "out", &[]).error(&["data.std"]);
}

/// Defect 16: "Constant CSV data (every row `1.0,2.0`) -> exit 1, message contains `constant`."
#[test]
fn constant_csv_data_is_refused() {
    let env = Env::new();
    env.write("d.csv", format!("a,b\n{}", "1.0,2.0\n".repeat(400)));
    env.scenario(
        "s.yaml",
        &[("data", json!({ "kind": "csv", "path": "d.csv", "test_fraction": 0.25 }))],
    );
    env.run("s.yaml", "out", &[]).error(&["constant"]);
}

/// Defect 17: "`data.weights: [1e308, 1e308, 1e308, 1e308]` -> names `data.weights`."
#[test]
fn overflowing_mixture_weights_are_refused() {
    let env = Env::new();
    env.scenario("s.yaml", &[("data.weights", json!([1e308, 1e308, 1e308, 1e308]))]);
    env.run("s.yaml", "out", &[]).error(&["data.weights"]);
}

/// Defect 18: "A CSV cell `1e39` -> message contains `FILE:LINE:COLUMN` of that cell."
#[test]
fn a_csv_cell_beyond_f32_names_file_line_and_column() {
    let env = Env::new();
    let mut lines: Vec<String> = blobs_csv(400, None).lines().map(str::to_string).collect();
    let x = lines[6].split(',').next().unwrap().to_string();
    lines[6] = format!("{x},1e39"); // line 7 of the file, column 2
    env.write("d.csv", lines.join("\n") + "\n");
    env.scenario(
        "s.yaml",
        &[("data", json!({ "kind": "csv", "path": "d.csv", "test_fraction": 0.25 }))],
    );
    env.run("s.yaml", "out", &[]).error(&["d.csv:7:2"]);
}

/// Defect 19: "A sweep whose every cell fails (e.g. sweep `clients.partition.min_partition_size: [100000, 200000]`
/// with Dirichlet) -> exit 1, stderr names both cells."
#[test]
fn a_sweep_whose_every_cell_fails_is_an_error_naming_the_cells() {
    let env = Env::new();
    env.scenario(
        "s.yaml",
        &[(
            "sweep",
            json!({ "clients.partition.min_partition_size": [100000, 200000] }),
        )],
    );
    env.run("s.yaml", "sw", &[]).error_last_line(&[
        "clients.partition.min_partition_size=100000",
        "clients.partition.min_partition_size=200000",
    ]);
}

/// Defect 20: "A study whose `policies:` lists an unknown label (`top_k:k=7` not in the routing list) -> exit 1,
/// names `policies`."
#[test]
fn a_study_listing_an_unknown_policy_is_refused() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.write(
        "study.yaml",
        "name: st\nscenario: s.yaml\nseeds: [0]\npolicies: [\"full\", \"top_k:k=7\"]\n",
    );
    env.ddmsim(&["study", "--quiet", "--out", "st", "study.yaml"])
        .error_last_line(&["policies"]);
}

/// Defect 21: "`{policy: full, k: 3}` -> names `routing[0].k` (unknown key); `{kind: iid, alpha: 3}` under
/// `clients.partition` -> names `clients.partition.alpha`."
#[test]
fn keys_foreign_to_the_chosen_kind_are_refused() {
    let env = Env::new();
    env.scenario(
        "routing.yaml",
        &[(
            "routing",
            json!([{ "policy": "full", "k": 3 }, { "policy": "monolith" }]),
        )],
    );
    env.run("routing.yaml", "out", &[]).error(&["routing[0].k"]);
    env.scenario(
        "iid.yaml",
        &[("clients.partition", json!({ "kind": "iid", "alpha": 3 }))],
    );
    env.run("iid.yaml", "out", &[]).error(&["clients.partition.alpha"]);
}
