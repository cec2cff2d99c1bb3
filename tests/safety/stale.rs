//! Stale results reused silently: a report that outlives the results it described, a model cache key blind to
//! the labels, sweep cells not rerun after their data changed, a report mixing cells of an older scenario, and a
//! single run's models and samples left in a folder that now holds a sweep.

use crate::common::*;
use serde_json::json;

/// Defect 8: "After a run, a `--train-only` rerun into the same folder must not leave the old
/// `summary.md`/`report.html` behind (they described the old results). A normal rerun has `report.html` and
/// `summary.md` right after exit."
#[test]
fn a_train_only_rerun_leaves_no_stale_report_and_a_normal_rerun_rebuilds_it() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "out", &[]).ok();
    let names = ["summary.md", "report.html"];
    let old: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(env.path("out").join(n)).unwrap())
        .collect();

    env.run("s.yaml", "out", &["--train-only"]).ok();
    for (name, old) in names.iter().zip(&old) {
        if let Ok(now) = std::fs::read(env.path("out").join(name)) {
            assert!(
                &now != old,
                "the old {name} (of the previous full run) is still there after --train-only"
            );
        }
    }

    env.run("s.yaml", "out", &[]).ok();
    for name in names {
        assert!(
            env.path("out").join(name).is_file(),
            "no {name} right after a normal rerun"
        );
    }
}

/// Defect 22: "Model cache key covers the labels: CSV data with a label column and `clusters: {method: labels}`;
/// run; edit only the labels of the CSV in place (same features); rerun: run.json `training.from_cache` is false."
#[test]
fn the_model_cache_key_covers_the_labels() {
    let env = Env::new();
    env.write("d.csv", blobs_csv(400, Some(&|_, blob| blob.to_string())));
    env.scenario(
        "s.yaml",
        &[
            (
                "data",
                json!({ "kind": "csv", "path": "d.csv", "label_column": "label", "test_fraction": 0.25 }),
            ),
            ("clusters", json!({ "method": "labels" })),
        ],
    );
    env.run("s.yaml", "a", &[]).ok();
    env.run("s.yaml", "b", &[]).ok();
    assert!(
        from_cache(&env.path("b")),
        "an unchanged rerun did not use the cache: the test would be trivial"
    );

    // Same features, other labels: every 50 rows the labels shift by one blob.
    env.write(
        "d.csv",
        blobs_csv(400, Some(&|i, blob| ((blob + i / 50) % 4).to_string())),
    );
    env.run("s.yaml", "c", &[]).ok();
    assert!(
        !from_cache(&env.path("c")),
        "models trained on the old labels were reused"
    );
}

/// Defect 23: "Sweep cells are rerun after the data file changed: a 2-cell sweep over `seed: [0, 1]` on CSV data;
/// run; change one feature value in the CSV; rerun: ... assert on `inputs_sha256` in the cell's run.json differing
/// between the two runs."
#[test]
fn sweep_cells_are_rerun_after_their_data_file_changed() {
    let env = Env::new();
    let csv = blobs_csv(400, None);
    env.write("d.csv", &csv);
    env.scenario(
        "s.yaml",
        &[
            ("data", json!({ "kind": "csv", "path": "d.csv", "test_fraction": 0.25 })),
            ("sweep", json!({ "seed": [0, 1] })),
        ],
    );
    // Each cell's run.json text (its timings change on every real rerun) and its inputs_sha256.
    let records = |env: &Env| -> Vec<(String, Option<String>)> {
        let cells = cells(&env.path("sw"));
        assert_eq!(cells.len(), 2, "expected two cells: {cells:?}");
        cells
            .iter()
            .map(|cell| {
                let text = std::fs::read_to_string(cell.join("run.json")).unwrap();
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                (text, find_key(&json, "inputs_sha256").map(|v| v.to_string()))
            })
            .collect()
    };
    env.run("s.yaml", "sw", &[]).ok();
    let first = records(&env);

    // One feature value of one row changes.
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let fields: Vec<&str> = lines[10].split(',').collect();
    lines[10] = format!("{},{}", fields[0].parse::<f64>().unwrap() + 0.125, fields[1]);
    env.write("d.csv", lines.join("\n") + "\n");

    env.run("s.yaml", "sw", &[]).ok();
    let second = records(&env);
    for (cell, ((text_a, sha_a), (text_b, sha_b))) in first.iter().zip(&second).enumerate() {
        assert!(
            text_a != text_b,
            "cell {cell} was reused after its data changed (run.json unchanged)"
        );
        let (Some(sha_a), Some(sha_b)) = (sha_a, sha_b) else {
            panic!("cell {cell}'s run.json has no inputs_sha256");
        };
        assert_ne!(
            sha_a, sha_b,
            "cell {cell} was not rerun after the data changed (same inputs_sha256)"
        );
    }
}

/// Defect 24: "`ddmsim report` after changing a non-swept value and a killed rerun: sweep `seed: [0, 1]`, run;
/// change `sampling.samples` in the file, ... rerun ...; then `ddmsim report DIR`: results.csv rows come only from
/// cells whose scenario matches the folder's current `scenario.resolved.yaml` (old-scenario cells are not in the
/// table)."
///
/// The killed rerun is simulated exactly: the rerun finishes, then the cell `seed=1` of the first run is put back,
/// as a rerun killed after its first cell would have left it.
#[test]
fn report_leaves_out_cells_of_an_older_scenario() {
    let env = Env::new();
    env.scenario("s.yaml", &[("sweep", json!({ "seed": [0, 1] }))]);
    env.run("s.yaml", "sw", &[]).ok();
    let old_cells = cells(&env.path("sw"));
    assert_eq!(old_cells.len(), 2, "expected two cells: {old_cells:?}");
    let stale = old_cells
        .iter()
        .find(|c| c.ends_with("seed=1"))
        .expect("a cell named seed=1")
        .clone();
    copy_dir(&stale, &env.path("old-seed-1"));

    env.scenario(
        "s.yaml",
        &[("sweep", json!({ "seed": [0, 1] })), ("sampling.samples", json!(50))],
    );
    env.run("s.yaml", "sw", &[]).ok();
    std::fs::remove_dir_all(&stale).unwrap();
    copy_dir(&env.path("old-seed-1"), &stale);

    env.ddmsim(&["report", "sw"]).ok();
    let seeds = csv_column(&env.path("sw/results.csv"), "seed");
    assert!(
        seeds.iter().any(|s| s == "0"),
        "the current cell seed=0 is missing from results.csv"
    );
    assert!(
        seeds.iter().all(|s| s != "1"),
        "results.csv has rows of cell seed=1, which ran with the old sampling.samples"
    );
}

/// Defect 25: "A sweep written where a single run used to be: afterwards the folder has no `models/` and no
/// `samples/`."
#[test]
fn a_sweep_over_a_single_run_leaves_no_models_or_samples() {
    let env = Env::new();
    env.scenario("single.yaml", &[]);
    env.scenario("sweep.yaml", &[("sweep", json!({ "seed": [0, 1] }))]);
    env.run("single.yaml", "out", &[]).ok();
    assert!(env.path("out/models").is_dir() && env.path("out/samples").is_dir());

    env.run("sweep.yaml", "out", &[]).ok();
    assert_eq!(cells(&env.path("out")).len(), 2, "the sweep's cells are missing");
    for stale in ["models", "samples"] {
        assert!(
            !env.path("out").join(stale).exists(),
            "the single run's {stale}/ is still in the sweep folder"
        );
    }
}
