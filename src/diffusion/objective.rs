//! Training objectives: how a clean point is noised, what the network predicts, and how to recover x0.

use super::schedule::{DDPM_STEPS, cosine_alpha_bar};
use crate::rng::Rng;
use crate::scenario::ObjectiveKind;
use ndarray::{Array2, ArrayView2};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

/// A noising process and prediction target.
#[derive(Debug, Clone)]
pub enum Objective {
    /// Flow matching (DDM): x_t = (1 - t) x0 + t eps, t ~ U(0, 1), target v = eps - x0.
    Flow,
    /// DDPM epsilon prediction on the cosine schedule: x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, target eps.
    Ddpm {
        /// abar_t for t = 0..T-1.
        alpha_bar: Vec<f64>,
    },
}

/// A noised training batch.
#[derive(Debug, Clone)]
pub struct NoisedBatch {
    /// Noisy inputs. Shape [n, dim].
    pub xt: Array2<f32>,
    /// Regression targets of the denoiser. Shape [n, dim].
    pub target: Array2<f32>,
    /// Network time of each row, in [0, 1].
    pub time: Vec<f64>,
}

impl Objective {
    /// The objective of a scenario.
    pub fn new(kind: ObjectiveKind) -> Self {
        match kind {
            ObjectiveKind::Flow => Objective::Flow,
            ObjectiveKind::Ddpm => Objective::Ddpm {
                alpha_bar: cosine_alpha_bar(DDPM_STEPS),
            },
        }
    }

    /// Noises `x0` at random times with fresh Gaussian noise.
    pub fn noise(&self, x0: ArrayView2<f32>, rng: &mut Rng) -> NoisedBatch {
        let (n, d) = x0.dim();
        let mut xt = Array2::zeros((n, d));
        let mut target = Array2::zeros((n, d));
        let mut time = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b, t) = match self {
                Objective::Flow => {
                    let t: f64 = rng.random();
                    (1.0 - t, t, t)
                }
                Objective::Ddpm { alpha_bar } => {
                    let step = rng.random_range(0..alpha_bar.len());
                    let ab = alpha_bar[step];
                    (ab.sqrt(), (1.0 - ab).sqrt(), step as f64 / alpha_bar.len() as f64)
                }
            };
            for j in 0..d {
                let eps: f64 = StandardNormal.sample(rng);
                let x = x0[[i, j]] as f64;
                xt[[i, j]] = (a * x + b * eps) as f32;
                target[[i, j]] = match self {
                    Objective::Flow => (eps - x) as f32,
                    Objective::Ddpm { .. } => eps as f32,
                };
            }
            time.push(t);
        }
        NoisedBatch { xt, target, time }
    }
}
