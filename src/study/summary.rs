//! Summaries of a study: mean and standard deviation over seeds per setting and policy, and `summary.md` with
//! the tables that answer the paper's question (does the full ensemble lose to top-2 in quality while being the
//! most stable, and where).

use super::{LoadedStudy, StudyOutcome};
use crate::atomic::write_atomic;
use crate::error::Result;
use crate::metrics::Values;
use crate::report::plot::number;
use crate::report::{Record, metric_columns};
use crate::routing::PolicyLabel;

/// Top-1 and top-2 (renormalised), the sparse policies of the paper's question.
const TOP_1: PolicyLabel = PolicyLabel::TopK { k: 1, raw: false };
/// See [`TOP_1`].
const TOP_2: PolicyLabel = PolicyLabel::TopK { k: 2, raw: false };
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The distinct values of `items`, in order of first appearance.
pub fn distinct_in_order<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    items.into_iter().fold(Vec::new(), |mut v, x| {
        if !v.contains(&x) {
            v.push(x);
        }
        v
    })
}

/// Mean and sample standard deviation over seeds of one setting and policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Setting name.
    pub setting: String,
    /// Policy label.
    pub policy: PolicyLabel,
    /// Seeds (cells) aggregated.
    pub seeds: usize,
    /// Mean of each metric over the seeds that have it.
    pub mean: Values,
    /// Sample standard deviation (n - 1) of each metric; absent with one seed.
    pub std: Values,
}

/// Groups rows by setting and policy (first-appearance order) and summarises every metric.
pub fn summarise(rows: &[(String, Record)]) -> Vec<SummaryRow> {
    let mut order: Vec<(String, PolicyLabel)> = Vec::new();
    let mut groups: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    for (setting, r) in rows {
        let key = (setting.clone(), r.policy.to_string());
        if !groups.contains_key(&key) {
            order.push((setting.clone(), r.policy.clone()));
        }
        groups.entry(key).or_default().push(r);
    }
    order
        .into_iter()
        .map(|key| {
            let records = &groups[&(key.0.clone(), key.1.to_string())];
            let mut mean = Values::new();
            let mut std = Values::new();
            for name in metric_columns() {
                let v: Vec<f64> = records.iter().filter_map(|r| r.values.get(name).copied()).collect();
                if v.is_empty() {
                    continue;
                }
                let m = v.iter().sum::<f64>() / v.len() as f64;
                mean.insert(name, m);
                if v.len() > 1 {
                    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
                    std.insert(name, var.sqrt());
                }
            }
            SummaryRow {
                setting: key.0,
                policy: key.1,
                seeds: records.len(),
                mean,
                std,
            }
        })
        .collect()
}

/// "mean ± std" of a metric, or empty.
pub fn mean_std(row: &SummaryRow, name: &str) -> String {
    match (row.mean.get(name), row.std.get(name)) {
        (Some(m), Some(s)) => format!("{} ± {}", number(*m), number(*s)),
        (Some(m), None) => number(*m),
        _ => String::new(),
    }
}

