//! The participation figure: per round, how many clients were online, selected, returned an update, had it
//! aggregated, were rejected, were Byzantine or straggled, summed over the experts, and for the router and the
//! monolith. Drawn only when something went wrong in training (a fault-free run's counts are flat lines).

use super::frames::{numbers, rows_of_cell, texts};
use crate::report::charts::{Scale, Scatter, ScatterPanel};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The counts drawn, as (column of `training_loss`, legend name).
const COUNTS: [(&str, &str); 9] = [
    ("online", "online"),
    ("selected", "selected"),
    ("returned", "returned"),
    ("participants", "aggregated"),
    ("dropped", "dropped"),
    ("clipped", "clipped"),
    ("rejected", "rejected (non-finite)"),
    ("byzantine", "Byzantine (returned)"),
    ("stragglers", "stragglers (selected)"),
];

/// The figure and its caption for the rows of `cell` of the `training_loss` table, smoothed over `window`
/// rounds; `None` when nothing went wrong (or the table predates the counts).
pub fn participation_figure(df: &DataFrame, cell: &str, window: usize) -> Option<(Scatter, String)> {
    let rows = rows_of_cell(df, cell);
    let columns: Vec<Vec<f64>> = COUNTS.iter().map(|(c, _)| numbers(df, c)).collect();
    if columns.iter().any(|c| c.iter().all(|v| v.is_nan())) {
        return None;
    }
    let (models, rounds) = (texts(df, "model"), numbers(df, "round"));
    let (online, selected, returned, aggregated) = (&columns[0], &columns[1], &columns[2], &columns[3]);
    let mut most_online: BTreeMap<&str, f64> = BTreeMap::new();
    for &i in &rows {
        let m = most_online.entry(models[i].as_str()).or_insert(0.0);
        *m = m.max(online[i]);
    }
    let troubled = rows.iter().any(|&i| {
        online[i] < most_online[models[i].as_str()] || returned[i] < selected[i] || aggregated[i] < returned[i]
    }) || columns[4..].iter().any(|c| rows.iter().any(|&i| c[i] > 0.0));
    if !troubled {
        return None;
    }
    // Group -> count -> round -> sum over the group's models.
    let mut sums: BTreeMap<&str, Vec<BTreeMap<u64, f64>>> = BTreeMap::new();
    for &i in &rows {
        let group = if models[i].starts_with("expert") {
            "experts (summed)"
        } else {
            models[i].as_str()
        };
        let per_count = sums.entry(group).or_insert_with(|| vec![BTreeMap::new(); COUNTS.len()]);
        for (k, column) in columns.iter().enumerate() {
            *per_count[k].entry(rounds[i] as u64).or_insert(0.0) += column[i];
        }
    }
    let panels: Vec<ScatterPanel> = ["experts (summed)", "router", "monolith"]
        .iter()
        .filter_map(|group| sums.get(group).map(|counts| (group, counts)))
        .map(|(group, counts)| {
            let series: Vec<(usize, Vec<(f64, f64)>)> = counts
                .iter()
                .enumerate()
                .map(|(k, by_round)| {
                    let points: Vec<(f64, f64)> = by_round.iter().map(|(&r, &v)| (r as f64, v)).collect();
                    (k, super::sweep_figures::moving_average(&points, window))
                })
                .collect();
            ScatterPanel {
                title: group.to_string(),
                x_label: "communication round".into(),
                y_label: "clients".into(),
                x: Scale::LINEAR,
                y: Scale::LINEAR,
                series,
            }
        })
        .collect();
    let figure = Scatter {
        title: format!("Participation per round ({cell})"),
        names: COUNTS.iter().map(|(_, name)| name.to_string()).collect(),
        panels,
        columns: 1,
        radius: 0,
    };
    let caption = format!(
        "Clients per round in cell {cell}: online, selected among the online, whose update returned, whose update \
         was aggregated, dropped (did not return), clipped by the server, rejected as non-finite, Byzantine among \
         the returned, and stragglers among the selected; summed over the experts, and for the router and the \
         monolith; averaged over {window} consecutive rounds (training_loss.csv has every round)."
    );
    Some((figure, caption))
}
