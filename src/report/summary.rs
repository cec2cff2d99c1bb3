//! A sweep's summary: mean ± std over seeds per group of cells (the swept values other than the seed) and
//! policy, as tables shown in `summary.md` and `report.html`.

use super::aggregate::{SummaryRow, distinct_in_order, mean_std, summarise};
use super::gather::{SETTING, SweepRow};
use super::grid_table::TextTable;
use crate::report::plot::number;
use crate::routing::PolicyLabel;
use crate::scenario::value_text;

/// The label of a row's group: its swept values other than `seed`, keys shortened to their last part
/// (`alpha=0.1`), a study's setting by its name; `all` when nothing else is swept.
pub fn group_of(row: &SweepRow) -> String {
    let parts: Vec<String> = row
        .params
        .iter()
        .filter(|(path, _)| path != "seed")
        .map(|(path, value)| match path.as_str() {
            SETTING => value_text(value),
            _ => format!("{}={}", path.rsplit('.').next().unwrap_or(path), value_text(value)),
        })
        .collect();
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(", ")
    }
}

/// The swept paths other than `seed`, joined for an axis description (`clients.partition.alpha`).
pub fn group_axis(rows: &[SweepRow]) -> String {
    let paths: Vec<String> = rows
        .first()
        .map(|r| {
            r.params
                .iter()
                .map(|(p, _)| p.clone())
                .filter(|p| p != "seed")
                .collect()
        })
        .unwrap_or_default();
    if paths.is_empty() {
        "run".into()
    } else {
        paths.join(", ")
    }
}

/// The grouped summary of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    /// Groups in sweep order.
    pub groups: Vec<String>,
    /// Policies in the order of the results (reference rows last).
    pub policies: Vec<PolicyLabel>,
    /// Mean and std per group and policy (the summary's `setting` is the group).
    pub rows: Vec<SummaryRow>,
    /// Distinct seeds in the results.
    pub seeds: Vec<u64>,
}

