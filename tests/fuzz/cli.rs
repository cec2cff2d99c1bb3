//! The real `ddmsim` binary on generated scenarios (the generator of the scenario test), in a temporary
//! workspace as its current folder: `validate s.yaml`, `run s.yaml --quiet` (default output folder) and
//! `run s.yaml --quiet --out out` (sometimes with a generated `--set`), each under a 60 s timeout. The exit code
//! is 0 or 1 (never a signal, 101 for a panic, or a timeout); on 1 the last stderr line starts with `error: `
//! (and is the only line for a single run); stderr never mentions a panic; what `validate` prints loads back
//! as the scenario it checked; and nothing outside `out/`, `reports/` and `.ddmsim-cache/` is created or
//! changed. A valid scenario too large for a test (not tiny, not far beyond the memory) is only validated.

use super::overrides::assignment;
use super::scenarios::{Plan, ScenarioCase, inputs, plan, scenario_case, workspace};
use super::{Mode, Tally, case_limit, fuzz, stray_changes, tree};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Instant;

/// Text on stderr that betrays a panic, a backtrace hint or an allocation abort.
const FORBIDDEN: [&str; 4] = ["panicked", "RUST_BACKTRACE", "memory allocation", "SIGABRT"];

/// A CLI case: a generated scenario and an optional `--set` for the run into `out`.
#[derive(Debug, Clone)]
struct CliCase {
    /// The scenario and its data files.
    scenario: ScenarioCase,
    /// A `PATH=VALUE` given to the `--out out` run.
    set: Option<String>,
}

/// What the in-process stages say about a scenario (with an override): whether it is a sweep, and whether the
/// binary should be asked to run it (anything but a valid scenario too large for a test).
struct Expect {
    /// The scenario has a sweep (its stderr may list failed cells before the error line).
    sweep: bool,
    /// Run it: it is invalid (a quick error), tiny, or far beyond the machine's memory (a quick refusal).
    run: bool,
}

/// Parses and validates the workspace's scenario in-process, with `set` applied, to decide what to expect.
fn expect(ws: &Path, set: Option<&str>) -> Expect {
    let Ok(mut loaded) = ddmsim::scenario::load(&ws.join("s.yaml")) else {
        return Expect {
            sweep: false,
            run: true,
        };
    };
    if let Some(text) = set {
        let changed = ddmsim::scenario::parse_assignment(text)
            .and_then(|(path, value)| ddmsim::scenario::with_override(&loaded.scenario, &path, &value));
        match changed {
            Ok(s) => loaded.scenario = s,
            Err(_) => {
                return Expect {
                    sweep: !loaded.scenario.sweep.is_empty(),
                    run: true,
                };
            }
        }
    }
    Expect {
        sweep: !loaded.scenario.sweep.is_empty(),
        run: plan(&loaded.scenario) != Plan::ValidateOnly,
    }
}

/// Runs `ddmsim ARGS` in `ws` with the case timeout; checks the exit code and stderr (one line on failure unless
/// `sweep`, whose failed cells are listed first); returns the outcome label and stdout.
fn ddmsim(ws: &Path, args: &[&str], sweep: bool) -> Result<(&'static str, String), TestCaseError> {
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin("ddmsim"));
    cmd.current_dir(ws)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(case_limit());
    let started = Instant::now();
    let output = cmd
        .output()
        .map_err(|e| TestCaseError::fail(format!("could not run ddmsim {args:?}: {e}")))?;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown: String = stderr.chars().take(3000).collect();
    let what = format!("`ddmsim {}`", args.join(" "));
    let code = output.status.code();
    if code.is_none() {
        let how = match output.status.signal() {
            _ if elapsed >= case_limit() => format!("timed out after {:.1} s and was killed", elapsed.as_secs_f64()),
            Some(signal) => format!("was killed by signal {signal}"),
            None => "ended without a status".to_string(),
        };
        return Err(TestCaseError::fail(format!("{what} {how}; stderr:\n{shown}")));
    }
    for text in FORBIDDEN {
        if stderr.contains(text) {
            return Err(TestCaseError::fail(format!(
                "{what}: stderr contains {text:?}:\n{shown}"
            )));
        }
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match code {
        Some(0) => Ok(("ok", stdout)),
        Some(1) => {
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            let last = lines.last().copied().unwrap_or("");
            if !last.starts_with("error: ") {
                return Err(TestCaseError::fail(format!(
                    "{what}: exit 1 but the last stderr line is not `error: ...`:\n{shown}"
                )));
            }
            if !sweep && lines.len() != 1 {
                return Err(TestCaseError::fail(format!(
                    "{what}: exit 1 and stderr is not one line:\n{shown}"
                )));
            }
            Ok(("error", stdout))
        }
        Some(other) => Err(TestCaseError::fail(format!(
            "{what}: exit code {other}; stderr:\n{shown}"
        ))),
        None => unreachable!("handled above"),
    }
}

