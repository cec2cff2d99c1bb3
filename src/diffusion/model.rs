//! A trained denoiser network, and its training task (the objective's regression loss on a client's points).

use super::{At, Denoiser, NoisedBatch, Objective};
use crate::federated::Task;
use crate::nn::{Cache, TimeNet};
use crate::rng::Rng;
use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng as _;

/// A denoiser network with its (EMA) weights.
#[derive(Debug, Clone)]
pub struct DenoiserModel {
    /// Architecture.
    pub net: TimeNet,
    /// Flat parameters.
    pub params: Vec<f32>,
}

impl Denoiser for DenoiserModel {
    fn predict(&self, x: ArrayView2<f32>, at: At) -> Array2<f32> {
        self.net.infer(&self.params, x, at.t)
    }
}

impl DenoiserModel {
    /// The prediction for class `classes[i]` of each row i (the null class: unconditional). Shapes: x [n, dim]
    /// -> [n, dim].
    pub fn predict_classes(&self, x: ArrayView2<f32>, at: At, classes: &[usize]) -> Array2<f32> {
        assert_eq!(classes.len(), x.nrows(), "one class per row");
        self.net.infer_classes(&self.params, x, at.t, |i| classes[i])
    }
}

/// What a conditional denoiser trains on besides the points: each point's class, replaced by the null class with
/// probability `dropout` (label dropout, which trains the unconditional branch in the same network).
#[derive(Debug, Clone, Copy)]
pub struct Conditioning<'a> {
    /// Class of every training point.
    pub labels: &'a [usize],
    /// Probability that a training row's class is replaced by the null class.
    pub dropout: f64,
}

/// Noises the training points `rows` of `data` at random times and runs `net` on them (keeping `cache` for the
/// backward pass); a conditional net sees each row's class from `condition` (label dropout drawn after the noise,
/// so an unconditional net's draws are unchanged). Returns the network output [rows, output] and the noised batch
/// with its targets.
pub fn forward_noised(
    net: &TimeNet,
    params: &[f32],
    objective: &Objective,
    (data, condition): (&Array2<f32>, Option<Conditioning>),
    rows: &[usize],
    rng: &mut Rng,
    cache: &mut Cache<f32>,
) -> (Array2<f32>, NoisedBatch) {
    let x0 = data.select(Axis(0), rows);
    let batch = objective.noise(x0.view(), rng);
    let input = match condition.filter(|_| net.classes > 0) {
        Some(c) => {
            let classes: Vec<usize> = (rows.iter())
                .map(|&r| {
                    if rng.random::<f64>() < c.dropout {
                        net.null_class()
                    } else {
                        c.labels[r]
                    }
                })
                .collect();
            net.input_with_classes(batch.xt.view(), |i| batch.time[i], |i| classes[i])
        }
        None => net.input(batch.xt.view(), |i| batch.time[i]),
    };
    (net.mlp.forward(params, input.view(), cache), batch)
}

/// Mean squared error of the denoiser's prediction against the objective's target on noised training points.
pub struct DenoiserTask<'a> {
    /// Architecture being trained.
    pub net: TimeNet,
    /// Noising process and target.
    pub objective: Objective,
    /// All training points; clients refer to rows of it. Shape [n, dim].
    pub data: &'a Array2<f32>,
    /// The points' classes, for a conditional net.
    pub condition: Option<Conditioning<'a>>,
}

impl Task for DenoiserTask<'_> {
    fn param_count(&self) -> usize {
        self.net.mlp.param_count()
    }

    fn flops_per_row(&self) -> u64 {
        self.net.mlp.training_flops_per_row()
    }

    fn loss_and_grad(&self, params: &[f32], rows: &[usize], rng: &mut Rng, grad: &mut [f32]) -> f32 {
        let mut cache = Cache::default();
        let (y, batch) = forward_noised(
            &self.net,
            params,
            &self.objective,
            (self.data, self.condition),
            rows,
            rng,
            &mut cache,
        );
        let diff = y - &batch.target;
        let count = diff.len() as f32;
        let loss = diff.iter().map(|d| d * d).sum::<f32>() / count;
        let dy = diff * (2.0 / count);
        self.net.mlp.backward(params, &cache, dy.view(), grad);
        loss
    }
}
