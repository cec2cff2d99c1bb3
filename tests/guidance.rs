//! End-to-end tests of class-conditional denoisers and classifier-free guidance: `model.condition` off is
//! today's run to the byte, guidance raises the share of samples of the requested class, w = 1 per_expert and
//! combined give the same samples under a router that ignores the class, and bad settings are refused by key.

#[path = "common/run_files.rs"]
mod run_files;

use assert_cmd::Command;
use run_files::files;
use std::path::{Path, PathBuf};

fn ddmsim() -> Command {
    Command::cargo_bin("ddmsim").unwrap()
}

/// A small, well separated mixture whose conditional experts train in seconds; `SAMPLING` and `ROUTER` are
/// replaced by each test.
const SMALL: &str = "name: small-guided
seed: 3
data: { kind: gmm, components: 4, dim: 2, radius: 3.0, std: 0.3, samples: 2000, test_fraction: 0.25 }
clusters: { method: kmeans, k: 4 }
clients: { count: 8, partition: { kind: dirichlet, alpha: 0.3, min_partition_size: 0 } }
federation: { rounds: 60, clients_per_round: 0.5, local_steps: 5, batch_size: 64 }
model: { hidden: [32, 32], time_embedding: 8, condition: { enabled: true } }
router: { hidden: [16], time_embedding: 8, rounds: 20, local_steps: 5ROUTER }
sampling: { steps: 20, samples: 600SAMPLING }
metrics: { max_reference: 300, stability: false, alignment: false }
routing:
  - { policy: top_k, k: 1 }
  - { policy: full }
  - { policy: monolith }
";

/// Writes `text` as `<name>.yaml` in `dir` and runs `ddmsim <command>` on it into `dir/<name>` (the model
/// cache beside it).
fn execute(command: &str, dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    let out = dir.join(name);
    ddmsim()
        .args([command, "--quiet", "--out"])
        .arg(&out)
        .arg(&path)
        .assert()
        .success();
    out
}

/// A run of the scenario `text` (see [`execute`]).
fn run(dir: &Path, name: &str, text: &str) -> PathBuf {
    execute("run", dir, name, text)
}

/// A study of the study file `text` (see [`execute`]).
fn study(dir: &Path, name: &str, text: &str) -> PathBuf {
    execute("study", dir, name, text)
}

/// The small scenario with extra `sampling` and `router` keys.
fn small(sampling: &str, router: &str) -> String {
    SMALL.replace("SAMPLING", sampling).replace("ROUTER", router)
}

/// Column `name` of `results.csv` by policy.
fn column(out: &Path, name: &str) -> Vec<(String, Option<f64>)> {
    let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let Some(c) = header.iter().position(|h| *h == name) else {
        return Vec::new();
    };
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[c].parse().ok())
        })
        .collect()
}

#[test]
fn conditioning_turned_off_changes_no_byte_of_a_run() {
    let tiny = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    let model = "model: { hidden: [32, 32], time_embedding: 8 }";
    assert!(tiny.contains(model), "the tiny scenario changed");
    let off = tiny.replace(
        model,
        "model: { hidden: [32, 32], time_embedding: 8, condition: { enabled: false, dropout: 0.3 } }",
    );
    let dir = tempfile::tempdir().unwrap();
    let (plain, explicit) = (run(dir.path(), "plain", &tiny), run(dir.path(), "explicit", &off));
    let names = files(&plain);
    assert!(names.len() > 20, "{names:?}");
    assert_eq!(names, files(&explicit));
    for name in &names {
        let same = std::fs::read(plain.join(name)).unwrap() == std::fs::read(explicit.join(name)).unwrap();
        assert!(same, "{} differs", name.display());
    }
    assert!(
        column(&plain, "cond_accuracy").is_empty(),
        "unguided tables have no guided columns"
    );
}

