//! The UCI handwritten digits bundled in the binary (data/digits.csv.gz): 1,797 images of 8x8 pixels.

use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use ndarray::Array2;
use std::io::Read;
use std::path::PathBuf;

/// The compressed CSV, embedded so the data set works from any folder.
pub const BUNDLED: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Number of pixels per image.
pub const PIXELS: usize = 64;

/// Loads all images, scaled from 0..16 to [-1, 1], and their labels 0..9.
pub fn load() -> Result<(Array2<f32>, Vec<usize>)> {
    let source = PathBuf::from("data/digits.csv.gz (bundled)");
    let mut text = String::new();
    GzDecoder::new(BUNDLED)
        .read_to_string(&mut text)
        .map_err(|e| Error::read(&source, e))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut x = Array2::zeros((lines.len(), PIXELS));
    let mut labels = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != PIXELS + 1 {
            return Err(Error::DataFormat {
                file: source,
                line: i + 1,
                column: cells.len(),
                message: format!("expected {} values, got {}", PIXELS + 1, cells.len()),
            });
        }
        for (j, cell) in cells.iter().enumerate() {
            let v: u32 = cell.trim().parse().map_err(|_| Error::DataFormat {
                file: source.clone(),
                line: i + 1,
                column: j + 1,
                message: format!("not an integer: {cell:?}"),
            })?;
            if j < PIXELS {
                x[[i, j]] = v as f32 / 16.0 * 2.0 - 1.0;
            } else {
                labels.push(v as usize);
            }
        }
    }
    Ok((x, labels))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_digits_have_the_documented_shape() {
        let (x, labels) = super::load().unwrap();
        assert_eq!(x.dim(), (1797, 64));
        assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
        let mut counts = [0usize; 10];
        labels.iter().for_each(|&l| counts[l] += 1);
        assert!(counts.iter().all(|&c| (170..=190).contains(&c)), "{counts:?}");
    }
}
