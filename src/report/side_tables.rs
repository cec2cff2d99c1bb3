//! Side tables of a run: client x cluster counts, expert purity, per-round training log, the experts' own
//! metrics, and sample files.

use crate::atomic::write_csv;
use crate::error::Result;
use crate::federated::RoundLog;
use crate::partition::ExpertGroups;
use ndarray::{Array2, ArrayView2};
use std::path::Path;

/// `client_cluster_counts.csv`: one row per client with its expert (empty if idle) and its count per cluster.
pub fn write_client_counts(path: &Path, counts: &[Vec<usize>], groups: &ExpertGroups) -> Result<()> {
    let k = counts.first().map_or(0, Vec::len);
    let mut header = vec!["client".to_string(), "expert".to_string()];
    header.extend((0..k).map(|c| format!("cluster_{c}")));
    let expert_of = groups.expert_of_client(counts.len());
    write_csv(
        path,
        &header,
        counts.iter().enumerate().map(|(client, row)| {
            let mut cells = vec![
                client.to_string(),
                expert_of[client].map(|e| e.to_string()).unwrap_or_default(),
            ];
            cells.extend(row.iter().map(usize::to_string));
            cells
        }),
    )
}

/// `expert_purity.csv`: P[j, c], the share of expert j's data from cluster c, with the expert's cluster and size.
pub fn write_purity(path: &Path, purity: &Array2<f64>, groups: &ExpertGroups, counts: &[Vec<usize>]) -> Result<()> {
    let mut header = vec![
        "expert".to_string(),
        "cluster".to_string(),
        "clients".to_string(),
        "points".to_string(),
    ];
    header.extend((0..purity.ncols()).map(|c| format!("cluster_{c}")));
    write_csv(
        path,
        &header,
        groups.experts.iter().enumerate().map(|(j, g)| {
            let points: usize = g.clients.iter().map(|&c| counts[c].iter().sum::<usize>()).sum();
            let mut cells = vec![
                j.to_string(),
                g.cluster.map(|c| c.to_string()).unwrap_or_default(),
                g.clients.len().to_string(),
                points.to_string(),
            ];
            cells.extend(purity.row(j).iter().map(|v| format!("{v:.6}")));
            cells
        }),
    )
}

/// `training_loss.csv`: one row per model and round, with its participation counts (empty `loss` and
/// `straggler_work` when no update was aggregated or no straggler selected).
pub fn write_training_log(path: &Path, log: &[RoundLog]) -> Result<()> {
    let header: Vec<String> = [
        "model",
        "round",
        "participants",
        "online",
        "selected",
        "returned",
        "dropped",
        "stragglers",
        "straggler_work",
        "rejected",
        "clipped",
        "byzantine",
        "bytes_down",
        "bytes_up",
        "flops",
        "loss",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let optional = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v}"));
    write_csv(
        path,
        &header,
        log.iter().map(|r| {
            let c = &r.counts;
            vec![
                r.model.clone(),
                r.round.to_string(),
                r.participants.to_string(),
                c.online.to_string(),
                c.selected.to_string(),
                c.returned.to_string(),
                c.dropped.to_string(),
                c.stragglers.to_string(),
                optional(c.straggler_work),
                c.rejected.to_string(),
                c.clipped.to_string(),
                c.byzantine.to_string(),
                r.bytes_down.to_string(),
                r.bytes_up.to_string(),
                r.flops.to_string(),
                optional(r.loss),
            ]
        }),
    )
}

/// A sample file: header `x0,x1,...`, one point per row; for guided samples a last column `requested`, the class
/// each sample requested (`requested` empty: no such column).
pub fn write_points<T: std::fmt::Display + Copy>(
    path: &Path,
    points: ArrayView2<T>,
    requested: &[usize],
) -> Result<()> {
    let mut header: Vec<String> = (0..points.ncols()).map(|j| format!("x{j}")).collect();
    if !requested.is_empty() {
        header.push("requested".into());
    }
    write_csv(
        path,
        &header,
        points.rows().into_iter().enumerate().map(|(i, r)| {
            let mut cells: Vec<String> = r.iter().map(|v| format!("{v}")).collect();
            cells.extend(requested.get(i).map(usize::to_string));
            cells
        }),
    )
}

/// `class_counts.csv`: per policy (and reference row), how many of its points the evaluation classifier puts in
/// each class.
pub fn write_class_counts(path: &Path, rows: &[(crate::routing::PolicyLabel, Vec<usize>)]) -> Result<()> {
    let classes = rows.first().map_or(0, |(_, c)| c.len());
    let mut header = vec!["policy".to_string()];
    header.extend((0..classes).map(|c| format!("class_{c}")));
    write_csv(
        path,
        &header,
        rows.iter().map(|(policy, counts)| {
            let mut cells = vec![policy.to_string()];
            cells.extend(counts.iter().map(usize::to_string));
            cells
        }),
    )
}
