//! What every figure shares: the bundled font, the palette, a legend panel, axis ranges, and rendering one
//! drawing to PNG and SVG, each file written whole or not at all.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The font every figure uses, registered once from the bundled file (no system fonts needed).
pub const FONT: &str = "sans-serif";

/// A drawing error as text.
pub type DrawResult = std::result::Result<(), String>;

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Draws the whole figure into `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;

    /// The numbers the figure draws, as a table: header, then rows (written beside it as CSV).
    fn data(&self) -> (Vec<String>, Vec<Vec<String>>);
}

/// The column names `names` as owned strings.
pub fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Turns a plotters error into text.
pub fn text_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the bundled DejaVu Sans font is not a valid font");
        }
    });
}

/// Colour number `i` of a ten-colour palette (repeating).
pub fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

/// Renders `figure` to `<stem>.png` and `<stem>.svg` at `size` pixels; returns the SVG text.
pub fn render(stem: &Path, size: (u32, u32), figure: &impl Figure) -> Result<String> {
    register_font();
    let fail = |path: &Path, message: String| Error::Table {
        verb: "drawing",
        path: path.to_path_buf(),
        message,
    };
    let svg_path = stem.with_extension("svg");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        figure.draw(&root).map_err(|m| fail(&svg_path, m))?;
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
        figure.draw(&root).map_err(|m| fail(&png_path, m))?;
        root.present().map_err(|e| fail(&png_path, e.to_string()))?;
    }
    std::fs::rename(&partial, &png_path).map_err(|e| Error::write(&png_path, e))?;
    Ok(svg)
}

/// Draws a legend (a marker of colour `colour(i)` and the name, per entry) into its own panel, so it never hides
/// data; `line` draws short lines instead of dots.
pub fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, names: &[String], line: bool) -> DrawResult {
    for (i, name) in names.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        if line {
            area.draw(&PathElement::new(vec![(4, y), (20, y)], colour(i).stroke_width(3)))
                .map_err(text_error)?;
        } else {
            area.draw(&Circle::new((12, y), 5, colour(i).filled()))
                .map_err(text_error)?;
        }
        area.draw(&Text::new(name.as_str(), (24, y - 8), (FONT, 14)))
            .map_err(text_error)?;
    }
    Ok(())
}

/// Axis range covering the positive finite `values` on a log scale, with some room.
pub fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi { 0.1..10.0 } else { lo / 1.5..hi * 1.5 }
}

/// Axis range covering the finite `values` on a linear scale, with 5 % room each side.
pub fn linear_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        0.0..1.0
    } else if lo == hi {
        lo - 0.5..hi + 0.5
    } else {
        let pad = 0.05 * (hi - lo);
        lo - pad..hi + pad
    }
}

/// A value with 3 significant digits (scientific outside [1e-3, 1e5)).
pub fn number(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e5) {
        let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.2e}")
    }
}
