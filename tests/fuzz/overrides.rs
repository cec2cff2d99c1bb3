//! `--set PATH=VALUE` overrides from a grammar (schema paths with sane or extreme values, bogus and empty paths,
//! `a..b`, paths into lists, values that are not YAML) applied with `parse_assignment` and `with_override` to the
//! tiny scenario, one to three in a row as the CLI does: no panic; a success validates and survives a round trip
//! through YAML; a failure is one line.

use super::grammar::{self, flow};
use super::scenarios::{TINY, path_and_value};
use super::{Mode, Tally, Watchdog, fuzz, one_line, panic_text};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

/// Value texts that are not YAML, or are YAML of an odd kind (tags, aliases, anchors, special numbers).
fn odd_value_text() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "[",
            "{a",
            "\"unterminated",
            ": :",
            "- a\n- b",
            "!!binary x",
            "*undefined",
            "&a",
            "&a 1",
            "1e400",
            "0x1F",
            "0o17",
            "~",
            "",
            "  ",
            "!gmm {}",
            "!top_k {k: 1}",
            "{kind: csv, path: /etc/passwd}",
            "---",
            "a: b",
            "- 1",
            "[1, [2, [3]]]",
            "{policy: full}",
            "[{policy: full}]",
            "!!float nan",
            ".NaN",
            "-.Inf",
            "1_000",
            "+1",
            "0b101",
            "null",
            "yes",
            "no",
            "on",
            "@x",
            "`x`",
            "%YAML 1.2",
            "'single'",
            "\t1",
            "1 # comment",
            "# only a comment",
            "\u{feff}1",
            "ü",
        ])
        .prop_map(str::to_string),
        (1usize..200).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..400).prop_map(|n| "9".repeat(n)),
    ]
    .boxed()
}

/// Paths that no scenario has or that are malformed.
fn odd_path() -> BoxedStrategy<String> {
    select(vec![
        "",
        " ",
        ".",
        "..",
        "a..b",
        ".seed",
        "seed.",
        "routing.0.k",
        "routing[0].k",
        "model.hidden.0",
        "sweep",
        "sweep.seed",
        "sweep.a.b",
        "device",
        "name.x",
        "data",
        "metrics.classifier",
        " seed ",
        "SEED",
        "ü",
        "router.local_optimizer",
        "clients.partition",
        "data.path",
        "data.label_column",
        "x.y.z.w",
    ])
    .prop_map(str::to_string)
    .boxed()
}

/// One `PATH=VALUE` text (sometimes without `=`, sometimes with two).
pub fn assignment() -> BoxedStrategy<String> {
    let sane = path_and_value().prop_map(|(p, v)| format!("{p}={}", flow(&v)));
    let odd_value = (path_and_value(), odd_value_text()).prop_map(|((p, _), v)| format!("{p}={v}"));
    let odd_path = (odd_path(), grammar::value()).prop_map(|(p, v)| format!("{p}={}", flow(&v)));
    let malformed = select(vec!["seed", "=1", "=", "seed==1", "seed=1=2", "==", "a=b=c=d"]).prop_map(str::to_string);
    prop_oneof![8 => sane, 3 => odd_value, 3 => odd_path, 1 => malformed].boxed()
}

/// Applies the assignments in order to the tiny scenario and checks each step; returns `accepted` if every
/// step was, else `error`.
fn check(texts: &[String]) -> Result<&'static str, TestCaseError> {
    let mut scenario = ddmsim::scenario::parse(TINY).expect("the tiny scenario parses");
    let mut ended = "accepted";
    for text in texts {
        let step = std::panic::catch_unwind(|| {
            let (path, value) = ddmsim::scenario::parse_assignment(text)?;
            ddmsim::scenario::with_override(&scenario, &path, &value)
        })
        .map_err(|p| TestCaseError::fail(format!("PANIC on {text:?}: {}", panic_text(&*p))))?;
        match step {
            Ok(changed) => {
                ddmsim::scenario::validate(&changed).map_err(|e| {
                    TestCaseError::fail(format!("{text:?} was accepted but the result does not validate: {e}"))
                })?;
                let yaml = ddmsim::scenario::to_yaml(&changed);
                let again = ddmsim::scenario::parse(&yaml)
                    .map_err(|e| TestCaseError::fail(format!("{text:?}: the result does not parse back: {e}")))?;
                if again != changed {
                    return Err(TestCaseError::fail(format!(
                        "{text:?}: the result changes on a round trip through YAML:\n{yaml}"
                    )));
                }
                if !changed.sweep.is_empty()
                    && let Err(e) = ddmsim::scenario::expand(&changed)
                {
                    one_line(&format!("expand after {text:?}"), &e.to_string())?;
                }
                scenario = changed;
            }
            Err(e) => {
                one_line(&format!("override {text:?}"), &e.to_string())?;
                ended = "error";
            }
        }
    }
    Ok(ended)
}

/// The override test: `mode`'s number of cases (3,000 in CI), each one to three assignments in a row.
pub fn fuzz_overrides(mode: Mode) {
    let name = format!("fuzz_overrides({mode:?})");
    let tally = Tally::new(&name);
    let dog = Watchdog::start(&name);
    let cases = proptest::collection::vec(assignment(), 1..=3);
    fuzz(&name, mode, 3_000, cases, &tally, |texts| {
        let _watch = dog.watch(format!("{texts:?}"));
        tally.count(check(&texts)?);
        Ok(())
    });
}
