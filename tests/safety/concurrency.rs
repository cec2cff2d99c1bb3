//! Concurrency: two runs into one folder, sweep cells sharing one cache entry, and staging folders whose owner is
//! alive (its `.lock` held) or gone.

use crate::common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Defect 11: "Two runs into one folder at once: start one (a slower scenario, e.g. rounds 200), then a second into
/// the same `--out` while the first runs: the second exits 1 within 10 s with a message containing `another
/// ddmsim`; the first completes normally."
#[test]
fn a_second_run_into_a_busy_folder_is_refused_and_the_first_completes() {
    let env = Env::new();
    // A few seconds of training (the tiny scenario's 2 rounds take milliseconds).
    env.scenario("slow.yaml", &[("federation.rounds", json!(20000))]);
    env.scenario("s.yaml", &[]);
    let mut first = env.spawn(&["run", "--quiet", "--no-cache", "--out", "out", "slow.yaml"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2)
        && find_named(&env.root, ".ddmsim-staging-").is_empty()
        && !env.path("out").exists()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        first.running(),
        "the first run ended before the second started: the test needs a slower scenario"
    );

    let second = env.run("s.yaml", "out", &["--no-cache"]);
    let first_was_running = first.running();
    second.error(&["another ddmsim"]);
    assert!(
        second.elapsed < Duration::from_secs(10),
        "the refusal took {:?}",
        second.elapsed
    );
    assert!(
        first_was_running,
        "the first run had ended when the second did: the test needs a slower scenario"
    );

    first.wait(TIMEOUT).ok();
    for file in ["report.html", "run.json", "results.csv", "summary.md"] {
        assert!(
            env.path("out").join(file).is_file(),
            "the first run's output has no {file}"
        );
    }
    let resolved = std::fs::read_to_string(env.path("out/scenario.resolved.yaml")).unwrap();
    assert!(
        resolved.contains("20000"),
        "out/ does not hold the first run's scenario:\n{resolved}"
    );
}

/// Defect 56: "A sweep over `router.temperature: [0.5, 1, 2, 4]` with `--jobs 2`: exits 0, every cell's run.json
/// has the same `training.key`, ... (just assert same key and success; the cache holds one entry)."
///
/// The cells race for one cache entry, so the sweep runs six times from an empty cache.
#[test]
fn sweep_cells_sharing_one_cache_entry_all_succeed() {
    let env = Env::new();
    env.scenario("t.yaml", &[("sweep", json!({ "router.temperature": [0.5, 1, 2, 4] }))]);
    for attempt in 0..6 {
        let _ = std::fs::remove_dir_all(env.path(".ddmsim-cache"));
        let out = format!("sw{attempt}");
        env.run("t.yaml", &out, &["--jobs", "2"]).ok();
        let cells = cells(&env.path(&out));
        assert_eq!(cells.len(), 4, "attempt {attempt}: expected four cells: {cells:?}");
        let keys: Vec<String> = cells.iter().map(|c| training_key(c)).collect();
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "attempt {attempt}: the cells' keys differ: {keys:?}"
        );
        let entries = cache_entries(&env.path(".ddmsim-cache"));
        assert_eq!(entries.len(), 1, "attempt {attempt}: the cache holds {entries:?}");
    }
}

/// Defect 57: "Staging liveness by lock: a `.NAME.ddmsim-staging-x/` folder beside the output with a `.lock` held
/// by a live `flock` child process is not removed by a run; after the child ends, the next run removes it."
#[test]
fn a_staging_folder_is_removed_only_once_its_lock_is_free() {
    if !have_flock("a_staging_folder_is_removed_only_once_its_lock_is_free") {
        return;
    }
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    let staging = env.path(".out.ddmsim-staging-x");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("results.csv"), "policy,seed\n").unwrap();
    let holder = LockHolder::hold(&staging.join(".lock"));

    env.run("s.yaml", "out", &[]).ok();
    assert!(
        staging.join("results.csv").is_file(),
        "a live process's staging folder was removed"
    );
    assert!(!lock_is_free(&staging.join(".lock")), "the live process lost its lock");

    holder.release();
    env.run("s.yaml", "out", &[]).ok();
    assert!(
        !staging.exists(),
        "the abandoned staging folder {} is still there",
        staging.display()
    );
}
