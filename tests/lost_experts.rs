//! End-to-end tests of `sampling.lost_experts`: a lost expert is never routed to, the survivors' routing weights
//! sum to 1, an empty list changes no byte of a run, bad values are refused by key, and a study over counts
//! trains once per seed and plots quality against the experts lost.

#[path = "common/run_files.rs"]
mod run_files;

use assert_cmd::Command;
use run_files::files;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn ddmsim() -> Command {
    Command::cargo_bin("ddmsim").unwrap()
}

fn tiny() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap()
}

/// The tiny scenario with `lost` as its `sampling.lost_experts` (none: the key left out), written into `dir`.
fn scenario(dir: &Path, name: &str, lost: Option<&str>) -> PathBuf {
    let sampling = "sampling: { steps: 10, samples: 1100 }";
    let text = match lost {
        Some(lost) => tiny().replace(
            sampling,
            &format!("sampling: {{ steps: 10, samples: 1100, lost_experts: {lost} }}"),
        ),
        None => tiny(),
    };
    assert!(
        lost.is_none() || text.contains("lost_experts"),
        "the tiny scenario changed"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, name: &str, lost: Option<&str>) -> PathBuf {
    let out = dir.join(name);
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(&out)
        .arg(scenario(dir, name, lost))
        .assert()
        .success();
    out
}

/// The rows of a CSV file as (header, rows of cells).
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(|l| l.split(',').map(String::from).collect::<Vec<_>>());
    let header = lines.next().unwrap();
    (header, lines.collect())
}

fn run_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

#[test]
fn lost_experts_are_never_routed_to_and_the_survivors_weights_sum_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "lost", Some("[3, 1]"));
    let record = run_json(&out);
    assert_eq!(record["experts"], 4, "the tiny scenario trains four experts");
    assert_eq!(record["lost_experts"], serde_json::json!([3, 1]), "in removal order");
    assert_eq!(
        std::fs::read_to_string(out.join("lost_experts.csv")).unwrap(),
        "seed,order,expert\n3,0,3\n3,1,1\n"
    );
    // Every routed policy, every step: the mean routing weight of a lost expert is exactly 0, and the survivors'
    // weights sum to 1 (raw top-k's too: with two survivors it keeps both, at probabilities renormalised over them).
    let (header, rows) = csv(&out.join("routing_share_by_step.csv"));
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (e0, e1, e2, e3) = (
        column("expert_0"),
        column("expert_1"),
        column("expert_2"),
        column("expert_3"),
    );
    let policies: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        policies.len(),
        10,
        "every routed policy of the tiny scenario: {policies:?}"
    );
    for row in &rows {
        assert_eq!((row[e1].as_str(), row[e3].as_str()), ("0", "0"), "{row:?}");
        let sum: f64 = [e0, e2].iter().map(|&c| row[c].parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "survivors' weights sum to {sum}: {row:?}");
    }
    // Tables of experts name the survivors by their trained index, and only them.
    let (_, experts) = csv(&out.join("experts.csv"));
    assert_eq!(experts.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["0", "2"]);
    let (header, errors) = csv(&out.join("expert_error.csv"));
    let expert = header.iter().position(|h| h == "expert").unwrap();
    let scored: BTreeSet<&str> = errors.iter().map(|r| r[expert].as_str()).collect();
    assert_eq!(scored, BTreeSet::from(["0", "2"]));
    // Training is that of the full ensemble: the same models and cache key as a run that loses nothing.
    let full = run(dir.path(), "full", None);
    assert_eq!(record["training"]["key"], run_json(&full)["training"]["key"]);
    for model in ["expert_1", "expert_3", "router", "monolith"] {
        let file = format!("models/{model}.safetensors");
        assert_eq!(
            std::fs::read(out.join(&file)).unwrap(),
            std::fs::read(full.join(&file)).unwrap()
        );
    }
    // The monolith does not route: its samples are those of the full run.
    let file = "samples/monolith.csv";
    assert_eq!(
        std::fs::read(out.join(file)).unwrap(),
        std::fs::read(full.join(file)).unwrap()
    );
    assert_ne!(
        std::fs::read(out.join("samples/full.csv")).unwrap(),
        std::fs::read(full.join("samples/full.csv")).unwrap()
    );
}

/// `run.json` without its timings.
fn untimed(dir: &Path) -> serde_json::Value {
    let mut record = run_json(dir);
    for key in ["timings_seconds", "sampling_seconds", "analysis_seconds"] {
        record.as_object_mut().unwrap().remove(key);
    }
    record
}

#[test]
fn an_empty_list_changes_no_byte_and_a_count_of_zero_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let without = run(dir.path(), "without", None);
    let empty = run(dir.path(), "empty", Some("[]"));
    let names = files(&without);
    assert!(names.len() > 20, "{names:?}");
    assert_eq!(names, files(&empty));
    for name in &names {
        let (a, b) = (
            std::fs::read(without.join(name)).unwrap(),
            std::fs::read(empty.join(name)).unwrap(),
        );
        assert!(a == b, "{} differs", name.display());
    }
    assert_eq!(untimed(&without), untimed(&empty));
    assert!(run_json(&empty).get("lost_experts").is_none());
    // A count of 0 is written in the resolved scenario (and the inputs' hash) but loses nothing.
    let zero = run(dir.path(), "zero", Some("0"));
    assert!(!zero.join("lost_experts.csv").exists());
    for name in names.iter().filter(|n| n.to_str() != Some("scenario.resolved.yaml")) {
        let (a, b) = (
            std::fs::read(without.join(name)).unwrap(),
            std::fs::read(zero.join(name)).unwrap(),
        );
        assert!(a == b, "{} differs", name.display());
    }
}

