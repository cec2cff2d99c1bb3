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

/// Each client's row of `client_cluster_counts.csv`: its points per cluster, summed.
fn client_sizes(dir: &tempfile::TempDir) -> Vec<usize> {
    let text = std::fs::read_to_string(dir.path().join("out/client_cluster_counts.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| line.split(',').skip(2).map(|c| c.parse::<usize>().unwrap()).sum())
        .collect()
}

#[test]
fn every_flower_partition_kind_runs_and_writes_its_client_counts_and_figure() {
    let base = "name: p\ndata: { kind: gmm, components: 3, samples: 800 }\nclusters: { k: 3 }\n\
                routing: [ { policy: top_k, k: 1 } ]\n";
    // 800 points, 640 for training.
    for (clients, want) in [
        ("count: 4, partition: { kind: linear }", vec![64, 128, 192, 256]),
        ("count: 3, partition: { kind: square }", vec![45, 182, 413]),
        ("count: 3, partition: { kind: exponential }", vec![57, 156, 427]),
        (
            "count: 4, partition: { kind: shard, shards_per_client: 2 }",
            vec![160; 4],
        ),
        (
            "count: 3, partition: { kind: shard, shard_size: 100 }",
            vec![200, 200, 200],
        ),
        (
            "count: 3, partition: { kind: inner_dirichlet, alpha: 0.5, sizes: [100, 200, 340] }",
            vec![100, 200, 340],
        ),
    ] {
        let (dir, records) = run_yaml(&format!("{base}clients: {{ {clients} }}\n"));
        assert!(finite(&records, "fd"), "{clients}");
        assert_eq!(client_sizes(&dir), want, "{clients}");
        ddmsim::report::report_in_place(&dir.path().join("out")).unwrap();
        assert!(
            dir.path().join("out/figures/client_partition.png").is_file(),
            "{clients}"
        );
    }
}

#[test]
fn a_natural_partition_gives_each_id_of_the_csv_column_its_own_client() {
    let csv_dir = tempfile::tempdir().unwrap();
    let mut text = String::from("u,site,v\n");
    for i in 0..300 {
        let site = ["north", "south", "east"][i % 3];
        text.push_str(&format!(
            "{},{site},{}\n",
            (i as f64 * 0.37).sin() + (i % 3) as f64,
            (i as f64 * 0.11).cos()
        ));
    }
    std::fs::write(csv_dir.path().join("sites.csv"), text).unwrap();
    let yaml = |count: usize| {
        format!(
            "name: n\ndata: {{ kind: csv, path: {} }}\nclusters: {{ k: 2 }}\n\
             clients: {{ count: {count}, partition: {{ kind: natural, column: site }} }}\n\
             routing: [ {{ policy: full }} ]",
            csv_dir.path().join("sites.csv").display()
        )
    };
    let (dir, records) = run_yaml(&yaml(3));
    assert!(finite(&records, "fd"));
    // 240 training rows over the three sites; the points are 2-D: the site column is not a feature.
    assert_eq!(client_sizes(&dir).iter().sum::<usize>(), 240);
    let samples = std::fs::read_to_string(dir.path().join("out/samples/full.csv")).unwrap();
    assert!(
        samples.lines().next().unwrap().ends_with(",x1"),
        "{}",
        samples.lines().next().unwrap()
    );
    let mut scenario = parse(&yaml(5)).unwrap();
    scenario.federation.rounds = 1;
    let loaded = LoadedScenario {
        scenario,
        base_dir: dir.path().to_path_buf(),
    };
    let options = RunOptions {
        out_dir: dir.path().join("out5"),
        quiet: true,
        ..RunOptions::default()
    };
    let err = run(&loaded, &options).unwrap_err().to_string();
    assert!(
        err.starts_with("clients.count: must equal the number of distinct ids in column \"site\" (3: \"east\""),
        "{err}"
    );
}
