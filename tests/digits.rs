//! The digits system: the evaluation classifier is accurate on held-out digits and deterministic, its scores have
//! the known answers on real data, and a run on digits reports the classifier's columns, class counts and an
//! image grid of generated digits.

use assert_cmd::Command;
use ddmsim::classifier::{ClassifierScores, train_classifier};
use ddmsim::data;
use ddmsim::metrics::{Family, Reference, SampleSet};
use ddmsim::scenario::{ClassifierConfig, DataConfig, DataKind, MetricsConfig};
use std::path::Path;

fn digits_split(seed: u64) -> data::DataSplit {
    let config = DataConfig {
        kind: DataKind::Digits,
        test_fraction: 0.2,
        ..DataConfig::default()
    };
    data::load(&config, None, Path::new("."), seed).unwrap()
}

#[test]
fn the_classifier_labels_at_least_95_percent_of_held_out_digits_for_every_seed() {
    for seed in 0..3 {
        let split = digits_split(seed);
        let c = train_classifier(&split.train, &split.test, &ClassifierConfig::default(), seed).unwrap();
        assert!(c.test_accuracy >= 0.95, "seed {seed}: accuracy {}", c.test_accuracy);
        assert!(
            c.accuracy(&split.train) >= c.test_accuracy - 0.01,
            "seed {seed}: training accuracy below test"
        );
    }
}

#[test]
fn the_classifier_is_deterministic_and_scores_real_digits_as_real() {
    let split = digits_split(0);
    let config = ClassifierConfig::default();
    let a = train_classifier(&split.train, &split.test, &config, 0).unwrap();
    let b = train_classifier(&split.train, &split.test, &config, 0).unwrap();
    assert_eq!(a.params, b.params, "same data and seed must give the same weights");
    let scores = ClassifierScores::new(&a, split.test.x.view());
    let reference = Reference::new(split.test.x.view(), &MetricsConfig::default(), 0);
    let score = |x: ndarray::ArrayView2<f32>| {
        let mut set = SampleSet::new(x, &reference);
        let classified = scores.classify(x);
        let counts = classified.counts.clone();
        set.classified = Some(classified);
        (set.family_values(Family::Classifier), counts)
    };
    let (same, counts) = score(split.test.x.view());
    assert!(same["fd_classifier"].abs() < 1e-6, "{}", same["fd_classifier"]);
    assert_eq!(same["class_tv"], 0.0);
    assert_eq!(counts.iter().sum::<usize>(), split.test.len());
    let (train, _) = score(split.train.x.view());
    assert!(train["confidence"] > 0.9 && train["confidence"] <= 1.0);
    assert!(
        train["class_tv"] < 0.1,
        "train and test class shares are alike: {}",
        train["class_tv"]
    );
    // One class only: the class shares are far from the test split's, and the features move.
    let labels = split.train.labels.as_ref().unwrap();
    let zeros: Vec<usize> = (0..split.train.len()).filter(|&i| labels[i] == 0).collect();
    let (only_zeros, zero_counts) = score(split.train.select(&zeros).x.view());
    assert!(only_zeros["class_tv"] > 0.8, "{}", only_zeros["class_tv"]);
    assert!(zero_counts[0] as f64 > 0.95 * zeros.len() as f64);
    assert!(only_zeros["fd_classifier"] > 10.0 * train["fd_classifier"]);
}

#[test]
fn a_digits_run_reports_the_classifier_columns_class_counts_and_a_digit_grid() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("digits.yaml");
    std::fs::write(
        &scenario,
        "name: tiny-digits\nseed: 1\ndata: { kind: digits }\nclusters: { method: labels }\n\
         clients: { count: 10, partition: { kind: dirichlet, alpha: 0.5, min_partition_size: 0 } }\n\
         federation: { rounds: 3, clients_per_round: 0.5, local_steps: 2, batch_size: 32 }\n\
         model: { hidden: [64], time_embedding: 8 }\nrouter: { hidden: [32], rounds: 2 }\n\
         sampling: { steps: 5, samples: 100 }\nmetrics: { stability: false, alignment: false }\n\
         routing: [{ policy: top_k, k: 1 }, { policy: full }]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let assert = Command::cargo_bin("ddmsim")
        .unwrap()
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(&out)
        .arg(&scenario)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("% accurate on the held-out split"), "{stdout}");
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = results.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "fd_classifier").unwrap();
    let fd = |policy: &str| -> f64 {
        let line = results.lines().find(|l| l.starts_with(&format!("{policy},"))).unwrap();
        line.split(',').nth(column).unwrap().parse().unwrap()
    };
    // Barely trained models: still between the held-out data and pure noise.
    assert!(fd("reference:data") < fd("full") && fd("full") < fd("reference:noise"));
    let counts = std::fs::read_to_string(out.join("class_counts.csv")).unwrap();
    assert!(counts.starts_with("policy,class_0,"));
    assert_eq!(
        counts.lines().count(),
        1 + 5,
        "reference:test, data, noise and two policies"
    );
    assert!(std::fs::metadata(out.join("figures/samples.png")).unwrap().len() > 1000);
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert!(run["classifier"]["test_accuracy"].as_f64().unwrap() >= 0.95);
}
