//! Figures of a study with plotters (PNG and SVG, bundled DejaVu Sans): a metric per setting and policy, and
//! quality against stability.

use super::plot::{FONT, Figure, colour, legend, log_range, render};
use crate::error::Result;
use crate::study::{SummaryRow, distinct_in_order};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Mean of `metric` for a setting and policy (`-loglik` for the metric `nll`), if positive and finite (the axes
/// are logarithmic).
fn value(summary: &[SummaryRow], setting: &str, policy: &str, metric: &str) -> Option<f64> {
    let (column, sign) = if metric == "nll" {
        ("loglik", -1.0)
    } else {
        (metric, 1.0)
    };
    summary
        .iter()
        .find(|r| r.setting == setting && r.policy.to_string() == policy)
        .and_then(|r| r.mean.get(column).map(|v| sign * v))
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// One row per setting, one marker per policy: the mean of `metric` on a log axis.
fn by_setting<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    summary: &[SummaryRow],
    settings: &[String],
    policies: &[String],
    metric: &str,
    title: &str,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let width = root.dim_in_pixel().0;
    let (root, side) = root.split_horizontally(width.saturating_sub(170));
    legend(&side, policies, false)?;
    let values = settings
        .iter()
        .flat_map(|s| policies.iter().filter_map(move |p| value(summary, s, p, metric)));
    let range = log_range(values);
    let n = settings.len() as i32;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(150)
        .build_cartesian_2d(range.log_scale(), -1..n)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(match metric {
            "nll" => "-loglik (mean over seeds, log scale; less = samples in denser regions)".to_string(),
            _ => format!("{metric} (mean over seeds, log scale)"),
        })
        .y_desc("setting")
        .y_labels(settings.len() + 2)
        .y_label_formatter(&|i| {
            usize::try_from(n - 1 - *i)
                .ok()
                .and_then(|k| settings.get(k))
                .cloned()
                .unwrap_or_default()
        })
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    for (pi, policy) in policies.iter().enumerate() {
        let c = colour(pi);
        let points: Vec<(f64, i32)> = settings
            .iter()
            .enumerate()
            .filter_map(|(si, s)| value(summary, s, policy, metric).map(|v| (v, n - 1 - si as i32)))
            .collect();
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 5, c.filled())))
            .map_err(err)?;
    }
    Ok(())
}

/// Quality against stability: one marker per setting and policy at (amp_large_p95, fd), log-log.
fn quality_vs_stability<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    summary: &[SummaryRow],
    settings: &[String],
    policies: &[String],
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let width = root.dim_in_pixel().0;
    let (root, side) = root.split_horizontally(width.saturating_sub(170));
    legend(&side, policies, false)?;
    let pairs = |p: &str| -> Vec<(f64, f64)> {
        settings
            .iter()
            .filter_map(|s| Some((value(summary, s, p, "amp_large_p95")?, value(summary, s, p, "fd")?)))
            .collect()
    };
    let all: Vec<(f64, f64)> = policies.iter().flat_map(|p| pairs(p)).collect();
    let x = log_range(all.iter().map(|p| p.0));
    let y = log_range(all.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(&root)
        .caption("Quality vs stability, one marker per setting", (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x.log_scale(), y.log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("amp_large_p95 (less = more stable)")
        .x_labels(8)
        .y_desc("fd (less = better)")
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    for (pi, policy) in policies.iter().enumerate() {
        let c = colour(pi);
        chart
            .draw_series(pairs(policy).into_iter().map(|p| Circle::new(p, 5, c.filled())))
            .map_err(err)?;
    }
    Ok(())
}

/// A study figure: which drawing, on which data.
struct StudyFigure<'a> {
    summary: &'a [SummaryRow],
    settings: &'a [String],
    policies: &'a [String],
    /// `Some((metric, title))`: a metric by setting; `None`: quality against stability.
    by_setting: Option<(&'a str, &'a str)>,
}

impl Figure for StudyFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        match self.by_setting {
            Some((metric, title)) => by_setting(root, self.summary, self.settings, self.policies, metric, title),
            None => quality_vs_stability(root, self.summary, self.settings, self.policies),
        }
    }
}

/// Writes the study's figures into `dir` as PNG and SVG: `fd_by_setting`, `nll_by_setting` (minus `loglik`),
/// `amp_large_p95_by_setting` and `quality_vs_stability`. Returns the file stems written.
pub fn write_study_figures(dir: &Path, summary: &[SummaryRow], policies: &[String]) -> Result<Vec<String>> {
    let settings = distinct_in_order(summary.iter().map(|r| r.setting.clone()));
    let height = (160 + 34 * settings.len() as u32).max(260);
    let mut stems = Vec::new();
    for (metric, title) in [
        ("fd", "Fréchet distance by setting"),
        ("nll", "Negative log-likelihood under the true density by setting"),
        (
            "amp_large_p95",
            "95th percentile of large-scale amplification by setting",
        ),
    ] {
        let stem = format!("{metric}_by_setting");
        let figure = StudyFigure {
            summary,
            settings: &settings,
            policies,
            by_setting: Some((metric, title)),
        };
        render(&dir.join(&stem), (1000, height), &figure)?;
        stems.push(stem);
    }
    let figure = StudyFigure {
        summary,
        settings: &settings,
        policies,
        by_setting: None,
    };
    render(&dir.join("quality_vs_stability"), (900, 650), &figure)?;
    stems.push("quality_vs_stability".into());
    Ok(stems)
}
