//! End-to-end tests of reports: a sweep leaves every figure, `ddmsim report` rebuilds the same report from the
//! stored results, and `report.html` opens in headless Chromium with every figure loaded and no console errors
//! (while a page with one corrupted figure is caught).

#[path = "common/external.rs"]
mod external;

use assert_cmd::Command;
use external::Program;
use std::path::{Path, PathBuf};

/// The figures a sweep of the tiny scenario must produce.
const FIGURES: [&str; 16] = [
    "fd_vs_k",
    "stability_vs_quality",
    "fd_vs_group",
    "kid_vs_group",
    "loglik_vs_group",
    "precision_vs_group",
    "recall_vs_group",
    "mode_tv_vs_group",
    "memorization_vs_group",
    "alignment_vs_quality",
    "disagreement_vs_badness",
    "routing_share",
    "expert_purity",
    "client_partition",
    "samples",
    "training_loss",
];

fn ddmsim() -> Command {
    Command::cargo_bin("ddmsim").unwrap()
}

/// Runs a two-cell sweep of the tiny scenario (skew 0.3 and 1000, one seed) into `dir/out`.
fn tiny_sweep(dir: &Path) -> PathBuf {
    let tiny = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    let scenario = dir.join("sweep.yaml");
    let text = format!("{tiny}\nsweep: {{ clients.partition.alpha: [0.3, 1000], seed: [3] }}\n");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.join("out");
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(&out)
        .arg(&scenario)
        .assert()
        .success();
    out
}

/// The browser that opens the report: `$CHROMIUM`, else `chromium` or `chromium-browser` on the path.
const CHROMIUM: Program = Program {
    name: "Chromium",
    env: "CHROMIUM",
    commands: &["chromium", "chromium-browser"],
    install: "apt-get install chromium",
};

/// Opens `page` in headless `chromium`; returns the DOM after load and what Chromium logged.
fn open_in_chromium(chromium: &Path, page: &Path) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot start {} ({e})", chromium.display()));
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Console messages Chromium logged (the page itself logs nothing, so any is an error).
fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("CONSOLE")).collect()
}

