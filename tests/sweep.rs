//! End-to-end tests of sweeps: every cell's rows with its swept values, the same table for any number of cells
//! at once, and a sweep killed halfway that a rerun finishes with exactly the table of an uninterrupted run.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The tiny test scenario with a sweep of skew x seed (4 cells), written into `dir`.
fn sweep_scenario(dir: &Path) -> PathBuf {
    let tiny = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    let text = format!("{tiny}\nsweep: {{ clients.partition.alpha: [0.3, 1000], seed: [3, 4] }}\n");
    let path = dir.join("sweep.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn ddmsim() -> Command {
    Command::cargo_bin("ddmsim").unwrap()
}

fn run_sweep(scenario: &Path, out: &Path, jobs: &str) {
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--jobs", jobs, "--out"])
        .arg(out)
        .arg(scenario)
        .assert()
        .success();
}

fn finished_cells(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out.join("cells")) else {
        return Vec::new();
    };
    // Entries can vanish while we list them (a cell's staging folder is renamed into place).
    let mut cells: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.join("results.parquet").is_file())
        .collect();
    cells.sort();
    cells
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_sweep_tables_every_cell_with_its_values_for_any_number_of_parallel_cells() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = sweep_scenario(dir.path());
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    run_sweep(&scenario, &one, "1");
    run_sweep(&scenario, &two, "2");
    let table = std::fs::read_to_string(one.join("results.csv")).unwrap();
    assert_eq!(table, std::fs::read_to_string(two.join("results.csv")).unwrap());
    assert_eq!(
        std::fs::read(one.join("results.parquet")).unwrap(),
        std::fs::read(two.join("results.parquet")).unwrap()
    );
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("cell,param.clients.partition.alpha,param.seed,policy,seed,fd,"),
        "{header}"
    );
    let cells: Vec<&str> = table.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(cells.first(), Some(&"clients.partition.alpha=0.3 seed=3"));
    assert_eq!(cells.last(), Some(&"clients.partition.alpha=1000 seed=4"));
    assert_eq!(finished_cells(&one).len(), 4);
    for name in [
        "stability_by_step",
        "alignment_by_step",
        "per_sample",
        "training_loss",
        "samples",
    ] {
        assert!(one.join(format!("{name}.parquet")).is_file(), "{name}.parquet missing");
    }

    // A cell's rows are those of a plain run of the same scenario with the swept values set.
    let plain = dir.path().join("plain");
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(&plain)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml"))
        .args(["--set", "clients.partition.alpha=0.3", "--set", "seed=4"])
        .assert()
        .success();
    let plain_rows: Vec<String> = std::fs::read_to_string(plain.join("results.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    let prefix = "clients.partition.alpha=0.3 seed=4,0.3,4,";
    let swept_rows: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(String::from)
        .collect();
    assert_eq!(swept_rows, plain_rows);
}

#[test]
fn a_cell_with_too_few_experts_skips_the_policies_that_need_more_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    // One client: majority grouping makes exactly one expert.
    let scenario = dir.path().join("one-client.yaml");
    std::fs::write(&scenario, format!("{tiny}\nsweep: {{ clients.count: [1] }}\n")).unwrap();
    let out = dir.path().join("out");
    run_sweep(&scenario, &out, "1");
    let run_json = std::fs::read_to_string(out.join("cells/count=1/run.json")).unwrap();
    assert!(run_json.contains("\"experts\": 1,"), "{run_json}");
    for skipped in ["top_k:k=2:raw", "random:k=2", "schedule:wide-then-one"] {
        assert!(
            run_json.contains(&format!("\"{skipped}\": \"routing[")),
            "{skipped} not listed: {run_json}"
        );
    }
    let table = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let policies: Vec<&str> = table.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    assert!(
        policies.contains(&"top_k:k=1") && policies.contains(&"full"),
        "{policies:?}"
    );
    assert!(!policies.contains(&"top_k:k=2:raw"), "{policies:?}");
}

#[test]
fn a_killed_sweep_resumes_with_only_the_remaining_cells_and_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = sweep_scenario(dir.path());
    let reference = dir.path().join("reference");
    run_sweep(&scenario, &reference, "1");

    let out = dir.path().join("interrupted");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ddmsim"))
        .args(["run", "--quiet", "--no-cache", "--jobs", "1", "--out"])
        .arg(&out)
        .arg(&scenario)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while finished_cells(&out).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the sweep made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let done = finished_cells(&out);
    assert!(done.len() >= 2 && done.len() < 4, "killed after {} cells", done.len());
    // The finished cells' rows were written at once.
    let partial = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(partial.contains("clients.partition.alpha=0.3 seed=3,"), "{partial}");
    let stamps: Vec<SystemTime> = done.iter().map(|c| modified(&c.join("run.json"))).collect();

    run_sweep(&scenario, &out, "1");
    let after: Vec<SystemTime> = done.iter().map(|c| modified(&c.join("run.json"))).collect();
    assert_eq!(stamps, after, "finished cells were run again");
    assert_eq!(finished_cells(&out).len(), 4);
    assert_eq!(
        std::fs::read(out.join("results.parquet")).unwrap(),
        std::fs::read(reference.join("results.parquet")).unwrap()
    );
    // No staging folder of the killed cell is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(out.join("cells"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