#[test]
fn guidance_raises_the_share_of_the_requested_class_and_w1_needs_no_unconditional_branch() {
    let dir = tempfile::tempdir().unwrap();
    let unguided = run(dir.path(), "w0", &small(", guidance: { scale: 0 }", ""));
    let guided = run(dir.path(), "w3", &small(", guidance: { scale: 3 }", ""));
    let (w0, w3) = (column(&unguided, "cond_accuracy"), column(&guided, "cond_accuracy"));
    assert_eq!(w0.len(), 5, "two reference rows and three policies: {w0:?}");
    for ((policy, a), (_, b)) in w0.iter().zip(&w3) {
        match policy.starts_with("reference") {
            true => assert_eq!((a, b), (&None, &None), "reference rows request no class"),
            // Four classes: chance is 0.25; guidance must lift every policy well above its unguided share.
            false => assert!(
                b.unwrap() > a.unwrap() + 0.2,
                "{policy}: {a:?} at w = 0, {b:?} at w = 3"
            ),
        }
    }
    assert!(column(&guided, "fd_class").iter().skip(2).all(|(_, v)| v.is_some()));
    // w = 1 runs only the conditional branch: per_expert and combined give the same samples.
    let per = run(
        dir.path(),
        "per",
        &small(", guidance: { scale: 1, apply: per_expert }", ""),
    );
    let comb = run(
        dir.path(),
        "comb",
        &small(", guidance: { scale: 1, apply: combined }", ""),
    );
    for policy in ["top_k_k_1", "full", "monolith"] {
        let file = format!("samples/{policy}.csv");
        let same = std::fs::read(per.join(&file)).unwrap() == std::fs::read(comb.join(&file)).unwrap();
        assert!(same, "{file} differs between per_expert and combined at w = 1");
    }
    // A router that sees the class routes differently: top-1's samples change, the monolith's do not.
    let routed = run(
        dir.path(),
        "routed",
        &small(", guidance: { scale: 1 }", ", conditional: true"),
    );
    let read = |dir: &Path, policy: &str| std::fs::read(dir.join(format!("samples/{policy}.csv"))).unwrap();
    assert_ne!(read(&routed, "top_k_k_1"), read(&per, "top_k_k_1"));
    assert_eq!(read(&routed, "monolith"), read(&per, "monolith"));
}

#[test]
fn a_study_over_the_scale_plots_each_metric_against_w_per_router() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.yaml"), small(", guidance: { scale: 1 }", "")).unwrap();
    let text = "name: scales
scenario: base.yaml
seeds: [0]
settings:
  - { name: w=0, set: { sampling.guidance.scale: 0.0 } }
  - { name: w=3, set: { sampling.guidance.scale: 3.0 } }
  - { name: w=3_class, set: { sampling.guidance.scale: 3.0, router.conditional: true } }
";
    let out = study(dir.path(), "scales", text);
    let figure = |stem: &str| std::fs::read_to_string(out.join(format!("figures/{stem}.csv"))).ok();
    // The router that ignores the class was sampled at two scales, the one that sees it at one (still drawn).
    let accuracy = figure("cond_accuracy_vs_w").expect("cond_accuracy against w");
    let categories: std::collections::BTreeSet<&str> =
        accuracy.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(categories, ["0", "3"].into(), "{accuracy}");
    for policy in ["top_k:k=1", "full", "monolith"] {
        assert!(
            accuracy.lines().any(|l| l.starts_with(&format!("{policy},3,"))),
            "{policy}: {accuracy}"
        );
    }
    assert!(
        figure("fd_vs_w").is_some() && figure("amp_large_p95_vs_w").is_none(),
        "stability is off here"
    );
    assert!(
        figure("cond_accuracy_vs_w_router_class").is_some(),
        "the class-aware router's own figure"
    );
    let gathered = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(gathered.contains("cond_accuracy"), "{gathered}");
}