#[test]
fn a_sweep_report_has_every_figure_and_rebuilds_identically_without_rerunning() {
    let dir = tempfile::tempdir().unwrap();
    let out = tiny_sweep(dir.path());
    for stem in FIGURES {
        for ext in ["png", "svg", "csv"] {
            let path = out.join("figures").join(format!("{stem}.{ext}"));
            assert!(
                // A figure of some size; its numbers at least a header and a row.
                std::fs::metadata(&path).is_ok_and(|m| m.len() > if ext == "csv" { 20 } else { 1000 })
                    && (ext != "csv" || std::fs::read_to_string(&path).unwrap().lines().count() >= 2),
                "{} missing or empty",
                path.display()
            );
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<img class=\"figure\"").count(), FIGURES.len());
    assert!(html.contains("<summary>Quality (fd) by group and policy</summary>"));
    // Top-down: the headline figures and the reading come before every table, each figure links its numbers.
    let first_table = html.find("<details").unwrap();
    assert!(html.find("id=\"figure-fd_vs_k\"").unwrap() < first_table);
    assert!(html.find("id=\"figure-stability_vs_quality\"").unwrap() < first_table);
    assert!(html.find("<h2 id=\"reading\">").unwrap() < first_table);
    assert_eq!(html.matches("class=\"numbers\" href=\"figures/").count(), FIGURES.len());
    assert!(
        html.contains("the best policy is "),
        "the reading names the best policies"
    );
    assert!(html.contains("<td>alpha=1000</td>"), "groups by swept skew");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> = ["report.html", "summary.md", "results.parquet", "samples.parquet"]
        .iter()
        .map(|f| (out.join(f), std::fs::read(out.join(f)).unwrap()))
        .collect();
    let run_json = std::fs::metadata(out.join("cells/alpha=0.3_seed=3/run.json"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::remove_dir_all(out.join("figures")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    ddmsim().arg("report").arg(&out).assert().success();
    for (path, bytes) in before {
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{} differs after `ddmsim report`",
            path.display()
        );
    }
    let again = std::fs::metadata(out.join("cells/alpha=0.3_seed=3/run.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(run_json, again, "`ddmsim report` must not rerun cells");
    assert!(summary.contains("| alpha=0.3 |"));
}

#[test]
fn the_report_opens_in_headless_chromium_with_every_figure_loaded_and_no_console_errors() {
    let test = "the_report_opens_in_headless_chromium_with_every_figure_loaded_and_no_console_errors";
    let Some(chromium) = external::require(test, &CHROMIUM) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = tiny_sweep(dir.path());
    let page = out.join("report.html");
    let (dom, log) = open_in_chromium(&chromium, &page);
    let n = FIGURES.len();
    assert!(
        dom.contains("data-figures=\"loaded\""),
        "not every figure loaded: {dom:.2000}"
    );
    assert!(
        dom.contains(&format!("{n} of {n} figures loaded.")),
        "status line missing"
    );
    assert!(
        console_lines(&log).is_empty(),
        "console output: {:?}",
        console_lines(&log)
    );
    // A figure is visible in the first screen: the top 1,000 px at 1,400 px width.
    let at = dom.find("data-first-figure=\"").expect("the first figure's place") + "data-first-figure=\"".len();
    let place: Vec<i64> = dom[at..dom[at..].find('"').unwrap() + at]
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let [top, height, width, _] = place[..] else {
        panic!("{place:?}")
    };
    assert_eq!(width, 1400, "viewport width");
    assert!(
        height > 100 && top < 1000 - height / 2,
        "first figure at {top} px, {height} px high"
    );

    // The check itself must catch a figure that does not decode.
    let html = std::fs::read_to_string(&page).unwrap();
    let at = html.find("data:image/svg+xml;base64,").unwrap() + "data:image/svg+xml;base64,".len();
    let broken = format!("{}PHN2Zz5icm9rZW4{}", &html[..at], &html[at + 40..]);
    let broken_page = out.join("broken.html");
    std::fs::write(&broken_page, broken).unwrap();
    let (dom, _) = open_in_chromium(&chromium, &broken_page);
    assert!(
        dom.contains("data-figures=\"broken\""),
        "a corrupted figure went unnoticed"
    );
    assert!(dom.contains(&format!("{} of {n} figures loaded", n - 1)));
}

#[test]
fn a_single_run_gets_a_report_and_report_refuses_a_folder_that_is_not_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("single");
    ddmsim()
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(&out)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml"))
        .assert()
        .success();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("figure-samples") && html.contains("figure-training_loss"));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    ddmsim()
        .arg("report")
        .arg(&empty)
        .assert()
        .failure()
        .stderr(predicates::str::contains("not a ddmsim output folder"));
}

/// A study over federated algorithms gets the figure of quality against communication: SCAFFOLD sends its control
/// variates both ways, twice FedAvg's bytes, and pooled training sends none.
#[test]
fn a_study_over_algorithms_plots_quality_against_the_bytes_communicated() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml");
    let study = dir.path().join("study.yaml");
    let text = format!(
        "name: algorithms\nscenario: {}\nseeds: [3]\n\
         set: {{ model.optimizer: {{ kind: sgd, lr: 0.05 }}, router.optimizer: {{ kind: sgd, lr: 0.05 }}, \
         routing: [{{ policy: top_k, k: 1 }}, {{ policy: full }}, {{ policy: monolith }}] }}\n\
         settings:\n  - {{ name: fedavg }}\n  \
         - {{ name: scaffold, set: {{ federation.algorithm: {{ kind: scaffold }} }} }}\n  \
         - {{ name: pooled, set: {{ federation.mode: pooled }} }}\n",
        tiny.display()
    );
    std::fs::write(&study, text).unwrap();
    let out = dir.path().join("out");
    ddmsim()
        .args(["study", "--quiet", "--no-cache", "--out"])
        .arg(&out)
        .arg(&study)
        .assert()
        .success();
    let numbers = std::fs::read_to_string(out.join("figures/quality_vs_bytes.csv")).unwrap();
    assert_eq!(numbers.lines().next(), Some("panel,series,x,y"));
    let mut megabytes: Vec<f64> = numbers
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("fd against communication,"))
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    megabytes.sort_by(f64::total_cmp);
    megabytes.dedup();
    assert_eq!(megabytes.len(), 3, "{numbers}");
    assert_eq!(megabytes[0], 0.0, "pooled training communicates nothing");
    assert!(
        (megabytes[2] / megabytes[1] - 2.0).abs() < 1e-9,
        "SCAFFOLD doubles FedAvg's bytes: {megabytes:?}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"figure-quality_vs_bytes\""));
}
