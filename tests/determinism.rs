//! Same scenario and seed give byte-identical results whatever the number of threads, and a different seed
//! gives different results.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn run(threads: &str, seed_override: Option<u64>, dir: &Path) -> PathBuf {
    let mut scenario =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    if let Some(seed) = seed_override {
        scenario = scenario.replace("seed: 3", &format!("seed: {seed}"));
    }
    let path = dir.join(format!("s{threads}-{seed_override:?}.yaml"));
    std::fs::write(&path, scenario).unwrap();
    let out = dir.join(format!("out{threads}-{seed_override:?}"));
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
