//! Scatter panels side by side sharing one legend: one colour per series; points, or joined lines.

use super::{Scale, grid, titled_with_legend};
use crate::report::plot::{DrawResult, FONT, Figure, colour, header, linear_range, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The points of one series, with the series' index into the figure's names.
pub type SeriesPoints = (usize, Vec<(f64, f64)>);

/// One panel: its axes and, per series (by index into the figure's names), its points.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPanel {
    /// Panel title.
    pub title: String,
    /// x axis description.
    pub x_label: String,
    /// y axis description.
    pub y_label: String,
    /// x axis scale.
    pub x: Scale,
    /// y axis scale.
    pub y: Scale,
    /// (series index, points) pairs.
    pub series: Vec<SeriesPoints>,
}

/// Panels in a row (or a grid of `columns`), one legend for all.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Figure title.
    pub title: String,
    /// Series names (legend), coloured by index.
    pub names: Vec<String>,
    /// The panels.
    pub panels: Vec<ScatterPanel>,
    /// Panels per row.
    pub columns: usize,
    /// Marker radius in pixels (0: join the points with lines instead).
    pub radius: u32,
}

impl Figure for Scatter {
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut rows = Vec::new();
        for panel in &self.panels {
            for (series, points) in &panel.series {
                let name = self.names.get(*series).cloned().unwrap_or_default();
                for (x, y) in points {
                    rows.push(vec![panel.title.clone(), name.clone(), x.to_string(), y.to_string()]);
                }
            }
        }
        (header(&["panel", "series", "x", "y"]), rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let plots = titled_with_legend(root, &self.title, &self.names, self.radius == 0, 190)?;
        for (panel, region) in self.panels.iter().zip(grid(&plots, self.panels.len(), self.columns)) {
            draw_panel(&region, panel, self.radius)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &ScatterPanel, radius: u32) -> DrawResult {
    let (x, y) = (panel.x, panel.y);
    let mapped: Vec<(usize, Vec<(f64, f64)>)> = panel
        .series
        .iter()
        .map(|(i, points)| {
            let points = points
                .iter()
                .filter_map(|&(a, b)| Some((x.map(a)?, y.map(b)?)))
                .collect();
            (*i, points)
        })
        .collect();
    let all = || mapped.iter().flat_map(|(_, p)| p.iter());
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title.as_str(), (FONT, 16))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(linear_range(all().map(|p| p.0)), linear_range(all().map(|p| p.1)))
        .map_err(text_error)?;
    chart
        .configure_mesh()
        .max_light_lines(2)
        .x_desc(x.describe(&panel.x_label))
        .y_desc(y.describe(&panel.y_label))
        .x_labels(6)
        .y_labels(8)
        .x_label_formatter(&|c| x.label(*c))
        .y_label_formatter(&|c| y.label(*c))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(text_error)?;
    for (i, points) in mapped {
        let c = colour(i);
        if radius == 0 {
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))
                .map_err(text_error)?;
        } else {
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, radius, c.mix(0.75).filled())))
                .map_err(text_error)?;
        }
    }
    Ok(())
}
