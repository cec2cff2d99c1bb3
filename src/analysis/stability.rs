//! Stability of sampling (the paper's trajectory sensitivity): one-step Lipschitz ratios and routing flips under
//! small input perturbations along the trajectory, whole-trajectory amplification at two perturbation scales,
//! numerical convergence over the last steps, and the gap between S and 2S steps.

use super::stats::{mean, quantile};
use super::subject::{Subject, over_chunks, row_norms, selection_differs};
use crate::diffusion::{At, Objective, Rows, sampler};
use crate::metrics::Values;
use crate::rng::{Stream, derive};
use ndarray::{Array2, ArrayView2};
use rand_distr::{Distribution, StandardNormal};

/// Perturbation sizes and the seed of their directions.
#[derive(Debug, Clone, Copy)]
pub struct StabilitySettings {
    /// Small scale, as a multiple of the data scale (the smooth part).
    pub small: f64,
    /// Large scale, as a multiple of the data scale (catches routing switches).
    pub large: f64,
    /// Data scale: root mean per-coordinate variance of the training data.
    pub data_scale: f64,
    /// Root seed (perturbation directions are the same for every policy: common random numbers).
    pub seed: u64,
}

/// Per-step stability of one policy (means over samples).
#[derive(Debug, Clone, PartialEq)]
pub struct StepStability {
    /// Sampler step (0 = first).
    pub step: usize,
    /// Network time of the step.
    pub t: f64,
    /// ||Phi(x + d) - Phi(x)|| / ||d|| for one sampler update Phi at the small scale.
    pub lipschitz_small: f64,
    /// The same ratio at the large scale.
    pub lipschitz_large: f64,
    /// Share of samples whose selected experts change under the small one-step perturbation (routed only).
    pub flip_small: Option<f64>,
    /// The same at the large scale (routed only).
    pub flip_large: Option<f64>,
    /// ||x'_i - x_i|| / ||d|| between the trajectory from x1 + d (small) and the base trajectory, before step i.
    pub separation_small: f64,
    /// The same for the large initial perturbation.
    pub separation_large: f64,
}

/// Stability of one policy: the `results.csv` values and the per-step table.
#[derive(Debug, Clone)]
pub struct Stability {
    /// The stability metrics declared in `crate::metrics` (`flip_rate` only for routed policies).
    pub values: Values,
    /// One row per sampler step.
    pub by_step: Vec<StepStability>,
}

/// `n` random directions in `dim` dimensions with Euclidean norm `norm` each.
fn directions(n: usize, dim: usize, norm: f64, rng: &mut crate::rng::Rng) -> Array2<f32> {
    let mut d = Array2::from_shape_simple_fn((n, dim), || StandardNormal.sample(rng));
    for mut row in d.rows_mut() {
        let len: f64 = row.iter().map(|v: &f64| v * v).sum::<f64>().sqrt();
        row.mapv_inplace(|v| v * norm / len);
    }
    d.mapv(|v| v as f32)
}

/// Per-chunk sums, merged in chunk order.
struct ChunkStability {
    amplification: [Vec<f64>; 2],
    moved: Vec<f64>,
    lipschitz: [Vec<f64>; 2],
    flips: [Vec<usize>; 2],
    separation: [Vec<f64>; 2],
    last: Array2<f32>,
}

/// What the probes of one policy share: the subject, the sampler, the perturbation sizes.
struct Probe<'a> {
    subject: Subject<'a>,
    objective: &'a Objective,
    settings: &'a StabilitySettings,
    /// Euclidean norms of the small and large perturbations.
    norms: [f64; 2],
    times: Vec<f64>,
}

