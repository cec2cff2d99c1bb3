//! Point clouds over a density: one panel per set of 2-D points, drawn over a grey 2-D histogram of reference
//! points, on the same axes in every panel; points outside the axes are counted in the panel title.

use super::{grid, titled};
use crate::report::plot::{DrawResult, FONT, Figure, colour, header, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One panel: a name and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudPanel {
    /// Panel title.
    pub title: String,
    /// The points (first two coordinates).
    pub points: Vec<(f64, f64)>,
}

/// Panels of points over the histogram of `reference`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointClouds {
    /// Figure title.
    pub title: String,
    /// Reference points, shaded as a 2-D histogram behind every panel; they also fix the axes.
    pub reference: Vec<(f64, f64)>,
    /// The panels.
    pub panels: Vec<CloudPanel>,
    /// Panels per row.
    pub columns: usize,
}

/// Histogram bins per axis.
const BINS: usize = 48;

impl PointClouds {
    /// Axis ranges: the reference points' range with 25 % room each side.
    fn ranges(&self) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
        let range = |values: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = values
                .filter(|v| v.is_finite())
                .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
            if lo > hi {
                return -1.0..1.0;
            }
            let pad = 0.25 * (hi - lo).max(1e-9);
            lo - pad..hi + pad
        };
        (
            range(&mut self.reference.iter().map(|p| p.0)),
            range(&mut self.reference.iter().map(|p| p.1)),
        )
    }

    /// Counts of the reference points per bin, row-major over (x bin, y bin).
    fn histogram(&self, xr: &std::ops::Range<f64>, yr: &std::ops::Range<f64>) -> Vec<usize> {
        let mut counts = vec![0; BINS * BINS];
        let bin = |v: f64, r: &std::ops::Range<f64>| {
            let t = (v - r.start) / (r.end - r.start);
            (t * BINS as f64).floor().clamp(0.0, BINS as f64 - 1.0) as usize
        };
        for &(x, y) in &self.reference {
            if x.is_finite() && y.is_finite() {
                counts[bin(x, xr) * BINS + bin(y, yr)] += 1;
            }
        }
        counts
    }
}

impl Figure for PointClouds {
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let reference = self.reference.iter().map(|p| ("reference", p));
        let panels = self
            .panels
            .iter()
            .flat_map(|panel| panel.points.iter().map(move |p| (panel.title.as_str(), p)));
        let rows = reference
            .chain(panels)
            .map(|(name, (x, y))| vec![name.to_string(), x.to_string(), y.to_string()])
            .collect();
        (header(&["panel", "x", "y"]), rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        let (xr, yr) = self.ranges();
        let counts = self.histogram(&xr, &yr);
        let most = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        for (i, (panel, region)) in self
            .panels
            .iter()
            .zip(grid(&area, self.panels.len(), self.columns))
            .enumerate()
        {
            let inside: Vec<(f64, f64)> = panel
                .points
                .iter()
                .copied()
                .filter(|(x, y)| xr.contains(x) && yr.contains(y))
                .collect();
            let outside = panel.points.len() - inside.len();
            let title = if outside > 0 {
                format!("{} ({outside} outside)", panel.title)
            } else {
                panel.title.clone()
            };
            let mut chart = ChartBuilder::on(&region)
                .caption(title, (FONT, 15))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(40)
                .build_cartesian_2d(xr.clone(), yr.clone())
                .map_err(text_error)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(5)
                .y_labels(5)
                .label_style((FONT, 11))
                .draw()
                .map_err(text_error)?;
            let (wx, wy) = ((xr.end - xr.start) / BINS as f64, (yr.end - yr.start) / BINS as f64);
            let cells = counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(k, &n)| {
                let (bx, by) = ((k / BINS) as f64, (k % BINS) as f64);
                let g = (235.0 - 135.0 * (n as f64 / most).sqrt()).round() as u8;
                let corners = [
                    (xr.start + bx * wx, yr.start + by * wy),
                    (xr.start + (bx + 1.0) * wx, yr.start + (by + 1.0) * wy),
                ];
                Rectangle::new(corners, RGBColor(g, g, g).filled())
            });
            chart.draw_series(cells).map_err(text_error)?;
            chart
                .draw_series(
                    inside
                        .into_iter()
                        .map(|p| Circle::new(p, 2, colour(i).mix(0.7).filled())),
                )
                .map_err(text_error)?;
        }
        Ok(())
    }
}
