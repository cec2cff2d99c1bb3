//! End-to-end tests of the `ddmsim` binary: a full run, resolved scenarios, and one-line errors on bad input that
//! leave no output folder behind.

#[path = "common/run_files.rs"]
mod run_files;

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")
}

fn ddmsim() -> Command {
    Command::cargo_bin("ddmsim").unwrap()
}

/// Runs `ddmsim run` on a scenario text written into a fresh folder; returns (folder, output folder, stderr).
fn run_failing(scenario: &str, extra_files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in extra_files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, scenario).unwrap();
    let out = dir.path().join("out");
    let assert = ddmsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&path)
        .assert()
        .failure();
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    (dir, out, stderr)
}

/// The error is one line, and nothing was left in the folder besides the inputs (and a model cache that holds
/// nothing but its marker: a run creates it when training starts, so that concurrent runs can share it).
fn assert_clean_failure(dir: &Path, out: &Path, stderr: &str, inputs: usize) {
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!out.exists(), "an output folder was left behind");
    let cache = dir.join(".ddmsim-cache");
    let empty_cache = cache.is_dir()
        && std::fs::read_dir(&cache)
            .unwrap()
            .all(|e| e.unwrap().file_name() == ".ddmsim");
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count() - usize::from(empty_cache),
        inputs,
        "stray files were left behind"
    );
}

#[test]
fn unknown_key_names_the_key_and_line() {
    let (dir, out, err) = run_failing("name: t\nfederation:\n  rounds: 2\n  roundz: 3\n", &[]);
    assert!(err.contains("roundz") && err.contains("line 4"), "{err}");
    assert_clean_failure(dir.path(), &out, &err, 1);
}

#[test]
fn negative_alpha_names_the_path_and_range() {
    let (dir, out, err) = run_failing("name: t\nclients: { partition: { kind: dirichlet, alpha: -1 } }\n", &[]);
    assert_eq!(
        err.trim_end(),
        "error: clients.partition.alpha: must be > 0 and finite, got -1"
    );
    assert_clean_failure(dir.path(), &out, &err, 1);
}

#[test]
fn missing_data_file_names_the_file() {
    let (dir, out, err) = run_failing("name: t\ndata: { kind: csv, path: nowhere.csv }\n", &[]);
    assert!(err.contains("nowhere.csv") && err.contains("No such file"), "{err}");
    assert_clean_failure(dir.path(), &out, &err, 1);
}

#[test]
fn malformed_csv_row_names_line_and_column() {
    let csv = "a,b,label\n0.1,0.2,x\n0.3,oops,y\n";
    let (dir, out, err) = run_failing(
        "name: t\ndata: { kind: csv, path: d.csv, label_column: label }\n",
        &[("d.csv", csv)],
    );
    assert!(err.contains("d.csv:3:2:") && err.contains("oops"), "{err}");
    assert_clean_failure(dir.path(), &out, &err, 2);
}

#[test]
fn yaml_syntax_error_gives_line_and_column() {
    let (dir, out, err) = run_failing("name: t\ndata: { kind: gmm\nseed: 1\n", &[]);
    assert!(err.contains("line") && err.contains("column"), "{err}");
    assert_clean_failure(dir.path(), &out, &err, 1);
}

#[test]
fn validate_prints_every_default() {
    let assert = ddmsim().args(["validate"]).arg(tiny()).assert().success();
    let text = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for key in [
        "grad_clip: 1.0",
        "clients_per_round: 0.5",
        "nearest_k: 5",
        "renormalize: false",
        "kind: dirichlet",
    ] {
        assert!(text.contains(key), "missing {key:?} in\n{text}");
    }
}

