//! Same scenario and seed give byte-identical results whatever the number of threads, and a different seed
//! gives different results.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// Every fault of issue 17 at once, beside the tiny scenario's sections.
const ALL_FAULTS: &str = "\
faults:
  dropout: 0.2
  availability: { kind: diurnal, period: 2, online_fraction: 0.75 }
  stragglers: { fraction: 0.5, work: [0.2, 0.9], policy: fednova }
  byzantine: { fraction: 0.25, kind: gaussian, scale: 0.05 }
  on_nonfinite: skip
  expert_outage: [{ expert: 0, from_round: 2, to_round: 2 }]
";

fn run(threads: &str, seed_override: Option<u64>, dir: &Path) -> PathBuf {
    run_with(threads, seed_override, "", dir)
}

/// Runs the tiny scenario with `extra` YAML appended (and the seed replaced) on `threads` threads.
fn run_with(threads: &str, seed_override: Option<u64>, extra: &str, dir: &Path) -> PathBuf {
    let mut scenario =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    if let Some(seed) = seed_override {
        scenario = scenario.replace("seed: 3", &format!("seed: {seed}"));
    }
    if !extra.is_empty() {
        // With the faults: the server's update clip and experts lost at sampling time too.
        scenario = scenario
            .replace(
                "batch_size: 64 }",
                "batch_size: 64, server: { kind: sgd, clip_update_norm: 0.5 } }",
            )
            .replace("samples: 1100 }", "samples: 1100, lost_experts: 1 }");
        assert!(scenario.contains("clip_update_norm") && scenario.contains("lost_experts"));
    }
    scenario.push_str(extra);
    let tag = if extra.is_empty() { "" } else { "-faults" };
    let path = dir.join(format!("s{threads}-{seed_override:?}{tag}.yaml"));
    std::fs::write(&path, scenario).unwrap();
    let out = dir.join(format!("out{threads}-{seed_override:?}{tag}"));
    Command::cargo_bin("ddmsim")
        .unwrap()
        .args(["run", "--quiet", "--no-cache", "--threads", threads, "--out"])
        .arg(&out)
        .arg(&path)
        .assert()
        .success();
    out
}

#[test]
fn results_are_byte_identical_for_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let one = run("1", None, dir.path());
    let two = run("2", None, dir.path());
    for file in [
        "results.csv",
        "training_loss.csv",
        "samples/full.csv",
        "samples/top_k_k_1.csv",
        "samples/sample.csv",
        "samples/random_k_2.csv",
        "samples/oracle.csv",
        "models/router.safetensors",
        "stability_by_step.csv",
        "alignment_by_step.csv",
        "expert_error.csv",
        "routing_error_by_bin.csv",
    ] {
        let a = std::fs::read(one.join(file)).unwrap();
        let b = std::fs::read(two.join(file)).unwrap();
        assert!(a == b, "{file} differs between 1 and 2 threads");
    }
    let other = run("2", Some(4), dir.path());
    assert_ne!(
        std::fs::read(one.join("results.csv")).unwrap(),
        std::fs::read(other.join("results.csv")).unwrap(),
        "a different seed should change the results"
    );
}

#[test]
fn every_fault_at_once_is_byte_identical_for_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let one = run_with("1", None, ALL_FAULTS, dir.path());
    let two = run_with("2", None, ALL_FAULTS, dir.path());
    for file in [
        "results.csv",
        "training_loss.csv",
        "samples/full.csv",
        "models/expert_1.safetensors",
        "run.json",
    ] {
        let read = |dir: &Path| {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            // run.json records the thread count and timings; everything else must match.
            if file == "run.json" {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                for key in ["threads", "timings_seconds", "sampling_seconds", "analysis_seconds"] {
                    v.as_object_mut().unwrap().remove(key);
                }
                return v.to_string().into_bytes();
            }
            bytes
        };
        assert!(read(&one) == read(&two), "{file} differs between 1 and 2 threads");
    }
    let log = std::fs::read_to_string(one.join("training_loss.csv")).unwrap();
    let faults: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        faults["faults"]["byzantine"].as_array().unwrap().len(),
        2,
        "a quarter of 8 clients"
    );
    assert!(
        log.lines().any(|l| l.starts_with("expert 0,2,0,0,")),
        "expert 0 is offline in round 2:\n{log}"
    );
}
