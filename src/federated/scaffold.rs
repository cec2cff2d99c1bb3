//! SCAFFOLD's control variates (Karimireddy et al. 2020): the server's c and each client's c_i, all zero at
//! the start; a client corrects each local gradient by c - c_i and renews c_i after its local steps.
//!
//! Only the clients that have trained hold a c_i (the others' is zero), so the memory grows with the clients
//! that took part, at most rounds x clients per round of them, never with all the model's clients x parameters
//! (a cross-device federation of 100,000 clients keeps a few thousand).

use std::collections::BTreeMap;

/// The control variates of one model's training.
#[derive(Debug, Clone)]
pub struct Controls {
    /// The server's control variate c.
    server: Vec<f32>,
    /// The c_i of each client (index into the model's clients) that has trained; absent: zero.
    clients: BTreeMap<usize, Vec<f32>>,
    /// The model's number of clients N: c moves by the mean change over all of them.
    population: usize,
}

/// How a client renews its control variate.
#[derive(Debug, Clone, Copy)]
pub enum Renewal<'a> {
    /// Option I: the gradient of its data at the global weights.
    Gradient(&'a [f32]),
    /// Option II: c_i - c + (global - local) / (lr steps), `lr_steps` being the optimizer's displacement per unit
    /// gradient over the round's local steps.
    Travelled {
        /// The round's global weights.
        global: &'a [f32],
        /// The client's weights after its local steps.
        local: &'a [f32],
        /// lr times the effective number of steps.
        lr_steps: f64,
    },
}

impl Controls {
    /// Zero control variates for `clients` clients of a model with `params` parameters.
    pub fn new(clients: usize, params: usize) -> Self {
        Controls {
            server: vec![0.0; params],
            clients: BTreeMap::new(),
            population: clients,
        }
    }

    /// The number of client variates held: the clients that have trained.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.clients.len()
    }

    /// c - c_i of client `c` (index into the model's clients).
    pub fn shift(&self, c: usize) -> Vec<f32> {
        match self.clients.get(&c) {
            None => self.server.clone(),
            Some(own) => self.server.iter().zip(own).map(|(s, o)| s - o).collect(),
        }
    }

    /// The new c_i of client `c`; returns it with its change delta c_i (what the client sends).
    pub fn renewed(&self, c: usize, renewal: Renewal) -> (Vec<f32>, Vec<f32>) {
        let zero = vec![0.0; self.server.len()];
        let old = self.clients.get(&c).map_or(&zero[..], Vec::as_slice);
        let new: Vec<f32> = match renewal {
            Renewal::Gradient(g) => g.to_vec(),
            Renewal::Travelled {
                global,
                local,
                lr_steps,
            } => old
                .iter()
                .zip(&self.server)
                .zip(global.iter().zip(local))
                .map(|((o, s), (x, y))| (*o as f64 - *s as f64 + (*x as f64 - *y as f64) / lr_steps) as f32)
                .collect(),
        };
        let delta = new.iter().zip(old).map(|(n, o)| n - o).collect();
        (new, delta)
    }

    /// Stores the round's renewed client variates and moves c by the sum of their changes over all `clients`
    /// clients of the model: c <- c + (1 / N) sum delta c_i (client-id order).
    pub fn finish_round(&mut self, renewed: Vec<(usize, Vec<f32>, Vec<f32>)>) {
        let n = self.population as f64;
        let mut sum = vec![0f64; self.server.len()];
        for (c, new, delta) in renewed {
            for (s, d) in sum.iter_mut().zip(&delta) {
                *s += *d as f64;
            }
            self.clients.insert(c, new);
        }
        for (c, s) in self.server.iter_mut().zip(sum) {
            *c = (*c as f64 + s / n) as f32;
        }
    }
}

/// The displacement of a fresh SGD optimizer with momentum `momentum` over `steps` steps of a constant unit
/// gradient, in units of its learning rate: sum over k = 1..steps of (1 - momentum^k) / (1 - momentum), which is
/// `steps` without momentum. Option II divides the distance travelled by it (times the lr).
pub fn effective_steps(steps: usize, momentum: f64) -> f64 {
    let mut velocity = 0.0;
    let mut travelled = 0.0;
    for _ in 0..steps {
        velocity = momentum * velocity + 1.0;
        travelled += velocity;
    }
    travelled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_steps_are_the_momentum_sums() {
        assert_eq!(effective_steps(5, 0.0), 5.0);
        // 1 + 1.5 + 1.75
        assert!((effective_steps(3, 0.5) - 4.25).abs() < 1e-12);
    }

    #[test]
    fn option_ii_recovers_a_constant_gradient_and_the_server_averages_the_changes() {
        let mut controls = Controls::new(4, 2);
        // A client that took 5 plain SGD steps of lr 0.1 along the constant gradient (1, -2).
        let global = [0.0f32, 0.0];
        let local = [-0.5f32, 1.0];
        let (new, delta) = controls.renewed(
            1,
            Renewal::Travelled {
                global: &global,
                local: &local,
                lr_steps: 0.1 * 5.0,
            },
        );
        assert_eq!(new, vec![1.0, -2.0]);
        assert_eq!(delta, new);
        controls.finish_round(vec![(1, new, delta)]);
        // c = (1 / 4) * delta; client 1's shift c - c_1, another's c - 0.
        assert_eq!(controls.shift(1), vec![0.25 - 1.0, -0.5 + 2.0]);
        assert_eq!(controls.shift(0), vec![0.25, -0.5]);
    }

    #[test]
    fn only_the_clients_that_trained_hold_a_variate() {
        // A cross-device model: 100,000 clients of a 37,762-parameter denoiser (dense: 15 GB of variates).
        let (clients, params) = (100_000, 37_762);
        let mut controls = Controls::new(clients, params);
        for round in 0..3 {
            let renewed = (0..4)
                .map(|i| {
                    let c = (round * 4 + i) * 7_919 % clients;
                    let (new, delta) = controls.renewed(c, Renewal::Gradient(&vec![1.0; params]));
                    (c, new, delta)
                })
                .collect();
            controls.finish_round(renewed);
        }
        assert_eq!(controls.held(), 12);
        // c moved by the 12 changes of 1 over all 100,000 clients; a client that never trained holds nothing.
        assert_eq!(controls.shift(1), vec![(12.0f64 / 1e5) as f32; params]);
    }
}