#[test]
fn bad_lists_and_counts_are_refused_by_key_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |name: &str, lost: &str, text: &str, says: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text.replace("LOST", lost)).unwrap();
        let assert = ddmsim()
            .args(["run", "--quiet", "--no-cache", "--out"])
            .arg(dir.path().join(name))
            .arg(&path)
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains("sampling.lost_experts"), "{lost}: {stderr}");
        assert!(stderr.contains(says), "{lost}: {stderr}");
        assert!(!dir.path().join(name).join("results.csv").exists());
    };
    let text = scenario(dir.path(), "base", Some("LOST"));
    let text = std::fs::read_to_string(text).unwrap();
    refused("duplicate", "[2, 0, 2]", &text, "expert 2 is listed twice");
    refused(
        "range",
        "[4]",
        &text,
        "expert 4 does not exist: there are at most 4 experts (clusters.k)",
    );
    refused("count", "4", &text, "losing 4 leaves none to sample with");
    refused(
        "type",
        "all",
        &text,
        "expected a list of expert indices or a count of experts to lose",
    );
    // Two clients make at most two experts: the counts pass the clusters' bound and are refused after grouping.
    let two = text.replace("count: 8,", "count: 2,");
    assert_ne!(two, text);
    refused("grouped", "2", &two, "the grouping produced");
    refused(
        "grouped-list",
        "[3]",
        &two,
        "expert 3 does not exist: the grouping produced",
    );
}

#[test]
fn a_study_over_counts_trains_once_loses_nested_sets_and_plots_quality_against_experts_lost() {
    let dir = tempfile::tempdir().unwrap();
    let base = scenario(dir.path(), "base", None);
    let study = dir.path().join("study.yaml");
    let text = format!(
        "name: lost\nscenario: {}\nseeds: [3]\n\
         set: {{ metrics.stability: false, metrics.alignment: false, \
         routing: [{{ policy: top_k, k: 1 }}, {{ policy: full }}, {{ policy: uniform }}, {{ policy: monolith }}] }}\n\
         settings:\n  - {{ name: lost=0, set: {{ sampling.lost_experts: 0 }} }}\n  \
         - {{ name: lost=1, set: {{ sampling.lost_experts: 1 }} }}\n  \
         - {{ name: lost=2, set: {{ sampling.lost_experts: 2 }} }}\n  \
         - {{ name: lost=3, set: {{ sampling.lost_experts: 3 }} }}\n",
        base.display()
    );
    std::fs::write(&study, text).unwrap();
    let out = dir.path().join("out");
    ddmsim()
        .args(["study", "--quiet", "--jobs", "1", "--out"])
        .arg(&out)
        .arg(&study)
        .assert()
        .success();
    let records: Vec<serde_json::Value> = (0..4)
        .map(|n| run_json(&out.join(format!("cells/lost={n}/seed-3"))))
        .collect();
    let key = &records[0]["training"]["key"];
    assert_eq!(
        records.iter().filter(|r| r["training"]["from_cache"] == false).count(),
        1
    );
    assert!(
        records.iter().all(|r| r["training"]["key"] == *key),
        "one training for every count"
    );
    let lost: Vec<Vec<u64>> = records
        .iter()
        .map(|r| {
            r.get("lost_experts")
                .map(|l| l.as_array().unwrap().iter().map(|e| e.as_u64().unwrap()).collect())
                .unwrap_or_default()
        })
        .collect();
    for n in 0..3 {
        assert_eq!(lost[n + 1].len(), n + 1);
        assert_eq!(lost[n + 1][..n], lost[n][..], "count {} extends count {n}", n + 1);
    }
    let (header, rows) = csv(&out.join("figures/fd_vs_lost_experts.csv"));
    assert_eq!(header, ["series", "category", "mean", "std"]);
    let full: Vec<&str> = rows.iter().filter(|r| r[0] == "full").map(|r| r[1].as_str()).collect();
    assert_eq!(full, ["0", "1", "2", "3"]);
    let svg = std::fs::read_to_string(out.join("figures/fd_vs_lost_experts.svg")).unwrap();
    assert!(svg.contains("fd against experts lost, one line per policy"));
    assert!(svg.contains("experts lost at sampling time (sampling.lost_experts)"));
    assert!(
        !out.join("figures/fd_vs_group.svg").exists(),
        "the lost-experts figure replaces it"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    let headline = &summary[summary.find("## Headline").unwrap()..summary.find("## Figures").unwrap()];
    assert!(headline.contains("fd_vs_lost_experts"), "{headline}");
    let monolith: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r[0] == "monolith")
        .map(|r| r[2].as_str())
        .collect();
    assert_eq!(monolith.len(), 1, "the monolith loses no expert: {rows:?}");
}