impl SweepSummary {
    /// Summarises `rows` by group and policy.
    pub fn of(rows: &[SweepRow]) -> Self {
        let labelled: Vec<(String, crate::report::Record)> =
            rows.iter().map(|r| (group_of(r), r.record.clone())).collect();
        let summary = summarise(&labelled);
        let groups = distinct_in_order(summary.iter().map(|r| r.setting.clone()));
        let mut policies = distinct_in_order(summary.iter().map(|r| r.policy.clone()));
        policies.sort_by_key(PolicyLabel::is_reference);
        let mut seeds: Vec<u64> = rows.iter().map(|r| r.record.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        SweepSummary {
            groups,
            policies,
            rows: summary,
            seeds,
        }
    }

    /// The summary row of a group and policy.
    pub fn get(&self, group: &str, policy: &PolicyLabel) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.setting == group && r.policy == *policy)
    }

    /// The policies that are not reference rows.
    pub fn sampled_policies(&self) -> Vec<PolicyLabel> {
        self.policies.iter().filter(|p| !p.is_reference()).cloned().collect()
    }

    /// Groups as rows, policies as columns: "mean ± std" of `metric` ("—" where the policy did not run), and
    /// the number of seeds behind each group.
    pub fn pivot(&self, metric: &str, with_reference: bool) -> TextTable {
        let policies: Vec<PolicyLabel> = if with_reference {
            self.policies.clone()
        } else {
            self.sampled_policies()
        };
        let mut header = vec!["group".to_string()];
        header.extend(policies.iter().map(PolicyLabel::to_string));
        let rows = self
            .groups
            .iter()
            .map(|g| {
                let mut row = vec![g.clone()];
                row.extend(policies.iter().map(|p| match self.get(g, p) {
                    Some(r) if r.mean.contains_key(metric) => mean_std(r, metric),
                    _ => "—".into(),
                }));
                row
            })
            .collect();
        TextTable { header, rows }
    }

    /// One row per group and policy with `n` (seeds) and "mean ± std" of each of `metrics` that some row has;
    /// rows where none of the metrics has a value are left out.
    pub fn long(&self, metrics: &[&str], with_reference: bool) -> TextTable {
        let metrics: Vec<&str> = metrics
            .iter()
            .copied()
            .filter(|m| self.rows.iter().any(|r| r.mean.contains_key(*m)))
            .collect();
        let mut header = vec!["group".to_string(), "policy".to_string(), "n".to_string()];
        header.extend(metrics.iter().map(|m| m.to_string()));
        let rows = self
            .rows
            .iter()
            .filter(|r| with_reference || !r.policy.is_reference())
            .filter(|r| metrics.iter().any(|m| r.mean.contains_key(*m)))
            .map(|r| {
                let mut row = vec![r.setting.clone(), r.policy.to_string(), r.seeds.to_string()];
                row.extend(metrics.iter().map(|m| mean_std(r, m)));
                row
            })
            .collect();
        TextTable { header, rows }
    }

    /// Per group: the policy with the lowest mean of `metric` and its value.
    pub fn best(&self, metric: &str) -> TextTable {
        let header = vec!["group".into(), format!("lowest mean {metric}"), metric.into()];
        let rows = self
            .groups
            .iter()
            .filter_map(|g| {
                let best = self
                    .rows
                    .iter()
                    .filter(|r| &r.setting == g && !r.policy.is_reference())
                    .filter_map(|r| r.mean.get(metric).map(|v| (r, *v)))
                    .filter(|(_, v)| v.is_finite())
                    .min_by(|a, b| a.1.total_cmp(&b.1))?;
                Some(vec![g.clone(), best.0.policy.to_string(), number(best.1)])
            })
            .collect();
        TextTable { header, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Values;
    use crate::report::Record;
    use serde_norway::Value;

    fn row(alpha: f64, seed: u64, policy: &str, fd: f64) -> SweepRow {
        SweepRow {
            cell: format!("alpha={alpha} seed={seed}"),
            params: vec![
                ("clients.partition.alpha".into(), Value::from(alpha)),
                ("seed".into(), Value::from(seed)),
            ],
            record: Record {
                policy: policy.parse().unwrap(),
                seed,
                values: Values::from([("fd", fd)]),
            },
        }
    }

    #[test]
    fn groups_drop_the_seed_and_average_over_it() {
        let rows = vec![
            row(0.1, 0, "full", 1.0),
            row(0.1, 1, "full", 3.0),
            row(0.1, 0, "reference:data", 0.1),
            row(0.1, 0, "top_k:k=4", 2.0),
            row(1000.0, 0, "full", 5.0),
        ];
        assert_eq!(group_of(&rows[0]), "alpha=0.1");
        assert_eq!(group_axis(&rows), "clients.partition.alpha");
        let s = SweepSummary::of(&rows);
        assert_eq!(s.groups, vec!["alpha=0.1", "alpha=1000.0"]);
        let policies: Vec<String> = s.policies.iter().map(|p| p.to_string()).collect();
        assert_eq!(policies, vec!["full", "top_k:k=4", "reference:data"]);
        assert_eq!(s.seeds, vec![0, 1]);
        let pivot = s.pivot("fd", false);
        assert_eq!(pivot.header, vec!["group", "full", "top_k:k=4"]);
        assert_eq!(pivot.rows[0], vec!["alpha=0.1", "2.00 ± 1.41", "2.00"]);
        assert_eq!(pivot.rows[1], vec!["alpha=1000.0", "5.00", "—"]);
        let best = s.best("fd");
        assert_eq!(best.rows[0], vec!["alpha=0.1", "full", "2.00"]);
        let long = s.long(&["fd", "loglik"], true);
        assert_eq!(
            long.header,
            vec!["group", "policy", "n", "fd"],
            "a metric no row has is left out"
        );
        assert_eq!(long.rows.len(), 4);
        assert_eq!(long.rows[0][2], "2");
    }
}
