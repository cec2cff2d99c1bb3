//! The figures of a sweep's report, each with a one-line caption: quality against routing k and against skew (or
//! the experts lost at sampling time), stability and alignment against quality, per-sample disagreement, expert
//! purity, the client partition, generated samples and training loss.

use super::aggregate::distinct_in_order;
use super::build::ReportData;
use super::frames::{columns_with_prefix, numbers, rows_of_cell, texts};
use super::gather::{SETTING, SweepRow};
use super::participation_figure::participation_figure;
use super::quality_axis::QualityAxis;
use super::summary::{SweepSummary, group_axis, group_of};
use crate::error::Result;
use crate::report::charts::{
    BarPanel, CategoryLines, CloudPanel, HeatPanel, Heatmaps, ImageGrids, ImagePanel, PointClouds, Scale, Scatter,
    ScatterPanel, Series, SeriesPoints, StackedBars,
};
use crate::report::plot::{Figure, number, render};
use crate::routing::PolicyLabel;
use polars::prelude::DataFrame;
use std::path::Path;

/// A figure written to `figures/<stem>.{png,svg}`, its caption and its SVG text (for inlining).
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFigure {
    /// File stem inside `figures/`.
    pub stem: String,
    /// One-line caption.
    pub caption: String,
    /// The SVG as written to `figures/<stem>.svg`.
    pub svg: String,
}

/// Collects figures as they are rendered.
pub(super) struct Writer<'a> {
    dir: &'a Path,
    written: Vec<WrittenFigure>,
}

impl Writer<'_> {
    /// Renders `figure` as `<stem>.{png,svg}` (and its data as CSV) and keeps it with its caption.
    pub(super) fn add(&mut self, stem: &str, size: (u32, u32), figure: &impl Figure, caption: String) -> Result<()> {
        let svg = render(&self.dir.join(stem), size, figure)?;
        let (names, rows) = figure.data();
        crate::atomic::write_csv(&self.dir.join(format!("{stem}.csv")), &names, rows)?;
        self.written.push(WrittenFigure {
            stem: stem.into(),
            caption,
            svg,
        });
        Ok(())
    }
}

/// Panels per row (at most `max_columns`) and the figure height for `panels` panels in rows of `row_px`
/// pixels under a 40-pixel title.
fn panel_layout(panels: usize, max_columns: usize, row_px: u32) -> (usize, u32) {
    let columns = max_columns.min(panels).max(1);
    (columns, 40 + row_px * panels.div_ceil(columns) as u32)
}

/// Writes every figure the data allows into `dir` and returns them in report order.
pub fn write_figures(dir: &Path, data: &ReportData, summary: &SweepSummary) -> Result<Vec<WrittenFigure>> {
    std::fs::create_dir_all(dir).map_err(|e| crate::error::Error::io("creating", dir, e))?;
    let mut w = Writer {
        dir,
        written: Vec::new(),
    };
    quality_figures(&mut w, data, summary)?;
    super::guidance_figures::guidance_figures(&mut w, data, summary)?;
    communication_figure(&mut w, data)?;
    scatter_figures(&mut w, data)?;
    cell_figures(&mut w, data)?;
    Ok(w.written)
}

