//! Aggregates over seeds: mean and sample standard deviation of every metric per group and policy.

use crate::metrics::Values;
use crate::report::plot::number;
use crate::report::{Record, metric_columns};
use crate::routing::PolicyLabel;
use std::collections::BTreeMap;

/// The distinct values of `items`, in order of first appearance.
pub fn distinct_in_order<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    items.into_iter().fold(Vec::new(), |mut v, x| {
        if !v.contains(&x) {
            v.push(x);
        }
        v
    })
}

/// Mean and sample standard deviation over seeds of one group and policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The group (a study's setting, or a sweep's values other than the seed).
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

/// Groups rows by group and policy (first-appearance order) and summarises every metric.
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
