//! k-nearest-neighbour manifold metrics: precision and recall (Kynkäänniemi et al. 2019), density and coverage
//! (Naeem et al. 2020), following the reference `prdc` code (strict inequalities, radius = k-th neighbour).

use super::catalog::{Applies, Computation, Direction, Family, Metric};
use super::mmd::sq_dist;
use rayon::prelude::*;

/// The metrics this file computes.
pub static DECLARED: [Metric; 4] = [
    Metric {
        column: "precision",
        title: "precision",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::Always,
        key: true,
        description: "Share of samples inside the k-NN manifold of held-out data (Kynkäänniemi et al. 2019).",
        computation: Computation::Samples(|s| Some(s.prdc().precision)),
    },
    Metric {
        column: "recall",
        title: "recall",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::Always,
        key: true,
        description: "Share of held-out points inside the k-NN manifold of the samples (Kynkäänniemi et al. 2019).",
        computation: Computation::Samples(|s| Some(s.prdc().recall)),
    },
    Metric {
        column: "density",
        title: "density",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::Always,
        key: false,
        description: "Mean count of held-out k-NN balls holding each sample, over k (Naeem et al. 2020).",
        computation: Computation::Samples(|s| Some(s.prdc().density)),
    },
    Metric {
        column: "coverage",
        title: "coverage",
        direction: Direction::Higher,
        family: Family::Quality,
        applies: Applies::Always,
        key: false,
        description: "Share of held-out k-NN balls holding at least one sample (Naeem et al. 2020).",
        computation: Computation::Samples(|s| Some(s.prdc().coverage)),
    },
];

/// Distance from each row to its k-th nearest other row.
pub fn knn_radii(rows: &[Vec<f64>], k: usize) -> Vec<f64> {
    rows.par_iter()
        .enumerate()
        .map(|(i, a)| {
            let mut d: Vec<f64> = rows
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, b)| sq_dist(a, b))
                .collect();
            let k = k.min(d.len()).max(1) - 1;
            let (_, kth, _) = d.select_nth_unstable_by(k, f64::total_cmp);
            kth.sqrt()
        })
        .collect()
}

/// Precision, recall, density and coverage of `fake` against `real` with precomputed real radii.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prdc {
    /// Share of generated points inside the real manifold.
    pub precision: f64,
    /// Share of real points inside the generated manifold.
    pub recall: f64,
    /// Mean number of real neighbourhoods containing a generated point, divided by k.
    pub density: f64,
    /// Share of real points whose neighbourhood contains a generated point.
    pub coverage: f64,
}

/// Computes [`Prdc`] with `k` neighbours.
pub fn prdc(real: &[Vec<f64>], real_radii: &[f64], fake: &[Vec<f64>], k: usize) -> Prdc {
    let fake_radii = knn_radii(fake, k);
    // Per generated point: (inside any real ball, number of real balls containing it).
    let per_fake: Vec<(bool, usize)> = fake
        .par_iter()
        .map(|f| {
            let mut count = 0;
            for (r, radius) in real.iter().zip(real_radii) {
                if sq_dist(f, r).sqrt() < *radius {
                    count += 1;
                }
            }
            (count > 0, count)
        })
        .collect();
    // Per real point: (inside any generated ball, nearest generated point inside its own ball).
    let per_real: Vec<(bool, bool)> = real
        .par_iter()
        .zip(real_radii)
        .map(|(r, radius)| {
            let mut recalled = false;
            let mut nearest = f64::INFINITY;
            for (f, fr) in fake.iter().zip(&fake_radii) {
                let d = sq_dist(f, r).sqrt();
                recalled |= d < *fr;
                nearest = nearest.min(d);
            }
            (recalled, nearest < *radius)
        })
        .collect();
    let (nf, nr) = (fake.len() as f64, real.len() as f64);
    Prdc {
        precision: per_fake.iter().filter(|p| p.0).count() as f64 / nf,
        recall: per_real.iter().filter(|p| p.0).count() as f64 / nr,
        density: per_fake.iter().map(|p| p.1).sum::<usize>() as f64 / (k as f64 * nf),
        coverage: per_real.iter().filter(|p| p.1).count() as f64 / nr,
    }
}