/// fd against routing k (a line per group) and every metric of quality against the groups (a line per policy).
fn quality_figures(w: &mut Writer, data: &ReportData, summary: &SweepSummary) -> Result<()> {
    let mean_std = |g: &str, p: &PolicyLabel, m: &str| {
        let r = summary.get(g, p)?;
        Some((*r.mean.get(m)?, r.std.get(m).copied().unwrap_or(0.0)))
    };
    let mut ks: Vec<usize> = summary.policies.iter().filter_map(PolicyLabel::top_k).collect();
    ks.sort_unstable();
    if !ks.is_empty() {
        let mut columns: Vec<(String, PolicyLabel)> = ks
            .iter()
            .map(|&k| (k.to_string(), PolicyLabel::TopK { k, raw: false }))
            .collect();
        if summary.policies.contains(&PolicyLabel::Full) {
            columns.push(("all (full)".into(), PolicyLabel::Full));
        }
        let series: Vec<Series> = summary
            .groups
            .iter()
            .map(|g| Series {
                name: g.clone(),
                points: columns.iter().map(|(_, p)| mean_std(g, p, "fd")).collect(),
            })
            .collect();
        let values = series.iter().flat_map(|s| s.points.iter().flatten().map(|p| p.0));
        let figure = CategoryLines {
            title: "Quality against routing k, one line per skew".into(),
            x_label: "experts per step k (top-k, renormalised; all = router-weighted full ensemble)".into(),
            y_label: "fd, mean ± std over seeds (lower is better)".into(),
            categories: columns.iter().map(|c| c.0.clone()).collect(),
            y: Scale::auto(values),
            series,
        };
        let caption = format!(
            "Fréchet distance of the samples against routing k for each {}; bars are ±1 std over seeds.",
            group_axis(&data.rows)
        );
        w.add("fd_vs_k", (1000, 620), &figure, caption)?;
    }
    let axis = QualityAxis::of(data, summary);
    let key = crate::metrics::registry::metrics().filter(|m| {
        m.key
            && matches!(
                m.family,
                crate::metrics::Family::Quality | crate::metrics::Family::Classifier
            )
    });
    for m in key {
        let (metric, what) = (m.column, format!("{} ({})", m.title, m.direction_note()));
        let policies: Vec<PolicyLabel> = summary
            .policies
            .iter()
            .filter(|p| axis.groups.iter().any(|g| mean_std(g, p, metric).is_some()))
            .cloned()
            .collect();
        if policies.is_empty() {
            continue;
        }
        let series: Vec<Series> = policies
            .iter()
            .map(|p| Series {
                name: p.to_string(),
                points: axis.groups.iter().map(|g| mean_std(g, p, metric)).collect(),
            })
            .collect();
        let values = series.iter().flat_map(|s| s.points.iter().flatten().map(|p| p.0));
        let figure = CategoryLines {
            title: format!("{metric} against {}, one line per policy", axis.title),
            x_label: axis.label.clone(),
            y_label: format!("{what}, mean ± std"),
            categories: axis.categories.clone(),
            y: Scale::auto(values),
            series,
        };
        let caption = format!(
            "{what} of every policy (and the reference rows) {}; bars are ±1 std over seeds.",
            axis.caption
        );
        w.add(&format!("{metric}_vs_{}", axis.stem), (1000, 620), &figure, caption)?;
    }
    Ok(())
}

/// One point per cell and policy: (x metric, y metric) for every policy that has both.
fn points_by_policy(data: &ReportData, x: &str, y: &str) -> (Vec<String>, Vec<SeriesPoints>) {
    let policies = distinct_in_order(
        data.rows
            .iter()
            .filter(|r| r.record.values.contains_key(x) && r.record.values.contains_key(y))
            .map(|r| r.record.policy.to_string()),
    );
    let series = series_by_policy(data, &policies, |r| {
        Some((*r.record.values.get(x)?, *r.record.values.get(y)?))
    });
    (policies, series)
}

/// One series per policy of `policies` (in their order): the points `point` gives for that policy's rows.
fn series_by_policy(
    data: &ReportData,
    policies: &[String],
    point: impl Fn(&SweepRow) -> Option<(f64, f64)>,
) -> Vec<SeriesPoints> {
    policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let points = data
                .rows
                .iter()
                .filter(|r| r.record.policy.to_string() == *p)
                .filter_map(&point)
                .collect();
            (i, points)
        })
        .collect()
}

/// A panel of `y` against `x`, one point per cell and policy, with the policies' names.
fn metric_panel(data: &ReportData, x: &str, x_label: &str, y: &str, y_label: &str) -> (Vec<String>, ScatterPanel) {
    let (names, series) = points_by_policy(data, x, y);
    let all = |pick: fn(&(f64, f64)) -> f64| {
        let v: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(pick)).collect();
        Scale::auto(v.into_iter())
    };
    let panel = ScatterPanel {
        title: format!("{y} against {x}"),
        x_label: x_label.into(),
        y_label: y_label.into(),
        x: all(|p| p.0),
        y: all(|p| p.1),
        series,
    };
    (names, panel)
}

