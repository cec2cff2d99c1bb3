//! Deterministic samplers: Euler for flow matching, DDIM (eta = 0) for DDPM. They see only a [`Denoiser`].

use super::{At, Denoiser, Objective, Rows};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// Rows per independent chunk; fixed so that results do not depend on the number of threads, and large enough
/// that routed sub-batches (a chunk split among experts) still make efficient matrix products.
pub const CHUNK: usize = 512;

/// The network times (in [0, 1]) at which the sampler evaluates the denoiser, from noise to data.
pub fn timesteps(objective: &Objective, steps: usize) -> Vec<f64> {
    match objective {
        Objective::Flow => (0..steps).map(|i| 1.0 - i as f64 / steps as f64).collect(),
        Objective::Ddpm { alpha_bar } => ddim_indices(alpha_bar.len(), steps)
            .into_iter()
            .map(|k| k as f64 / alpha_bar.len() as f64)
            .collect(),
    }
}

/// Evenly spaced DDPM timestep indices from T-1 down to 0.
fn ddim_indices(total: usize, steps: usize) -> Vec<usize> {
    (0..steps)
        .map(|i| {
            let frac = if steps == 1 {
                0.0
            } else {
                1.0 - i as f64 / (steps - 1) as f64
            };
            (frac * (total - 1) as f64).round() as usize
        })
        .collect()
}

/// One sampler update of `x` at step `i` of `steps`, given the denoiser output `pred` at that step.
pub fn step(objective: &Objective, x: &mut Array2<f32>, pred: &Array2<f32>, i: usize, steps: usize) {
    match objective {
        Objective::Flow => {
            // x_{t - dt} = x_t - dt * v, t from 1 to 0 in uniform steps.
            let dt = 1.0 / steps as f32;
            x.scaled_add(-dt, pred);
        }
        Objective::Ddpm { alpha_bar } => {
            let idx = ddim_indices(alpha_bar.len(), steps);
            let ab = alpha_bar[idx[i]];
            let ab_prev = if i + 1 < steps { alpha_bar[idx[i + 1]] } else { 1.0 };
            let (sa, sb) = (ab.sqrt(), (1.0 - ab).sqrt());
            let (pa, pb) = (ab_prev.sqrt(), (1.0 - ab_prev).sqrt());
            x.zip_mut_with(pred, |xv, &e| {
                let x0 = (*xv as f64 - sb * e as f64) / sa;
                *xv = (pa * x0 + pb * e as f64) as f32;
            });
        }
    }
}

/// Runs the sampler from the noise `x1` to data: every step predicts for the whole set at once
/// ([`Denoiser::predict_all`], chunks of [`CHUNK`] rows in parallel) and then moves every row.
pub fn sample(denoiser: &dyn Denoiser, objective: &Objective, x1: &Array2<f32>, steps: usize) -> Array2<f32> {
    run(denoiser, objective, x1, steps, false).unwrap_or_else(|(x, _)| x)
}

/// [`sample`], checking every step's prediction: the first step whose prediction is not finite is an error,
/// `(step, t)`, so a broken model or router is named where it broke instead of scored as samples.
pub fn sample_checked(
    denoiser: &dyn Denoiser,
    objective: &Objective,
    x1: &Array2<f32>,
    steps: usize,
) -> Result<Array2<f32>, (usize, f64)> {
    run(denoiser, objective, x1, steps, true).map_err(|(_, at)| at)
}

/// Where a checked sampler run stopped: the states so far and the (step, t) whose prediction was not finite.
type Stopped = (Array2<f32>, (usize, f64));

/// The sampler loop; with `check`, stops at the first step whose prediction is not finite.
fn run(
    denoiser: &dyn Denoiser,
    objective: &Objective,
    x1: &Array2<f32>,
    steps: usize,
    check: bool,
) -> Result<Array2<f32>, Stopped> {
    let mut x = x1.clone();
    for (i, &t) in timesteps(objective, steps).iter().enumerate() {
        let at = At {
            t,
            step: i,
            steps,
            first_row: 0,
            rows: Rows::Samples,
        };
        let pred = denoiser.predict_all(x.view(), at);
        if check && pred.iter().any(|v| !v.is_finite()) {
            return Err((x, (i, t)));
        }
        step(objective, &mut x, &pred, i, steps);
    }
    Ok(x)
}

/// [`Denoiser::predict`] on the chunks of [`CHUNK`] rows of `x` in parallel (chunk c starts at global row
/// `at.first_row + c CHUNK`), stacked back in order. Rows never interact, so the chunking fixes the result
/// whatever the number of threads.
pub fn predict_in_chunks<D: Denoiser + ?Sized>(denoiser: &D, x: ArrayView2<f32>, at: At) -> Array2<f32> {
    if x.nrows() == 0 {
        return Array2::zeros(x.raw_dim());
    }
    stack_rows(&map_chunks(x, at, |chunk, at| denoiser.predict(chunk, at)))
}

/// `f(chunk, at)` on the chunks of [`CHUNK`] rows of `x` in parallel, each with its own `first_row`; results in
/// chunk order.
pub fn map_chunks<T: Send>(x: ArrayView2<f32>, at: At, f: impl Fn(ArrayView2<f32>, At) -> T + Sync) -> Vec<T> {
    x.axis_chunks_iter(Axis(0), CHUNK)
        .into_par_iter()
        .enumerate()
        .map(|(c, chunk)| {
            let at = At {
                first_row: at.first_row + c * CHUNK,
                ..at
            };
            f(chunk, at)
        })
        .collect()
}

/// The rows of `parts`, one after the other.
pub fn stack_rows(parts: &[Array2<f32>]) -> Array2<f32> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(0), &views).expect("parts of one width")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayView2;

    /// The exact flow velocity for data concentrated at the point `c`: v = (x_t - c) / t.
    struct PointMass(f32);

    impl Denoiser for PointMass {
        fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
            x.mapv(|v| (v - self.0) / at.t as f32)
        }
    }

    /// The exact epsilon for data at the point `c` under the cosine schedule.
    struct PointMassEps(f32, Vec<f64>);

    impl Denoiser for PointMassEps {
        fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
            let ab = self.1[(at.t * self.1.len() as f64).round() as usize];
            x.mapv(|v| ((v as f64 - ab.sqrt() * self.0 as f64) / (1.0 - ab).sqrt()) as f32)
        }
    }

    #[test]
    fn euler_with_the_exact_velocity_lands_on_the_point() {
        let x1 = Array2::from_shape_fn((300, 2), |(i, j)| (i as f32 * 0.1 + j as f32).sin());
        let out = sample(&PointMass(0.5), &Objective::Flow, &x1, 10);
        assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-5));
    }

    #[test]
    fn ddim_with_the_exact_epsilon_lands_on_the_point() {
        let objective = Objective::new(crate::scenario::ObjectiveKind::Ddpm);
        let Objective::Ddpm { alpha_bar } = &objective else {
            unreachable!()
        };
        let den = PointMassEps(-0.7, alpha_bar.clone());
        let x1 = Array2::from_shape_fn((10, 3), |(i, j)| (i as f32 + j as f32 * 0.3).cos());
        let out = sample(&den, &objective, &x1, 20);
        assert!(out.iter().all(|v| (v + 0.7).abs() < 1e-3), "{out}");
    }
}
