//! The report's generated reading: per group, the best policy by each key metric (better side from its
//! declaration), and where fd and the other key quality metrics (KID, loglik, precision, recall, …) order the
//! policies differently.

use super::grid_table::TextTable;
use super::plot::number;
use super::summary::SweepSummary;
use crate::metrics::{Direction, Family, Metric, registry};
use crate::routing::PolicyLabel;

/// The reading: sentences, and the best-policy table they summarise.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// One sentence per finding, in order.
    pub sentences: Vec<String>,
    /// Groups as rows, key metrics as columns: the best policy and its mean.
    pub best: TextTable,
}

/// The key metrics with a better side that the summary has values of, in declaration order.
fn ranked_metrics(summary: &SweepSummary) -> Vec<&'static Metric> {
    registry::metrics()
        .filter(|m| m.key && m.direction != Direction::Neither)
        .filter(|m| summary.rows.iter().any(|r| r.mean.contains_key(m.column)))
        .collect()
}

/// The policies of `group` with a mean of `metric`, with that mean.
fn means<'a>(summary: &'a SweepSummary, group: &str, metric: &Metric) -> Vec<(&'a PolicyLabel, f64)> {
    summary
        .rows
        .iter()
        .filter(|r| r.setting == group && !r.policy.is_reference())
        .filter_map(|r| r.mean.get(metric.column).map(|v| (&r.policy, *v)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// The best policy of `group` by `metric` (several joined by " = " when they tie, "every policy" when all do),
/// with its mean.
fn best(summary: &SweepSummary, group: &str, metric: &Metric) -> Option<(String, f64)> {
    let all = means(summary, group, metric);
    let top = all
        .iter()
        .map(|(_, v)| *v)
        .reduce(|a, b| if metric.better(b, a) { b } else { a })?;
    let tied: Vec<String> = all
        .iter()
        .filter(|(_, v)| *v == top)
        .map(|(p, _)| p.to_string())
        .collect();
    let name = if tied.len() > 1 && tied.len() == all.len() {
        "every policy (a tie)".to_string()
    } else {
        tied.join(" = ")
    };
    Some((name, top))
}

/// Pairs of policies of `group` that `a` and `b` order oppositely, and the number of pairs both order.
fn discordant(summary: &SweepSummary, group: &str, a: &Metric, b: &Metric) -> (Vec<(String, String)>, usize) {
    let (va, vb) = (means(summary, group, a), means(summary, group, b));
    let both: Vec<(&PolicyLabel, f64, f64)> = va
        .iter()
        .filter_map(|(p, x)| vb.iter().find(|(q, _)| q == p).map(|(_, y)| (*p, *x, *y)))
        .collect();
    let mut flips = Vec::new();
    let mut pairs = 0;
    for (i, (p, xa, ya)) in both.iter().enumerate() {
        for (q, xb, yb) in &both[i + 1..] {
            pairs += 1;
            let by_a = a.better(*xa, *xb) as i8 - a.better(*xb, *xa) as i8;
            let by_b = b.better(*ya, *yb) as i8 - b.better(*yb, *ya) as i8;
            if by_a * by_b < 0 {
                let (first, second) = if by_a > 0 { (p, q) } else { (q, p) };
                flips.push((first.to_string(), second.to_string()));
            }
        }
    }
    (flips, pairs)
}

/// The reading of `summary`.
pub fn reading(summary: &SweepSummary) -> Reading {
    let metrics = ranked_metrics(summary);
    let mut header = vec!["group".to_string()];
    header.extend(metrics.iter().map(|m| format!("{} ({})", m.column, m.direction_note())));
    let mut best_table = TextTable {
        header,
        rows: Vec::new(),
    };
    let mut sentences = Vec::new();
    let fd = registry::find("fd");
    for group in &summary.groups {
        let mut row = vec![group.clone()];
        let mut winners = Vec::new();
        for m in &metrics {
            match best(summary, group, m) {
                Some((p, v)) => {
                    row.push(format!("{p} ({})", number(v)));
                    winners.push(format!("{p} by {}", m.column));
                }
                None => row.push("—".into()),
            }
        }
        best_table.rows.push(row);
        if !winners.is_empty() {
            sentences.push(format!("{group}: the best policy is {}.", winners.join(", ")));
        }
        let Some(fd) = fd else { continue };
        for m in metrics
            .iter()
            .filter(|m| m.column != fd.column && matches!(m.family, Family::Quality))
        {
            let (flips, pairs) = discordant(summary, group, fd, m);
            if let Some((first, second)) = flips.first() {
                sentences.push(format!(
                    "{group}: fd and {} order {} of {pairs} pairs of policies differently (fd prefers {first} to \
                     {second}, {} the reverse).",
                    m.column,
                    flips.len(),
                    m.column
                ));
            }
        }
    }
    if sentences.is_empty() {
        sentences.push("No policy has values of the key metrics yet.".into());
    }
    Reading {
        sentences,
        best: best_table,
    }
}
