//! The server's optimizer on the pseudo-gradient delta = aggregate - global (Reddi et al. 2021, "Adaptive
//! Federated Optimization", as Flower implements FedAvgM, FedAdam, FedYogi and FedAdagrad).

use crate::scenario::ServerConfig;

/// A server optimizer with its state (moments in double precision).
#[derive(Debug, Clone)]
pub struct ServerOptimizer {
    config: ServerConfig,
    /// SGD's velocity, or the adaptive optimizers' first moment.
    first: Vec<f64>,
    /// The adaptive optimizers' second moment (empty for SGD).
    second: Vec<f64>,
}

impl ServerOptimizer {
    /// Fresh state (zero moments) for `params` parameters.
    pub fn new(config: ServerConfig, params: usize) -> Self {
        let adaptive = !matches!(config, ServerConfig::Sgd { .. });
        ServerOptimizer {
            config,
            first: vec![0.0; params],
            second: if adaptive { vec![0.0; params] } else { Vec::new() },
        }
    }

    /// Moves `global` from the clients' `aggregate` in server round `round` (1-based).
    ///
    /// - sgd: v <- momentum v + delta; x <- x + lr v (x becomes the aggregate at lr 1 without momentum).
    /// - adam: m <- b1 m + (1 - b1) delta, v <- b2 v + (1 - b2) delta^2,
    ///   x <- x + lr sqrt(1 - b2^(round + 1)) / (1 - b1^(round + 1)) m / (sqrt(v) + tau) (Flower's correction).
    /// - yogi: v <- v - (1 - b2) delta^2 sign(v - delta^2); x <- x + lr m / (sqrt(v) + tau).
    /// - adagrad: v <- v + delta^2; x <- x + lr m / (sqrt(v) + tau).
    pub fn step(&mut self, global: &mut [f32], aggregate: &[f32], round: usize) {
        let (m, v) = (&mut self.first, &mut self.second);
        match self.config {
            ServerConfig::Sgd { lr, momentum, .. } => {
                for ((x, a), m) in global.iter_mut().zip(aggregate).zip(m.iter_mut()) {
                    let delta = *a as f64 - *x as f64;
                    *m = momentum * *m + delta;
                    *x = (*x as f64 + lr * *m) as f32;
                }
            }
            ServerConfig::Adam {
                lr, beta1, beta2, tau, ..
            } => {
                let t = round as f64 + 1.0;
                let rate = lr * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
                adaptive(global, aggregate, (m, v), (rate, beta1, tau), |v, d2| {
                    beta2 * v + (1.0 - beta2) * d2
                });
            }
            ServerConfig::Yogi {
                lr, beta1, beta2, tau, ..
            } => {
                adaptive(global, aggregate, (m, v), (lr, beta1, tau), |v, d2| {
                    v - (1.0 - beta2) * d2 * sign(v - d2)
                });
            }
            ServerConfig::Adagrad { lr, beta1, tau, .. } => {
                adaptive(global, aggregate, (m, v), (lr, beta1, tau), |v, d2| v + d2);
            }
        }
    }
}

/// numpy's sign: 0 at 0.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The shared step of the adaptive optimizers: first moment with decay `beta1`, second moment by `second`,
/// x <- x + rate m / (sqrt(v) + tau).
fn adaptive(
    global: &mut [f32],
    aggregate: &[f32],
    (m, v): (&mut [f64], &mut [f64]),
    (rate, beta1, tau): (f64, f64, f64),
    second: impl Fn(f64, f64) -> f64,
) {
    for (((x, a), m), v) in global.iter_mut().zip(aggregate).zip(m.iter_mut()).zip(v.iter_mut()) {
        let delta = *a as f64 - *x as f64;
        *m = beta1 * *m + (1.0 - beta1) * delta;
        *v = second(*v, delta * delta);
        *x = (*x as f64 + rate * *m / (v.sqrt() + tau)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use rand_distr::{Distribution, StandardNormal};

    fn random(n: usize, salt: u64) -> Vec<f32> {
        let rng = &mut derive(7, Stream::Init, &[salt]);
        (0..n).map(|_| StandardNormal.sample(rng)).collect()
    }

    #[test]
    fn sgd_at_lr_1_without_momentum_makes_the_aggregate_the_global_model() {
        let mut server = ServerOptimizer::new(ServerConfig::default(), 1000);
        let mut global = random(1000, 0);
        for round in 1..=5 {
            let aggregate: Vec<f32> = random(1000, round)
                .iter()
                .map(|v| v * 10f32.powi(round as i32 - 3))
                .collect();
            server.step(&mut global, &aggregate, round as usize);
            for (g, a) in global.iter().zip(&aggregate) {
                assert!((g - a).abs() <= 1e-6 * a.abs(), "round {round}: {g} vs {a}");
            }
        }
    }

    /// Flower's FedAvgM, FedAdam, FedYogi and FedAdagrad written out for one coordinate over three rounds.
    #[test]
    fn each_optimizer_follows_its_recursion() {
        let deltas = [0.5f64, -0.2, 0.1];
        let run = |config: ServerConfig| {
            let mut server = ServerOptimizer::new(config, 1);
            let mut x = [1.0f32];
            for (r, d) in deltas.iter().enumerate() {
                let aggregate = [(x[0] as f64 + d) as f32];
                server.step(&mut x, &aggregate, r + 1);
            }
            x[0] as f64
        };
        let reference = |rate: &dyn Fn(usize) -> f64, b1: f64, second: &dyn Fn(f64, f64) -> f64, tau: f64| {
            let (mut x, mut m, mut v) = (1.0f64, 0.0, 0.0);
            for (r, d) in deltas.iter().enumerate() {
                m = b1 * m + (1.0 - b1) * d;
                v = second(v, d * d);
                x += rate(r + 1) * m / (v.sqrt() + tau);
            }
            x
        };
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        // FedAvgM: x <- x - lr m with m <- momentum m + (x - aggregate).
        let (mut x, mut mom) = (1.0f64, 0.0);
        for d in deltas {
            mom = 0.9 * mom - d;
            x -= 0.5 * mom;
        }
        close(
            run(ServerConfig::Sgd {
                lr: 0.5,
                momentum: 0.9,
                clip_update_norm: None,
            }),
            x,
        );
        let adam = ServerConfig::Adam {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-9,
            clip_update_norm: None,
        };
        let rate = |r: usize| 0.1 * (1.0 - 0.99f64.powi(r as i32 + 1)).sqrt() / (1.0 - 0.9f64.powi(r as i32 + 1));
        close(run(adam), reference(&rate, 0.9, &|v, d2| 0.99 * v + 0.01 * d2, 1e-9));
        let yogi = ServerConfig::Yogi {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
            clip_update_norm: None,
        };
        let yogi_v = |v: f64, d2: f64| v - 0.01 * d2 * (v - d2).signum();
        close(run(yogi), reference(&|_| 0.01, 0.9, &yogi_v, 1e-3));
        let adagrad = ServerConfig::Adagrad {
            lr: 0.1,
            beta1: 0.0,
            tau: 1e-9,
            clip_update_norm: None,
        };
        close(run(adagrad), reference(&|_| 0.1, 0.0, &|v, d2| v + d2, 1e-9));
    }
}
