//! A network on (x, t): the MLP applied to [x, sinusoidal embedding of t]; used by denoisers and the router.

use super::embedding::{embed_time, embed_time_at, frequencies};
use super::{Mlp, Scalar};
use ndarray::{Array1, Array2, ArrayView2, s};

/// Architecture of a time-conditioned MLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeNet {
    /// The MLP on [x, emb(t)].
    pub mlp: Mlp,
    /// Dimension of x.
    pub dim: usize,
    /// Size of the time embedding.
    pub embedding: usize,
}

impl TimeNet {
    /// A network with input x of `dim`, time embedding of `embedding`, the given hidden widths and `output`.
    pub fn new(dim: usize, embedding: usize, hidden: &[usize], output: usize, residual: bool) -> Self {
        TimeNet {
            mlp: Mlp::new(dim + embedding, hidden, output, residual),
            dim,
            embedding,
        }
    }

    /// The MLP's input [x, emb(t_i)] for per-row times `t`. Shapes: x [n, dim] -> [n, dim + embedding].
    pub fn input<F: Scalar>(&self, x: ArrayView2<F>, t: impl Fn(usize) -> f64) -> Array2<F> {
        let mut input = self.with_x(x);
        let freqs = frequencies(self.embedding);
        for i in 0..x.nrows() {
            embed_time_at(t(i), &freqs, input.slice_mut(s![i, self.dim..]));
        }
        input
    }

    /// Output for a batch at one common time `t`. Shapes: x [n, dim] -> [n, output].
    pub fn infer(&self, params: &[f32], x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        // One time for the whole batch: embed once and broadcast, instead of once per row.
        let mut emb = Array1::zeros(self.embedding);
        embed_time(t, emb.view_mut());
        let mut input = self.with_x(x);
        input.slice_mut(s![.., self.dim..]).assign(&emb);
        self.mlp.infer(params, input.view())
    }

    /// An input matrix [n, dim + embedding] holding x, with the embedding columns still zero.
    fn with_x<F: Scalar>(&self, x: ArrayView2<F>) -> Array2<F> {
        let mut input = Array2::zeros((x.nrows(), self.dim + self.embedding));
        input.slice_mut(s![.., ..self.dim]).assign(&x);
        input
    }
}