/// Megabytes each cell's training communicated (down and up, every model), from the gathered training log;
/// `None` for logs without byte columns (runs of an older ddmsim).
fn communicated_megabytes(data: &ReportData) -> Option<std::collections::BTreeMap<String, f64>> {
    let df = data.table("training_loss")?;
    let (cells, down, up) = (texts(df, "cell"), numbers(df, "bytes_down"), numbers(df, "bytes_up"));
    let mut totals = std::collections::BTreeMap::new();
    for ((cell, d), u) in cells.into_iter().zip(down).zip(up) {
        if !(d.is_finite() && u.is_finite()) {
            return None;
        }
        *totals.entry(cell).or_insert(0.0) += (d + u) / 1e6;
    }
    Some(totals)
}

/// Quality against communication (a study over federated algorithms): fd and, where computed, mode_tv and
/// loglik against the megabytes each cell's training sent and received, a point per policy and cell. Drawn for a
/// study whose cells communicated different amounts.
fn communication_figure(w: &mut Writer, data: &ReportData) -> Result<()> {
    let is_study = data
        .rows
        .iter()
        .any(|r| r.params.iter().any(|(path, _)| path == SETTING));
    let Some(megabytes) = communicated_megabytes(data).filter(|_| is_study) else {
        return Ok(());
    };
    if distinct_in_order(megabytes.values().map(|v| v.to_bits())).len() < 2 {
        return Ok(());
    }
    let names = distinct_in_order(
        data.rows
            .iter()
            .filter(|r| !r.record.policy.is_reference())
            .map(|r| r.record.policy.to_string()),
    );
    let panel = |metric: &str, label: &str| -> Option<ScatterPanel> {
        let series = series_by_policy(data, &names, |r| {
            Some((*megabytes.get(&r.cell)?, *r.record.values.get(metric)?))
        });
        let ys: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).collect();
        (!ys.is_empty()).then(|| ScatterPanel {
            title: format!("{metric} against communication"),
            x_label: "MB sent and received in training (every model)".into(),
            y_label: label.into(),
            x: Scale::auto(megabytes.values().copied()),
            y: Scale::auto(ys.into_iter()),
            series,
        })
    };
    let panels: Vec<ScatterPanel> = [
        ("fd", "fd (lower is better)"),
        ("mode_tv", "mode_tv (lower is better)"),
        ("loglik", "loglik (higher is better)"),
    ]
    .iter()
    .filter_map(|(m, l)| panel(m, l))
    .collect();
    if panels.is_empty() {
        return Ok(());
    }
    let columns = panels.len().min(3);
    let figure = Scatter {
        title: "Quality against the bytes training communicated, one point per policy and cell".into(),
        names,
        panels,
        columns,
        radius: 5,
    };
    let caption = "Each point is one policy in one cell; x is everything the cell's server sent and received over \
                   training (weights, and SCAFFOLD's control variates), 0 for pooled training. Cells of one setting \
                   communicate the same bytes, so their seeds stack vertically."
        .to_string();
    w.add("quality_vs_bytes", (1500, 620), &figure, caption)
}

/// Stability against quality, and alignment against quality.
fn scatter_figures(w: &mut Writer, data: &ReportData) -> Result<()> {
    let (names, amp) = metric_panel(
        data,
        "amp_large_p95",
        "amp_large_p95 (less = more stable)",
        "fd",
        "fd (lower is better)",
    );
    let (flip_names, flip) = metric_panel(data, "flip_rate", "flip_rate (less = more stable)", "fd", "fd");
    if !names.is_empty() {
        // Both panels colour by the first panel's policies.
        let recolour = |panel: ScatterPanel, own: &[String]| ScatterPanel {
            series: panel
                .series
                .into_iter()
                .filter_map(|(i, p)| Some((names.iter().position(|n| *n == own[i])?, p)))
                .collect(),
            ..panel
        };
        let mut panels = vec![amp];
        if !flip_names.is_empty() {
            panels.push(recolour(flip, &flip_names));
        }
        let figure = Scatter {
            title: "Stability against quality, one point per policy and cell".into(),
            names,
            panels,
            columns: 2,
            radius: 5,
        };
        let caption = "Each point is one policy in one cell: the paper's dissociation would put the full ensemble \
                       at the left (most stable) and high (worst quality)."
            .to_string();
        w.add("stability_vs_quality", (1300, 620), &figure, caption)?;
    }
    let (names, gap) = metric_panel(
        data,
        "align_gap",
        "align_gap (non-selected minus selected 5-NN distance)",
        "fd",
        "fd (lower is better)",
    );
    if !names.is_empty() {
        let figure = Scatter {
            title: "Expert-data alignment against quality, one point per routed policy and cell".into(),
            names,
            panels: vec![gap],
            columns: 1,
            radius: 5,
        };
        let caption = "align_gap > 0 means the selected experts' data lies nearer the predicted clean sample than \
                       the others'; the paper's claim is that larger gaps go with better quality."
            .to_string();
        w.add("alignment_vs_quality", (1000, 620), &figure, caption)?;
    }
    Ok(())
}

