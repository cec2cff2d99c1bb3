//! A network on (x, t), and on a class for a conditional one: the MLP applied to [x, sinusoidal embedding of t,
//! one-hot class]; used by denoisers, the router and the classifier.
//!
//! A conditional net's class columns are a one-hot of `classes + 1` values, the last the null class (no
//! condition; label dropout trains it). The first layer's weights on those columns are the learned class
//! embedding: the chosen class's row adds to the layer's pre-activation beside the time embedding's part.

use super::embedding::{embed_time, embed_time_at, frequencies};
use super::{Mlp, Scalar};
use ndarray::{Array1, Array2, ArrayView2, s};

/// Architecture of a time-conditioned (and, with classes, class-conditioned) MLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeNet {
    /// The MLP on [x, emb(t)] (and the one-hot class of a conditional net).
    pub mlp: Mlp,
    /// Dimension of x.
    pub dim: usize,
    /// Size of the time embedding.
    pub embedding: usize,
    /// Classes of a conditional net (0: unconditional, no class columns).
    pub classes: usize,
}

impl TimeNet {
    /// A network with input x of `dim`, time embedding of `embedding`, the given hidden widths and `output`.
    pub fn new(dim: usize, embedding: usize, hidden: &[usize], output: usize, residual: bool) -> Self {
        Self::conditional(dim, embedding, 0, hidden, output, residual)
    }

    /// [`TimeNet::new`] conditioned on `classes` classes (0: unconditional).
    pub fn conditional(
        dim: usize,
        embedding: usize,
        classes: usize,
        hidden: &[usize],
        output: usize,
        residual: bool,
    ) -> Self {
        let class_columns = if classes > 0 { classes + 1 } else { 0 };
        TimeNet {
            mlp: Mlp::new(dim + embedding + class_columns, hidden, output, residual),
            dim,
            embedding,
            classes,
        }
    }

    /// The null class of a conditional net (its unconditional branch): the value after the last class.
    pub fn null_class(&self) -> usize {
        self.classes
    }

    /// The MLP's input [x, emb(t_i)] for per-row times `t` (a conditional net: with the null class). Shapes: x
    /// [n, dim] -> [n, MLP input].
    pub fn input<F: Scalar>(&self, x: ArrayView2<F>, t: impl Fn(usize) -> f64) -> Array2<F> {
        self.input_with_classes(x, t, |_| self.null_class())
    }

    /// [`TimeNet::input`] with the class `class(i)` of each row (`null_class` for none; ignored when the net is
    /// unconditional).
    pub fn input_with_classes<F: Scalar>(
        &self,
        x: ArrayView2<F>,
        t: impl Fn(usize) -> f64,
        class: impl Fn(usize) -> usize,
    ) -> Array2<F> {
        let mut input = self.with_x(x);
        let freqs = frequencies(self.embedding);
        for i in 0..x.nrows() {
            embed_time_at(
                t(i),
                &freqs,
                input.slice_mut(s![i, self.dim..self.dim + self.embedding]),
            );
        }
        self.set_classes(&mut input, class);
        input
    }

    /// Output for a batch at one common time `t` (a conditional net: unconditional, the null class). Shapes: x
    /// [n, dim] -> [n, output].
    pub fn infer(&self, params: &[f32], x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        self.infer_classes(params, x, t, |_| self.null_class())
    }

    /// [`TimeNet::infer`] for class `class(i)` of row i (`null_class` for none).
    pub fn infer_classes(
        &self,
        params: &[f32],
        x: ArrayView2<f32>,
        t: f64,
        class: impl Fn(usize) -> usize,
    ) -> Array2<f32> {
        // One time for the whole batch: embed once and broadcast, instead of once per row.
        let mut emb = Array1::zeros(self.embedding);
        embed_time(t, emb.view_mut());
        let mut input = self.with_x(x);
        input
            .slice_mut(s![.., self.dim..self.dim + self.embedding])
            .assign(&emb);
        self.set_classes(&mut input, class);
        self.mlp.infer(params, input.view())
    }

    /// Sets the one-hot class columns of a conditional net's input (the net's is zero there so far).
    fn set_classes<F: Scalar>(&self, input: &mut Array2<F>, class: impl Fn(usize) -> usize) {
        if self.classes == 0 {
            return;
        }
        let first = self.dim + self.embedding;
        for i in 0..input.nrows() {
            let c = class(i);
            assert!(c <= self.classes, "class {c} of a net with {} classes", self.classes);
            input[[i, first + c]] = F::one();
        }
    }

