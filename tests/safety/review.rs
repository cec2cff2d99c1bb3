//! Regression tests of the defects a review of the run store found after the issue's own list: old folders that
//! lost their cells, a report that deleted results, a marker trusted as a list of paths to delete, a user's file
//! under a name ddmsim writes, an unprotected study base scenario, lock names that collided, leftovers of killed
//! runs that blocked later ones, and damaged cell results that stopped a sweep.

use crate::common::*;
use serde_json::json;

/// Every file below `dir`, relative, sorted (markers and other hidden names included).
fn files(dir: &std::path::Path) -> Vec<String> {
    (crate::run_files::all_files(dir).iter())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// A two-cell sweep over seeds, run into `sw`.
fn sweep(env: &Env) {
    env.scenario("s.yaml", &[("sweep", json!({ "seed": [0, 1] }))]);
    env.run("s.yaml", "sw", &[]).ok();
}

/// "Pre-marker sweep folders lose all their cells": a sweep folder of an older version (no markers anywhere) keeps
/// every cell file through `ddmsim report`.
#[test]
fn a_sweep_folder_of_an_older_version_keeps_its_cells_through_report() {
    let env = Env::new();
    sweep(&env);
    for marker in find_named(&env.path("sw"), ".ddmsim") {
        std::fs::remove_file(marker).unwrap();
    }
    // Older versions kept no claim log either.
    std::fs::remove_file(env.path("sw/claims.log")).unwrap();
    let cells_before = files(&env.path("sw/cells"));
    env.ddmsim(&["report", "sw"]).ok();
    assert_eq!(files(&env.path("sw/cells")), cells_before, "report removed cell files");
    assert!(env.path("sw/results.parquet").is_file());
}

/// "`ddmsim report` on a sweep without `cells/` deletes its results": the tables stay.
#[test]
fn report_on_a_sweep_without_its_cells_keeps_the_tables() {
    let env = Env::new();
    sweep(&env);
    std::fs::remove_dir_all(env.path("sw/cells")).unwrap();
    env.ddmsim(&["report", "sw"]).ok();
    assert!(env.path("sw/results.parquet").is_file(), "results.parquet was removed");
    env.ddmsim(&["report", "sw"]).ok();
}

/// "The marker's file list is trusted as deletion paths": a marker listing paths outside its folder is refused,
/// and those files survive.
#[test]
fn a_marker_listing_paths_outside_its_folder_deletes_nothing() {
    let env = Env::new();
    sweep(&env);
    let victim = env.write("victim.txt", "mine");
    let marker = env.path("sw/.ddmsim");
    let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&marker).unwrap()).unwrap();
    value["files"].as_array_mut().unwrap().push(json!("../victim.txt"));
    value["files"]
        .as_array_mut()
        .unwrap()
        .push(json!(victim.to_string_lossy()));
    std::fs::write(&marker, value.to_string()).unwrap();
    env.ddmsim(&["report", "sw"]).error(&["marker"]);
    env.run("s.yaml", "sw", &[]).error_last_line(&["marker"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine");
}

/// "A user file with a ddmsim file name is silently destroyed": a `summary.md` the user put in a train-only run
/// folder stops a full rerun, which would write its own, and is kept.
#[test]
fn a_users_summary_md_is_never_replaced() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "out", &["--train-only"]).ok();
    env.write("out/summary.md", "my summary");
    env.run("s.yaml", "out", &[]).error(&["summary.md"]);
    assert_eq!(
        std::fs::read_to_string(env.path("out/summary.md")).unwrap(),
        "my summary"
    );
}

/// "A study's base scenario file is not protected": a study whose base scenario lives in its output folder is
/// refused, and the folder untouched.
#[test]
fn a_study_whose_base_scenario_is_in_its_output_folder_is_refused() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "out", &[]).ok();
    env.write(
        "study.yaml",
        "name: st\nscenario: out/scenario.resolved.yaml\nseeds: [0]\n",
    );
    let before = snapshot(&env.root);
    env.ddmsim(&["study", "--quiet", "--out", "out", "study.yaml"])
        .error(&["--out"]);
    assert_untouched(&before, &snapshot(&env.root), "the study's output folder");
}

/// "Lock names are cut to 60 characters, so different cells share one lock": cells whose names share a long
/// prefix run side by side.
#[test]
fn cells_with_long_names_sharing_a_prefix_run_side_by_side() {
    let env = Env::new();
    let sweep = json!({
        "clients.partition.min_partition_size": [0],
        "federation.clients_per_round": [0.5],
        "federation.local_steps": [3],
        "model.time_embedding": [4],
        "seed": [0, 1, 2, 3],
    });
    env.scenario("s.yaml", &[("sweep", sweep)]);
    env.run("s.yaml", "sw", &["--jobs", "2"]).ok();
}

/// "Files left by a killed run block later runs": a lock file and a half-replaced folder a killed sweep left in
/// its cells do not stop a run from replacing the folder.
#[test]
fn leftovers_of_a_killed_run_do_not_block_the_next() {
    let env = Env::new();
    sweep(&env);
    env.write("sw/cells/.seed=0.ddmsim-lock", "");
    env.write("sw/cells/.seed=0.ddmsim-old-abc/results.csv", "x");
    env.scenario("t.yaml", &[]);
    env.run("t.yaml", "sw", &[]).ok();
    assert!(!env.path("sw/cells").exists());
}

/// "Damaged cell results abort the whole sweep": a cell whose results.parquet is truncated is run again.
#[test]
fn a_cell_with_damaged_results_is_run_again() {
    let env = Env::new();
    sweep(&env);
    let parquet = env.path("sw/cells/seed=1/results.parquet");
    let bytes = std::fs::read(&parquet).unwrap();
    std::fs::write(&parquet, &bytes[..bytes.len() / 2]).unwrap();
    let out = env.run("s.yaml", "sw", &[]);
    out.ok();
    assert!(
        out.stderr.contains("seed=1"),
        "the rerun was not reported: {}",
        out.describe()
    );
    assert!(
        std::fs::read(&parquet).unwrap().len() > bytes.len() / 2,
        "the cell was not rewritten"
    );
}
