//! Routing policies: map router probabilities to expert weights that sum to 1 (zero weight = not evaluated).

use ndarray::{Array2, ArrayView2};

/// A rule turning router probabilities into mixture weights, row by row.
pub trait RoutingPolicy: Sync + Send {
    /// Whether the weights depend on the router (otherwise the router is not evaluated).
    fn needs_router(&self) -> bool;

    /// Weights for each sample and expert. Shapes: probs [n, experts] -> [n, experts].
    fn weights(&self, probs: ArrayView2<f32>) -> Array2<f32>;
}

/// The k most probable experts; renormalised to sum to 1, or raw probabilities.
#[derive(Debug, Clone, Copy)]
pub struct TopK {
    /// Experts kept per sample.
    pub k: usize,
    /// Rescale the kept probabilities to sum to 1.
    pub renormalize: bool,
}

impl RoutingPolicy for TopK {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, probs: ArrayView2<f32>) -> Array2<f32> {
        let mut w = Array2::zeros(probs.raw_dim());
        let mut kept: Vec<usize> = Vec::with_capacity(self.k);
        for (i, row) in probs.rows().into_iter().enumerate() {
            // k passes of argmax (k is small); ties go to the lower expert id.
            kept.clear();
            for _ in 0..self.k.min(row.len()) {
                let best = (0..row.len())
                    .filter(|j| !kept.contains(j))
                    .fold(None, |best: Option<usize>, j| match best {
                        Some(b) if row[b] >= row[j] => Some(b),
                        _ => Some(j),
                    })
                    .expect("k <= number of experts");
                kept.push(best);
            }
            let mass: f32 = kept.iter().map(|&j| row[j]).sum();
            for &j in &kept {
                w[[i, j]] = if self.renormalize && mass > 0.0 {
                    row[j] / mass
                } else {
                    row[j]
                };
            }
        }
        w
    }
}

/// All experts weighted by the router (DDM's full ensemble).
#[derive(Debug, Clone, Copy)]
pub struct Full;

impl RoutingPolicy for Full {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, probs: ArrayView2<f32>) -> Array2<f32> {
        probs.to_owned()
    }
}

/// All experts with weight 1/E (naive averaging).
#[derive(Debug, Clone, Copy)]
pub struct Uniform;

impl RoutingPolicy for Uniform {
    fn needs_router(&self) -> bool {
        false
    }

    fn weights(&self, probs: ArrayView2<f32>) -> Array2<f32> {
        Array2::from_elem(probs.raw_dim(), 1.0 / probs.ncols() as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn top_k_keeps_the_largest_and_renormalises() {
        let p = array![[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]];
        let w = TopK {
            k: 2,
            renormalize: true,
        }
        .weights(p.view());
        assert!((w[[0, 1]] - 0.6 / 0.9).abs() < 1e-6 && (w[[0, 2]] - 0.3 / 0.9).abs() < 1e-6 && w[[0, 0]] == 0.0);
        assert!((w[[1, 0]] - 0.5 / 0.8).abs() < 1e-6 && w[[1, 1]] == 0.0);
        let raw = TopK {
            k: 1,
            renormalize: false,
        }
        .weights(p.view());
        assert_eq!(raw, array![[0.0, 0.6, 0.0], [0.5, 0.0, 0.0]]);
    }

    #[test]
    fn full_and_uniform_weights_sum_to_one() {
        let p = array![[0.2, 0.8]];
        assert_eq!(Full.weights(p.view()), p);
        assert_eq!(Uniform.weights(p.view()), array![[0.5, 0.5]]);
    }
}