    /// An input matrix [n, MLP input] holding x, with the embedding and class columns still zero.
    fn with_x<F: Scalar>(&self, x: ArrayView2<F>) -> Array2<F> {
        let mut input = Array2::zeros((x.nrows(), self.mlp.input()));
        input.slice_mut(s![.., ..self.dim]).assign(&x);
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use rand::Rng as _;

    /// A net with random (non-zero output layer) weights.
    fn random(net: &TimeNet, seed: u64) -> Vec<f32> {
        let rng = &mut derive(seed, Stream::Init, &[]);
        (0..net.mlp.param_count())
            .map(|_| rng.random_range(-0.5..0.5))
            .collect()
    }

    #[test]
    fn zero_classes_is_the_unconditional_net_and_the_null_class_its_default() {
        assert_eq!(
            TimeNet::conditional(2, 4, 0, &[8], 2, false),
            TimeNet::new(2, 4, &[8], 2, false)
        );
        let net = TimeNet::conditional(2, 4, 3, &[8], 2, false);
        assert_eq!(net.mlp.input(), 2 + 4 + 4);
        let p = random(&net, 1);
        let x = Array2::from_shape_fn((5, 2), |(i, j)| (i as f32 - j as f32) * 0.3);
        assert_eq!(
            net.infer(&p, x.view(), 0.4),
            net.infer_classes(&p, x.view(), 0.4, |_| 3)
        );
        let per_row = net.input_with_classes(x.view(), |_| 0.4, |i| i % 4);
        assert_eq!(
            net.mlp.infer(&p, per_row.view()),
            net.infer_classes(&p, x.view(), 0.4, |i| i % 4)
        );
        // Each row's class columns are one-hot at its class.
        for i in 0..5 {
            let ones: Vec<usize> = (0..4).filter(|&c| per_row[[i, 6 + c]] == 1.0).collect();
            assert_eq!(ones, vec![i % 4]);
            assert_eq!(per_row.row(i).slice(s![6..]).sum(), 1.0);
        }
    }

    #[test]
    fn a_class_shifts_the_first_layer_by_its_learned_embedding() {
        // With one hidden layer, the pre-activation for class c is the unconditional net's (null column zeroed)
        // plus row c of the first layer's class weights: the class embedding.
        let net = TimeNet::conditional(1, 2, 2, &[3], 1, false);
        let p = random(&net, 2);
        let x = Array2::from_elem((1, 1), 0.7f32);
        let a = net.infer_classes(&p, x.view(), 0.2, |_| 0);
        let b = net.infer_classes(&p, x.view(), 0.2, |_| 1);
        assert_ne!(a, b, "classes must change the prediction");
        let mut swapped = p.clone();
        let layer = net.mlp.layers()[0];
        for o in 0..layer.fan_out {
            swapped.swap(
                layer.weight + 3 * layer.fan_out + o,
                layer.weight + 4 * layer.fan_out + o,
            );
        }
        assert_eq!(net.infer_classes(&swapped, x.view(), 0.2, |_| 1), a);
    }

    #[test]
    fn gradients_through_the_class_columns_match_finite_differences() {
        // f64, every parameter (class embedding rows included), rows of three classes and the null class.
        let net = TimeNet::conditional(2, 4, 3, &[6, 6], 2, true);
        let rng = &mut derive(5, Stream::Init, &[]);
        let p: Vec<f64> = (0..net.mlp.param_count())
            .map(|_| rng.random_range(-0.5..0.5))
            .collect();
        let x = Array2::from_shape_fn((8, 2), |(i, j)| ((i * 2 + j) as f64 * 0.61).sin());
        let target = Array2::from_shape_fn((8, 2), |(i, j)| ((i + 3 * j) as f64 * 0.47).cos());
        let input = net.input_with_classes(x.view(), |i| 0.1 + 0.1 * i as f64, |i| i % 4);
        let loss = |p: &[f64]| (&net.mlp.infer(p, input.view()) - &target).mapv(|v| v * v).sum() / 2.0;
        let mut cache = crate::nn::Cache::default();
        let y = net.mlp.forward(&p, input.view(), &mut cache);
        let mut grad = vec![0.0; p.len()];
        net.mlp.backward(&p, &cache, (&y - &target).view(), &mut grad);
        let first = net.mlp.layers()[0];
        let class_rows = (first.weight + 6 * first.fan_out)..first.bias;
        assert!(
            grad[class_rows].iter().all(|g| g.abs() > 1e-6),
            "every class row trains"
        );
        for i in 0..p.len() {
            let (mut plus, mut minus) = (p.clone(), p.clone());
            plus[i] += 1e-6;
            minus[i] -= 1e-6;
            let fd = (loss(&plus) - loss(&minus)) / 2e-6;
            let err = (fd - grad[i]).abs() / fd.abs().max(grad[i].abs()).max(1e-3);
            assert!(err < 1e-6, "param {i}: analytic {} vs finite difference {fd}", grad[i]);
        }
    }

    #[test]
    #[should_panic(expected = "class 4 of a net with 3 classes")]
    fn a_class_beyond_the_null_class_is_a_bug_caught_at_once() {
        let net = TimeNet::conditional(1, 2, 3, &[3], 1, false);
        let p = random(&net, 3);
        net.infer_classes(&p, Array2::zeros((1, 1)).view(), 0.5, |_| 4);
    }
}
