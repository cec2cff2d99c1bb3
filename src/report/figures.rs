//! Figures of a study with plotters (PNG and SVG, bundled DejaVu Sans): a metric per setting and policy, and
//! quality against stability.

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::study::{SummaryRow, distinct_in_order};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The font every figure uses, registered once from the bundled file (no system fonts needed).
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the bundled DejaVu Sans font is not a valid font");
        }
    });
}

/// Colours of the policies, in the order given.
fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

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
        .find(|r| r.setting == setting && r.policy == policy)
        .and_then(|r| r.mean.get(column).map(|v| sign * v))
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// Draws one figure as SVG.
type SvgDrawer<'a> = dyn for<'b> Fn(&DrawingArea<SVGBackend<'b>, Shift>) -> std::result::Result<(), String> + 'a;
/// Draws one figure as PNG.
type PngDrawer<'a> = dyn for<'b> Fn(&DrawingArea<BitMapBackend<'b>, Shift>) -> std::result::Result<(), String> + 'a;

/// Renders `draw` to `<stem>.png` and `<stem>.svg`, each written whole or not at all.
fn render(stem: &Path, size: (u32, u32), draw: &SvgDrawer, draw_png: &PngDrawer) -> Result<()> {
    register_font();
    let fail = |path: &Path, message: String| Error::Table {
        path: path.to_path_buf(),
        message,
    };
    let svg_path = stem.with_extension("svg");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root).map_err(|m| fail(&svg_path, m))?;
        root.present().map_err(|e| fail(&svg_path, e.to_string()))?;
    }
    write_atomic(&svg_path, svg.as_bytes())?;
    let png_path = stem.with_extension("png");
    // The encoder picks the format from the extension, so the partial file still ends in `.png`.
    let name = stem
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = stem.with_file_name(format!(".{name}.partial.png"));
    {
        let root = BitMapBackend::new(&partial, size).into_drawing_area();
        draw_png(&root).map_err(|m| fail(&png_path, m))?;
        root.present().map_err(|e| fail(&png_path, e.to_string()))?;
    }
    std::fs::rename(&partial, &png_path).map_err(|e| Error::io(&png_path, e))
}

/// Draws a legend of the policies' markers into its own panel (so it never hides data).
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, policies: &[String]) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    for (i, policy) in policies.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        area.draw(&Circle::new((12, y), 5, colour(i).filled())).map_err(err)?;
        area.draw(&Text::new(policy.as_str(), (24, y - 8), (FONT, 14)))
            .map_err(err)?;
    }
    Ok(())
}

/// Axis range covering `values` on a log scale, with some room.
fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi { 0.1..10.0 } else { lo / 1.5..hi * 1.5 }
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
    legend(&side, policies)?;
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
    legend(&side, policies)?;
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
        render(
            &dir.join(&stem),
            (1000, height),
            &|root| by_setting(root, summary, &settings, policies, metric, title),
            &|root| by_setting(root, summary, &settings, policies, metric, title),
        )?;
        stems.push(stem);
    }
    render(
        &dir.join("quality_vs_stability"),
        (900, 650),
        &|root| quality_vs_stability(root, summary, &settings, policies),
        &|root| quality_vs_stability(root, summary, &settings, policies),
    )?;
    stems.push("quality_vs_stability".into());
    Ok(stems)
}