/// The cell the per-cell figures show, and one cell per group (its first seed).
fn showcase(data: &ReportData) -> (String, Vec<(String, String)>) {
    let cells = distinct_in_order(data.rows.iter().map(|r| r.cell.clone()));
    let first_per_group: Vec<(String, String)> = {
        let mut seen: Vec<(String, String)> = Vec::new();
        for r in &data.rows {
            let g = group_of(r);
            if !seen.iter().any(|(s, _)| *s == g) {
                seen.push((g, r.cell.clone()));
            }
        }
        seen
    };
    let chosen = data
        .showcase
        .clone()
        .filter(|c| cells.contains(c))
        .or_else(|| cells.first().cloned())
        .unwrap_or_default();
    (chosen, first_per_group)
}

/// Figures of single cells: per-sample disagreement, purity and partition per group, samples and training loss.
fn cell_figures(w: &mut Writer, data: &ReportData) -> Result<()> {
    let (cell, per_group) = showcase(data);
    if let Some(df) = data.table("per_sample") {
        disagreement_figure(w, data, df, &cell)?;
    }
    if let Some(df) = data.table("routing_share_by_step") {
        routing_share_figure(w, df, &cell)?;
    }
    if let Some(df) = data.table("expert_purity") {
        purity_figure(w, df, &per_group)?;
    }
    if let Some(df) = data.table("client_cluster_counts") {
        partition_figure(w, df, &per_group)?;
    }
    if let Some(df) = data.table("samples") {
        samples_figure(w, df, &cell)?;
    }
    if let Some(df) = data.table("training_loss") {
        training_loss_figure(w, df, &cell)?;
        if let Some((figure, caption)) = participation_figure(df, &cell, SMOOTHING) {
            let height = 60 + 260 * figure.panels.len() as u32;
            w.add("participation", (1100, height), &figure, caption)?;
        }
    }
    Ok(())
}

/// Expert purity of the first cell of each group, a heat map per group.
fn purity_figure(w: &mut Writer, df: &DataFrame, per_group: &[(String, String)]) -> Result<()> {
    let shares: Vec<Vec<f64>> = columns_with_prefix(df, "cluster_")
        .iter()
        .map(|c| numbers(df, c))
        .collect();
    let panels: Vec<HeatPanel> = per_group
        .iter()
        .filter_map(|(g, c)| {
            let rows = rows_of_cell(df, c);
            // Cells with fewer clusters than the widest have nulls (NaN) in the extra columns.
            let values: Vec<Vec<f64>> = rows
                .iter()
                .map(|&i| shares.iter().map(|col| col[i]).take_while(|v| !v.is_nan()).collect())
                .collect();
            let width = values.iter().map(Vec::len).max()?;
            Some(HeatPanel {
                title: format!("{g} ({} experts)", rows.len()),
                rows: (0..rows.len()).map(|e| e.to_string()).collect(),
                columns: (0..width).map(|c| c.to_string()).collect(),
                values,
            })
        })
        .collect();
    if !panels.is_empty() {
        let (columns, height) = panel_layout(panels.len(), 3, 400);
        let figure = Heatmaps {
            title: "Expert purity: share of each expert's training data from each cluster (first seed)".into(),
            y_label: "expert".into(),
            x_label: "cluster".into(),
            columns,
            panels,
        };
        let caption = "Rows are experts, columns data clusters; a pure expert has one dark cell. Skew makes \
                       experts pure, near-IID data mixes them."
            .to_string();
        w.add("expert_purity", (1200, height), &figure, caption)?;
    }
    Ok(())
}

