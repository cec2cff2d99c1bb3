//! Data loss: `--out` on folders or files ddmsim did not write is refused and leaves them byte-identical, a rerun
//! keeps the user's notes, and a run that fails late (stdout full, file-size limit) keeps the previous results.

use crate::common::*;
use std::path::Path;

/// The files that make an output folder complete.
const COMPLETE: [&str; 4] = ["report.html", "run.json", "results.csv", "summary.md"];

#[track_caller]
fn assert_complete(dir: &Path) {
    for file in COMPLETE {
        assert!(dir.join(file).is_file(), "{} has no {file}", dir.display());
    }
}

/// Defect 1: "`--out scenarios` where `scenarios/` holds the user's YAML files (no marker)."
#[test]
fn out_on_the_scenarios_folder_is_refused_and_untouched() {
    let env = Env::new();
    env.scenario("scenarios/s.yaml", &[]);
    env.write(
        "scenarios/other.yaml",
        "# the user's other experiment\nname: other\nseed: 4\n",
    );
    let before = env.snapshot();
    env.run("scenarios/s.yaml", "scenarios", &[]).error(&["--out"]);
    assert_untouched(&before, &env.snapshot(), "after --out scenarios");
}

/// Defect 2: "`--out "$PWD"` (the working folder, holding the scenario) and `--out ..`-style parents of the
/// working folder."
#[test]
fn out_on_the_working_folder_or_a_parent_is_refused_and_untouched() {
    let env = Env::nested();
    env.scenario("s.yaml", &[]);
    env.write("notes.txt", "the user's notes\n");
    let before = env.snapshot();
    let pwd = env.work.to_str().unwrap().to_string();
    for out in [pwd.as_str(), ".", "..", "../.."] {
        env.run("s.yaml", out, &[]).error(&["--out"]);
        assert_untouched(&before, &env.snapshot(), &format!("after --out {out}"));
    }
}

/// Defect 3: "`--out reports` where `reports/` holds two finished run folders (it is their parent, not a run)."
#[test]
fn out_on_the_parent_of_run_folders_is_refused_and_untouched() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "reports/a", &[]).ok();
    env.run("s.yaml", "reports/b", &["--set", "seed=1"]).ok();
    let before = env.snapshot();
    env.run("s.yaml", "reports", &[]).error(&["--out"]);
    assert_untouched(&before, &env.snapshot(), "after --out reports");
    assert!(env.path("reports/a/results.csv").is_file() && env.path("reports/b/results.csv").is_file());
}

/// Defect 4: "`--out` on a folder of user data (a few CSV files, no marker)."
#[test]
fn out_on_a_folder_of_user_data_is_refused_and_untouched() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    for (i, name) in ["measurements.csv", "patients.csv", "budget.csv"].iter().enumerate() {
        env.write(&format!("data/{name}"), format!("a,b\n{i},1.5\n2,{i}.25\n"));
    }
    let before = env.snapshot();
    env.run("s.yaml", "data", &[]).error(&["--out"]);
    assert_untouched(&before, &env.snapshot(), "after --out data");
}

/// Defect 5: "A scenario named `.ddmsim-cache` (refused by name validation: `name` must not start with `.`;
/// mention `name`) and `--out reports/.ddmsim-cache` after a run created that cache (refused; the cache
/// untouched)."
#[test]
fn a_scenario_named_like_the_cache_and_out_on_the_cache_are_refused() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.scenario("cache.yaml", &[("name", ".ddmsim-cache".into())]);
    env.run("s.yaml", "reports/first", &[]).ok();
    assert!(
        env.path("reports/.ddmsim-cache").is_dir(),
        "the first run made no cache beside its output"
    );
    let before = env.snapshot();

    // Default output folder reports/<name> would be the cache itself.
    env.ddmsim(&["run", "--quiet", "cache.yaml"]).error(&["name"]);
    assert_untouched(
        &before,
        &env.snapshot(),
        "after a run of a scenario named .ddmsim-cache",
    );

    env.run("s.yaml", "reports/.ddmsim-cache", &[]).error(&["--out"]);
    assert_untouched(&before, &env.snapshot(), "after --out reports/.ddmsim-cache");
}

