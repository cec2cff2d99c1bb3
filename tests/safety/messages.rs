//! Unclear messages and inputs read wrongly: a BOM, a type error in block YAML, a corrupt stored table, a missing
//! file, a top-k over the label clusters and quoted CSV fields are read or reported as a person expects.

use crate::common::*;
use serde_json::json;

/// Defect 52: "A scenario starting with a UTF-8 BOM followed by a comment line and keys validates."
///
/// The baseline already read a BOM before a comment line; it failed (`more than one document`) when the keys came
/// right after the BOM, so both layouts are checked.
#[test]
fn a_scenario_starting_with_a_bom_validates() {
    let env = Env::new();
    let layouts = [
        format!(
            "\u{feff}# my experiment, saved by an editor that writes a BOM\n{}",
            scenario(&[])
        ),
        format!("\u{feff}{}", scenario(&[])),
    ];
    for text in layouts {
        env.write("s.yaml", &text);
        let out = env.ddmsim(&["validate", "s.yaml"]);
        out.ok();
        assert!(
            out.stdout.contains("tiny"),
            "the resolved scenario lacks its name: {}",
            out.stdout
        );
    }
}

/// Defect 53: "`data: {kind: gmm, std: abc}` written in block style across lines -> the message contains
/// `data.std` and the line number of `std:`."
#[test]
fn a_bad_value_in_block_yaml_names_its_path_and_line() {
    let env = Env::new();
    let text = "\
name: t
seed: 0
# the data
data:
  kind: gmm
  components: 4
  std: abc
  samples: 600
";
    env.write("s.yaml", text);
    let out = env.ddmsim(&["validate", "s.yaml"]);
    out.error(&["data.std"]);
    assert!(
        out.stderr.contains("line 7") || out.stderr.contains(":7:"),
        "the line of `std:` (7) is not named: {}",
        out.describe()
    );
}

/// Defect 54: "A corrupt `results.parquet` inside a sweep cell read by `ddmsim report` -> the message says
/// `reading`, not `writing`."
#[test]
fn a_corrupt_cell_table_is_reported_as_a_reading_error() {
    let env = Env::new();
    env.scenario("s.yaml", &[("sweep", json!({ "seed": [0, 1] }))]);
    env.run("s.yaml", "sw", &[]).ok();
    let cells = cells(&env.path("sw"));
    assert_eq!(cells.len(), 2, "expected two cells: {cells:?}");
    std::fs::write(
        cells[1].join("results.parquet"),
        b"PAR1 this is not a parquet file PAR1",
    )
    .unwrap();
    let out = env.ddmsim(&["report", "sw"]);
    if out.code == Some(0) {
        // A report that leaves the unreadable cell out must still say so.
        let said = out
            .stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("reading"));
        assert!(said, "the unreadable cell was skipped silently: {}", out.describe());
        out.clean_stderr();
    } else {
        out.error(&["reading"]);
    }
    assert!(
        !out.stderr.contains("writing"),
        "the message blames writing: {}",
        out.describe()
    );
}

/// Defect 55: "A missing CSV file -> the OS error text (`No such file or directory`) appears exactly once."
#[test]
fn a_missing_csv_file_gives_the_os_error_once() {
    let env = Env::new();
    env.scenario("s.yaml", &[("data", json!({ "kind": "csv", "path": "nowhere.csv" }))]);
    let out = env.run("s.yaml", "out", &[]);
    out.error(&["nowhere.csv"]);
    let count = out.stderr.matches("No such file or directory").count();
    assert_eq!(count, 1, "the OS error appears {count} times: {}", out.describe());
}

/// Defect 59: "`top_k k: 9` with `clusters.method: labels` on the 10 digit classes (data kind digits, tiny budgets,
/// classifier disabled) is accepted by `validate` and runs."
#[test]
fn top_k_nine_over_the_ten_digit_labels_is_accepted_and_runs() {
    let env = Env::new();
    env.scenario(
        "s.yaml",
        &[
            ("data", json!({ "kind": "digits", "test_fraction": 0.2 })),
            ("clusters", json!({ "method": "labels" })),
            ("clients.count", json!(12)),
            ("metrics.classifier", json!({ "enabled": false })),
            ("routing", json!([{ "policy": "top_k", "k": 9 }, { "policy": "full" }])),
        ],
    );
    env.ddmsim(&["validate", "s.yaml"]).ok();
    env.run("s.yaml", "out", &[]).ok();
    // Evaluated, or skipped and listed (where majority grouping left fewer than nine experts).
    let policies = csv_column(&env.path("out/results.csv"), "policy");
    let skipped = run_json(&env.path("out"))["skipped_policies"]
        .get("top_k:k=9")
        .is_some();
    assert!(
        skipped || policies.iter().any(|p| p == "top_k:k=9"),
        "top_k:k=9 neither evaluated nor listed as skipped: {policies:?}"
    );
}

/// Defect 60: "CSV with quoted fields (`"a,b"` header names, quoted numbers, a quoted label containing a comma) is
/// read."
#[test]
fn a_csv_with_quoted_fields_is_read() {
    let env = Env::new();
    let mut csv = String::from("\"width, cm\",\"height, cm\",\"kind\"\n");
    for (i, line) in blobs_csv(400, None).lines().skip(1).enumerate() {
        let (x, y) = line.split_once(',').unwrap();
        let kind = ["apple, red", "apple, green", "pear", "plum, \"\"blue\"\""][i % 4];
        csv.push_str(&format!("\"{x}\",{y},\"{kind}\"\n"));
    }
    env.write("d.csv", csv);
    env.scenario(
        "s.yaml",
        &[
            (
                "data",
                json!({ "kind": "csv", "path": "d.csv", "label_column": "kind", "test_fraction": 0.25 }),
            ),
            ("clusters", json!({ "method": "labels" })),
        ],
    );
    env.run("s.yaml", "out", &[]).ok();
    let reference = std::fs::read_to_string(env.path("out/samples/reference_test.csv")).unwrap();
    assert_eq!(
        reference.lines().count(),
        101,
        "expected 100 reference points:\n{reference}"
    );
}
