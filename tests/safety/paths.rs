//! Paths: names of scenarios, studies and study settings become folder names, so a name that is absolute, climbs
//! out (`..`), is `.` or does not fit a file name is refused by name, and nothing is written outside the output.

use crate::common::*;
use serde_json::json;

/// Defect 48: "Study `name: /abs/x`, `name: ../../x`, `name: ..` -> refused naming `name`; nothing written outside
/// the temp dir."
///
/// The absolute name points into a second temporary folder, which must stay empty.
#[test]
fn study_names_that_leave_the_reports_folder_are_refused() {
    let env = Env::nested();
    let outside = tempfile::tempdir().unwrap();
    env.scenario("s.yaml", &[]);
    let absolute = outside.path().join("x");
    for name in [absolute.to_str().unwrap(), "../../x", ".."] {
        env.write(
            "study.yaml",
            format!("name: {}\nscenario: s.yaml\nseeds: [0]\n", json!(name)),
        );
        let before = env.snapshot();
        env.ddmsim(&["study", "--quiet", "study.yaml"])
            .error_last_line(&["name"]);
        assert_untouched(&before, &env.snapshot(), &format!("after a study named {name:?}"));
        assert!(
            snapshot(outside.path()).is_empty(),
            "a study named {name:?} wrote into {}",
            outside.path().display()
        );
    }
}

/// Defect 49: "A study setting named `..` -> refused naming `settings[0].name`."
#[test]
fn a_study_setting_named_dot_dot_is_refused() {
    let env = Env::nested();
    env.scenario("s.yaml", &[]);
    env.write(
        "study.yaml",
        "name: st\nscenario: s.yaml\nseeds: [0]\nsettings:\n  - { name: \"..\", set: { seed: 1 } }\n",
    );
    let before = env.snapshot();
    env.ddmsim(&["study", "--quiet", "--out", "st", "study.yaml"])
        .error_last_line(&["settings[0].name"]);
    assert_untouched(&before, &env.snapshot(), "after a study with a setting named ..");
}

/// Defect 50: "Scenario `name: .` and `name: ..` -> refused at validation naming `name`."
#[test]
fn scenario_names_dot_and_dot_dot_are_refused_at_validation() {
    let env = Env::nested();
    for name in [".", ".."] {
        env.scenario("s.yaml", &[("name", json!(name))]);
        env.ddmsim(&["validate", "s.yaml"]).error(&["name"]);
        let before = env.snapshot();
        env.ddmsim(&["run", "--quiet", "s.yaml"]).error(&["name"]);
        assert_untouched(
            &before,
            &env.snapshot(),
            &format!("after a run of a scenario named {name:?}"),
        );
    }
}

/// Defect 51: "A 300-character scenario name -> refused naming `name` (or runs fine): never ENAMETOOLONG."
#[test]
fn a_300_character_name_is_refused_by_name_or_runs() {
    let env = Env::new();
    env.scenario("s.yaml", &[("name", json!("n".repeat(300)))]);
    let out = env.ddmsim(&["run", "--quiet", "s.yaml"]);
    if out.code != Some(0) {
        out.error(&["name"]);
    }
    out.clean_stderr();
    for text in ["File name too long", "os error 36"] {
        assert!(!out.stderr.contains(text), "ENAMETOOLONG: {}", out.describe());
    }
}
