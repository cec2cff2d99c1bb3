//! What an analysis runs on: one denoiser (the monolith) or a routed mixture of experts, walked over the sampler's
//! fixed chunks in parallel so that results do not depend on the number of threads.

use crate::diffusion::sampler::CHUNK;
use crate::diffusion::{At, Denoiser};
use crate::routing::Routed;
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// The model a policy row samples with.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    /// A single model (no routing).
    Single(&'a dyn Denoiser),
    /// Experts combined by a routing policy.
    Routed(&'a dyn Routed),
}

impl Subject<'_> {
    /// The prediction at (x, at) and, for routed subjects, the policy's weights (zero = expert not selected).
    pub fn evaluate(&self, x: ArrayView2<f32>, at: At) -> (Array2<f32>, Option<Array2<f32>>) {
        match self {
            Subject::Single(d) => (d.predict(x, at), None),
            Subject::Routed(r) => {
                let e = r.evaluate(x, at, false);
                (e.combined, Some(e.weights))
            }
        }
    }

    /// The subject as a plain denoiser (for the sampler).
    pub fn denoiser(&self) -> &dyn Denoiser {
        match self {
            Subject::Single(d) => *d,
            Subject::Routed(r) => *r as &dyn Denoiser,
        }
    }
}

/// Runs `f(first_row, chunk)` on the sampler's chunks of `x1` in parallel; results come back in chunk order.
pub fn over_chunks<T: Send>(x1: &Array2<f32>, f: impl Fn(usize, ArrayView2<f32>) -> T + Sync) -> Vec<T> {
    x1.axis_chunks_iter(Axis(0), CHUNK)
        .into_par_iter()
        .enumerate()
        .map(|(c, chunk)| f(c * CHUNK, chunk))
        .collect()
}

/// Whether the selected sets (experts with positive weight) of two weight rows differ.
pub fn selection_differs(a: ndarray::ArrayView1<f32>, b: ndarray::ArrayView1<f32>) -> bool {
    a.iter().zip(b).any(|(&x, &y)| (x > 0.0) != (y > 0.0))
}

/// Euclidean norm of each row, in f64. Shape [n, d] -> n.
pub fn row_norms(x: ArrayView2<f32>) -> Vec<f64> {
    x.rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt())
        .collect()
}
