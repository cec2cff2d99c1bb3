//! Who misbehaves: the run's fixed, seeded sets of Byzantine clients and stragglers (by client id, over the
//! clients that hold data), and the points a `data_swap` attacker trains on instead of its own.
//!
//! The sets are recorded in `run.json`; the server never uses them (it sees only updates).

use super::ExpertGroups;
use crate::error::{Error, Result};
use crate::rng::{Stream, derive};
use crate::scenario::{AttackKind, FaultsConfig};
use rand::Rng as _;

/// Stream tags of the roster's draws under [`Stream::Faults`] (the round loop's draws use 1 to 6).
const BYZANTINE: u64 = 101;
const STRAGGLERS: u64 = 102;
const SWAP: u64 = 103;

/// The run's misbehaving clients.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Roster {
    /// Byzantine client ids, ascending.
    pub byzantine: Vec<usize>,
    /// Straggler client ids, ascending.
    pub stragglers: Vec<usize>,
    /// Under `data_swap`: each Byzantine client's cluster it trains on and the points it trains on (as many as
    /// it holds, from that cluster).
    pub swapped: Vec<Swap>,
}

/// One data_swap attacker's poisoned data.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Swap {
    /// The client.
    pub client: usize,
    /// The cluster whose points it trains on (not the cluster most of its own points come from).
    pub cluster: usize,
    /// Those points (rows of the training split), ascending.
    #[serde(skip)]
    pub rows: Vec<usize>,
}

impl Roster {
    /// Flags by client id for `clients` clients.
    pub fn flags(ids: &[usize], clients: usize) -> Vec<bool> {
        let mut flags = vec![false; if ids.is_empty() { 0 } else { clients }];
        ids.iter().for_each(|&c| flags[c] = true);
        flags
    }

    /// The rows each client trains its denoisers on: its own, or a data_swap attacker's poisoned points
    /// (borrowed, not copied: a cross-device federation's parts hold all the training rows).
    pub fn denoiser_parts<'a>(&'a self, parts: &'a [Vec<usize>]) -> Vec<&'a [usize]> {
        let mut out: Vec<&[usize]> = parts.iter().map(Vec::as_slice).collect();
        for swap in &self.swapped {
            out[swap.client] = &swap.rows;
        }
        out
    }
}

