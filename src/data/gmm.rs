//! Isotropic Gaussian mixture: sampling, exact log-density and component posteriors (the known-density data set).

use crate::rng::Rng;
use ndarray::{Array2, ArrayView1};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

/// A mixture of isotropic Gaussians N(mu_c, std^2 I) with weights w_c.
#[derive(Debug, Clone)]
pub struct Gmm {
    /// Component means, one row per component. Shape [components, dim].
    pub means: Array2<f64>,
    /// Standard deviation shared by all components.
    pub std: f64,
    /// Mixture weights, summing to 1.
    pub weights: Vec<f64>,
}

impl Gmm {
    /// Means evenly spaced on a circle of `radius` in the first two coordinates (other coordinates 0).
    pub fn circle(components: usize, dim: usize, radius: f64, std: f64, weights: &[f64]) -> Self {
        let mut means = Array2::zeros((components, dim));
        for c in 0..components {
            let angle = 2.0 * std::f64::consts::PI * c as f64 / components as f64;
            means[[c, 0]] = radius * angle.cos();
            means[[c, 1]] = radius * angle.sin();
        }
        Self::with_means(means, std, weights)
    }

    /// Means at uniformly random directions on the sphere of `radius` (seeded).
    pub fn random(components: usize, dim: usize, radius: f64, std: f64, weights: &[f64], rng: &mut Rng) -> Self {
        let mut means = Array2::zeros((components, dim));
        for mut row in means.rows_mut() {
            crate::rng::unit_vector(row.as_slice_mut().expect("rows of a new array are contiguous"), rng);
            row *= radius;
        }
        Self::with_means(means, std, weights)
    }

    fn with_means(means: Array2<f64>, std: f64, weights: &[f64]) -> Self {
        let k = means.nrows();
        let weights = if weights.is_empty() {
            vec![1.0 / k as f64; k]
        } else {
            let total: f64 = weights.iter().sum();
            weights.iter().map(|w| w / total).collect()
        };
        Gmm { means, std, weights }
    }

    /// Number of components.
    pub fn components(&self) -> usize {
        self.means.nrows()
    }

    /// Dimension of the data.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// Draws `n` points and their component ids.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> crate::error::Result<(Array2<f32>, Vec<usize>)> {
        let d = self.dim();
        let (mut x, mut labels) = super::toys::buffers(n, d)?;
        for i in 0..n {
            let c = self.draw_component(rng);
            for j in 0..d {
                let z: f64 = StandardNormal.sample(rng);
                x[[i, j]] = (self.means[[c, j]] + self.std * z) as f32;
            }
            labels.push(c);
        }
        Ok((x, labels))
    }

    fn draw_component(&self, rng: &mut Rng) -> usize {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for (c, w) in self.weights.iter().enumerate() {
            acc += w;
            if u < acc {
                return c;
            }
        }
        self.weights.len() - 1
    }

    /// Per-component log(w_c N(x; mu_c, std^2 I)).
    fn joint_log(&self, x: ArrayView1<f64>) -> Vec<f64> {
        let d = self.dim() as f64;
        let var = self.std * self.std;
        let norm = -0.5 * d * (2.0 * std::f64::consts::PI * var).ln();
        self.means
            .rows()
            .into_iter()
            .zip(&self.weights)
            .map(|(mu, w)| {
                let sq: f64 = mu.iter().zip(x.iter()).map(|(m, v)| (v - m) * (v - m)).sum();
                w.ln() + norm - 0.5 * sq / var
            })
            .collect()
    }

    /// The exact log-density log p(x) (log-sum-exp over components).
    pub fn log_density(&self, x: ArrayView1<f64>) -> f64 {
        let logs = self.joint_log(x);
        let max = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        max + logs.iter().map(|l| (l - max).exp()).sum::<f64>().ln()
    }

    /// The component with the highest posterior probability for `x`.
    pub fn most_likely_component(&self, x: ArrayView1<f64>) -> usize {
        let logs = self.joint_log(x);
        let mut best = 0;
        for (c, l) in logs.iter().enumerate() {
            if *l > logs[best] {
                best = c;
            }
        }
        best
    }

    /// Squared distance of `x` to the mean of component `c`, in units of the variance.
    pub fn scaled_sq_distance(&self, x: ArrayView1<f64>, c: usize) -> f64 {
        let mu = self.means.row(c);
        let sq: f64 = mu.iter().zip(x.iter()).map(|(m, v)| (v - m) * (v - m)).sum();
        sq / (self.std * self.std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn single_component_density_matches_the_gaussian_formula() {
        let g = Gmm::circle(1, 2, 0.0, 2.0, &[]);
        let x = array![1.0, -1.0];
        let expected = -(2.0 * std::f64::consts::PI * 4.0).ln() - 0.5 * 2.0 / 4.0;
        assert!((g.log_density(x.view()) - expected).abs() < 1e-12);
    }

    #[test]
    fn mixture_density_is_the_weighted_sum() {
        let g = Gmm::circle(2, 2, 1.0, 0.5, &[1.0, 3.0]);
        let x = array![0.2, 0.3];
        let comp = |c: usize| {
            let mu = g.means.row(c);
            let sq = (x[0] - mu[0]).powi(2) + (x[1] - mu[1]).powi(2);
            (-0.5 * sq / 0.25).exp() / (2.0 * std::f64::consts::PI * 0.25)
        };
        let expected = (0.25 * comp(0) + 0.75 * comp(1)).ln();
        assert!((g.log_density(x.view()) - expected).abs() < 1e-12);
        assert_eq!(g.most_likely_component(array![-1.0, 0.0].view()), 1);
    }
}