/// Defect 6: "`--out` naming an existing file: refused, the file untouched, no hidden `.NAME.old-*` left
/// anywhere."
#[test]
fn out_naming_an_existing_file_is_refused_and_leaves_no_hidden_copy() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.write("thesis.txt", "chapter 1\n".repeat(100));
    let before = env.snapshot();
    env.run("s.yaml", "thesis.txt", &[]).error(&["--out"]);
    assert_untouched(&before, &env.snapshot(), "after --out thesis.txt");
    let old = find_named(&env.root, ".old-");
    assert!(old.is_empty(), "hidden copies left: {old:?}");
}

/// Defect 7: "A run folder that holds an unknown non-`.md` file the user added (`mine.txt`): a rerun is refused
/// naming that file; a user's top-level `NOTES.md` is kept by a rerun (byte-identical afterwards)."
#[test]
fn a_rerun_refuses_an_unknown_user_file_and_keeps_notes_md() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "out", &[]).ok();

    env.write("out/mine.txt", "my own analysis, not ddmsim's\n");
    let before = env.snapshot();
    env.run("s.yaml", "out", &[]).error(&["mine.txt"]);
    assert_untouched(&before, &env.snapshot(), "after a rerun over out/mine.txt");

    std::fs::remove_file(env.path("out/mine.txt")).unwrap();
    let notes = "# Notes\n\nThe top-1 row looks odd; ask Ana.\n";
    env.write("out/NOTES.md", notes);
    env.run("s.yaml", "out", &[]).ok();
    let kept = std::fs::read_to_string(env.path("out/NOTES.md")).unwrap_or_default();
    assert_eq!(kept, notes, "NOTES.md was not kept by the rerun");
    assert!(env.path("out/results.csv").is_file());
}

/// Defect 9: "`ddmsim run ... > /dev/full`: exit 1, one line; the output folder is complete (has `report.html`,
/// `run.json`, `results.csv`, `summary.md`) and a previous run's folder is not left half-replaced."
#[test]
fn a_run_with_stdout_on_dev_full_fails_in_one_line_and_keeps_a_complete_folder() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "out", &[]).ok();
    assert_complete(&env.path("out"));
    let files_before: Vec<String> = snapshot(&env.path("out")).into_keys().collect();

    env.sh(
        "exec \"$0\" \"$@\" > /dev/full",
        &["run", "--quiet", "--out", "out", "s.yaml"],
    )
    .error(&[]);
    assert_complete(&env.path("out"));
    let files_after: Vec<String> = snapshot(&env.path("out")).into_keys().collect();
    assert_eq!(files_before, files_after, "the output folder was left half-replaced");
}

/// Defect 10: "File-size limit: `sh -c 'ulimit -f 64; exec ddmsim run ...'` into a folder holding a previous good
/// run: the process fails (SIGXFSZ or exit 1); the previous folder is byte-identical afterwards; the next normal
/// run succeeds and leaves no `.ddmsim-staging-` folder behind."
#[test]
fn a_file_size_limit_keeps_the_previous_run_byte_identical() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "out", &[]).ok();
    let before = snapshot(&env.path("out"));
    assert!(
        before.values().any(|v| v
            .split(' ')
            .nth(1)
            .is_some_and(|size| size.parse::<u64>().is_ok_and(|s| s > 70_000))),
        "no output file exceeds the 64-block limit: the test would not test anything"
    );

    let limited = env.sh(
        "ulimit -f 64; exec \"$0\" \"$@\"",
        &["run", "--quiet", "--out", "out", "s.yaml"],
    );
    const SIGXFSZ: i32 = 25;
    assert!(
        limited.code == Some(1) || limited.signal == Some(SIGXFSZ),
        "expected SIGXFSZ or exit 1: {}",
        limited.describe()
    );
    limited.clean_stderr();
    assert_untouched(&before, &snapshot(&env.path("out")), "the previous run's folder");

    env.run("s.yaml", "out", &[]).ok();
    assert_complete(&env.path("out"));
    let staging = find_named(&env.root, ".ddmsim-staging-");
    assert!(staging.is_empty(), "staging folders left behind: {staging:?}");
}