#[test]
fn a_run_writes_every_output_and_a_failed_rerun_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ddmsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(tiny())
        .assert()
        .success();
    for file in [
        "scenario.resolved.yaml",
        "run.json",
        "results.csv",
        "results.parquet",
        "training_loss.csv",
        "client_cluster_counts.csv",
        "expert_purity.csv",
        "samples/reference_test.csv",
        "samples/top_k_k_1.csv",
        "samples/top_k_k_2_raw.csv",
        "samples/full.csv",
        "samples/uniform.csv",
        "samples/monolith.csv",
        "models/router.safetensors",
        "models/monolith.safetensors",
        "models/expert_0.safetensors",
        "stability_by_step.csv",
        "alignment_by_step.csv",
        "expert_error.csv",
        "routing_error_by_bin.csv",
        "per_sample.csv",
        "summary.md",
        "report.html",
        "figures/samples.png",
        "figures/samples.svg",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = results.lines();
    // The header follows from the metric declarations: policy, seed, then every declared row metric in order
    // (those of guided samples only in guided runs).
    let declared: Vec<&str> = ddmsim::metrics::columns().collect();
    let unguided: Vec<&str> = (declared.iter().copied())
        .filter(|c| ddmsim::metrics::registry::get(c).applies != ddmsim::metrics::Applies::Guided)
        .collect();
    assert!(
        unguided.len() + 3 == declared.len(),
        "cond_accuracy, fd_class, fd_classifier_class"
    );
    assert_eq!(lines.next().unwrap(), format!("policy,seed,{}", unguided.join(",")));
    assert!(
        declared.starts_with(&["fd", "mmd", "swd"]) && declared.contains(&"kid") && declared.contains(&"memorization")
    );
    assert!(
        !declared.contains(&"memorization_own"),
        "per-expert metrics go to experts.csv"
    );
    let policies: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        policies,
        [
            "reference:data",
            "reference:noise",
            "top_k:k=1",
            "top_k:k=2:raw",
            "full",
            "uniform",
            "threshold:p_min=0.3",
            "top_p:p=0.8",
            "sample",
            "random:k=2",
            "oracle",
            "schedule:wide-then-one",
            "monolith"
        ]
    );
    let samples = std::fs::read_to_string(out.join("samples/full.csv")).unwrap();
    assert_eq!(samples.lines().next().unwrap(), "x0,x1");
    assert_eq!(samples.lines().count(), 1101);

    // A rerun that fails (here: a bad value) must not touch the finished folder.
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(tiny())
        .unwrap()
        .replace("rounds: 3, clients_per_round: 0.5", "rounds: 3, clients_per_round: 1.5");
    std::fs::write(&bad, text).unwrap();
    ddmsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&bad)
        .assert()
        .failure();
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).unwrap(), results);
}

#[test]
fn diverging_training_names_model_client_and_round() {
    let scenario = std::fs::read_to_string(tiny()).unwrap().replace(
        "model: { hidden: [32, 32], time_embedding: 8 }",
        "model: { hidden: [32, 32], time_embedding: 8, optimizer: { kind: sgd, lr: 1.0e30, grad_clip: 0 } }",
    );
    assert!(scenario.contains("1.0e30"));
    let (dir, out, err) = run_failing(&scenario, &[]);
    assert!(err.contains("training diverged: "), "{err}");
    assert!(err.contains(", client ") && err.contains(", round "), "{err}");
    assert_clean_failure(dir.path(), &out, &err, 1);
}

