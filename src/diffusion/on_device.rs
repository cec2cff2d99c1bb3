//! Networks held by a device (the `gpu` feature's GPU) for sampling: the sampler's denoiser calls run there, on
//! weights uploaded once, instead of on the CPU.

use super::{At, Denoiser};
use ndarray::{Array2, ArrayView2};

/// Time-conditioned networks (architecture and weights) resident on a device, in the order they were loaded.
pub trait LoadedNets: Sync {
    /// Net `net`'s output for every row of `x` at network time `t`. Shapes: x [n, dim] -> [n, output].
    /// Panics if the device is lost.
    fn forward(&self, net: usize, x: ArrayView2<f32>, t: f64) -> Array2<f32>;

    /// The routed combination sum_j weights[i, j] net_j(x_i, t) over nets j < weights.ncols(), added in net
    /// order; each net runs only on the rows that give it positive weight. Shapes: x [n, dim], weights
    /// [n, nets] -> [n, output]. Panics if the device is lost.
    fn combine(&self, x: ArrayView2<f32>, t: f64, weights: ArrayView2<f32>) -> Array2<f32>;
}

/// One loaded net as a [`Denoiser`] (the monolith when sampling on a device).
pub struct DeviceDenoiser<'a> {
    /// The loaded nets.
    pub nets: &'a dyn LoadedNets,
    /// Which of them.
    pub index: usize,
}

impl Denoiser for DeviceDenoiser<'_> {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        self.nets.forward(self.index, x, at.t)
    }

    /// The whole set in one device call: rows are independent, so this equals the chunked default row for row.
    fn predict_all(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        self.predict(x, at)
    }
}
