//! Grouping of clients into experts: by majority cluster (aligned experts) or at random (the control).

use crate::rng::Rng;
use crate::scenario::Grouping;
use rand::Rng as _;

/// One expert: the clients that train it and, for majority grouping, the cluster it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertGroup {
    /// Cluster whose majority clients form this expert (`None` for random grouping).
    pub cluster: Option<usize>,
    /// Ids of the member clients, ascending.
    pub clients: Vec<usize>,
}

/// The experts that have clients, and what was dropped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertGroups {
    /// Experts with at least one client, renumbered 0..E.
    pub experts: Vec<ExpertGroup>,
    /// Candidate experts (cluster ids, or random slots) that got no client and were dropped.
    pub dropped: Vec<usize>,
    /// Clients that hold no data and so join no expert.
    pub idle_clients: Vec<usize>,
}

impl ExpertGroups {
    /// The clients out of `clients` that hold data (all but the idle ones), ascending; linear in the clients.
    pub fn active_clients(&self, clients: usize) -> Vec<usize> {
        let mut idle = vec![false; clients];
        self.idle_clients.iter().for_each(|&c| idle[c] = true);
        (0..clients).filter(|&c| !idle[c]).collect()
    }

    /// Expert id of every client (`None` for idle clients).
    pub fn expert_of_client(&self, clients: usize) -> Vec<Option<usize>> {
        let mut of = vec![None; clients];
        for (e, g) in self.experts.iter().enumerate() {
            for &c in &g.clients {
                of[c] = Some(e);
            }
        }
        of
    }
}

/// Groups clients (given as their per-cluster counts) into experts.
pub fn group(counts: &[Vec<usize>], k: usize, grouping: Grouping, rng: &mut Rng) -> ExpertGroups {
    let mut slots: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut idle_clients = Vec::new();
    for (client, row) in counts.iter().enumerate() {
        if row.iter().sum::<usize>() == 0 {
            idle_clients.push(client);
            continue;
        }
        let slot = match grouping {
            // Ties go to the lowest cluster id, so grouping is deterministic.
            Grouping::Majority => (0..k).fold(0, |best, c| if row[c] > row[best] { c } else { best }),
            Grouping::Random => rng.random_range(0..k),
        };
        slots[slot].push(client);
    }
    let mut experts = Vec::new();
    let mut dropped = Vec::new();
    for (slot, clients) in slots.into_iter().enumerate() {
        if clients.is_empty() {
            dropped.push(slot);
        } else {
            experts.push(ExpertGroup {
                cluster: (grouping == Grouping::Majority).then_some(slot),
                clients,
            });
        }
    }
    ExpertGroups {
        experts,
        dropped,
        idle_clients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    #[test]
    fn majority_grouping_follows_the_largest_cluster_and_drops_empty_experts() {
        let counts = vec![vec![5, 1, 0], vec![0, 2, 0], vec![3, 3, 0], vec![0, 0, 0]];
        let g = group(&counts, 3, Grouping::Majority, &mut derive(0, Stream::Grouping, &[]));
        assert_eq!(g.experts.len(), 2);
        assert_eq!(g.experts[0].clients, vec![0, 2]);
        assert_eq!(g.experts[0].cluster, Some(0));
        assert_eq!(g.experts[1].clients, vec![1]);
        assert_eq!(g.dropped, vec![2]);
        assert_eq!(g.idle_clients, vec![3]);
        assert_eq!(g.expert_of_client(4), vec![Some(0), Some(1), Some(0), None]);
        assert_eq!(g.active_clients(4), vec![0, 1, 2]);
    }
}
