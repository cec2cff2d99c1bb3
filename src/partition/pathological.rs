//! Pathological partition (Flower's `PathologicalPartitioner`, first-deterministic mode): each client holds exactly
//! `clusters_per_client` clusters, and each cluster's points are split evenly among the clients holding it.

use crate::error::{Error, Result};
use crate::rng::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

/// Client i first gets cluster i mod k, then distinct random others.
pub fn pathological(
    cluster: &[usize],
    k: usize,
    clients: usize,
    clusters_per_client: usize,
    rng: &mut Rng,
) -> Result<Vec<Vec<usize>>> {
    if clusters_per_client > k {
        return Err(Error::invalid(
            "clients.partition.clusters_per_client",
            format!("must be <= the number of clusters ({k}), got {clusters_per_client}"),
        ));
    }
    let mut holds: Vec<Vec<usize>> = Vec::with_capacity(clients);
    for i in 0..clients {
        let first = i % k;
        let others: Vec<usize> = (0..k).filter(|&c| c != first).collect();
        let mut chosen = vec![first];
        chosen.extend(others.choose_multiple(rng, clusters_per_client - 1).copied());
        holds.push(chosen);
    }
    let mut parts: Vec<Vec<usize>> = crate::alloc::filled(clients, Vec::new(), "clients.count")?;
    for c in 0..k {
        let mut members: Vec<usize> = (0..cluster.len()).filter(|&i| cluster[i] == c).collect();
        members.shuffle(rng);
        let holders: Vec<usize> = (0..clients).filter(|&i| holds[i].contains(&c)).collect();
        if holders.is_empty() {
            continue;
        }
        let (base, extra) = (members.len() / holders.len(), members.len() % holders.len());
        let mut start = 0;
        for (h, &client) in holders.iter().enumerate() {
            let size = base + usize::from(h < extra);
            parts[client].extend_from_slice(&members[start..start + size]);
            start += size;
        }
    }
    for part in &mut parts {
        part.shuffle(rng);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use crate::rng::{Stream, derive};

    #[test]
    fn each_client_holds_exactly_the_asked_number_of_clusters() {
        let c: Vec<usize> = (0..1000).map(|i| i % 5).collect();
        let parts = super::pathological(&c, 5, 12, 2, &mut derive(0, Stream::Partition, &[])).unwrap();
        for p in &parts {
            let mut held: Vec<usize> = p.iter().map(|&i| c[i]).collect();
            held.sort();
            held.dedup();
            assert_eq!(held.len(), 2);
        }
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 1000);
    }
}
