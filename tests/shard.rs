//! Sharded sweeps: shards run at once in one folder give the unsharded table, overlapping shards never run a
//! cell twice (the claim log shows it), SIGTERM abandons the cell in progress cleanly and a rerun finishes it,
//! `ddmsim report` names the missing cells, and `ddmsim slurm` writes the scripts (or refuses bad flags).

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The tiny test scenario with a 4-cell sweep, `extra` appended (e.g. a slower training), written into `dir`.
fn sweep_file(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let tiny = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    let text = format!("{tiny}\nsweep: {{ clients.partition.alpha: [0.3, 1000], seed: [3, 4] }}\n{extra}");
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn ddmsim() -> Command {
    Command::cargo_bin("ddmsim").unwrap()
}

/// The standard error of a finished command.
fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

fn spawn(args: &[&str], file: &Path, out: &Path) -> Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_ddmsim"))
        .args(["run", "--quiet", "--no-cache", "--threads", "1", "--out"])
        .arg(out)
        .args(args)
        .arg(file)
        .spawn()
        .unwrap()
}

/// The claim log's events per cell: cell -> [event, ...] in order.
fn claim_events(out: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(out.join("claims.log")).unwrap();
    let mut events: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 8, "a claim log line without 8 fields: {line:?}");
        events
            .entry(fields[6].to_string())
            .or_default()
            .push(fields[5].to_string());
    }
    events
}

/// Hidden files ddmsim leaves beside cells while working (claims, staging folders, locks).
fn leftovers(out: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(out.join("cells")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn two_shards_at_once_then_report_give_the_unsharded_table_running_each_cell_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "sweep.yaml", "");
    let reference = dir.path().join("reference");
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(&reference)
        .arg(&file)
        .assert()
        .success();
    let out = dir.path().join("sharded");
    let mut shards = [
        spawn(&["--shard", "0/2"], &file, &out),
        spawn(&["--shard", "1/2"], &file, &out),
    ];
    for shard in &mut shards {
        assert!(shard.wait().unwrap().success());
    }
    let report = ddmsim().arg("report").arg(&out).assert().success();
    let stdout = String::from_utf8(report.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("gathered 4 of 4 cells"), "{stdout}");
    assert_eq!(
        std::fs::read(out.join("results.parquet")).unwrap(),
        std::fs::read(reference.join("results.parquet")).unwrap(),
        "the sharded table differs from the unsharded one"
    );
    let events = claim_events(&out);
    assert_eq!(events.len(), 4, "{events:?}");
    for (cell, list) in &events {
        assert_eq!(list, &["claimed", "finished"], "cell {cell}");
    }
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn overlapping_shards_never_run_a_cell_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "sweep.yaml", "");
    let out = dir.path().join("out");
    // Cells 0 and 2 are in shard 0/2, cells 0 and 3 in shard 0/3: cell 0 is in both, and cell 1 in neither.
    let mut shards = [
        spawn(&["--shard", "0/2"], &file, &out),
        spawn(&["--shard", "0/3"], &file, &out),
    ];
    for shard in &mut shards {
        assert!(shard.wait().unwrap().success());
    }
    let events = claim_events(&out);
    let claimed: usize = events
        .values()
        .map(|l| l.iter().filter(|e| *e == "claimed").count())
        .sum();
    let finished: usize = events
        .values()
        .map(|l| l.iter().filter(|e| *e == "finished").count())
        .sum();
    assert_eq!((claimed, finished), (3, 3), "{events:?}");
    for (cell, list) in &events {
        assert_eq!(
            list.iter().filter(|e| *e == "finished").count(),
            1,
            "cell {cell}: {list:?}"
        );
    }
    let report = ddmsim().arg("report").arg(&out).assert().success();
    let stdout = String::from_utf8(report.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("gathered 3 of 4 cells")
            && stdout.contains("missing (not run yet, running, or abandoned): clients.partition.alpha=0.3 seed=4;"),
        "the missing cell is not named:\n{stdout}"
    );
}

#[test]
fn sigterm_abandons_the_cell_in_progress_cleanly_and_a_rerun_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    // A few seconds per cell, so the signal arrives mid-cell.
    let file = sweep_file(dir.path(), "slow.yaml", "");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("federation: { rounds: 3,"),
        "tiny.yaml changed: update this test"
    );
    std::fs::write(
        &file,
        text.replace("federation: { rounds: 3,", "federation: { rounds: 1500,"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut child = spawn(&[], &file, &out);
    let started = Instant::now();
    while !out.join("claims.log").is_file() || !leftovers(&out).iter().any(|n| n.contains("ddmsim-staging-")) {
        assert!(started.elapsed() < Duration::from_secs(120), "no cell started");
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended before the signal");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "SIGTERM must end the run with 128 + 15");
    assert!(leftovers(&out).is_empty(), "left behind: {:?}", leftovers(&out));
    let events = claim_events(&out);
    let abandoned: Vec<&String> = events
        .iter()
        .filter(|(_, l)| l.last().is_some_and(|e| e == "abandoned"))
        .map(|(c, _)| c)
        .collect();
    assert_eq!(abandoned.len(), 1, "{events:?}");
    let log = std::fs::read_to_string(out.join("claims.log")).unwrap();
    assert!(log.contains("SIGTERM received"), "{log}");

    let mut rerun = spawn(&[], &file, &out);
    assert!(rerun.wait().unwrap().success());
    let events = claim_events(&out);
    assert_eq!(
        events[abandoned[0]].last().map(String::as_str),
        Some("finished"),
        "{events:?}"
    );
    assert!(out.join("report.html").is_file());
}

#[test]
fn bad_shards_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "sweep.yaml", "");
    for bad in ["2/2", "1", "a/3", "0/0"] {
        let run = ddmsim()
            .args(["run", "--quiet", "--shard", bad, "--out"])
            .arg(dir.path().join("out"))
            .arg(&file)
            .assert()
            .failure();
        let stderr = stderr_of(&run);
        assert!(stderr.contains("--shard"), "{bad}: {stderr}");
    }
    let single = dir.path().join("single.yaml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml"),
        &single,
    )
    .unwrap();
    let run = ddmsim()
        .args(["run", "--quiet", "--shard", "0/2"])
        .arg(&single)
        .assert()
        .failure();
    let stderr = stderr_of(&run);
    assert!(stderr.contains("--shard") && stderr.contains("single run"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "a refused shard wrote its folder");
}

