//! A client's local update: optimizer steps on mini-batches of its own points, starting from given weights.

use super::Task;
use crate::nn::Optimizer;
use crate::rng::Rng;

/// Runs `steps` optimizer steps on mini-batches of `rows` (all rows when there are at most `batch_size`).
/// Returns the mean loss, or the first non-finite loss as `Err`.
pub fn local_update(
    task: &dyn Task,
    params: &mut [f32],
    optimizer: &mut Optimizer,
    rows: &[usize],
    steps: usize,
    batch_size: usize,
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
        optimizer.update(params, &mut grad);
    }
    Ok((total / steps as f64) as f32)
}
