//! Routing policies: map router probabilities to expert weights that sum to 1 (zero weight = not evaluated).
//! This file holds the trait and the paper's three policies: top-k, the full ensemble and the uniform average.

use crate::diffusion::At;
use ndarray::{Array2, ArrayView1, ArrayView2};

/// What a policy may look at to weight the experts for a batch.
pub struct RouteState<'a> {
    /// Router probabilities (uniform 1/E when the policy does not need the router). Shape [n, experts].
    pub probs: ArrayView2<'a, f32>,
    /// The current states x_t. Shape [n, dim].
    pub x: ArrayView2<'a, f32>,
    /// Time, step and row ids of the batch.
    pub at: At,
    /// Every expert's prediction on every row, when the policy asked for them ([`RoutingPolicy::needs_predictions`]).
    pub predictions: Option<&'a [Array2<f32>]>,
}

/// A rule turning router probabilities (and, for oracles, the experts' predictions) into mixture weights.
pub trait RoutingPolicy: Sync + Send {
    /// Whether the weights depend on the router (otherwise the router is not evaluated).
    fn needs_router(&self) -> bool;

    /// Whether the weights need every expert's prediction first (oracles); sparse evaluation is then lost.
    fn needs_predictions(&self) -> bool {
        false
    }

    /// Weights for each sample and expert; each row sums to 1 (raw top-k excepted). Shape [n, experts].
    fn weights(&self, state: &RouteState) -> Array2<f32>;

    /// Sees the mixture's final prediction `combined` at (x, at) after each evaluation (a policy that follows
    /// trajectories remembers where they go; the others ignore it).
    fn observe(&self, _x: ArrayView2<f32>, _at: At, _combined: ArrayView2<f32>) {}

    /// Drops whatever [`RoutingPolicy::observe`] kept (called once the policy's samples and analyses are done).
    fn forget(&self) {}
}

/// Expert ids of `row` by decreasing probability; ties go to the lower id.
pub(super) fn ranked(row: ArrayView1<f32>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    order
}

/// Sets `w[i, j] = p_ij / sum` for the experts `kept` of row i (or the raw p_ij when `renormalize` is false).
pub(super) fn keep(w: &mut Array2<f32>, i: usize, row: ArrayView1<f32>, kept: &[usize], renormalize: bool) {
    let mass: f32 = kept.iter().map(|&j| row[j]).sum();
    for &j in kept {
        w[[i, j]] = if renormalize && mass > 0.0 {
            row[j] / mass
        } else {
            row[j]
        };
    }
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

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        top_k(state.probs, self.k, self.renormalize)
    }
}

/// The k most probable experts of every row of `probs`, renormalised or raw.
pub(super) fn top_k(probs: ArrayView2<f32>, k: usize, renormalize: bool) -> Array2<f32> {
    let mut w = Array2::zeros(probs.raw_dim());
    for (i, row) in probs.rows().into_iter().enumerate() {
        let order = ranked(row);
        keep(&mut w, i, row, &order[..k.min(row.len())], renormalize);
    }
    w
}

/// All experts weighted by the router (DDM's full ensemble).
#[derive(Debug, Clone, Copy)]
pub struct Full;

impl RoutingPolicy for Full {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        state.probs.to_owned()
    }
}

/// All experts with weight 1/E (naive averaging).
#[derive(Debug, Clone, Copy)]
pub struct Uniform;

impl RoutingPolicy for Uniform {
    fn needs_router(&self) -> bool {
        false
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        Array2::from_elem(state.probs.raw_dim(), 1.0 / state.probs.ncols() as f32)
    }
}

/// Weights of `policy` for router probabilities `p` at time `t` (a test helper: no states, no predictions).
#[cfg(test)]
pub(super) fn weights_of(policy: &dyn RoutingPolicy, p: &Array2<f32>, t: f64) -> Array2<f32> {
    let x = Array2::zeros((p.nrows(), 1));
    policy.weights(&RouteState {
        probs: p.view(),
        x: x.view(),
        at: At::time(t),
        predictions: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn top_k_keeps_the_largest_and_renormalises() {
        let p = array![[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]];
        let two = TopK {
            k: 2,
            renormalize: true,
        };
        let w = weights_of(&two, &p, 0.5);
        assert!((w[[0, 1]] - 0.6 / 0.9).abs() < 1e-6 && (w[[0, 2]] - 0.3 / 0.9).abs() < 1e-6 && w[[0, 0]] == 0.0);
        assert!((w[[1, 0]] - 0.5 / 0.8).abs() < 1e-6 && w[[1, 1]] == 0.0);
        let one_raw = TopK {
            k: 1,
            renormalize: false,
        };
        let raw = weights_of(&one_raw, &p, 0.5);
        assert_eq!(raw, array![[0.0, 0.6, 0.0], [0.5, 0.0, 0.0]]);
    }

    #[test]
    fn full_and_uniform_weights_sum_to_one() {
        let p = array![[0.2, 0.8]];
        assert_eq!(weights_of(&Full, &p, 0.5), p);
        assert_eq!(weights_of(&Uniform, &p, 0.5), array![[0.5, 0.5]]);
    }
}