#[test]
fn a_study_runs_every_cell_reuses_finished_ones_and_names_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("tiny.yaml");
    std::fs::copy(tiny(), &scenario).unwrap();
    let study = dir.path().join("study.yaml");
    std::fs::write(
        &study,
        "name: s\nscenario: tiny.yaml\nseeds: [1, 2]\nset: { routing: [{ policy: top_k, k: 1 }, { policy: top_k, k: 2 }, { policy: full }] }\n\
         settings:\n  - { name: base }\n  - { name: t2, set: { router.temperature: 2 } }\n  - { name: one, set: { clients.count: 1 } }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    // The third setting has one client, so one expert: top-2 cannot run there and is skipped in its cells (as in a
    // sweep), recorded in each cell's run.json.
    let run = || {
        ddmsim()
            .args(["study", "--quiet", "--out"])
            .arg(&out)
            .arg(&study)
            .assert()
            .success()
    };
    run();
    let table = std::fs::read_to_string(out.join("results.csv")).unwrap();
    // The same table as a sweep's: cell, setting, the seed as a parameter, then the run's columns.
    assert!(table.starts_with("cell,setting,param.seed,policy,seed,fd,"), "{table}");
    // 2 settings x 2 seeds x (3 policies + 2 reference rows), and 2 seeds x (2 policies + 2 reference rows).
    assert_eq!(table.lines().count(), 1 + 2 * 2 * 5 + 2 * 4);
    assert!(table.contains("\nsetting=t2 seed=2,t2,2,top_k:k=1,2,"), "{table}");
    let record = std::fs::read_to_string(out.join("cells/one/seed-1/run.json")).unwrap();
    assert!(record.contains("\"top_k:k=2\""), "{record}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("Does full lose to top-2") && summary.contains("| t2 |"),
        "{summary}"
    );
    let cell = out.join("cells/t2/seed-2/results.csv");
    let resolved = std::fs::read_to_string(out.join("cells/t2/seed-2/scenario.resolved.yaml")).unwrap();
    assert!(
        resolved.contains("temperature: 2.0") && resolved.contains("seed: 2"),
        "{resolved}"
    );
    let before = std::fs::metadata(&cell).unwrap().modified().unwrap();
    let written = folder_bytes(&out);
    run();
    assert_eq!(
        std::fs::metadata(&cell).unwrap().modified().unwrap(),
        before,
        "a finished cell was run again"
    );
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).unwrap(), table);
    // `ddmsim report` rebuilds the study's tables and report byte-identically from its cells.
    ddmsim().args(["report"]).arg(&out).assert().success();
    assert_same_files(&written, &folder_bytes(&out), &["run.json"]);
    // A study killed after some cells resumes with only the missing ones.
    let kept = out.join("cells/base/seed-1/results.csv");
    let kept_time = std::fs::metadata(&kept).unwrap().modified().unwrap();
    std::fs::remove_dir_all(out.join("cells/t2/seed-2")).unwrap();
    run();
    assert!(cell.is_file());
    assert_eq!(std::fs::metadata(&kept).unwrap().modified().unwrap(), kept_time);
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).unwrap(), table);

    // Without its cells (a committed report), `ddmsim report` rebuilds the study's report from its stored tables.
    let report = std::fs::read(out.join("report.html")).unwrap();
    let markdown = std::fs::read(out.join("summary.md")).unwrap();
    std::fs::rename(out.join("cells"), dir.path().join("cells-away")).unwrap();
    ddmsim().args(["report"]).arg(&out).assert().success();
    assert!(
        std::fs::read(out.join("summary.md")).unwrap() == markdown,
        "summary.md differs"
    );
    assert!(
        std::fs::read(out.join("report.html")).unwrap() == report,
        "report.html differs"
    );
    std::fs::rename(dir.path().join("cells-away"), out.join("cells")).unwrap();

    // A study's `policies` limit what its report draws (reference rows aside); the tables keep every row.
    std::fs::write(
        &study,
        "name: s\nscenario: tiny.yaml\nseeds: [1]\npolicies: [\"top_k:k=1\"]\n\
         set: { routing: [{ policy: top_k, k: 1 }, { policy: full }] }\n",
    )
    .unwrap();
    let only = dir.path().join("only");
    ddmsim()
        .args(["study", "--quiet", "--out"])
        .arg(&only)
        .arg(&study)
        .assert()
        .success();
    let drawn = std::fs::read_to_string(only.join("figures/stability_vs_quality.csv")).unwrap();
    assert!(drawn.contains("top_k:k=1") && !drawn.contains("full"), "{drawn}");
    assert!(
        std::fs::read_to_string(only.join("results.csv"))
            .unwrap()
            .contains(",full,")
    );

    // A study may not set `sweep`: its cells are single runs.
    std::fs::write(
        &study,
        "name: s\nscenario: tiny.yaml\nseeds: [1]\nset: { sweep: { seed: [1, 2] } }\n",
    )
    .unwrap();
    ddmsim()
        .args(["study", "--quiet", "--out"])
        .arg(dir.path().join("swept"))
        .arg(&study)
        .assert()
        .failure()
        .stderr(predicates::str::contains("set: sets `sweep`"));

    // Two settings that run the identical scenario are refused, naming both.
    std::fs::write(
        &study,
        "name: s\nscenario: tiny.yaml\nseeds: [1]\nsettings: [{ name: a }, { name: b, set: {} }]\n",
    )
    .unwrap();
    ddmsim()
        .args(["study", "--quiet", "--out"])
        .arg(dir.path().join("dup"))
        .arg(&study)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "`setting=a seed=1` and `setting=b seed=1` run the identical scenario",
        ));

    std::fs::write(
        &study,
        "name: s\nscenario: tiny.yaml\nseeds: [1]\nsettings: [{ name: x, set: { router.temprature: 2 } }]\n",
    )
    .unwrap();
    ddmsim()
        .args(["study", "--quiet", "--out"])
        .arg(&out)
        .arg(&study)
        .assert()
        .failure()
        .stderr(
            predicates::str::contains("settings[1]")
                .not()
                .and(predicates::str::contains(
                    "settings[0].set: router.temprature: no key `temprature` here",
                )),
        );
}