/// A markdown table of `rows` with the given metric columns.
fn table(rows: &[&SummaryRow], columns: &[&str]) -> String {
    let mut out = String::from("| setting | policy |");
    for c in columns {
        let _ = write!(out, " {c} |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for r in rows {
        let _ = write!(out, "| {} | {} |", r.setting, r.policy);
        for c in columns {
            let _ = write!(out, " {} |", mean_std(r, c));
        }
        out.push('\n');
    }
    out
}

/// Per seed of one setting: the values of `column` for top-1, top-2 and the ensemble policy `ensemble` (seeds
/// with all three only).
fn per_seed(rows: &[(String, Record)], setting: &str, ensemble: &PolicyLabel, column: &str) -> Vec<[f64; 3]> {
    let mut seeds: Vec<u64> = rows.iter().filter(|(s, _)| s == setting).map(|(_, r)| r.seed).collect();
    seeds.dedup();
    seeds
        .into_iter()
        .filter_map(|seed| {
            let get = |p: &PolicyLabel| {
                rows.iter()
                    .find(|(s, r)| s == setting && r.seed == seed && r.policy == *p)
                    .and_then(|(_, r)| r.values.get(column).copied())
            };
            Some([get(&TOP_1)?, get(&TOP_2)?, get(ensemble)?])
        })
        .collect()
}

/// The paper's question per setting, seed by seed, for the ensemble policy `ensemble` (`full` or `uniform`): in
/// how many seeds is it worse than top-2 on fd and on loglik, and in how many is it the most stable (lowest
/// 95th-percentile large-scale amplification of top-1, top-2 and itself)? The dissociation holds where it loses
/// on fd or loglik and is the most stable in every seed.
fn dissociation(
    rows: &[(String, Record)],
    summary: &[SummaryRow],
    settings: &[String],
    ensemble: &PolicyLabel,
) -> String {
    let find = |s: &str, p: &PolicyLabel| summary.iter().find(|r| r.setting == s && r.policy == *p);
    let e = ensemble;
    let mut out = format!(
        "| setting | fd top-1 | fd top-2 | fd {e} | loglik top-2 | loglik {e} | {e} worse fd | {e} worse loglik | \
         amp_large_p95 top-1 / top-2 / {e} | {e} most stable | flip_rate top-1 / top-2 | dissociation | \
         fd spread |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in settings {
        let (Some(t1), Some(t2), Some(full)) = (find(s, &TOP_1), find(s, &TOP_2), find(s, e)) else {
            continue;
        };
        let fd = per_seed(rows, s, e, "fd");
        let loglik = per_seed(rows, s, e, "loglik");
        let amp = per_seed(rows, s, e, "amp_large_p95");
        let count = |v: &[[f64; 3]], f: &dyn Fn(&[f64; 3]) -> bool| v.iter().filter(|x| f(x)).count();
        let worse_fd = count(&fd, &|x| x[2] > x[1]);
        let worse_loglik = count(&loglik, &|x| x[2] < x[1]);
        let stable = count(&amp, &|x| x[2] < x[0].min(x[1]));
        let all = |k: usize, v: &[[f64; 3]]| !v.is_empty() && k == v.len();
        let holds = (all(worse_fd, &fd) || all(worse_loglik, &loglik)) && all(stable, &amp);
        let m = |r: &SummaryRow, c: &str| r.mean.get(c).copied().unwrap_or(f64::NAN);
        let means = [m(t1, "fd"), m(t2, "fd"), m(full, "fd")];
        let spread = means.iter().cloned().fold(f64::MIN, f64::max) - means.iter().cloned().fold(f64::MAX, f64::min);
        let _ = writeln!(
            out,
            "| {s} | {} | {} | {} | {} | {} | {worse_fd}/{} | {worse_loglik}/{} | {} / {} / {} | {stable}/{} | {} / {} | {} | {} |",
            mean_std(t1, "fd"),
            mean_std(t2, "fd"),
            mean_std(full, "fd"),
            mean_std(t2, "loglik"),
            mean_std(full, "loglik"),
            fd.len(),
            loglik.len(),
            number(m(t1, "amp_large_p95")),
            number(m(t2, "amp_large_p95")),
            number(m(full, "amp_large_p95")),
            amp.len(),
            number(m(t1, "flip_rate")),
            number(m(t2, "flip_rate")),
            if holds { "**yes**" } else { "no" },
            number(spread),
        );
    }
    out
}

/// Writes `summary.md`: how it was made, the dissociation table, quality and stability, and alignment.
pub fn write_summary_markdown(
    path: &Path,
    study: &LoadedStudy,
    command: &str,
    outcome: &StudyOutcome,
    figures: &[String],
) -> Result<()> {
    let (title, seeds, policies) = (&study.study.name, &study.study.seeds, &study.policies);
    let (rows, failures) = (&outcome.rows, &outcome.failures);
    let summary = &summarise(rows);
    let settings = distinct_in_order(summary.iter().map(|r| r.setting.clone()));
    let shown: Vec<&SummaryRow> = summary
        .iter()
        .filter(|r| !r.policy.is_reference() && (policies.is_empty() || policies.contains(&r.policy)))
        .collect();
    let routed: Vec<&SummaryRow> = shown
        .iter()
        .copied()
        .filter(|r| r.mean.contains_key("err_mixture") && r.policy != PolicyLabel::Monolith)
        .collect();
    let mut md = format!(
        "# {title}\n\nGenerated by `{command}`; do not edit by hand. Mean ± standard deviation over seeds {seeds:?}.\n\n"
    );
    md.push_str("## Does full lose to top-2, and is it then the most stable?\n\n");
    md.push_str(
        "Counts are seeds. \"full worse\": full's fd above top-2's (or its loglik below) in that seed. \"full most \
         stable\": full's 95th percentile of amplification at the large scale is the lowest of top-1, top-2 and \
         full in that seed. The paper's dissociation (**yes**) needs full worse on fd or on loglik in every seed \
         and the most stable in every seed. fd spread: largest minus smallest mean fd of top-1, top-2 and full.\n\n",
    );
    md.push_str(&dissociation(rows, summary, &settings, &PolicyLabel::Full));
    if summary.iter().any(|r| r.policy == PolicyLabel::Uniform) {
        md.push_str(
            "\n### The same question for the uniform ensemble\n\nThe paper's \"full ensemble\" may mean equal \
             weights rather than the router's; `uniform` averages every expert with weight 1/n. Same columns, with \
             uniform in place of full (fd spread over top-1, top-2 and uniform).\n\n",
        );
        md.push_str(&dissociation(rows, summary, &settings, &PolicyLabel::Uniform));
    }
    if !failures.is_empty() {
        md.push_str("\n## Cells that could not run\n\n| setting | seed | reason |\n|---|---|---|\n");
        for f in failures {
            let _ = writeln!(md, "| {} | {} | {} |", f.setting, f.seed, f.message.replace('|', "\\|"));
        }
    }
    md.push_str("\n## Figures\n\n");
    for stem in figures {
        let _ = writeln!(md, "![{stem}](figures/{stem}.png) ([SVG](figures/{stem}.svg))\n");
    }
    md.push_str("\n## Quality and stability\n\n");
    md.push_str(&table(
        &shown,
        &[
            "fd",
            "loglik",
            "precision",
            "recall",
            "mode_tv",
            "amp_small",
            "amp_small_p95",
            "amp_large",
            "amp_large_p95",
            "flip_rate",
        ],
    ));
    md.push_str("\n## Alignment\n\n");
    md.push_str(&table(
        &routed,
        &[
            "align_gap",
            "align_nearest_rate",
            "err_selected",
            "err_nonselected",
            "err_oracle",
            "disagreement",
            "disagreement_spearman",
        ],
    ));
    if shown.iter().any(|r| r.mean.contains_key("fd_classifier")) {
        md.push_str(
            "\n## Evaluation classifier and l_eff\n\nfd_classifier is FID-like (ddmsim's own digit classifier, not \
             Inception); class_tv compares predicted class shares with the held-out split's; confidence is the mean \
             top-class probability; l_eff is the trajectory's effective Lipschitz constant.\n\n",
        );
        md.push_str(&table(&shown, &["fd_classifier", "class_tv", "confidence", "l_eff"]));
    }
    write_atomic(path, md.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(policy: &str, seed: u64, fd: f64) -> Record {
        Record {
            policy: policy.parse().unwrap(),
            seed,
            values: Values::from([("fd", fd)]),
        }
    }

    #[test]
    fn summaries_give_mean_and_sample_std_per_setting_and_policy() {
        let rows = vec![
            ("a".to_string(), record("full", 0, 1.0)),
            ("a".to_string(), record("full", 1, 3.0)),
            ("a".to_string(), record("top_k:k=1", 0, 5.0)),
            ("b".to_string(), record("full", 0, 2.0)),
        ];
        let s = summarise(&rows);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].setting.as_str(), s[0].policy.to_string().as_str(), s[0].seeds),
            ("a", "full", 2)
        );
        assert_eq!(s[0].mean["fd"], 2.0);
        assert!((s[0].std["fd"] - 2f64.sqrt()).abs() < 1e-12);
        assert!(s[2].std.is_empty());
        assert_eq!(mean_std(&s[0], "fd"), "2.00 ± 1.41");
        assert_eq!(number(0.01234), "0.0123");
        assert_eq!(number(123.4), "123");
    }

    fn row(setting: &str, policy: &str, seed: u64, fd: f64, amp: f64) -> (String, Record) {
        let values = Values::from([("fd", fd), ("loglik", -fd), ("amp_large_p95", amp)]);
        (
            setting.to_string(),
            Record {
                policy: policy.parse().unwrap(),
                seed,
                values,
            },
        )
    }

    #[test]
    fn dissociation_needs_full_worse_and_most_stable_in_every_seed() {
        let mut rows = Vec::new();
        for seed in 0..2 {
            // "paper": full worst and most stable in both seeds.
            rows.push(row("paper", "top_k:k=1", seed, 0.5, 9.0));
            rows.push(row("paper", "top_k:k=2", seed, 0.3, 8.0));
            rows.push(row("paper", "full", seed, 0.9, 4.0));
            // "mixed": full worse in seed 0 only.
            rows.push(row("mixed", "top_k:k=1", seed, 0.5, 9.0));
            rows.push(row("mixed", "top_k:k=2", seed, 0.3, 8.0));
            rows.push(row("mixed", "full", seed, if seed == 0 { 0.9 } else { 0.1 }, 4.0));
        }
        let summary = summarise(&rows);
        let table = dissociation(&rows, &summary, &["paper".into(), "mixed".into()], &PolicyLabel::Full);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[2].starts_with("| paper |") && lines[2].contains("| 2/2 | 2/2 |") && lines[2].contains("**yes**"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("| mixed |") && lines[3].contains("| 1/2 | 1/2 |") && lines[3].contains("| no |"),
            "{}",
            lines[3]
        );
    }
}