impl Probe<'_> {
    /// One sampler update of `x` at step `i` with the prediction `pred`.
    fn step(&self, x: ArrayView2<f32>, pred: &Array2<f32>, i: usize) -> Array2<f32> {
        let mut next = x.to_owned();
        sampler::step(self.objective, &mut next, pred, i, self.times.len());
        next
    }

    /// The sums of one chunk (starting at `first_row` of the whole set), the base trajectory from `x`.
    fn chunk(&self, first_row: usize, mut x: Array2<f32>) -> ChunkStability {
        let (n, dim, steps) = (x.nrows(), x.ncols(), self.times.len());
        let seed = self.settings.seed;
        let mut perturbed: [Array2<f32>; 2] = [0, 1].map(|s| {
            let rng = &mut derive(seed, Stream::Metrics, &[20 + s as u64, first_row as u64]);
            &x + &directions(n, dim, self.norms[s], rng)
        });
        let mut out = ChunkStability {
            amplification: [vec![], vec![]],
            moved: vec![0.0; n],
            lipschitz: [vec![0.0; steps], vec![0.0; steps]],
            flips: [vec![0; steps], vec![0; steps]],
            separation: [vec![0.0; steps], vec![0.0; steps]],
            last: Array2::zeros((0, dim)),
        };
        let refine_from = steps - steps.div_ceil(10).max(1);
        for (i, &t) in self.times.iter().enumerate() {
            let at = At {
                t,
                step: i,
                steps,
                first_row,
                rows: Rows::Samples,
            };
            let (pred, weights) = self.subject.evaluate(x.view(), at);
            let next = self.step(x.view(), &pred, i);
            for (s, trajectory) in perturbed.iter_mut().enumerate() {
                // One-step probe at x + d with a fresh direction per step.
                let rng = &mut derive(seed, Stream::Metrics, &[30 + s as u64, i as u64, first_row as u64]);
                let probe = &x + &directions(n, dim, self.norms[s], rng);
                let (probe_pred, probe_weights) = self.subject.evaluate(probe.view(), at);
                let probe_next = self.step(probe.view(), &probe_pred, i);
                let ratios = row_norms((&probe_next - &next).view());
                out.lipschitz[s][i] = ratios.iter().sum::<f64>() / self.norms[s];
                if let (Some(w), Some(pw)) = (&weights, &probe_weights) {
                    out.flips[s][i] = (0..n).filter(|&r| selection_differs(w.row(r), pw.row(r))).count();
                }
                // The whole trajectory from x1 + d, in lockstep with the base trajectory.
                out.separation[s][i] = row_norms((&*trajectory - &x).view()).iter().sum::<f64>() / self.norms[s];
                let (traj_pred, _) = self.subject.evaluate(trajectory.view(), at);
                *trajectory = self.step(trajectory.view(), &traj_pred, i);
            }
            if i >= refine_from {
                for (m, d) in out.moved.iter_mut().zip(row_norms((&next - &x).view())) {
                    *m += d;
                }
            }
            x = next;
        }
        for (s, trajectory) in perturbed.iter().enumerate() {
            let norm = self.norms[s];
            out.amplification[s] = row_norms((trajectory - &x).view()).iter().map(|d| d / norm).collect();
        }
        out.last = x;
        out
    }
}

/// Measures the stability of `subject` sampling from `x1` in `steps` steps.
pub fn stability(
    subject: Subject,
    objective: &Objective,
    x1: &Array2<f32>,
    steps: usize,
    settings: &StabilitySettings,
) -> Stability {
    let dim = x1.ncols();
    let probe = Probe {
        subject,
        objective,
        settings,
        norms: [settings.small, settings.large].map(|s| s * settings.data_scale * (dim as f64).sqrt()),
        times: sampler::timesteps(objective, steps),
    };
    let chunks = over_chunks(x1, |first_row, chunk| probe.chunk(first_row, chunk.to_owned()));
    let total = x1.nrows() as f64;
    let gather = |f: &dyn Fn(&ChunkStability) -> &Vec<f64>| -> Vec<f64> {
        chunks.iter().flat_map(|c| f(c).iter().copied()).collect()
    };
    let per_step = |f: &dyn Fn(&ChunkStability, usize) -> f64, i: usize| -> f64 {
        chunks.iter().map(|c| f(c, i)).sum::<f64>() / total
    };
    let routed = matches!(subject, Subject::Routed(_));
    let by_step: Vec<StepStability> = probe
        .times
        .iter()
        .enumerate()
        .map(|(i, &t)| StepStability {
            step: i,
            t,
            lipschitz_small: per_step(&|c, i| c.lipschitz[0][i], i),
            lipschitz_large: per_step(&|c, i| c.lipschitz[1][i], i),
            flip_small: routed.then(|| per_step(&|c, i| c.flips[0][i] as f64, i)),
            flip_large: routed.then(|| per_step(&|c, i| c.flips[1][i] as f64, i)),
            separation_small: per_step(&|c, i| c.separation[0][i], i),
            separation_large: per_step(&|c, i| c.separation[1][i], i),
        })
        .collect();
    let mut values = summary(
        &by_step,
        [&gather(&|c| &c.amplification[0]), &gather(&|c| &c.amplification[1])],
    );
    if routed {
        let flips: f64 = by_step.iter().filter_map(|s| s.flip_large).sum();
        values.insert("flip_rate", flips / steps as f64);
    }
    values.insert("delta_refine", mean(&gather(&|c| &c.moved)));
    // The same noise sampled with twice the steps: how far the S-step samples are from convergence.
    let fine = sampler::sample(subject.denoiser(), objective, x1, 2 * steps);
    let mut gaps = Vec::with_capacity(x1.nrows());
    for c in &chunks {
        let start = gaps.len();
        let fine_rows = fine.slice(ndarray::s![start..start + c.last.nrows(), ..]);
        gaps.extend(row_norms((&c.last - &fine_rows).view()));
    }
    values.insert("step_gap", mean(&gaps));
    Stability { values, by_step }
}

