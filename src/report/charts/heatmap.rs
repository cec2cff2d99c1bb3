//! Heatmaps: one panel per matrix of shares in [0, 1], shaded from white (0) to dark blue (1), values written in
//! the cells.

use super::{grid, titled};
use crate::report::plot::{DrawResult, FONT, Figure, header, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One matrix: row and column names and `values[row][column]` in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct HeatPanel {
    /// Panel title.
    pub title: String,
    /// Row names, top to bottom.
    pub rows: Vec<String>,
    /// Column names, left to right.
    pub columns: Vec<String>,
    /// The values, one inner vector per row.
    pub values: Vec<Vec<f64>>,
}

/// Heatmap panels in a grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmaps {
    /// Figure title.
    pub title: String,
    /// What the rows are.
    pub y_label: String,
    /// What the columns are.
    pub x_label: String,
    /// The panels.
    pub panels: Vec<HeatPanel>,
    /// Panels per row.
    pub columns: usize,
}

/// White at 0 to dark blue at 1.
fn shade(v: f64) -> RGBColor {
    let t = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}

impl Figure for Heatmaps {
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut rows = Vec::new();
        for panel in &self.panels {
            for (row, values) in panel.rows.iter().zip(&panel.values) {
                for (column, value) in panel.columns.iter().zip(values) {
                    rows.push(vec![
                        panel.title.clone(),
                        row.clone(),
                        column.clone(),
                        value.to_string(),
                    ]);
                }
            }
        }
        (header(&["panel", "row", "column", "value"]), rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        for (panel, region) in self.panels.iter().zip(grid(&area, self.panels.len(), self.columns)) {
            self.draw_panel(&region, panel)?;
        }
        Ok(())
    }
}

impl Heatmaps {
    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, panel: &HeatPanel) -> DrawResult {
        let (nr, nc) = (panel.rows.len(), panel.columns.len());
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title.as_str(), (FONT, 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..nc.max(1) as f64, 0.0..nr.max(1) as f64)
            .map_err(text_error)?;
        let (rows, columns) = (&panel.rows, &panel.columns);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&|c| centre_label(*c, columns, false))
            .y_label_formatter(&|c| centre_label(*c, rows, true))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(text_error)?;
        let cell_px = chart.plotting_area().dim_in_pixel().0 as f64 / nc.max(1) as f64;
        for (r, row) in panel.values.iter().enumerate() {
            let top = (nr - r) as f64;
            for (c, &v) in row.iter().enumerate() {
                let corners = [(c as f64, top), (c as f64 + 1.0, top - 1.0)];
                chart
                    .draw_series(std::iter::once(Rectangle::new(corners, shade(v).filled())))
                    .map_err(text_error)?;
                if cell_px >= 30.0 && v.is_finite() {
                    let ink = if v > 0.5 { WHITE } else { BLACK };
                    let style = TextStyle::from((FONT, 11).into_font()).color(&ink).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Center,
                        ),
                    );
                    let text = format!("{:.2}", v);
                    chart
                        .draw_series(std::iter::once(Text::new(text, (c as f64 + 0.5, top - 0.5), style)))
                        .map_err(text_error)?;
                }
            }
        }
        Ok(())
    }
}

/// The name at the centre of a unit cell (`c` = i + 0.5), rows counted from the top when `from_top`.
fn centre_label(c: f64, names: &[String], from_top: bool) -> String {
    let i = c - 0.5;
    if (i - i.round()).abs() > 1e-6 || i < -1e-6 {
        return String::new();
    }
    let i = i.round() as usize;
    let index = if from_top {
        names.len().checked_sub(i + 1)
    } else {
        Some(i)
    };
    index.and_then(|k| names.get(k)).cloned().unwrap_or_default()
}
