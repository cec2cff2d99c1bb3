//! A client's local update: optimizer steps on mini-batches of its own points, starting from given weights, with
//! the gradient of its algorithm's local objective (its loss, plus FedProx's proximal term or SCAFFOLD's
//! correction).

use super::Task;
use crate::nn::Optimizer;
use crate::rng::Rng;

/// What a client's algorithm adds to the gradient of its loss at each local step.
#[derive(Debug, Clone, Copy)]
pub enum Correction<'a> {
    /// Nothing (FedAvg).
    None,
    /// FedProx: mu (w - anchor), the gradient of mu/2 |w - anchor|^2 with the round's global weights as anchor.
    Proximal {
        /// Weight of the proximal term.
        mu: f32,
        /// The global weights of the round.
        anchor: &'a [f32],
    },
    /// SCAFFOLD: the constant c - c_i (server minus client control variate).
    Shift(&'a [f32]),
}

impl Correction<'_> {
    /// Adds the part of the correction that belongs to the loss, before clipping: FedProx's term (the gradient
    /// of a loss term, as an autograd framework clips it).
    pub fn before_clip(&self, params: &[f32], grad: &mut [f32]) {
        if let Correction::Proximal { mu, anchor } = *self {
            for ((g, p), a) in grad.iter_mut().zip(params).zip(anchor) {
                *g += mu * (p - a);
            }
        }
    }

    /// Adds the part applied to the clipped gradient: SCAFFOLD's shift, so the control variates (read from the
    /// steps taken) and the correction are both in the clipped gradients' units.
    pub fn after_clip(&self, grad: &mut [f32]) {
        if let Correction::Shift(shift) = *self {
            for (g, s) in grad.iter_mut().zip(shift) {
                *g += s;
            }
        }
    }
}

/// Runs `steps` optimizer steps on mini-batches of `rows` (all rows when there are at most `batch_size`), each
/// gradient corrected by `correction`. Returns the mean loss (of the task, without the correction), or the first
/// non-finite loss as `Err`.
#[allow(clippy::too_many_arguments)]
pub fn local_update(
    task: &dyn Task,
    params: &mut [f32],
    optimizer: &mut Optimizer,
    rows: &[usize],
    (steps, batch_size): (usize, usize),
    correction: Correction,
    rng: &mut Rng,
) -> Result<f32, f32> {
    let mut grad = vec![0f32; params.len()];
    let mut total = 0f64;
    let mut batch = Vec::with_capacity(batch_size.min(rows.len()));
    for _ in 0..steps {
        batch.clear();
        if rows.len() <= batch_size {
            batch.extend_from_slice(rows);
        } else {
            batch.extend(
                rand::seq::index::sample(rng, rows.len(), batch_size)
                    .iter()
                    .map(|i| rows[i]),
            );
        }
        let loss = task.loss_and_grad(params, &batch, rng, &mut grad);
        if !loss.is_finite() {
            return Err(loss);
        }
        total += loss as f64;
        correction.before_clip(params, &mut grad);
        optimizer.update_with(params, &mut grad, |g| correction.after_clip(g));
    }
    Ok((total / steps as f64) as f32)
}

/// The gradient of the task at `params` over all of `rows`, in mini-batches of `batch_size` weighted by their
/// sizes (SCAFFOLD's option I); the first non-finite loss as `Err`.
pub fn full_gradient(
    task: &dyn Task,
    params: &[f32],
    rows: &[usize],
    batch_size: usize,
    rng: &mut Rng,
) -> Result<Vec<f32>, f32> {
    let mut sum = vec![0f64; params.len()];
    let mut grad = vec![0f32; params.len()];
    for chunk in rows.chunks(batch_size.max(1)) {
        let loss = task.loss_and_grad(params, chunk, rng, &mut grad);
        if !loss.is_finite() {
            return Err(loss);
        }
        let w = chunk.len() as f64 / rows.len() as f64;
        for (s, g) in sum.iter_mut().zip(&grad) {
            *s += w * *g as f64;
        }
    }
    Ok(sum.into_iter().map(|v| v as f32).collect())
}
