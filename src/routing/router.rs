//! The router: an MLP classifier on (x_t, t) predicting which expert's shard a noisy point came from
//! (DDM Algorithm 1), trained with cross-entropy; at sampling time softmax(logits / temperature).

use crate::diffusion::{Conditioning, Objective, forward_noised};
use crate::federated::Task;
use crate::nn::{Cache, TimeNet};
use crate::rng::Rng;
use ndarray::{Array2, ArrayView2};

/// A trained router.
#[derive(Debug, Clone)]
pub struct RouterModel {
    /// Architecture (output = number of experts).
    pub net: TimeNet,
    /// Flat parameters.
    pub params: Vec<f32>,
    /// Softmax temperature.
    pub temperature: f32,
}

/// Row-wise softmax of `logits / temperature`, computed stably. Shapes: [n, e] -> [n, e].
pub fn softmax(mut logits: Array2<f32>, temperature: f32) -> Array2<f32> {
    for mut row in logits.rows_mut() {
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| ((v - max) / temperature).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    logits
}

impl RouterModel {
    /// Expert probabilities for a batch at network time `t`. Shapes: x [n, dim] -> [n, experts].
    pub fn probs(&self, x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        softmax(self.net.infer(&self.params, x, t), self.temperature)
    }

    /// [`RouterModel::probs`] given class `classes[i]` of row i (a conditional router; an unconditional one
    /// ignores them).
    pub fn probs_classes(&self, x: ArrayView2<f32>, t: f64, classes: &[usize]) -> Array2<f32> {
        softmax(
            self.net.infer_classes(&self.params, x, t, |i| classes[i]),
            self.temperature,
        )
    }

    /// The router over the experts `kept` only (in that order): the output layer keeps their columns, so its
    /// probabilities are the softmax of their logits, i.e. this router's probabilities renormalised over them.
    pub fn restricted_to(&self, kept: &[usize]) -> RouterModel {
        let mlp = &self.net.mlp;
        let layers = mlp.layers();
        let last = layers[layers.len() - 1];
        let hidden: Vec<usize> = layers[..layers.len() - 1].iter().map(|l| l.fan_out).collect();
        let (dim, embedding, classes) = (self.net.dim, self.net.embedding, self.net.classes);
        let net = TimeNet::conditional(dim, embedding, classes, &hidden, kept.len(), mlp.residual());
        // Every layer before the output one as it is; then the output weight [fan_in, experts] row by row, and
        // the bias, at the kept columns.
        let mut params = self.params[..last.weight].to_vec();
        for row in self.params[last.weight..last.bias].chunks(last.fan_out) {
            params.extend(kept.iter().map(|&j| row[j]));
        }
        params.extend(kept.iter().map(|&j| self.params[last.bias + j]));
        debug_assert_eq!(params.len(), net.mlp.param_count());
        RouterModel {
            net,
            params,
            temperature: self.temperature,
        }
    }
}

/// Cross-entropy of the router against the expert id of each training point, on noised points.
pub struct RouterTask<'a> {
    /// Architecture being trained.
    pub net: TimeNet,
    /// Noising process (the same as the experts').
    pub objective: Objective,
    /// All training points. Shape [n, dim].
    pub data: &'a Array2<f32>,
    /// Expert id of every training point (the expert of the client holding it).
    pub labels: &'a [usize],
    /// The points' classes, for a conditional router.
    pub condition: Option<Conditioning<'a>>,
}

impl Task for RouterTask<'_> {
    fn param_count(&self) -> usize {
        self.net.mlp.param_count()
    }

    fn flops_per_row(&self) -> u64 {
        self.net.mlp.training_flops_per_row()
    }

    fn loss_and_grad(&self, params: &[f32], rows: &[usize], rng: &mut Rng, grad: &mut [f32]) -> f32 {
        let mut cache = Cache::default();
        let (logits, _) = forward_noised(
            &self.net,
            params,
            &self.objective,
            (self.data, self.condition),
            rows,
            rng,
            &mut cache,
        );
        let mut d = softmax(logits, 1.0);
        let n = rows.len() as f32;
        let mut loss = 0.0;
        for (i, &r) in rows.iter().enumerate() {
            let label = self.labels[r];
            loss -= d[[i, label]].max(1e-30).ln();
            d[[i, label]] -= 1.0;
        }
        d /= n;
        self.net.mlp.backward(params, &cache, d.view(), grad);
        loss / n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_temperature_flattens() {
        let l = ndarray::array![[1.0f32, 2.0, 3.0]];
        let p1 = softmax(l.clone(), 1.0);
        let p4 = softmax(l, 4.0);
        assert!((p1.sum() - 1.0).abs() < 1e-6 && (p4.sum() - 1.0).abs() < 1e-6);
        assert!(p4[[0, 2]] < p1[[0, 2]]);
    }

    #[test]
    fn a_restricted_router_renormalises_over_the_kept_experts() {
        check_restricted(0);
    }

    #[test]
    fn a_restricted_conditional_router_keeps_its_classes() {
        check_restricted(3);
    }

    /// A router of `classes` classes (0: unconditional) restricted to some experts gives the full router's
    /// probabilities renormalised over them, for every class.
    fn check_restricted(classes: usize) {
        use rand::Rng as _;
        let net = TimeNet::conditional(2, 4, classes, &[16, 8], 5, false);
        let rng = &mut crate::rng::derive(3, crate::rng::Stream::Init, &[]);
        let params = (0..net.mlp.param_count())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let router = RouterModel {
            net,
            params,
            temperature: 1.7,
        };
        let x = Array2::from_shape_fn((7, 2), |(i, j)| ((i * 2 + j) as f32 * 0.37).sin() * 3.0);
        let row_classes: Vec<usize> = (0..7).map(|i| i % (classes + 1)).collect();
        let full = router.probs_classes(x.view(), 0.4, &row_classes);
        let kept = [4, 1, 2];
        let restricted = router.restricted_to(&kept);
        assert_eq!(restricted.net.mlp.output(), 3);
        assert_eq!(restricted.net.classes, classes);
        let p = restricted.probs_classes(x.view(), 0.4, &row_classes);
        for (i, row) in p.rows().into_iter().enumerate() {
            assert!((row.sum() - 1.0).abs() < 1e-5, "row {i} sums to {}", row.sum());
            let mass: f32 = kept.iter().map(|&j| full[[i, j]]).sum();
            for (c, &j) in kept.iter().enumerate() {
                assert!((row[c] - full[[i, j]] / mass).abs() < 1e-5, "row {i}, expert {j}");
            }
        }
    }
}
