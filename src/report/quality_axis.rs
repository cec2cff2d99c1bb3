//! The x axis of the quality-against-groups figures: the groups as swept (a study's settings), or, when that is
//! what they differ by, the number of experts each cell lost at sampling time (its rows of the gathered
//! `lost_experts` table; none without).

use super::build::ReportData;
use super::frames::texts;
use super::summary::{SweepSummary, group_axis, group_of};
use std::collections::{BTreeMap, BTreeSet};

/// What the quality figures' x axis says when the groups differ by the experts lost.
pub const LOST_LABEL: &str = "experts lost at sampling time (sampling.lost_experts)";

/// The x axis of the quality figures.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityAxis {
    /// The summary's groups in axis order.
    pub groups: Vec<String>,
    /// The tick label of each group.
    pub categories: Vec<String>,
    /// The axis label.
    pub label: String,
    /// What the figure's title says the metric is drawn against.
    pub title: String,
    /// What the caption says the metric is shown for.
    pub caption: String,
    /// The figure's file stem after `<metric>_vs_`.
    pub stem: &'static str,
}

impl QualityAxis {
    /// Against the experts lost when that is what the groups differ by ([`lost_axis`]), else against the groups.
    pub fn of(data: &ReportData, summary: &SweepSummary) -> Self {
        match lost_axis(data, &summary.groups) {
            Some(lost) => QualityAxis {
                categories: lost.counts.iter().map(usize::to_string).collect(),
                groups: lost.groups,
                label: LOST_LABEL.into(),
                title: "experts lost".into(),
                caption: "against the number of experts removed at sampling time (the monolith loses none)".into(),
                stem: "lost_experts",
            },
            None => {
                let axis = group_axis(&data.rows);
                QualityAxis {
                    groups: summary.groups.clone(),
                    categories: summary.groups.clone(),
                    title: axis.clone(),
                    caption: format!("for each {axis}"),
                    label: axis,
                    stem: "group",
                }
            }
        }
    }
}

/// The groups in order of experts lost, and the number each lost.
#[derive(Debug, Clone, PartialEq)]
pub struct LostAxis {
    /// The groups of the summary, fewest experts lost first.
    pub groups: Vec<String>,
    /// The experts lost in each group.
    pub counts: Vec<usize>,
}

/// The groups of `groups` ordered by the experts their cells lost, when each group lost one number of experts
/// and no two groups the same number (so nothing else tells them apart), and at least two numbers occur.
pub fn lost_axis(data: &ReportData, groups: &[String]) -> Option<LostAxis> {
    let table = data.table("lost_experts")?;
    let mut lost_by_cell: BTreeMap<String, usize> = BTreeMap::new();
    for cell in texts(table, "cell") {
        *lost_by_cell.entry(cell).or_default() += 1;
    }
    let mut counts_of_group: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for row in &data.rows {
        let lost = lost_by_cell.get(&row.cell).copied().unwrap_or(0);
        counts_of_group.entry(group_of(row)).or_default().insert(lost);
    }
    let mut axis: Vec<(usize, String)> = Vec::with_capacity(groups.len());
    for group in groups {
        let counts = counts_of_group.get(group)?;
        if counts.len() != 1 {
            return None;
        }
        axis.push((*counts.first()?, group.clone()));
    }
    axis.sort();
    let distinct = axis.windows(2).all(|pair| pair[0].0 != pair[1].0);
    (distinct && axis.len() >= 2).then(|| LostAxis {
        counts: axis.iter().map(|(n, _)| *n).collect(),
        groups: axis.into_iter().map(|(_, g)| g).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Record, SweepRow};
    use crate::routing::PolicyLabel;
    use polars::prelude::{Column, DataFrame};
    use serde_norway::Value;

    /// Rows of cells (setting, seed) and a `lost_experts` table where cell i lost `lost[i]` experts.
    fn data(cells: &[(&str, u64, usize)]) -> ReportData {
        let label = |s: &str, seed: u64| format!("setting={s} seed={seed}");
        let rows = cells
            .iter()
            .map(|&(s, seed, _)| SweepRow {
                cell: label(s, seed),
                params: vec![
                    ("setting".into(), Value::String(s.into())),
                    ("seed".into(), Value::from(seed)),
                ],
                record: Record {
                    policy: PolicyLabel::Full,
                    seed,
                    values: Default::default(),
                },
            })
            .collect();
        let lost_cells: Vec<String> = cells
            .iter()
            .flat_map(|&(s, seed, n)| std::iter::repeat_n(label(s, seed), n))
            .collect();
        let table = DataFrame::new_infer_height(vec![Column::new("cell".into(), lost_cells)]).unwrap();
        ReportData {
            scenario_yaml: String::new(),
            name: "t".into(),
            rows,
            tables: vec![("lost_experts".into(), table)],
            showcase: None,
            policies: Vec::new(),
        }
    }

    #[test]
    fn groups_are_ordered_by_the_experts_they_lost() {
        let d = data(&[
            ("b", 0, 2),
            ("b", 1, 2),
            ("a", 0, 0),
            ("a", 1, 0),
            ("c", 0, 1),
            ("c", 1, 1),
        ]);
        let axis = lost_axis(&d, &["b".into(), "a".into(), "c".into()]).unwrap();
        assert_eq!(axis.groups, vec!["a", "c", "b"]);
        assert_eq!(axis.counts, vec![0, 1, 2]);
    }

    #[test]
    fn no_axis_when_the_counts_do_not_tell_the_groups_apart() {
        // Two groups with the same count: something else varies.
        let d = data(&[("a", 0, 1), ("b", 0, 1), ("c", 0, 0)]);
        assert_eq!(lost_axis(&d, &["a".into(), "b".into(), "c".into()]), None);
        // One group whose seeds lost different numbers.
        let d = data(&[("a", 0, 1), ("a", 1, 2), ("b", 0, 0)]);
        assert_eq!(lost_axis(&d, &["a".into(), "b".into()]), None);
        // A single group.
        let d = data(&[("a", 0, 1)]);
        assert_eq!(lost_axis(&d, &["a".into()]), None);
    }
}
