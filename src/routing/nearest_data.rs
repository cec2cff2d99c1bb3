//! `nearest_data`: alignment-aware routing without a learned router. At each step a sample goes to the k experts
//! whose own training data (the subsample the alignment analyses keep) is nearest to x0_hat, the clean estimate
//! of the combined prediction at the sample's previous step, with equal weights. A state that no step of this
//! policy led to (the first step, a stability probe) is routed by the router's renormalised top-k instead.
//!
//! It assumes the server holds a sketch of every expert's training data: a privacy cost that DDM's router,
//! trained on noised points, does not pay in that form.

use super::ExpertData;
use super::policy::{RouteState, RoutingPolicy, keep, ranked, top_k};
use crate::diffusion::{At, Objective, sampler};
use ndarray::{Array2, ArrayView2};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where a trajectory goes next: (step, the state's f32 bits).
type StateKey = (usize, Vec<u32>);

/// Routes by the distance of the previous step's x0_hat to each expert's training data.
pub struct NearestData {
    /// Experts per sample and step.
    pub k: usize,
    /// The experts' training data.
    pub data: Arc<ExpertData>,
    /// Turns a prediction into x0_hat and moves a state one sampler step.
    pub objective: Objective,
    /// The x0_hat of every state a step of this policy led to, by that state (exact bits) and its step.
    remembered: Mutex<HashMap<StateKey, Vec<f32>>>,
}

impl NearestData {
    /// The policy with nothing remembered yet.
    pub fn new(k: usize, data: Arc<ExpertData>, objective: Objective) -> Self {
        NearestData {
            k,
            data,
            objective,
            remembered: Mutex::new(HashMap::new()),
        }
    }

    /// The key of row `x` at `step`.
    fn key(step: usize, x: ndarray::ArrayView1<f32>) -> StateKey {
        (step, x.iter().map(|v| v.to_bits()).collect())
    }
}

impl RoutingPolicy for NearestData {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        let remembered = self
            .remembered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found: Vec<Option<&Vec<f32>>> = (state.x.rows().into_iter())
            .map(|row| remembered.get(&Self::key(state.at.step, row)))
            .collect();
        let mut w = top_k(state.probs, self.k, true);
        let rows: Vec<usize> = (0..found.len()).filter(|&i| found[i].is_some()).collect();
        if rows.is_empty() {
            return w;
        }
        let dim = state.x.ncols();
        let x0_hat = Array2::from_shape_fn((rows.len(), dim), |(r, c)| found[rows[r]].expect("kept")[c]);
        drop(remembered);
        let distance = self.data.knn_distance(x0_hat.view());
        let equal = Array2::from_elem((1, distance.ncols()), 1.0f32);
        for (r, &i) in rows.iter().enumerate() {
            // Nearest first: rank by negated distance (ties go to the lower expert id).
            let closeness = distance.row(r).mapv(|d| -d as f32);
            let order = ranked(closeness.view());
            w.row_mut(i).fill(0.0);
            keep(&mut w, i, equal.row(0), &order[..self.k.min(order.len())], true);
        }
        w
    }

    fn forget(&self) {
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *remembered = HashMap::new();
    }

    fn observe(&self, x: ArrayView2<f32>, at: At, combined: ArrayView2<f32>) {
        if at.steps == 0 || at.step + 1 >= at.steps {
            return;
        }
        let x0_hat = self.objective.x0_hat(x, combined, at.t);
        let mut next = x.to_owned();
        sampler::step(&self.objective, &mut next, &combined.to_owned(), at.step, at.steps);
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (state, estimate) in next.rows().into_iter().zip(x0_hat.rows()) {
            if estimate.iter().all(|v| v.is_finite()) {
                remembered.insert(Self::key(at.step + 1, state), estimate.to_vec());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::Rows;
    use crate::rng::{Stream, derive};
    use ndarray::array;

    /// Expert 0 holds points near (-5, 0), expert 1 near (5, 0); k = 1.
    fn policy() -> NearestData {
        let train = array![[-5.0f32, 0.0], [-5.0, 0.5], [5.0, 0.0], [5.0, 0.5]];
        let rows = [vec![0, 1], vec![2, 3]];
        let data = Arc::new(ExpertData::new(
            &train,
            &rows,
            10,
            1,
            &mut derive(0, Stream::Metrics, &[]),
        ));
        NearestData::new(1, data, Objective::Flow)
    }

    fn at(step: usize, t: f64) -> At {
        At {
            t,
            step,
            steps: 4,
            first_row: 0,
            rows: Rows::Samples,
        }
    }

    fn weights(p: &NearestData, x: &Array2<f32>, probs: &Array2<f32>, at: At) -> Array2<f32> {
        p.weights(&RouteState {
            probs: probs.view(),
            x: x.view(),
            at,
            predictions: None,
        })
    }

    #[test]
    fn the_first_step_follows_the_router_and_later_steps_the_previous_x0_hat() {
        let p = policy();
        let x = array![[2.0f32, 0.0], [-2.0, 0.0]];
        // The router prefers expert 0 for both rows.
        let probs = array![[0.8f32, 0.2], [0.7, 0.3]];
        assert_eq!(weights(&p, &x, &probs, at(0, 1.0)), array![[1.0, 0.0], [1.0, 0.0]]);
        // At t = 1 (flow) x0_hat = x - v: v = (-3, 0) puts row 0's x0_hat at (5, 0), expert 1's data; v = (3, 0)
        // puts row 1's at (-5, 0), expert 0's.
        let v = array![[-3.0f32, 0.0], [3.0, 0.0]];
        p.observe(x.view(), at(0, 1.0), v.view());
        // The next states (Euler with dt = 1/4): x - v / 4.
        let next = array![[2.75f32, 0.0], [-2.75, 0.0]];
        assert_eq!(weights(&p, &next, &probs, at(1, 0.75)), array![[0.0, 1.0], [1.0, 0.0]]);
        // A state no step led to (a probe), or the right state at another step, follows the router.
        let probe = array![[2.75f32, 0.001], [-2.75, 0.0]];
        assert_eq!(weights(&p, &probe, &probs, at(1, 0.75)), array![[1.0, 0.0], [1.0, 0.0]]);
        assert_eq!(weights(&p, &next, &probs, at(2, 0.5)), array![[1.0, 0.0], [1.0, 0.0]]);
    }

    #[test]
    fn k_nearest_experts_share_the_weight_equally() {
        let train = array![[-5.0f32, 0.0], [0.0, 0.0], [5.0, 0.0]];
        let rows = [vec![0], vec![1], vec![2]];
        let data = Arc::new(ExpertData::new(
            &train,
            &rows,
            10,
            1,
            &mut derive(0, Stream::Metrics, &[]),
        ));
        let p = NearestData::new(2, data, Objective::Flow);
        let x = array![[4.0f32, 0.0]];
        p.observe(x.view(), at(0, 1.0), array![[0.0f32, 0.0]].view());
        // x0_hat = (4, 0): nearest are expert 2 (1 away) and expert 1 (4 away).
        let probs = array![[0.9f32, 0.05, 0.05]];
        assert_eq!(
            weights(&p, &array![[4.0f32, 0.0]], &probs, at(1, 0.75)),
            array![[0.0, 0.5, 0.5]]
        );
    }
}