/// What `validate` printed (the scenario with every default filled in) parses back to the scenario it checked.
fn resolved_reloads(ws: &Path, printed: &str) -> Result<(), TestCaseError> {
    let loaded = ddmsim::scenario::load(&ws.join("s.yaml"))
        .map_err(|e| TestCaseError::fail(format!("`ddmsim validate` accepted what scenario::load refuses: {e}")))?;
    let again = ddmsim::scenario::parse(printed)
        .map_err(|e| TestCaseError::fail(format!("what `ddmsim validate` printed does not parse: {e}\n{printed}")))?;
    if again != loaded.scenario {
        return Err(TestCaseError::fail(format!(
            "what `ddmsim validate` printed is another scenario:\n{printed}"
        )));
    }
    Ok(())
}

/// Checks one CLI case; counts each command's outcome.
fn check(case: &CliCase, tally: &Tally) -> Result<(), TestCaseError> {
    let (dir, ws) = workspace(&case.scenario);
    let root = dir.path().canonicalize().expect("canonical");
    let before = tree(&root);
    let mut ran = false;
    let (validate, printed) = ddmsim(&ws, &["validate", "s.yaml"], false)?;
    tally.note(&format!("validate:{validate}"));
    if validate == "ok" {
        resolved_reloads(&ws, &printed)?;
    }
    let plain = expect(&ws, None);
    if plain.run {
        let (ended, _) = ddmsim(&ws, &["run", "s.yaml", "--quiet"], plain.sweep)?;
        ran |= ended == "ok";
        tally.note(&format!("run:{ended}"));
    } else {
        tally.note("run:skipped(valid, not tiny)");
    }
    let set = case.set.as_deref();
    let with_out = expect(&ws, set);
    if with_out.run {
        let mut args = vec!["run", "s.yaml", "--quiet", "--out", "out"];
        if let Some(text) = set {
            args.extend(["--set", text]);
        }
        let (ended, _) = ddmsim(&ws, &args, with_out.sweep)?;
        ran |= ended == "ok";
        tally.note(&format!("run --out:{ended}"));
    } else {
        tally.note("run --out:skipped(valid, not tiny)");
    }
    tally.count(match (ran, validate, plain.run || with_out.run) {
        (true, _, _) => "ran (a run exited 0)",
        (false, _, true) => "error (every run exited 1)",
        (false, "ok", false) => "valid, not tiny (validated only)",
        (false, _, false) => "error (validate exited 1)",
    });
    let after = tree(&root);
    let diffs = stray_changes(
        &before,
        &after,
        &["ws/out", "ws/reports", "ws/.ddmsim-cache"],
        &inputs(&case.scenario),
    );
    if !diffs.is_empty() {
        return Err(TestCaseError::fail(format!("stray changes: {diffs:?}")));
    }
    Ok(())
}

/// The CLI test: `mode`'s number of cases (300 in CI), each up to three commands.
pub fn fuzz_cli(mode: Mode) {
    let name = format!("fuzz_cli({mode:?})");
    let tally = Tally::new(&name);
    let cases = (scenario_case(), proptest::option::weighted(0.3, assignment()))
        .prop_map(|(scenario, set)| CliCase { scenario, set });
    fuzz(&name, mode, 300, cases, &tally, |case| check(&case, &tally));
}