/// `l_eff` and the amplification values from the per-step table and each sample's amplification at the small
/// and the large scale.
fn summary(by_step: &[StepStability], [small, large]: [&Vec<f64>; 2]) -> Values {
    let mut values = Values::new();
    let log_mean = by_step.iter().map(|s| s.lipschitz_small.ln()).sum::<f64>() / by_step.len() as f64;
    values.insert("l_eff", log_mean.exp());
    values.insert("amp_small", mean(small));
    values.insert("amp_small_p95", quantile(small, 0.95));
    values.insert("amp_large", mean(large));
    values.insert("amp_large_p95", quantile(large, 0.95));
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::Denoiser;

    /// The linear velocity v(x) = a x: Euler multiplies x by (1 - a / S) every step, so every perturbation is
    /// amplified by exactly (1 - a / S)^S and every one-step ratio is |1 - a / S|.
    struct Linear(f32);

    impl Denoiser for Linear {
        fn predict(&self, x: ArrayView2<f32>, _at: At) -> Array2<f32> {
            x.mapv(|v| self.0 * v)
        }
    }

    #[test]
    fn a_linear_flow_has_its_known_amplification() {
        let steps = 10;
        let a = 3.0f32;
        let x1 = Array2::from_shape_fn((700, 2), |(i, j)| ((i * 7 + j * 3) as f32 * 0.37).sin());
        let settings = StabilitySettings {
            small: 1e-3,
            large: 1e-1,
            data_scale: 1.0,
            seed: 4,
        };
        let linear = Linear(a);
        let s = stability(Subject::Single(&linear), &Objective::Flow, &x1, steps, &settings);
        let per_step = 1.0 - a as f64 / steps as f64;
        let want = per_step.powi(steps as i32);
        for column in ["amp_small", "amp_small_p95", "amp_large", "amp_large_p95"] {
            assert!(
                (s.values[column] - want).abs() < 1e-3 * want.max(1e-2) + 1e-4,
                "{column}: {} vs {want}",
                s.values[column]
            );
        }
        assert!((s.values["l_eff"] - per_step).abs() < 1e-3, "{}", s.values["l_eff"]);
        assert!(!s.values.contains_key("flip_rate"));
        assert_eq!(s.by_step.len(), steps);
        // Separation before step i is per_step^i.
        assert!((s.by_step[3].separation_large - per_step.powi(3)).abs() < 1e-3);
        // Twice the steps of a linear flow: (1 - a / 2S)^2S vs (1 - a / S)^S times x1, exactly.
        let fine = (1.0 - a as f64 / (2 * steps) as f64).powi(2 * steps as i32);
        let mean_norm = row_norms(x1.view()).iter().sum::<f64>() / 700.0;
        assert!(
            (s.values["step_gap"] - (fine - want) * mean_norm).abs() < 1e-4,
            "{}",
            s.values["step_gap"]
        );
    }
}
