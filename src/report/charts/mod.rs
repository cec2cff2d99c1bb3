//! Chart kinds shared by the reports: lines over categories, scatter panels, heatmaps, stacked bars and point
//! clouds over a density, and grids of small images. Each is plain data implementing [`Figure`](super::plot::Figure); the report decides
//! what goes in them.

mod bars;
mod clouds;
mod heatmap;
mod images;
mod lines;
mod scatter;

pub use bars::{BarPanel, StackedBars};
pub use clouds::{CloudPanel, PointClouds};
pub use heatmap::{HeatPanel, Heatmaps};
pub use images::{ImageGrids, ImagePanel};
pub use lines::{CategoryLines, Series};
pub use scatter::{Scatter, ScatterPanel, SeriesPoints};

use super::plot::{FONT, legend, number, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// How values map to an axis: as they are, or as their base-10 logarithm (non-positive values are left out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Logarithmic axis.
    pub log: bool,
}

impl Scale {
    /// A linear axis.
    pub const LINEAR: Scale = Scale { log: false };
    /// A logarithmic axis.
    pub const LOG: Scale = Scale { log: true };

    /// Logarithmic when every finite value is positive and they span more than a factor of 30.
    pub fn auto(values: impl Iterator<Item = f64>) -> Scale {
        let (mut lo, mut hi, mut positive) = (f64::MAX, f64::MIN, true);
        for v in values.filter(|v| v.is_finite()) {
            positive &= v > 0.0;
            lo = lo.min(v);
            hi = hi.max(v);
        }
        Scale {
            log: positive && lo <= hi && hi / lo > 30.0,
        }
    }

    /// The axis coordinate of `v`, if it can be drawn.
    pub fn map(self, v: f64) -> Option<f64> {
        match (self.log, v.is_finite()) {
            (_, false) => None,
            (true, _) if v <= 0.0 => None,
            (true, _) => Some(v.log10()),
            (false, _) => Some(v),
        }
    }

    /// The tick label at axis coordinate `c`.
    pub fn label(self, c: f64) -> String {
        number(if self.log { 10f64.powf(c) } else { c })
    }

    /// The axis description with "(log scale)" added where it applies.
    pub fn describe(self, text: &str) -> String {
        if self.log {
            format!("{text} (log scale)")
        } else {
            text.to_string()
        }
    }
}

/// Fills `root` white and writes `title` across its top; returns the area below the title.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(text_error)?;
    let titled = root.titled(title, (FONT, 22)).map_err(text_error)?;
    Ok(titled)
}

/// Like [`titled`], with a legend of `names` in a panel `legend_width` pixels wide on the right (short lines when
/// `lines`, dots otherwise); returns the area left for the plots.
pub fn titled_with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    names: &[String],
    lines: bool,
    legend_width: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    let area = titled(root, title)?;
    let width = area.dim_in_pixel().0;
    let (plots, side) = area.split_horizontally(width.saturating_sub(legend_width));
    legend(&side, names, lines)?;
    Ok(plots)
}

/// Splits `area` into `count` panels laid out `columns` to a row.
pub fn grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    count: usize,
    columns: usize,
) -> Vec<DrawingArea<DB, Shift>> {
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns).max(1);
    area.split_evenly((rows, columns)).into_iter().take(count).collect()
}
