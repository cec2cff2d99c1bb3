//! Two-dimensional toy shapes (moons, rings, checkerboard, spirals), each point labelled by its part of the shape.

use crate::error::Result;
use crate::rng::Rng;
use ndarray::Array2;
use rand::Rng as _;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;

/// Points and their labels.
pub type Labelled = (Array2<f32>, Vec<usize>);

/// Room for `n` points of `dim` coordinates and their labels (fallibly: `n` comes from `data.samples`).
pub(super) fn buffers(n: usize, dim: usize) -> Result<Labelled> {
    let x = crate::alloc::zeros(n, dim, "data.samples")?;
    let mut labels = Vec::new();
    labels
        .try_reserve_exact(n)
        .map_err(|_| crate::error::Error::invalid("data.samples", format!("cannot hold the labels of {n} points")))?;
    Ok((x, labels))
}

fn noise(rng: &mut Rng, std: f64) -> f64 {
    if std == 0.0 {
        0.0
    } else {
        Normal::new(0.0, std).expect("std is validated").sample(rng)
    }
}

/// scikit-learn's two moons, centred at the origin and scaled by 2 so the data has roughly unit spread.
pub fn moons(n: usize, std: f64, rng: &mut Rng) -> Result<Labelled> {
    let (mut x, mut labels) = buffers(n, 2)?;
    for i in 0..n {
        let theta = PI * rng.random::<f64>();
        let label = i % 2;
        let (a, b) = if label == 0 {
            (theta.cos(), theta.sin())
        } else {
            (1.0 - theta.cos(), 0.5 - theta.sin())
        };
        x[[i, 0]] = (2.0 * (a - 0.5 + noise(rng, std))) as f32;
        x[[i, 1]] = (2.0 * (b - 0.25 + noise(rng, std))) as f32;
        labels.push(label);
    }
    Ok((x, labels))
}

/// Concentric rings of radius 1, 2, ..., `rings` (equal counts), radial noise of `std`.
pub fn rings(n: usize, count: usize, std: f64, rng: &mut Rng) -> Result<Labelled> {
    let (mut x, mut labels) = buffers(n, 2)?;
    for i in 0..n {
        let ring = i % count;
        let angle = 2.0 * PI * rng.random::<f64>();
        let r = (ring + 1) as f64 + noise(rng, std);
        x[[i, 0]] = (r * angle.cos()) as f32;
        x[[i, 1]] = (r * angle.sin()) as f32;
        labels.push(ring);
    }
    Ok((x, labels))
}

/// Uniform on the 8 dark squares of a 4x4 checkerboard over [-2, 2]^2; the label is the square.
pub fn checkerboard(n: usize, rng: &mut Rng) -> Result<Labelled> {
    let squares: Vec<(usize, usize)> = (0..4)
        .flat_map(|i| (0..4).map(move |j| (i, j)))
        .filter(|(i, j)| (i + j) % 2 == 0)
        .collect();
    let (mut x, mut labels) = buffers(n, 2)?;
    for i in 0..n {
        let s = rng.random_range(0..squares.len());
        let (a, b) = squares[s];
        x[[i, 0]] = (a as f64 - 2.0 + rng.random::<f64>()) as f32;
        x[[i, 1]] = (b as f64 - 2.0 + rng.random::<f64>()) as f32;
        labels.push(s);
    }
    Ok((x, labels))
}

/// Interleaved Archimedean spirals of radius up to 2 (one and a half turns); the label is the arm.
pub fn spirals(n: usize, arms: usize, std: f64, rng: &mut Rng) -> Result<Labelled> {
    let (mut x, mut labels) = buffers(n, 2)?;
    for i in 0..n {
        let arm = i % arms;
        let u = rng.random::<f64>().sqrt();
        let theta = u * 3.0 * PI;
        let r = 2.0 * u;
        let phase = 2.0 * PI * arm as f64 / arms as f64;
        x[[i, 0]] = (r * (theta + phase).cos() + noise(rng, std)) as f32;
        x[[i, 1]] = (r * (theta + phase).sin() + noise(rng, std)) as f32;
        labels.push(arm);
    }
    Ok((x, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    #[test]
    fn rings_lie_at_their_radius() {
        let (x, labels) = rings(200, 3, 0.0, &mut derive(0, Stream::Data, &[])).unwrap();
        for (row, l) in x.rows().into_iter().zip(labels) {
            let r = (row[0] * row[0] + row[1] * row[1]).sqrt();
            assert!((r - (l + 1) as f32).abs() < 1e-5);
        }
    }

    #[test]
    fn checkerboard_points_fall_on_dark_squares() {
        let (x, _) = checkerboard(500, &mut derive(0, Stream::Data, &[])).unwrap();
        for row in x.rows() {
            let (a, b) = ((row[0] + 2.0).floor() as i32, (row[1] + 2.0).floor() as i32);
            assert_eq!((a + b) % 2, 0);
        }
    }
}
