//! Lines over categories: one line per series through the mean at each category, with a ±1 std bar.

use super::{Scale, titled_with_legend};
use crate::report::plot::{DrawResult, FONT, Figure, colour, header, linear_range, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: a name and, per category, the mean and standard deviation (`None`: no value there).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Mean and std per category.
    pub points: Vec<Option<(f64, f64)>>,
}

/// Categories along x (in order, evenly spaced), one line per series.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryLines {
    /// Figure title.
    pub title: String,
    /// x axis description.
    pub x_label: String,
    /// y axis description.
    pub y_label: String,
    /// The categories, left to right.
    pub categories: Vec<String>,
    /// The lines.
    pub series: Vec<Series>,
    /// y axis scale.
    pub y: Scale,
}

impl Figure for CategoryLines {
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut rows = Vec::new();
        for s in &self.series {
            for (category, point) in self.categories.iter().zip(&s.points) {
                if let Some((mean, std)) = point {
                    rows.push(vec![
                        s.name.clone(),
                        category.clone(),
                        mean.to_string(),
                        std.to_string(),
                    ]);
                }
            }
        }
        (header(&["series", "category", "mean", "std"]), rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let names: Vec<String> = self.series.iter().map(|s| s.name.clone()).collect();
        let plot = titled_with_legend(root, &self.title, &names, true, 190)?;
        let y = self.y;
        let coords = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().flatten())
            .flat_map(|&(m, sd)| {
                let sd = if sd.is_finite() { sd } else { 0.0 };
                [y.map(m), y.map(m - sd), y.map(m + sd)].into_iter().flatten()
            });
        let n = self.categories.len();
        let mut chart = ChartBuilder::on(&plot)
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, linear_range(coords))
            .map_err(text_error)?;
        let categories = &self.categories;
        chart
            .configure_mesh()
            .max_light_lines(2)
            .x_desc(self.x_label.as_str())
            .y_desc(y.describe(&self.y_label))
            .x_labels(n.max(1) * 2 + 1)
            .x_label_formatter(&|c| {
                let i = c.round();
                if (c - i).abs() < 1e-6 && i >= 0.0 {
                    categories.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|c| y.label(*c))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(text_error)?;
        for (si, series) in self.series.iter().enumerate() {
            let style = colour(si).stroke_width(2);
            let points: Vec<Option<(f64, f64)>> = series
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| p.and_then(|(m, _)| y.map(m)).map(|c| (i as f64, c)))
                .collect();
            for run in points.split(Option::is_none) {
                let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
                chart.draw_series(LineSeries::new(run, style)).map_err(text_error)?;
            }
            chart
                .draw_series(points.iter().flatten().map(|&p| Circle::new(p, 4, colour(si).filled())))
                .map_err(text_error)?;
            for (i, p) in series.points.iter().enumerate() {
                let Some((m, sd)) = *p else { continue };
                if !(sd.is_finite() && sd > 0.0) {
                    continue;
                }
                let (Some(top), Some(mid)) = (y.map(m + sd), y.map(m)) else {
                    continue;
                };
                let bottom = y.map(m - sd).unwrap_or(mid);
                let x = i as f64;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, bottom), (x, top)],
                        colour(si),
                    )))
                    .map_err(text_error)?;
            }
        }
        Ok(())
    }
}
