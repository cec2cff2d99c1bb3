//! Adaptive sparse policies: a probability threshold, a probability-mass (nucleus) cut, and k as a function of t.

use super::policy::{RouteState, RoutingPolicy, keep, ranked, top_k};
use ndarray::Array2;

/// Experts with p_j >= `p_min`, renormalised; the most probable expert is always kept.
#[derive(Debug, Clone, Copy)]
pub struct Threshold {
    /// Smallest router probability that keeps an expert.
    pub p_min: f32,
}

impl RoutingPolicy for Threshold {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        let mut w = Array2::zeros(state.probs.raw_dim());
        for (i, row) in state.probs.rows().into_iter().enumerate() {
            let order = ranked(row);
            let kept: Vec<usize> = order
                .iter()
                .enumerate()
                .filter(|&(rank, &j)| rank == 0 || row[j] >= self.p_min)
                .map(|(_, &j)| j)
                .collect();
            keep(&mut w, i, row, &kept, true);
        }
        w
    }
}

/// The smallest set of most probable experts whose probability mass reaches `p`, renormalised.
#[derive(Debug, Clone, Copy)]
pub struct TopP {
    /// Probability mass to reach.
    pub p: f32,
}

impl RoutingPolicy for TopP {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        let mut w = Array2::zeros(state.probs.raw_dim());
        for (i, row) in state.probs.rows().into_iter().enumerate() {
            let mut kept = Vec::new();
            let mut mass = 0.0f32;
            for j in ranked(row) {
                kept.push(j);
                mass += row[j];
                if mass >= self.p {
                    break;
                }
            }
            keep(&mut w, i, row, &kept, true);
        }
        w
    }
}

/// Renormalised top-k with k chosen by the time: the first stage whose `t_min` is at or below t applies.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// (t_min, k) by decreasing t_min; the last t_min is 0.
    pub stages: Vec<(f64, usize)>,
}

impl Schedule {
    /// The k used at network time `t`.
    pub fn k_at(&self, t: f64) -> usize {
        self.stages
            .iter()
            .find(|&&(t_min, _)| t >= t_min)
            .or(self.stages.last())
            .map(|&(_, k)| k)
            .expect("a schedule has at least one stage")
    }
}

impl RoutingPolicy for Schedule {
    fn needs_router(&self) -> bool {
        true
    }

    fn weights(&self, state: &RouteState) -> Array2<f32> {
        top_k(state.probs, self.k_at(state.at.t), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::policy::weights_of;
    use ndarray::array;

    #[test]
    fn threshold_keeps_probable_experts_and_at_least_the_top_one() {
        let p = array![[0.05, 0.55, 0.4], [0.3, 0.35, 0.35]];
        let w = weights_of(&Threshold { p_min: 0.36 }, &p, 0.5);
        // Row 0 keeps expert 1 and 2; row 1 keeps none above 0.36, so only its top expert (1: ties to the lower id).
        assert!((w[[0, 1]] - 0.55 / 0.95).abs() < 1e-6 && (w[[0, 2]] - 0.4 / 0.95).abs() < 1e-6 && w[[0, 0]] == 0.0);
        assert_eq!(w.row(1).to_vec(), vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn top_p_takes_the_smallest_set_reaching_the_mass() {
        let p = array![[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]];
        let w = weights_of(&TopP { p: 0.55 }, &p, 0.5);
        assert_eq!(w.row(0).to_vec(), vec![0.0, 1.0, 0.0]);
        assert!((w[[1, 0]] - 0.5 / 0.8).abs() < 1e-6 && (w[[1, 2]] - 0.3 / 0.8).abs() < 1e-6 && w[[1, 1]] == 0.0);
        let all = weights_of(&TopP { p: 1.0 }, &p, 0.5);
        assert!((all.sum() - 2.0).abs() < 1e-5 && all.iter().all(|&v| v > 0.0));
    }

    #[test]
    fn schedule_switches_k_with_time() {
        let s = Schedule {
            stages: vec![(0.6, 3), (0.2, 2), (0.0, 1)],
        };
        assert_eq!(
            (s.k_at(1.0), s.k_at(0.6), s.k_at(0.59), s.k_at(0.2), s.k_at(0.0)),
            (3, 3, 2, 2, 1)
        );
        let p = array![[0.2, 0.5, 0.3]];
        assert_eq!(weights_of(&s, &p, 0.1).row(0).to_vec(), vec![0.0, 1.0, 0.0]);
        assert!(weights_of(&s, &p, 0.9).iter().all(|&v| v > 0.0));
    }
}
