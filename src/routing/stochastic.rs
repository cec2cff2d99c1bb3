//! Stochastic policies: one expert drawn from the router's distribution, or k experts uniformly at random.
//!
//! Every draw comes from a stream keyed by (root seed, policy, step, global row id), so a sample's draws do not
//! depend on chunking or threads, and a perturbed copy of a sample sees the same uniform numbers.

use super::policy::{RouteState, RoutingPolicy};
use crate::rng::{Rng, Stream, derive};
use ndarray::Array2;
use rand::Rng as _;
use rand::seq::index;

/// The stream of row `row` (a batch-local index) at the state's step.
fn row_rng(seed: u64, tag: u64, state: &RouteState, row: usize) -> Rng {
    let global = (state.at.first_row + row) as u64;
    derive(seed, Stream::Routing, &[tag, state.at.step as u64, global])
}

/// One expert per sample and step, drawn with probability p_j (weight 1).
#[derive(Debug, Clone, Copy)]
pub struct SampleOne {
    /// Root seed of the run.
    pub seed: u64,
    /// Distinguishes this policy's draws from other stochastic policies of the same run.
    pub tag: u64,
}

impl RoutingPolicy for SampleOne {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        let mut w = Array2::zeros(state.probs.raw_dim());
        for (i, row) in state.probs.rows().into_iter().enumerate() {
            let u: f32 = row_rng(self.seed, self.tag, state, i).random::<f32>() * row.sum();
            // Inverse CDF; rounding leftovers fall to the last expert with positive probability.
            let mut cumulative = 0.0;
            let mut chosen = (0..row.len()).rev().find(|&j| row[j] > 0.0).unwrap_or(0);
            for (j, &p) in row.iter().enumerate() {
                cumulative += p;
                if u < cumulative {
                    chosen = j;
                    break;
                }
            }
            w[[i, chosen]] = 1.0;
        }
        w
    }
}

/// k distinct experts uniformly at random per sample and step, each with weight 1/k (ignores the router).
#[derive(Debug, Clone, Copy)]
pub struct RandomK {
    /// Experts per sample and step.
    pub k: usize,
    /// Root seed of the run.
    pub seed: u64,
    /// Distinguishes this policy's draws from other stochastic policies of the same run.
    pub tag: u64,
}

impl RoutingPolicy for RandomK {
    fn needs_router(&self) -> bool {
        false
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        let experts = state.probs.ncols();
        let k = self.k.min(experts);
        let mut w = Array2::zeros(state.probs.raw_dim());
        for i in 0..state.probs.nrows() {
            for j in index::sample(&mut row_rng(self.seed, self.tag, state, i), experts, k) {
                w[[i, j]] = 1.0 / k as f32;
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::At;
    use ndarray::array;

    fn state<'a>(p: &'a Array2<f32>, x: &'a Array2<f32>, step: usize, first_row: usize) -> RouteState<'a> {
        RouteState {
            probs: p.view(),
            x: x.view(),
            at: At {
                t: 0.5,
                step,
                steps: 10,
                first_row,
                rows: crate::diffusion::Rows::Samples,
            },
            predictions: None,
        }
    }

    #[test]
    fn sampled_expert_frequencies_follow_the_router() {
        let n = 20000;
        let p = Array2::from_shape_fn((n, 3), |(_, j)| [0.2f32, 0.5, 0.3][j]);
        let x = Array2::zeros((n, 1));
        let w = SampleOne { seed: 3, tag: 0 }.weights(&state(&p, &x, 4, 0));
        for (j, want) in [0.2, 0.5, 0.3].into_iter().enumerate() {
            let share = w.column(j).sum() / n as f32;
            // Binomial standard error is at most 0.0036 here; 4 standard errors.
            assert!((share - want).abs() < 0.015, "expert {j}: {share} vs {want}");
        }
        assert!(w.rows().into_iter().all(|r| r.sum() == 1.0));
    }

    #[test]
    fn draws_depend_on_the_global_row_not_the_batch() {
        let p = Array2::from_elem((8, 4), 0.25f32);
        let x = Array2::zeros((8, 1));
        let policy = RandomK { k: 2, seed: 9, tag: 1 };
        let whole = policy.weights(&state(&p, &x, 2, 100));
        let tail_p = p.slice(ndarray::s![4.., ..]).to_owned();
        let tail_x = x.slice(ndarray::s![4.., ..]).to_owned();
        let tail = policy.weights(&state(&tail_p, &tail_x, 2, 104));
        assert_eq!(whole.slice(ndarray::s![4.., ..]), tail);
        assert!(
            whole
                .rows()
                .into_iter()
                .all(|r| r.iter().filter(|&&v| v == 0.5).count() == 2)
        );
        let next_step = policy.weights(&state(&p, &x, 3, 100));
        assert_ne!(whole, next_step);
        let one = SampleOne { seed: 9, tag: 1 };
        let q = array![[0.0f32, 1.0, 0.0, 0.0]];
        let xq = Array2::zeros((1, 1));
        assert_eq!(
            one.weights(&state(&q, &xq, 0, 0)).row(0).to_vec(),
            vec![0.0, 1.0, 0.0, 0.0]
        );
    }
}
