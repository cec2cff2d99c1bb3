//! Stacked bars: one panel per group of bars, each bar split into coloured parts (one colour per part index).

use super::{grid, titled_with_legend};
use crate::report::plot::{DrawResult, FONT, Figure, colour, header, linear_range, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One panel: its bars, each a list of part sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPanel {
    /// Panel title.
    pub title: String,
    /// Part sizes of each bar, left to right.
    pub bars: Vec<Vec<f64>>,
}

/// Stacked-bar panels one above the other, sharing the legend of the parts.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBars {
    /// Figure title.
    pub title: String,
    /// Names of the parts (legend), coloured by index.
    pub parts: Vec<String>,
    /// What the bars are.
    pub x_label: String,
    /// What the heights are.
    pub y_label: String,
    /// The panels.
    pub panels: Vec<BarPanel>,
}

impl Figure for StackedBars {
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut rows = Vec::new();
        for panel in &self.panels {
            for (i, bar) in panel.bars.iter().enumerate() {
                for (part, value) in self.parts.iter().zip(bar) {
                    rows.push(vec![
                        panel.title.clone(),
                        i.to_string(),
                        part.clone(),
                        value.to_string(),
                    ]);
                }
            }
        }
        (header(&["panel", "bar", "part", "value"]), rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let plots = titled_with_legend(root, &self.title, &self.parts, false, 150)?;
        for (panel, region) in self.panels.iter().zip(grid(&plots, self.panels.len(), 1)) {
            self.draw_panel(&region, panel)?;
        }
        Ok(())
    }
}

impl StackedBars {
    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, panel: &BarPanel) -> DrawResult {
        let n = panel.bars.len();
        let tallest = panel.bars.iter().map(|b| b.iter().sum::<f64>()).fold(0.0, f64::max);
        let y_range = linear_range([0.0, tallest].into_iter());
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title.as_str(), (FONT, 15))
            .margin(8)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..n.max(1) as f64, 0.0..y_range.end)
            .map_err(text_error)?;
        chart
            .configure_mesh()
            .max_light_lines(2)
            .disable_x_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(10)
            .y_labels(5)
            .x_label_formatter(&|c| format!("{c:.0}"))
            .y_label_formatter(&|c| format!("{c:.0}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(text_error)?;
        for (b, parts) in panel.bars.iter().enumerate() {
            let mut base = 0.0;
            for (p, &size) in parts.iter().enumerate() {
                if size <= 0.0 {
                    continue;
                }
                let corners = [(b as f64 + 0.1, base), (b as f64 + 0.9, base + size)];
                chart
                    .draw_series(std::iter::once(Rectangle::new(corners, colour(p).filled())))
                    .map_err(text_error)?;
                base += size;
            }
        }
        Ok(())
    }
}
