//! The figures of a study over guidance scales (cells that wrote `guidance.csv`): fd (fd_classifier for images),
//! cond_accuracy and large-perturbation amplification against the scale w, one line per policy and a figure per
//! router (ignoring the class or seeing it); and, for images, each policy's digits at w = 1 and at the largest w,
//! a row per requested class.

use super::build::ReportData;
use super::frames::{numbers, rows_of_cell, texts};
use super::summary::{SweepSummary, group_of};
use super::sweep_figures::Writer;
use crate::error::Result;
use crate::report::charts::{CategoryLines, ImageGrids, ImagePanel, Scale, Series};
use crate::routing::PolicyLabel;
use std::collections::BTreeMap;

/// The metrics drawn against w, where the cells have them.
const AGAINST_W: [&str; 4] = ["fd", "fd_classifier", "cond_accuracy", "amp_large_p95"];

/// How each group of a guidance study was sampled.
#[derive(Debug, Clone, PartialEq)]
struct GuidedGroup {
    group: String,
    scale: f64,
    router_conditional: bool,
    /// The group's first cell (its lowest seed), whose samples the digit grids show.
    first_cell: String,
}

/// The groups of the study with their scale and router, when every cell of a group was guided alike and at least
/// two scales occur.
fn guided_groups(data: &ReportData, summary: &SweepSummary) -> Option<Vec<GuidedGroup>> {
    let table = data.table("guidance")?;
    let cells = texts(table, "cell");
    let (scales, routers) = (numbers(table, "scale"), numbers(table, "router_conditional"));
    let by_cell: BTreeMap<&str, (f64, bool)> = (cells.iter().enumerate())
        .map(|(i, c)| (c.as_str(), (scales[i], routers[i] == 1.0)))
        .collect();
    let mut groups = Vec::new();
    for group in &summary.groups {
        let rows: Vec<_> = data.rows.iter().filter(|r| group_of(r) == *group).collect();
        let first = rows.iter().min_by_key(|r| r.record.seed)?;
        // A group sampled without guidance (a baseline setting) has no scale: it is left out of the figures.
        let Some(&guided) = by_cell.get(first.cell.as_str()) else {
            continue;
        };
        if rows.iter().any(|r| by_cell.get(r.cell.as_str()) != Some(&guided)) {
            return None;
        }
        groups.push(GuidedGroup {
            group: group.clone(),
            scale: guided.0,
            router_conditional: guided.1,
            first_cell: first.cell.clone(),
        });
    }
    let mut distinct: Vec<f64> = groups.iter().map(|g| g.scale).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    (distinct.len() >= 2).then_some(groups)
}

/// Writes the guidance figures when the study swept the guidance scale.
pub(super) fn guidance_figures(w: &mut Writer, data: &ReportData, summary: &SweepSummary) -> Result<()> {
    let Some(groups) = guided_groups(data, summary) else {
        return Ok(());
    };
    for router in [false, true] {
        let mut of_router: Vec<&GuidedGroup> = groups.iter().filter(|g| g.router_conditional == router).collect();
        if of_router.is_empty() {
            continue;
        }
        of_router.sort_by(|a, b| a.scale.total_cmp(&b.scale));
        let (suffix, which) = match router {
            false => ("", "a router that ignores the class"),
            true => ("_router_class", "a router that sees the requested class"),
        };
        for metric in AGAINST_W {
            against_w(w, summary, &of_router, metric, (suffix, which))?;
        }
        if let (Some(df), Some(one), Some(most)) = (
            data.table("samples"),
            of_router.iter().find(|g| g.scale == 1.0),
            of_router.last().filter(|g| g.scale > 1.0),
        ) {
            for g in [one, most] {
                digit_grid(w, df, g, (suffix, which))?;
            }
        }
    }
    Ok(())
}

/// `metric` (mean ± std over seeds) against w, one line per policy that has it.
fn against_w(
    w: &mut Writer,
    summary: &SweepSummary,
    groups: &[&GuidedGroup],
    metric: &str,
    (suffix, which): (&str, &str),
) -> Result<()> {
    let point = |g: &GuidedGroup, p: &PolicyLabel| {
        let r = summary.get(&g.group, p)?;
        Some((*r.mean.get(metric)?, r.std.get(metric).copied().unwrap_or(0.0)))
    };
    let series: Vec<Series> = (summary.policies.iter())
        .filter(|p| groups.iter().any(|g| point(g, p).is_some()))
        .map(|p| Series {
            name: p.to_string(),
            points: groups.iter().map(|g| point(g, p)).collect(),
        })
        .collect();
    if series.is_empty() {
        return Ok(());
    }
    let m = crate::metrics::registry::get(metric);
    let values = series.iter().flat_map(|s| s.points.iter().flatten().map(|p| p.0));
    let figure = CategoryLines {
        title: format!("{metric} against the guidance scale w, {which}"),
        x_label: "guidance scale w (0: unconditional, 1: conditional; each running expert forms u + w (c - u))".into(),
        y_label: format!("{} ({}), mean ± std over seeds", m.title, m.direction_note()),
        categories: groups.iter().map(|g| g.scale.to_string()).collect(),
        y: Scale::auto(values),
        series,
    };
    let caption = format!(
        "{} of every policy against the guidance scale, with {which}; bars are ±1 std over seeds.",
        m.title
    );
    w.add(&format!("{metric}_vs_w{suffix}"), (1000, 620), &figure, caption)
}