/// Draws the roster of `faults` over the clients `parts` (rows of the training split whose clusters are
/// `assignment`, `k` clusters), grouped into experts by `groups`.
pub fn roster(
    faults: &FaultsConfig,
    (parts, groups): (&[Vec<usize>], &ExpertGroups),
    (assignment, k): (&[usize], usize),
    seed: u64,
) -> Result<Roster> {
    let active = groups.active_clients(parts.len());
    let b = &faults.byzantine;
    let candidates: Vec<usize> = if b.experts.is_empty() {
        active.clone()
    } else {
        for &e in &b.experts {
            if e >= groups.experts.len() {
                return Err(Error::invalid(
                    "faults.byzantine.experts",
                    format!(
                        "expert {e} does not exist: the run has {} experts",
                        groups.experts.len()
                    ),
                ));
            }
        }
        let mut ids: Vec<usize> = b
            .experts
            .iter()
            .flat_map(|&e| groups.experts[e].clients.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let byzantine = fixed_share(&candidates, b.fraction, seed, BYZANTINE);
    let stragglers = fixed_share(&active, faults.stragglers.fraction, seed, STRAGGLERS);
    let swapped = if b.kind == AttackKind::DataSwap {
        byzantine
            .iter()
            .map(|&c| swap(c, &parts[c], assignment, k, seed))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    Ok(Roster {
        byzantine,
        stragglers,
        swapped,
    })
}

/// round(`fraction` n) of the n `ids`, drawn without replacement from the stream tagged `what`, ascending.
fn fixed_share(ids: &[usize], fraction: f64, seed: u64, what: u64) -> Vec<usize> {
    let count = ((fraction * ids.len() as f64).round() as usize).min(ids.len());
    let rng = &mut derive(seed, Stream::Faults, &[what]);
    let mut chosen: Vec<usize> = rand::seq::index::sample(rng, ids.len(), count)
        .into_iter()
        .map(|i| ids[i])
        .collect();
    chosen.sort_unstable();
    chosen
}

/// Client `client`'s poisoned data: as many points as its `rows`, drawn without replacement (with, when the
/// cluster is smaller) from a seeded cluster other than its most common one.
fn swap(client: usize, rows: &[usize], assignment: &[usize], k: usize, seed: u64) -> Result<Swap> {
    let mut held = vec![0usize; k];
    rows.iter().for_each(|&i| held[assignment[i]] += 1);
    let own = (0..k).max_by_key(|&j| (held[j], std::cmp::Reverse(j))).unwrap_or(0);
    let others: Vec<usize> = (0..k).filter(|&j| j != own && assignment.contains(&j)).collect();
    if others.is_empty() {
        return Err(Error::invalid(
            "faults.byzantine.kind",
            "data_swap needs a second cluster to swap in; the training data has one",
        ));
    }
    let rng = &mut derive(seed, Stream::Faults, &[SWAP, client as u64]);
    let cluster = others[rng.random_range(0..others.len())];
    let pool: Vec<usize> = (0..assignment.len()).filter(|&i| assignment[i] == cluster).collect();
    let mut chosen: Vec<usize> = if pool.len() >= rows.len() {
        rand::seq::index::sample(rng, pool.len(), rows.len())
            .into_iter()
            .map(|i| pool[i])
            .collect()
    } else {
        (0..rows.len()).map(|_| pool[rng.random_range(0..pool.len())]).collect()
    };
    chosen.sort_unstable();
    Ok(Swap {
        client,
        cluster,
        rows: chosen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::ExpertGroup;

    fn groups(experts: &[&[usize]], idle: &[usize]) -> ExpertGroups {
        ExpertGroups {
            experts: experts
                .iter()
                .map(|c| ExpertGroup {
                    cluster: None,
                    clients: c.to_vec(),
                })
                .collect(),
            dropped: Vec::new(),
            idle_clients: idle.to_vec(),
        }
    }

    #[test]
    fn the_sets_are_fixed_seeded_and_of_the_asked_size() {
        let parts: Vec<Vec<usize>> = (0..10).map(|c| vec![c]).collect();
        let g = groups(&[&[0, 1, 2, 3, 4], &[5, 6, 7, 8]], &[9]);
        let mut faults = FaultsConfig::default();
        faults.byzantine.fraction = 0.2;
        faults.stragglers.fraction = 0.5;
        let assignment = vec![0; 10];
        let r = roster(&faults, (&parts, &g), (&assignment, 1), 3).unwrap();
        assert_eq!(r.byzantine.len(), 2, "0.2 of the 9 clients with data");
        assert_eq!(r.stragglers.len(), 5);
        assert!(
            !r.byzantine.contains(&9) && !r.stragglers.contains(&9),
            "idle client 9 never trains"
        );
        assert_eq!(r, roster(&faults, (&parts, &g), (&assignment, 1), 3).unwrap());
        let others: Vec<Roster> = (4..12)
            .map(|s| roster(&faults, (&parts, &g), (&assignment, 1), s).unwrap())
            .collect();
        assert!(others.iter().any(|o| o.byzantine != r.byzantine), "the seed picks them");
        faults.byzantine.experts = vec![1];
        let r = roster(&faults, (&parts, &g), (&assignment, 1), 3).unwrap();
        assert!(r.byzantine.iter().all(|c| (5..=8).contains(c)) && r.byzantine.len() == 1);
        faults.byzantine.experts = vec![2];
        let e = roster(&faults, (&parts, &g), (&assignment, 1), 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("faults.byzantine.experts"), "{e}");
    }

    #[test]
    fn a_data_swap_attacker_trains_on_as_many_points_of_another_cluster() {
        // Clusters 0 (rows 0..6) and 1 (rows 6..10); client 0 holds cluster-0 points.
        let assignment = vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
        let parts = vec![vec![0, 1, 2], vec![6, 7]];
        let g = groups(&[&[0], &[1]], &[]);
        let mut faults = FaultsConfig::default();
        faults.byzantine.fraction = 1.0;
        faults.byzantine.kind = AttackKind::DataSwap;
        let r = roster(&faults, (&parts, &g), (&assignment, 2), 0).unwrap();
        assert_eq!(r.swapped[0].cluster, 1);
        assert_eq!(r.swapped[0].rows.len(), 3);
        assert!(r.swapped[0].rows.iter().all(|&i| assignment[i] == 1));
        assert_eq!(r.swapped[1].cluster, 0);
        let poisoned = r.denoiser_parts(&parts);
        assert_eq!(poisoned[0], r.swapped[0].rows);
        assert_eq!(poisoned[1], r.swapped[1].rows);
    }
}