#[test]
fn slurm_writes_an_array_script_and_a_gather_script_and_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "sweep.yaml", "");
    let out = dir.path().join("out");
    let made = ddmsim()
        .current_dir(dir.path())
        .args([
            "slurm",
            "sweep.yaml",
            "--out",
            "out",
            "--cells-per-task",
            "3",
            "--array-parallelism",
            "2",
        ])
        .args([
            "--partition",
            "gpu",
            "--time",
            "01:00:00",
            "--cpus-per-task",
            "4",
            "--extra=--account=lab",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8(made.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("sbatch --dependency=afterany:"), "{stdout}");
    let array = std::fs::read_to_string(out.join("slurm/array.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-1%2",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=01:00:00",
        "#SBATCH --requeue",
        "#SBATCH --account=lab",
        "--shard \"${SLURM_ARRAY_TASK_ID}/2\"",
        "--threads \"${SLURM_CPUS_PER_TASK:-4}\"",
    ] {
        assert!(array.contains(line), "no `{line}` in:\n{array}");
    }
    let file_abs = std::fs::canonicalize(&file).unwrap();
    assert!(array.contains(&format!(" run {} ", file_abs.display())), "{array}");
    let gather = std::fs::read_to_string(out.join("slurm/gather.sbatch")).unwrap();
    assert!(
        gather.contains(" report ") && gather.contains("#SBATCH --time=01:00:00"),
        "{gather}"
    );
    assert!(out.join("slurm/logs").is_dir());
    // Nothing has run yet: the gather says so rather than that the folder is not ddmsim's.
    let early = ddmsim().arg("report").arg(&out).assert().failure();
    let stderr = stderr_of(&early);
    assert!(stderr.contains("nothing to gather yet"), "{stderr}");
    let nowhere = ddmsim()
        .arg("report")
        .arg(dir.path().join("nowhere"))
        .assert()
        .failure();
    let stderr = stderr_of(&nowhere);
    assert!(stderr.contains("no such folder"), "{stderr}");
    let overriding = ddmsim()
        .current_dir(dir.path())
        .args(["slurm", "sweep.yaml", "--out", "out", "--extra=--output=x.log"])
        .assert()
        .failure();
    let stderr = stderr_of(&overriding);
    assert!(
        stderr.contains("--extra") && stderr.contains("set --output themselves"),
        "{stderr}"
    );
    // No sbatch on PATH: --submit says so instead of pretending.
    let no_slurm = ddmsim()
        .current_dir(dir.path())
        .env("PATH", dir.path())
        .args(["slurm", "sweep.yaml", "--out", "out", "--submit"])
        .assert()
        .failure();
    let stderr = stderr_of(&no_slurm);
    assert!(stderr.contains("sbatch"), "{stderr}");
    let bad = ddmsim()
        .current_dir(dir.path())
        .args(["slurm", "sweep.yaml", "--out", "out", "--time", "1 hour"])
        .assert()
        .failure();
    let stderr = stderr_of(&bad);
    assert!(stderr.contains("--time"), "{stderr}");
    let single = dir.path().join("single.yaml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml"),
        &single,
    )
    .unwrap();
    let refused = ddmsim().args(["slurm"]).arg(&single).assert().failure();
    let stderr = stderr_of(&refused);
    assert!(stderr.contains("has no `sweep`"), "{stderr}");
}

#[test]
fn a_reordered_sweep_is_refused_while_the_first_runs_and_failures_of_other_inputs_do_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), "slow.yaml", "");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("federation: { rounds: 3,", "federation: { rounds: 1500,"),
    )
    .unwrap();
    let reordered = dir.path().join("reordered.yaml");
    std::fs::write(
        &reordered,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("seed: [3, 4]", "seed: [4, 3]"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut first = spawn(&["--shard", "0/2"], &file, &out);
    let started = Instant::now();
    while !out.join("claims.log").is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first sweep never joined"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let joined = ddmsim()
        .args(["run", "--quiet", "--no-cache", "--shard", "1/2", "--out"])
        .arg(&out)
        .arg(&reordered)
        .assert()
        .failure();
    let stderr = stderr_of(&joined);
    assert!(stderr.contains("different sweep or study"), "{stderr}");
    std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(143));

    // Failures recorded for other inputs (a hash of another version, or none from an older ddmsim) are cells
    // still to run, not cells that could not run.
    let failed = r#"[{"cell": "clients.partition.alpha=0.3 seed=4", "error": "old", "inputs_sha256": "00"},
                     {"cell": "clients.partition.alpha=1000 seed=4", "error": "older"}]"#;
    std::fs::write(out.join("failed_cells.json"), failed).unwrap();
    let report = ddmsim().arg("report").arg(&out).assert().success();
    let stdout = String::from_utf8(report.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("gathered 0 of 4 cells") && !stdout.contains("could not run"),
        "{stdout}"
    );
}