/// The digits requested in `rows` (ascending): those of the `requested` column, or all ten for sample files
/// without it (written before it existed, by balanced runs, whose sample i requested i mod 10).
fn requested_digits(rows: &[usize], requested: Option<&[f64]>) -> Vec<usize> {
    let Some(r) = requested else {
        return (0..10).collect();
    };
    let mut digits: Vec<usize> = (rows.iter())
        .map(|&i| r[i])
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as usize)
        .collect();
    digits.sort_unstable();
    digits.dedup();
    digits
}

/// The rows (of `own`, one policy's samples in order) of the first ten samples that requested each of `digits`,
/// digit by digit; a digit with fewer than ten leaves the rest of its row empty (`None`).
fn first_of_each_digit(own: &[usize], digits: &[usize], requested: Option<&[f64]>) -> Vec<Option<usize>> {
    digits
        .iter()
        .flat_map(|&digit| {
            let mut of_digit: Vec<Option<usize>> = match requested {
                Some(r) => (own.iter().copied())
                    .filter(|&i| r[i] == digit as f64)
                    .take(10)
                    .map(Some)
                    .collect(),
                None => (0..10).map(|j| own.get(j * 10 + digit).copied()).collect(),
            };
            of_digit.resize(10, None);
            of_digit
        })
        .collect()
}

/// Digits of every policy in the first cell of `g`: ten rows, row c the first ten samples that requested class c.
fn digit_grid(
    w: &mut Writer,
    df: &polars::prelude::DataFrame,
    g: &GuidedGroup,
    (suffix, which): (&str, &str),
) -> Result<()> {
    let rows = rows_of_cell(df, &g.first_cell);
    // 8x8 images only (64 coordinates, as the samples figure requires).
    if rows.is_empty() || df.column("x63").is_err() || df.column("x64").is_ok() {
        return Ok(());
    }
    let pixels: Vec<Vec<f64>> = (0..64).map(|j| numbers(df, &format!("x{j}"))).collect();
    // Per cell: a cell written before the column existed has it null (NaN) in a stacked table.
    let requested = (df.column("requested").is_ok())
        .then(|| numbers(df, "requested"))
        .filter(|r| rows.iter().any(|&i| r[i].is_finite()));
    let policies = texts(df, "policy");
    let names = super::aggregate::distinct_in_order(rows.iter().map(|&i| policies[i].clone()));
    let digits = requested_digits(&rows, requested.as_deref());
    let panels: Vec<ImagePanel> = (names.iter())
        .filter(|p| **p != PolicyLabel::ReferenceTest.to_string())
        .map(|p| {
            let own: Vec<usize> = rows.iter().copied().filter(|&i| policies[i] == *p).collect();
            // A missing sample stays a blank cell, so every row keeps to its digit.
            let images = first_of_each_digit(&own, &digits, requested.as_deref())
                .into_iter()
                .map(|i| i.map_or_else(Vec::new, |i| pixels.iter().map(|col| col[i]).collect()))
                .collect();
            ImagePanel {
                title: p.clone(),
                images,
                row_labels: digits.iter().map(|c| c.to_string()).collect(),
            }
        })
        .collect();
    if panels.is_empty() || digits.is_empty() {
        return Ok(());
    }
    let columns = panels.len().clamp(1, 3);
    let height = 60 + 330 * panels.len().div_ceil(columns) as u32;
    let figure = ImageGrids {
        title: format!(
            "Generated digits at w = {} ({which}), a row per requested digit",
            g.scale
        ),
        side: 8,
        per_row: 10,
        panels,
        columns,
    };
    let caption = format!(
        "Cell {}: each policy's first ten samples that requested each digit (row label), at guidance scale {}, with \
         {which}; the same initial noise for every policy.",
        g.first_cell, g.scale
    );
    let stem = format!("digits_w{}{suffix}", g.scale.to_string().replace('.', "_"));
    w.add(&stem, (1300, height), &figure, caption)
}