/// The client partition of the first cell of each group, a panel of stacked bars per group.
fn partition_figure(w: &mut Writer, df: &DataFrame, per_group: &[(String, String)]) -> Result<()> {
    let clusters = columns_with_prefix(df, "cluster_");
    let columns: Vec<Vec<f64>> = clusters.iter().map(|c| numbers(df, c)).collect();
    let panels: Vec<BarPanel> = per_group
        .iter()
        .map(|(g, c)| {
            let mut bars: Vec<Vec<f64>> = rows_of_cell(df, c)
                .into_iter()
                .map(|i| columns.iter().map(|col| col[i]).filter(|v| !v.is_nan()).collect())
                .collect();
            bars.sort_by(|a, b| {
                majority(a)
                    .cmp(&majority(b))
                    .then(b.iter().sum::<f64>().total_cmp(&a.iter().sum()))
            });
            BarPanel { title: g.clone(), bars }
        })
        .collect();
    let figure = StackedBars {
        title: "Client partition: points per cluster held by each client (first seed)".into(),
        parts: clusters.iter().map(|c| c.replace('_', " ")).collect(),
        x_label: "client (sorted by majority cluster, then size)".into(),
        y_label: "points".into(),
        panels,
    };
    let caption = "Each bar is one client, coloured by the clusters of its points: one colour per bar is \
                   strong skew, every colour in every bar is near-IID."
        .to_string();
    let height = 60 + 190 * figure.panels.len() as u32;
    w.add("client_partition", (1200, height), &figure, caption)
}

/// The training loss of every model of the showcase cell by round (moving average).
fn training_loss_figure(w: &mut Writer, df: &DataFrame, cell: &str) -> Result<()> {
    let rows = rows_of_cell(df, cell);
    let (models, rounds, losses) = (texts(df, "model"), numbers(df, "round"), numbers(df, "loss"));
    let names = distinct_in_order(rows.iter().map(|&i| models[i].clone()));
    let series: Vec<(usize, Vec<(f64, f64)>)> = names
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let points = pairs_where(&rows, &models, m, &rounds, &losses);
            (k, moving_average(&points, SMOOTHING))
        })
        .collect();
    let y = Scale::auto(rows.iter().map(|&i| losses[i]));
    let figure = Scatter {
        title: format!("Training loss per model ({cell})"),
        names,
        panels: vec![ScatterPanel {
            title: String::new(),
            x_label: "communication round".into(),
            y_label: "mean training loss of the round's clients".into(),
            x: Scale::LINEAR,
            y,
            series,
        }],
        columns: 1,
        radius: 0,
    };
    let caption = format!(
        "Mean loss of the round's clients for each expert, the router and the monolith in cell {cell}, \
         averaged over {SMOOTHING} consecutive rounds (training_loss.parquet has every round)."
    );
    w.add("training_loss", (1100, 620), &figure, caption)
}

/// (x, y) of the rows among `rows` whose label is `label` and whose y is a number (a round nobody took part in
/// has no loss).
fn pairs_where(rows: &[usize], labels: &[String], label: &str, x: &[f64], y: &[f64]) -> Vec<(f64, f64)> {
    rows.iter()
        .filter(|&&i| labels[i] == label && y[i].is_finite())
        .map(|&i| (x[i], y[i]))
        .collect()
}

/// Rounds averaged in the training-loss figure.
const SMOOTHING: usize = 15;

/// The centred moving average of `points`' y over `window` points (fewer at the ends).
pub(super) fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let half = window / 2;
    (0..points.len())
        .map(|i| {
            let part = &points[i.saturating_sub(half)..(i + half + 1).min(points.len())];
            (points[i].0, part.iter().map(|p| p.1).sum::<f64>() / part.len() as f64)
        })
        .collect()
}

/// The index of the largest part (ties: the first).
fn majority(parts: &[f64]) -> usize {
    parts
        .iter()
        .enumerate()
        .fold((0, f64::MIN), |best, (i, &v)| if v > best.1 { (i, v) } else { best })
        .0
}

