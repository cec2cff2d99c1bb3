//! Grids of small grey-scale images: one panel per set of images (e.g. generated digits of one policy), each
//! image a square of pixels in [-1, 1] (black to white), laid out `per_row` to a row.

use super::{grid, titled};
use crate::report::plot::{DrawResult, FONT, Figure, text_error};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One panel: a title and its images, each a row-major square of pixels in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePanel {
    /// Panel title.
    pub title: String,
    /// The images.
    pub images: Vec<Vec<f64>>,
    /// A label left of each row of images (none when empty).
    pub row_labels: Vec<String>,
}

/// Panels of image grids.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrids {
    /// Figure title.
    pub title: String,
    /// Side of each image in pixels (8 for the digits).
    pub side: usize,
    /// Images per row inside a panel.
    pub per_row: usize,
    /// The panels.
    pub panels: Vec<ImagePanel>,
    /// Panels per row.
    pub columns: usize,
}

/// Grey level of a pixel value in [-1, 1] (clamped).
fn grey(v: f64) -> RGBColor {
    let g = if v.is_finite() {
        ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
    } else {
        0
    };
    RGBColor(g, g, g)
}

impl Figure for ImageGrids {
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let pixels = self.side * self.side;
        let mut names = vec!["panel".to_string(), "image".to_string()];
        names.extend((0..pixels).map(|p| format!("pixel_{p}")));
        let mut rows = Vec::new();
        for panel in &self.panels {
            for (i, image) in panel.images.iter().enumerate() {
                let mut row = vec![panel.title.clone(), i.to_string()];
                // A blank cell (no image) has empty pixels.
                row.extend((0..pixels).map(|p| image.get(p).map_or_else(String::new, f64::to_string)));
                rows.push(row);
            }
        }
        (names, rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        for (panel, region) in self.panels.iter().zip(grid(&area, self.panels.len(), self.columns)) {
            let region = region.titled(&panel.title, (FONT, 15)).map_err(text_error)?;
            let (w, h) = region.dim_in_pixel();
            let per_row = self.per_row.max(1);
            let rows = panel.images.len().div_ceil(per_row).max(1);
            // Each image takes `side` cells plus one cell of gap; the grid is square-celled and centred.
            let cells_x = per_row * (self.side + 1);
            let cells_y = rows * (self.side + 1);
            // Room for the row labels on the left.
            let label_px = if panel.row_labels.is_empty() { 0 } else { 28 };
            let cell = ((w as usize).saturating_sub(8 + label_px) / cells_x)
                .min((h as usize).saturating_sub(8) / cells_y)
                .max(1) as i32;
            let x0 = (w as i32 + label_px as i32 - cell * cells_x as i32) / 2;
            let y0 = 4;
            let background = [(x0, y0), (x0 + cell * cells_x as i32, y0 + cell * cells_y as i32)];
            region
                .draw(&Rectangle::new(background, RGBColor(90, 90, 90).filled()))
                .map_err(text_error)?;
            for (r, label) in panel.row_labels.iter().enumerate().take(rows) {
                let y = y0 + (r * (self.side + 1)) as i32 * cell + (self.side as i32 * cell) / 2 - 6;
                region
                    .draw(&Text::new(label.clone(), (x0 - label_px as i32, y), (FONT, 12)))
                    .map_err(text_error)?;
            }
            for (k, image) in panel.images.iter().enumerate() {
                let (gx, gy) = ((k % per_row) * (self.side + 1), (k / per_row) * (self.side + 1));
                for (p, &v) in image.iter().enumerate().take(self.side * self.side) {
                    let (px, py) = ((gx + p % self.side) as i32, (gy + p / self.side) as i32);
                    let corner = (x0 + px * cell, y0 + py * cell);
                    let corners = [corner, (corner.0 + cell, corner.1 + cell)];
                    region
                        .draw(&Rectangle::new(corners, grey(v).filled()))
                        .map_err(text_error)?;
                }
            }
        }
        Ok(())
    }
}
