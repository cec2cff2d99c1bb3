//! The oracle: per sample and step, the one expert whose training data is nearest to the current x0_hat.
//! Not deployable (it looks at every expert's training data); it bounds what alignment-aware routing could reach.

use super::ExpertData;
use super::policy::{RouteState, RoutingPolicy};
use crate::diffusion::Objective;
use ndarray::Array2;
use std::sync::Arc;

/// Routes to the expert with the smallest k-NN distance from its training data to x0_hat, where x0_hat is
/// predicted by the router-weighted full ensemble at the current state (the best estimate available before
/// choosing).
#[derive(Debug, Clone)]
pub struct Oracle {
    /// The experts' training data.
    pub data: Arc<ExpertData>,
    /// Turns a prediction into x0_hat.
    pub objective: Objective,
}

impl RoutingPolicy for Oracle {
    fn needs_router(&self) -> bool {
        true
    }

    fn needs_predictions(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        let predictions = state.predictions.expect("the oracle asks for every prediction");
        let mut full = Array2::zeros(state.x.raw_dim());
        for (j, pred) in predictions.iter().enumerate() {
            for (mut out, (p, w)) in full
                .rows_mut()
                .into_iter()
                .zip(pred.rows().into_iter().zip(state.probs.column(j)))
            {
                out.scaled_add(*w, &p);
            }
        }
        let x0_hat = self.objective.x0_hat(state.x, full.view(), state.at.t);
        let distance = self.data.knn_distance(x0_hat.view());
        let mut w = Array2::zeros(state.probs.raw_dim());
        for (i, row) in distance.rows().into_iter().enumerate() {
            let nearest = (0..row.len()).fold(0, |best, j| if row[j] < row[best] { j } else { best });
            w[[i, nearest]] = 1.0;
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::At;
    use crate::rng::{Stream, derive};
    use ndarray::array;

    #[test]
    fn oracle_picks_the_expert_whose_data_holds_x0_hat() {
        // Expert 0 holds points near (-5, 0), expert 1 near (5, 0).
        let train = array![[-5.0f32, 0.0], [-5.0, 0.5], [5.0, 0.0], [5.0, 0.5]];
        let data = Arc::new(ExpertData::new(
            &train,
            &[vec![0, 1], vec![2, 3]],
            10,
            1,
            &mut derive(0, Stream::Metrics, &[]),
        ));
        let oracle = Oracle {
            data,
            objective: Objective::Flow,
        };
        // At t = 0.5 with velocity v, x0_hat = x - 0.5 v. Both experts predict v = 2 (x - c) for target c = (4, 0),
        // so x0_hat = c for the first row; the second row's predictions point to (-4, 0).
        let x = array![[2.0f32, 0.0], [-2.0, 0.0]];
        let v = array![[-4.0f32, 0.0], [4.0, 0.0]];
        let predictions = [v.clone(), v];
        let probs = array![[0.9f32, 0.1], [0.1, 0.9]];
        let w = oracle.weights(&RouteState {
            probs: probs.view(),
            x: x.view(),
            at: At::time(0.5),
            predictions: Some(&predictions),
        });
        assert_eq!(w, array![[0.0, 1.0], [1.0, 0.0]]);
    }
}