/// Per-sample disagreement against badness in the showcase cell, a panel per policy with its Spearman ρ.
fn disagreement_figure(w: &mut Writer, data: &ReportData, df: &DataFrame, cell: &str) -> Result<()> {
    let rows = rows_of_cell(df, cell);
    let (policies, dis, bad) = (texts(df, "policy"), numbers(df, "disagreement"), numbers(df, "badness"));
    let names = distinct_in_order(rows.iter().map(|&i| policies[i].clone()));
    if names.is_empty() {
        return Ok(());
    }
    let rho = |p: &str| {
        data.rows
            .iter()
            .find(|r| r.cell == cell && r.record.policy.to_string() == p)
            .and_then(|r| r.record.values.get("disagreement_spearman").copied())
    };
    let panels: Vec<ScatterPanel> = names
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let points = pairs_where(&rows, &policies, p, &dis, &bad);
            ScatterPanel {
                title: match rho(p) {
                    Some(r) => format!("{p} (Spearman ρ = {})", number(r)),
                    None => p.clone(),
                },
                x_label: "total disagreement along the trajectory".into(),
                y_label: "badness (higher = worse sample)".into(),
                x: Scale::auto(points.iter().map(|q| q.0)),
                y: Scale::LINEAR,
                series: vec![(k, points)],
            }
        })
        .collect();
    let (columns, height) = panel_layout(panels.len(), 3, 380);
    let figure = Scatter {
        title: format!("Per-sample disagreement against badness ({cell})"),
        names,
        panels,
        columns,
        radius: 2,
    };
    let caption = format!(
        "Each point is one sample of cell {cell}: experts' disagreement summed over its trajectory against how bad \
         the final sample is (minus the true log-density for Gaussian mixtures)."
    );
    w.add("disagreement_vs_badness", (1300, height), &figure, caption)
}

/// Digits shown per policy in the image grids.
const DIGITS_SHOWN: usize = 64;

/// The first [`DIGITS_SHOWN`] generated images of every policy in the showcase cell, after a grid of real
/// held-out images, when the points are 8x8 images (64 coordinates).
fn digit_grids(w: &mut Writer, df: &DataFrame, cell: &str, rows: &[usize], policies: &[String]) -> Result<()> {
    let pixels: Vec<Vec<f64>> = (0..64).map(|j| numbers(df, &format!("x{j}"))).collect();
    let mut names = vec![PolicyLabel::ReferenceTest.to_string()];
    names.extend(
        distinct_in_order(rows.iter().map(|&i| policies[i].clone()))
            .into_iter()
            .filter(|p| *p != PolicyLabel::ReferenceTest.to_string()),
    );
    let panels: Vec<ImagePanel> = names
        .iter()
        .map(|p| ImagePanel {
            title: if *p == PolicyLabel::ReferenceTest.to_string() {
                "real held-out digits".into()
            } else {
                p.clone()
            },
            images: rows
                .iter()
                .filter(|&&i| &policies[i] == p)
                .take(DIGITS_SHOWN)
                .map(|&i| pixels.iter().map(|col| col[i]).collect())
                .collect(),
            row_labels: Vec::new(),
        })
        .collect();
    let (columns, height) = panel_layout(panels.len(), 4, 330);
    let figure = ImageGrids {
        title: format!("Generated digits per policy, next to real ones ({cell})"),
        side: 8,
        per_row: 8,
        panels,
        columns,
    };
    let caption = format!(
        "The first {DIGITS_SHOWN} samples of each policy in cell {cell} (same initial noise for every policy, so \
         the same position shows where the same noise went), after {DIGITS_SHOWN} real held-out digits."
    );
    w.add("samples", (1300, height), &figure, caption)
}

