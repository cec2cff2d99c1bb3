//! Who is online in a round: the availability model, and the spans in which a model's whole group is offline.

use super::{Draw, Faults, draw};
use crate::federated::Client;
use crate::scenario::AvailabilityConfig;
use rand::Rng as _;
use rand_distr::{Beta, Distribution};

impl Faults {
    /// The indices (into `clients`) of the clients online in `round`, in order: all of them unless an outage
    /// covers the round or the availability model takes some offline. Availability is a property of the client
    /// (the same for every model it trains), so its draws are keyed by client id and round only.
    pub fn online(&self, seed: u64, round: usize, clients: &[Client]) -> Vec<usize> {
        if self.outages.iter().any(|&(from, to)| (from..=to).contains(&round)) {
            return Vec::new();
        }
        (0..clients.len())
            .filter(|&c| is_online(&self.availability, seed, round, clients[c].id))
            .collect()
    }
}

/// Whether client `id` is online in `round` under `availability`.
fn is_online(availability: &AvailabilityConfig, seed: u64, round: usize, id: usize) -> bool {
    match *availability {
        AvailabilityConfig::Always => true,
        AvailabilityConfig::Bernoulli { mean, concentration } => {
            let p = client_availability(seed, id, mean, concentration);
            draw(seed, Draw::Online, &[round as u64, id as u64]).random::<f64>() < p
        }
        AvailabilityConfig::Diurnal {
            period,
            online_fraction,
        } => {
            let phase: f64 = draw(seed, Draw::Phase, &[id as u64]).random::<f64>() * period as f64;
            let position = ((round - 1) as f64 + phase) % period as f64;
            position < online_fraction * period as f64
        }
    }
}

/// Client `id`'s own probability of being online, p_i ~ Beta(mean c, (1 - mean) c) (1 when mean is 1).
pub fn client_availability(seed: u64, id: usize, mean: f64, concentration: f64) -> f64 {
    if mean >= 1.0 {
        return 1.0;
    }
    let beta = Beta::new(mean * concentration, (1.0 - mean) * concentration)
        .expect("validated: mean in (0, 1) and concentration > 0");
    beta.sample(&mut draw(seed, Draw::Availability, &[id as u64]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients(ids: &[Vec<usize>]) -> Vec<Client<'_>> {
        ids.iter().enumerate().map(|(id, rows)| Client { id, rows }).collect()
    }

    #[test]
    fn an_outage_takes_everyone_offline_for_its_rounds_only() {
        let rows = vec![vec![0]; 5];
        let faults = Faults {
            outages: vec![(3, 4)],
            ..Faults::default()
        };
        let all = clients(&rows);
        assert_eq!(faults.online(0, 2, &all).len(), 5);
        assert!(faults.online(0, 3, &all).is_empty());
        assert!(faults.online(0, 4, &all).is_empty());
        assert_eq!(faults.online(0, 5, &all).len(), 5);
    }

    #[test]
    fn diurnal_clients_are_online_their_share_of_each_day() {
        let (period, fraction) = (20, 0.25);
        let availability = AvailabilityConfig::Diurnal {
            period,
            online_fraction: fraction,
        };
        for id in 0..30 {
            let day: Vec<bool> = (1..=period).map(|r| is_online(&availability, 7, r, id)).collect();
            assert_eq!(day.iter().filter(|&&o| o).count(), 5, "client {id}: {day:?}");
            // The next day repeats it.
            let next: Vec<bool> = (period + 1..=2 * period)
                .map(|r| is_online(&availability, 7, r, id))
                .collect();
            assert_eq!(day, next);
        }
    }

    #[test]
    fn bernoulli_availability_has_the_asked_mean_and_spread() {
        let (mean, concentration) = (0.3, 4.0);
        let p: Vec<f64> = (0..4000)
            .map(|id| client_availability(1, id, mean, concentration))
            .collect();
        let m = p.iter().sum::<f64>() / p.len() as f64;
        let var = p.iter().map(|v| (v - m).powi(2)).sum::<f64>() / p.len() as f64;
        // Beta(a, b) with a + b = c: variance mean (1 - mean) / (c + 1).
        assert!((m - mean).abs() < 0.01, "mean {m}");
        assert!(
            (var - mean * (1.0 - mean) / (concentration + 1.0)).abs() < 0.005,
            "variance {var}"
        );
        let availability = AvailabilityConfig::Bernoulli { mean, concentration };
        let online = (1..=2000).filter(|&r| is_online(&availability, 1, r, 3)).count() as f64 / 2000.0;
        assert!(
            (online - p[3]).abs() < 0.04,
            "client 3 online {online} of the time, p = {}",
            p[3]
        );
    }
}
