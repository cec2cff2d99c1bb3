//! Every data kind, objective, partition, grouping and training mode runs end to end through the library, and
//! the results table reflects what applies (density metrics only with a known density).

use ddmsim::scenario::{LoadedScenario, parse, validate};
use ddmsim::{RunOptions, run};

/// Runs a scenario given as YAML with a tiny training budget and returns the results rows.
fn run_yaml(yaml: &str) -> (tempfile::TempDir, Vec<ddmsim::report::Record>) {
    let mut scenario = parse(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    scenario.federation.rounds = 2;
    scenario.federation.local_steps = 3;
    scenario.federation.batch_size = 32;
    scenario.model.hidden = vec![16, 16];
    scenario.model.time_embedding = 8;
    scenario.router.hidden = vec![8];
    scenario.router.time_embedding = 8;
    scenario.router.rounds = 2;
    scenario.router.local_steps = 3;
    scenario.sampling.steps = 4;
    scenario.sampling.samples = 120;
    scenario.metrics.max_reference = 200;
    validate(&scenario).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let loaded = LoadedScenario {
        scenario,
        base_dir: dir.path().to_path_buf(),
    };
    let out = run(
        &loaded,
        &RunOptions {
            out_dir: dir.path().join("out"),
            quiet: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    (dir, out.records)
}

fn finite(records: &[ddmsim::report::Record], column: &str) -> bool {
    records
        .iter()
        .all(|r| r.values.get(column).is_some_and(|v| v.is_finite()))
}

#[test]
fn toys_with_ddpm_pathological_partition_and_label_clusters() {
    for data in [
        "{ kind: moons, samples: 600 }",
        "{ kind: rings, samples: 600, rings: 3 }",
        "{ kind: checkerboard, samples: 600 }",
        "{ kind: spirals, samples: 600 }",
    ] {
        let (_dir, records) = run_yaml(&format!(
            "name: toy\ndata: {data}\nclusters: {{ method: labels }}\n\
             clients: {{ count: 6, partition: {{ kind: pathological, clusters_per_client: 1 }} }}\n\
             model: {{ objective: ddpm }}\nrouting: [ {{ policy: top_k, k: 1 }}, {{ policy: uniform }} ]"
        ));
        assert_eq!(records.len(), 4, "{data}");
        assert!(finite(&records, "fd") && finite(&records, "coverage"), "{data}");
        // No known density: the likelihood columns are absent, never made up.
        assert!(records.iter().all(|r| !r.values.contains_key("loglik")), "{data}");
    }
}

#[test]
fn gmm_in_higher_dimension_pooled_with_random_grouping() {
    let (_dir, records) = run_yaml(
        "name: g\ndata: { kind: gmm, components: 3, dim: 5, layout: random, radius: 3, samples: 900 }\n\
         clusters: { k: 3 }\nclients: { count: 9, partition: { kind: iid } }\nexperts: { grouping: random }\n\
         federation: { mode: pooled }\nrouting: [ { policy: full }, { policy: monolith } ]",
    );
    assert!(finite(&records, "loglik") && finite(&records, "mode_tv"));
    let data = &records[0];
    assert_eq!(data.policy, ddmsim::routing::PolicyLabel::ReferenceData);
    // Held-out data scores far better than noise on the exact likelihood.
    assert!(data.values["loglik"] > records[1].values["loglik"] + 5.0);
}

#[test]
fn digits_and_user_csv_run_end_to_end() {
    let (dir, records) = run_yaml(
        "name: d\ndata: { kind: digits }\nclusters: { method: labels }\nclients: { count: 10, partition: { kind: dirichlet, alpha: 1.0, min_partition_size: 5 } }\nrouting: [ { policy: top_k, k: 2 } ]",
    );
    let header = std::fs::read_to_string(dir.path().join("out/samples/top_k_k_2.csv")).unwrap();
    assert!(header.lines().next().unwrap().ends_with(",x63"));
    assert!(finite(&records, "fd"));

    let csv_dir = tempfile::tempdir().unwrap();
    let mut text = String::from("u,v,group\n");
    for i in 0..400 {
        let g = i % 2;
        text.push_str(&format!(
            "{},{},g{g}\n",
            (i as f64 * 0.37).sin() + 3.0 * g as f64,
            (i as f64 * 0.11).cos()
        ));
    }
    std::fs::write(csv_dir.path().join("points.csv"), text).unwrap();
    let (_dir, records) = run_yaml(&format!(
        "name: c\ndata: {{ kind: csv, path: {}, label_column: group }}\nclusters: {{ method: labels }}\n\
         clients: {{ count: 4, partition: {{ kind: iid }} }}\nrouting: [ {{ policy: full }} ]",
        csv_dir.path().join("points.csv").display()
    ));
    assert_eq!(records.len(), 3);
}