/// Where each routed policy sends the samples in the showcase cell: every expert's mean routing weight against
/// t, a panel per policy.
fn routing_share_figure(w: &mut Writer, df: &DataFrame, cell: &str) -> Result<()> {
    let rows = rows_of_cell(df, cell);
    let (policies, t) = (texts(df, "policy"), numbers(df, "t"));
    // Experts this cell has (cells with fewer experts have nulls in the extra columns).
    let (experts, shares): (Vec<String>, Vec<Vec<f64>>) = columns_with_prefix(df, "expert_")
        .into_iter()
        .map(|c| {
            let share = numbers(df, &c);
            (c, share)
        })
        .filter(|(_, share)| rows.iter().any(|&i| share[i].is_finite()))
        .unzip();
    let names = distinct_in_order(rows.iter().map(|&i| policies[i].clone()));
    if names.is_empty() || experts.is_empty() {
        return Ok(());
    }
    let panels: Vec<ScatterPanel> = names
        .iter()
        .map(|p| ScatterPanel {
            title: p.clone(),
            x_label: "t (1 = noise, sampling runs right to left)".into(),
            y_label: "mean routing weight".into(),
            x: Scale::LINEAR,
            y: Scale::LINEAR,
            series: shares
                .iter()
                .enumerate()
                .map(|(j, share)| (j, pairs_where(&rows, &policies, p, &t, share)))
                .collect(),
        })
        .collect();
    let (columns, height) = panel_layout(panels.len(), 3, 380);
    let figure = Scatter {
        title: format!("Where the policies send the samples, step by step ({cell})"),
        names: experts.iter().map(|e| e.replace('_', " ")).collect(),
        panels,
        columns,
        radius: 0,
    };
    let caption = format!(
        "Mean routing weight of each expert over the samples at each sampler step in cell {cell}: a top-k policy \
         whose shares are set at t = 1 (pure noise, where the router can only guess) and stay put has decided \
         each sample's expert before seeing any of its structure."
    );
    w.add("routing_share", (1300, height), &figure, caption)
}

/// Samples of every policy in the showcase cell over the histogram of the held-out points (2-D data), or as
/// image grids (8x8 images).
fn samples_figure(w: &mut Writer, df: &DataFrame, cell: &str) -> Result<()> {
    let rows = rows_of_cell(df, cell);
    let (policies, dims) = (texts(df, "policy"), columns_with_prefix(df, "x").len());
    if dims == 64 {
        return digit_grids(w, df, cell, &rows, &policies);
    }
    let (x0, x1) = (numbers(df, "x0"), numbers(df, "x1"));
    let reference = pairs_where(&rows, &policies, &PolicyLabel::ReferenceTest.to_string(), &x0, &x1);
    let names: Vec<String> = distinct_in_order(rows.iter().map(|&i| policies[i].clone()))
        .into_iter()
        .filter(|p| *p != PolicyLabel::ReferenceTest.to_string())
        .collect();
    if names.is_empty() || reference.is_empty() {
        return Ok(());
    }
    let panels: Vec<CloudPanel> = names
        .iter()
        .map(|p| CloudPanel {
            title: p.clone(),
            points: pairs_where(&rows, &policies, p, &x0, &x1),
        })
        .collect();
    let (columns, height) = panel_layout(panels.len(), 4, 320);
    let figure = PointClouds {
        title: format!("Generated samples per policy over the held-out data ({cell})"),
        reference,
        panels,
        columns,
    };
    let caption = format!(
        "Samples of each policy in cell {cell} (coloured) over a grey histogram of the held-out points{}.",
        if dims > 2 { "; first two coordinates" } else { "" }
    );
    w.add("samples", (1300, height), &figure, caption)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_centres_the_window_and_shrinks_it_at_the_ends() {
        let points: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, (i * i) as f64)).collect();
        let smooth = moving_average(&points, 3);
        let ys: Vec<f64> = smooth.iter().map(|p| p.1).collect();
        assert_eq!(ys, vec![0.5, 5.0 / 3.0, 14.0 / 3.0, 29.0 / 3.0, 12.5]);
        assert_eq!(smooth[3].0, 3.0);
    }

    #[test]
    fn top_k_is_read_from_plain_top_k_labels_only() {
        let k = |label: &str| label.parse::<PolicyLabel>().unwrap().top_k();
        assert_eq!(k("top_k:k=4"), Some(4));
        assert_eq!(k("top_k:k=2:raw"), None);
        assert_eq!(k("full"), None);
        assert_eq!(majority(&[1.0, 3.0, 3.0]), 1);
    }
}