/// The grids put each policy's first ten samples that requested a digit in that digit's row, by the samples'
/// `requested` column: balanced requests give ten rows, a list gives a row per listed digit.
#[test]
fn digit_grids_show_a_row_per_requested_digit() {
    let dir = tempfile::tempdir().unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/paper_digits_cond.yaml");
    let text = format!(
        "name: grids
scenario: {}
seeds: [0]
set:
  federation.rounds: 4
  router.rounds: 2
  sampling.steps: 5
  sampling.samples: 200
  metrics.stability: false
  metrics.alignment: false
  metrics.classifier.epochs: 2
  routing: [ {{ policy: top_k, k: 1 }}, {{ policy: monolith }} ]
settings:
  - {{ name: w=1, set: {{ sampling.guidance.scale: 1.0 }} }}
  - {{ name: w=7.5, set: {{ sampling.guidance.scale: 7.5, sampling.guidance.classes: [5, 3, 5] }} }}
",
        base.display()
    );
    let out = study(dir.path(), "grids", &text);
    let parse =
        |line: &str, skip: usize| -> Vec<f64> { line.split(',').skip(skip).map(|v| v.parse().unwrap()).collect() };
    for (stem, cell, digits) in [
        ("digits_w1", "w=1", (0..10).collect()),
        ("digits_w7_5", "w=7.5", vec![3, 5]),
    ] {
        let grid = std::fs::read_to_string(out.join(format!("figures/{stem}.csv"))).unwrap();
        let samples = std::fs::read_to_string(out.join(format!("cells/{cell}/seed-0/samples/top_k_k_1.csv"))).unwrap();
        assert!(samples.lines().next().unwrap().ends_with(",x63,requested"), "{stem}");
        let samples: Vec<Vec<f64>> = samples.lines().skip(1).map(|l| parse(l, 0)).collect();
        let images: Vec<Vec<f64>> = grid
            .lines()
            .filter(|l| l.starts_with("top_k:k=1,"))
            .map(|l| parse(l, 2))
            .collect();
        assert_eq!(images.len(), 10 * digits.len(), "{stem}: ten per requested digit");
        // Image k sits in the row of digit digits[k / 10], column k % 10: the (k % 10)-th sample that requested it.
        for (k, image) in images.iter().enumerate() {
            let digit = digits[k / 10] as f64;
            let sample = samples.iter().filter(|s| s[64] == digit).nth(k % 10).unwrap();
            assert!(
                image.iter().zip(sample).all(|(a, b)| (a - b).abs() < 1e-5),
                "{stem}: image {k}"
            );
        }
        let last = 10 * digits.len() - 1;
        assert!(
            grid.lines().any(|l| l.starts_with(&format!("monolith,{last},"))),
            "{stem}: the monolith's panel"
        );
    }
    // Balanced requests: sample i requested i mod 10; the list: 5, 3, 5, 5, 3, 5, ...
    let requested = |cell: &str| -> Vec<f64> {
        let text = std::fs::read_to_string(out.join(format!("cells/{cell}/seed-0/samples/monolith.csv"))).unwrap();
        text.lines().skip(1).map(|l| parse(l, 64)[0]).collect()
    };
    assert!(requested("w=1").iter().enumerate().all(|(i, &c)| c == (i % 10) as f64));
    assert!(
        requested("w=7.5")
            .iter()
            .enumerate()
            .all(|(i, &c)| c == [5.0, 3.0, 5.0][i % 3])
    );
}

#[test]
fn bad_guidance_settings_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |name: &str, text: &str, key: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).unwrap();
        let assert = ddmsim()
            .args(["run", "--quiet", "--no-cache", "--out"])
            .arg(dir.path().join(name))
            .arg(&path)
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains(key), "{name}: expected {key} in {stderr}");
        assert!(!dir.path().join(name).exists(), "{name}: nothing is written");
    };
    let unconditional = small(", guidance: { scale: 2 }", "").replace(", condition: { enabled: true }", "");
    refused("unconditional", &unconditional, "sampling.guidance");
    refused(
        "negative",
        &small(", guidance: { scale: -1 }", ""),
        "sampling.guidance.scale",
    );
    refused(
        "nan",
        &small(", guidance: { scale: .nan }", ""),
        "sampling.guidance.scale",
    );
    // Finite in the file, infinite in the sampler's single precision.
    refused(
        "beyond_f32",
        &small(", guidance: { scale: 1.0e39 }", ""),
        "sampling.guidance.scale",
    );
    refused(
        "empty",
        &small(", guidance: { scale: 2, classes: [] }", ""),
        "sampling.guidance.classes",
    );
    refused("word", &small(", guidance: { scale: 2, classes: all }", ""), "balanced");
    refused(
        "beyond",
        &small(", guidance: { scale: 2, classes: [1, 4] }", ""),
        "sampling.guidance.classes",
    );
    refused(
        "no-dropout",
        &small(", guidance: { scale: 2 }", "").replace("enabled: true", "enabled: true, dropout: 0"),
        "model.condition.dropout",
    );
    refused(
        "unguided-no-dropout",
        &small("", "").replace("enabled: true", "enabled: true, dropout: 0"),
        "model.condition.dropout",
    );
    refused(
        "dropout-one",
        &small("", "").replace("enabled: true", "enabled: true, dropout: 1"),
        "model.condition.dropout",
    );
    let router_only = small("", ", conditional: true").replace(", condition: { enabled: true }", "");
    refused("router", &router_only, "router.conditional");
    let moons = small("", "").replace(
        "{ kind: gmm, components: 4, dim: 2, radius: 3.0, std: 0.3, samples: 2000, test_fraction: 0.25 }",
        "{ kind: csv, path: unlabelled.csv, test_fraction: 0.25 }",
    );
    let rows: String = (0..400)
        .map(|i| format!("{},{}\n", (i as f64 * 0.1).sin(), (i as f64 * 0.37).cos()))
        .collect();
    std::fs::write(dir.path().join("unlabelled.csv"), format!("x,y\n{rows}")).unwrap();
    refused("unlabelled", &moons, "model.condition.enabled");
}