#[test]
fn trained_models_are_reused_when_only_sampling_changes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, overrides: &[&str]| -> (String, serde_json::Value) {
        let out = dir.path().join(name);
        let mut cmd = ddmsim();
        cmd.args(["run", "--quiet", "--out"]).arg(&out).arg(tiny());
        for o in overrides {
            cmd.args(["--set", o]);
        }
        cmd.assert().success();
        let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
        let info = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        (results, info)
    };
    let (first, info) = run("a", &[]);
    assert_eq!(info["training"]["from_cache"], false);
    // Same training, other sampling settings: the models come from the cache beside the output folders.
    let routing = "routing=[{ policy: full }, { policy: monolith }]";
    let (second, info) = run("b", &[routing]);
    assert_eq!(info["training"]["from_cache"], true);
    let log = |name: &str| std::fs::read(dir.path().join(name).join("training_loss.csv")).unwrap();
    assert!(
        log("a") == log("b"),
        "the cached training log differs from the fresh one"
    );
    let (_, info) = run("b2", &["router.temperature=2", "sampling.steps=4"]);
    assert_eq!(info["training"]["from_cache"], true);
    let row = |table: &str, policy: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{policy},")))
            .unwrap()
            .to_string()
    };
    assert_eq!(row(&first, "full"), row(&second, "full"));
    assert_eq!(row(&first, "monolith"), row(&second, "monolith"));
    // A change that affects training trains again.
    let (_, info) = run("c", &["federation.rounds=2"]);
    assert_eq!(info["training"]["from_cache"], false);
    let (_, info) = run("d", &["seed=9"]);
    assert_eq!(info["training"]["from_cache"], false);
}

#[test]
fn train_only_writes_models_and_run_json_but_no_samples() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--train-only", "--out"])
        .arg(&out)
        .arg(tiny())
        .assert()
        .success()
        .stdout(predicate::str::contains("--train-only"));
    for file in [
        "models/expert_0.safetensors",
        "models/router.safetensors",
        "training_loss.csv",
        "run.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    for absent in ["results.csv", "samples", "report.html"] {
        assert!(!out.join(absent).exists(), "{absent} written by --train-only");
    }
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["train_only"], true);
    assert!(info["timings_seconds"]["training"].as_f64().unwrap() > 0.0);
}

#[cfg(not(feature = "gpu"))]
#[test]
fn device_gpu_without_the_gpu_feature_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let yaml = "name: t\nmodel: { optimizer: { kind: adam, grad_clip: 0.0 } }\n";
    std::fs::write(dir.path().join("s.yaml"), yaml).unwrap();
    ddmsim()
        .args(["run", "--quiet", "--device", "gpu", "--out"])
        .arg(&out)
        .arg(dir.path().join("s.yaml"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "device: gpu needs ddmsim built with the gpu feature",
        ));
    assert!(!out.exists());
    // A training setup the GPU path does not run is named by its key, whatever the build.
    ddmsim()
        .args([
            "run",
            "--quiet",
            "--device",
            "gpu",
            "--set",
            "federation.local_optimizer=persistent",
            "--out",
        ])
        .arg(&out)
        .arg(dir.path().join("s.yaml"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "federation: device: gpu runs FedAvg with fresh client optimizers",
        ));
}

/// Every file under `dir` (relative path -> bytes).
fn folder_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    (run_files::all_files(dir).into_iter())
        .map(|rel| {
            (
                rel.to_string_lossy().into_owned(),
                std::fs::read(dir.join(&rel)).unwrap(),
            )
        })
        .collect()
}

/// The same files with the same bytes, except files named in `except` (compared by presence only).
fn assert_same_files(
    a: &std::collections::BTreeMap<String, Vec<u8>>,
    b: &std::collections::BTreeMap<String, Vec<u8>>,
    except: &[&str],
) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in a {
        if !except.iter().any(|e| name.ends_with(e)) {
            assert!(bytes == &b[name], "{name} differs");
        }
    }
}
