//! Multi-layer perceptron with SiLU hidden layers on a flat parameter vector, with hand-written backward pass.
//!
//! Parameters live in one flat slice (layer by layer: weight [in, out] row-major, then bias [out]) so that
//! federated averaging, Adam, EMA and gradient clipping are plain loops over one vector.

use super::Scalar;
use super::activation::sigmoid;
use super::matmul::{product, product_into};
use crate::rng::Rng;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};
use rand::Rng as _;

/// Where one affine layer's weight and bias sit in the flat parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Offset of the weight matrix [fan_in, fan_out].
    pub weight: usize,
    /// Offset of the bias vector [fan_out].
    pub bias: usize,
    /// Input width.
    pub fan_in: usize,
    /// Output width.
    pub fan_out: usize,
}

impl Layer {
    fn w<'a, F: Scalar>(&self, p: &'a [F]) -> ArrayView2<'a, F> {
        ArrayView2::from_shape((self.fan_in, self.fan_out), &p[self.weight..self.bias]).expect("layer shape")
    }

    fn b<'a, F: Scalar>(&self, p: &'a [F]) -> ArrayView1<'a, F> {
        ArrayView1::from(&p[self.bias..self.bias + self.fan_out])
    }

    /// Forward: z = x W + b. Shapes: x [n, fan_in] -> z [n, fan_out].
    fn forward<F: Scalar>(&self, p: &[F], x: ArrayView2<F>) -> Array2<F> {
        let mut z = product(x, self.w(p));
        z += &self.b(p);
        z
    }

    /// Backward: writes dW = x^T dz and db = sum_rows dz into `grad`, returns dx = dz W^T.
    fn backward<F: Scalar>(&self, p: &[F], x: ArrayView2<F>, dz: ArrayView2<F>, grad: &mut [F]) -> Array2<F> {
        self.weight_grads(x, dz, grad);
        product(dz, self.w(p).t())
    }

    /// Writes dW = x^T dz and db = sum_rows dz into `grad`.
    fn weight_grads<F: Scalar>(&self, x: ArrayView2<F>, dz: ArrayView2<F>, grad: &mut [F]) {
        let (gw, gb) = grad[self.weight..self.bias + self.fan_out].split_at_mut(self.bias - self.weight);
        let gw = ArrayViewMut2::from_shape((self.fan_in, self.fan_out), gw).expect("layer shape");
        product_into(x.t(), dz, gw);
        ArrayViewMut1::from(gb).assign(&dz.sum_axis(Axis(0)));
    }
}

/// Architecture of an MLP: widths input -> hidden... -> output, SiLU after every hidden layer, linear output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mlp {
    layers: Vec<Layer>,
    residual: bool,
}

/// Intermediate values of a forward pass needed by the backward pass.
#[derive(Debug, Default)]
pub struct Cache<F> {
    /// Input of each layer. Shape [n, fan_in] each.
    inputs: Vec<Array2<F>>,
    /// Pre-activation z of each hidden layer. Shape [n, fan_out] each.
    pre: Vec<Array2<F>>,
    /// sigmoid(z) of each hidden layer, kept so the backward pass needs no exponential. Shape [n, fan_out] each.
    gates: Vec<Array2<F>>,
}

impl Mlp {
    /// An MLP from `input` through `hidden` widths to `output`; `residual` adds skip connections between
    /// consecutive hidden layers of equal width.
    pub fn new(input: usize, hidden: &[usize], output: usize, residual: bool) -> Self {
        let widths: Vec<usize> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(output))
            .collect();
        let mut layers = Vec::new();
        let mut offset = 0;
        for pair in widths.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            layers.push(Layer {
                weight: offset,
                bias: offset + fan_in * fan_out,
                fan_in,
                fan_out,
            });
            offset += fan_in * fan_out + fan_out;
        }
        Mlp { layers, residual }
    }

    /// The affine layers in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Whether equal-width hidden layers have skip connections.
    pub fn residual(&self) -> bool {
        self.residual
    }

    /// Input width.
    pub fn input(&self) -> usize {
        self.layers[0].fan_in
    }

    /// Output width.
    pub fn output(&self) -> usize {
        self.layers[self.layers.len() - 1].fan_out
    }

    /// Total number of parameters.
    pub fn param_count(&self) -> usize {
        let last = self.layers[self.layers.len() - 1];
        last.bias + last.fan_out
    }

    /// Floating-point operations of one training row through the affine layers, forward and backward: per layer
    /// 2 fan_in fan_out + fan_out forward (product and bias), 2 fan_in fan_out for the weight gradient, fan_out for
    /// the bias gradient, and 2 fan_in fan_out for the input gradient except at the first layer (whose input
    /// gradient training skips). Activations, skips and the loss are left out.
    pub fn training_flops_per_row(&self) -> u64 {
        self.layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let product = 2 * (layer.fan_in * layer.fan_out) as u64;
                let input_grad = if l == 0 { 0 } else { product };
                product + 2 * layer.fan_out as u64 + product + input_grad
            })
            .sum()
    }

    /// Whether hidden layer `l` adds its input to its output.
    pub fn skips(&self, l: usize) -> bool {
        let layer = self.layers[l];
        self.residual && l > 0 && l + 1 < self.layers.len() && layer.fan_in == layer.fan_out
    }

    /// PyTorch's default Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases,
    /// except the output layer, which starts at zero so an untrained denoiser predicts 0.
    pub fn init<F: Scalar>(&self, rng: &mut Rng) -> Vec<F> {
        let mut p = vec![F::zero(); self.param_count()];
        for layer in &self.layers[..self.layers.len() - 1] {
            let bound = 1.0 / (layer.fan_in as f64).sqrt();
            for v in &mut p[layer.weight..layer.bias + layer.fan_out] {
                *v = F::of(rng.random_range(-bound..bound));
            }
        }
        p
    }

    /// Forward pass, keeping what the backward pass needs in `cache`. Shapes: x [n, input] -> [n, output].
    pub fn forward<F: Scalar>(&self, p: &[F], x: ArrayView2<F>, cache: &mut Cache<F>) -> Array2<F> {
        cache.inputs.clear();
        cache.pre.clear();
        cache.gates.clear();
        let mut h = x.to_owned();
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let z = layer.forward(p, h.view());
            if l == last {
                cache.inputs.push(h);
                return z;
            }
            // One pass for gate = sigmoid(z) and a = z * gate (+ h through a skip connection).
            let mut gate = Array2::zeros(z.raw_dim());
            let mut a = Array2::zeros(z.raw_dim());
            let zip = Zip::from(&mut a).and(&mut gate).and(&z);
            if self.skips(l) {
                zip.and(&h).for_each(|a, g, &z, &x| {
                    *g = sigmoid(z);
                    *a = z * *g + x;
                });
            } else {
                zip.for_each(|a, g, &z| {
                    *g = sigmoid(z);
                    *a = z * *g;
                });
            }
            cache.inputs.push(std::mem::replace(&mut h, a));
            cache.pre.push(z);
            cache.gates.push(gate);
        }
        unreachable!("an MLP has at least one layer")
    }

    /// Forward pass without a cache (inference). Shapes: x [n, input] -> [n, output].
    pub fn infer<F: Scalar>(&self, p: &[F], x: ArrayView2<F>) -> Array2<F> {
        let last = self.layers.len() - 1;
        let mut h = self.layers[0].forward(p, x);
        if last == 0 {
            return h;
        }
        h.mapv_inplace(|z| z * sigmoid(z));
        for (l, layer) in self.layers.iter().enumerate().skip(1) {
            let mut z = layer.forward(p, h.view());
            if l == last {
                return z;
            }
            z.mapv_inplace(|v| v * sigmoid(v));
            if self.skips(l) {
                z += &h;
            }
            h = z;
        }
        h
    }

    /// The last hidden layer's activations, the input of the output layer (a classifier's feature space).
    /// Shapes: x [n, input] -> [n, fan_in of the output layer].
    pub fn penultimate<F: Scalar>(&self, p: &[F], x: ArrayView2<F>) -> Array2<F> {
        let last = self.layers.len() - 1;
        let mut h = x.to_owned();
        for (l, layer) in self.layers[..last].iter().enumerate() {
            let mut z = layer.forward(p, h.view());
            z.mapv_inplace(|v| v * sigmoid(v));
            if self.skips(l) {
                z += &h;
            }
            h = z;
        }
        h
    }

    /// The output layer applied to `features` from [`Mlp::penultimate`]: together the same as [`Mlp::infer`].
    /// Shapes: features [n, fan_in of the output layer] -> [n, output].
    pub fn head<F: Scalar>(&self, p: &[F], features: ArrayView2<F>) -> Array2<F> {
        self.layers[self.layers.len() - 1].forward(p, features)
    }

    /// Backward pass from dLoss/dOutput `dy` [n, output]; writes dLoss/dParams into `grad` (overwriting it).
    pub fn backward<F: Scalar>(&self, p: &[F], cache: &Cache<F>, dy: ArrayView2<F>, grad: &mut [F]) {
        let last = self.layers.len() - 1;
        let mut dh = self.layers[last].backward(p, cache.inputs[last].view(), dy, grad);
        for l in (0..last).rev() {
            // A skip connection passes the upstream gradient straight through as well.
            let upstream = self.skips(l).then(|| dh.clone());
            // d SiLU / dz = s (1 + z (1 - s)), s = sigmoid(z).
            let mut dz = dh;
            Zip::from(&mut dz)
                .and(&cache.pre[l])
                .and(&cache.gates[l])
                .for_each(|d, &z, &s| *d = *d * s * (F::one() + z * (F::one() - s)));
            if l == 0 {
                // The gradient with respect to the network's input is not needed: skip its matrix product.
                self.layers[0].weight_grads(cache.inputs[0].view(), dz.view(), grad);
                break;
            }
            let dx = self.layers[l].backward(p, cache.inputs[l].view(), dz.view(), grad);
            dh = match upstream {
                Some(u) => dx + &u,
                None => dx,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn training_flops_count_both_passes_from_the_layer_shapes() {
        // 3 -> 4 -> 2: layer 0 forward 24 + 4, weight grad 24, bias grad 4 (no input grad); layer 1 forward
        // 16 + 2, weight grad 16, bias grad 2, input grad 16.
        let mlp = super::Mlp::new(3, &[4], 2, false);
        assert_eq!(mlp.training_flops_per_row(), (24 + 4 + 24 + 4) + (16 + 2 + 16 + 2 + 16));
    }

    use super::*;
    use crate::rng::{Stream, derive};

    fn loss(mlp: &Mlp, p: &[f64], x: &Array2<f64>, target: &Array2<f64>) -> f64 {
        let y = mlp.infer(p, x.view());
        (&y - target).mapv(|v| v * v).sum() / 2.0
    }

    /// Every parameter's analytic gradient matches a central finite difference (f64, relative error < 1e-6).
    fn check_gradients(residual: bool) {
        let mlp = Mlp::new(3, &[5, 5, 4], 2, residual);
        let rng = &mut derive(3, Stream::Init, &[]);
        let mut p: Vec<f64> = mlp.init(rng);
        // Make the output layer non-zero so every gradient is exercised.
        for v in p.iter_mut().skip(mlp.layers()[3].weight) {
            *v = rng.random_range(-0.5..0.5);
        }
        let x = Array2::from_shape_fn((6, 3), |(i, j)| ((i * 3 + j) as f64 * 0.37).sin());
        let target = Array2::from_shape_fn((6, 2), |(i, j)| ((i + 2 * j) as f64 * 0.91).cos());
        let mut cache = Cache::default();
        let y = mlp.forward(&p, x.view(), &mut cache);
        assert!((&y - &mlp.infer(&p, x.view())).iter().all(|d| d.abs() < 1e-14));
        let features = mlp.penultimate(&p, x.view());
        let from_features = mlp.head(&p, features.view());
        assert!((&y - &from_features).iter().all(|d| d.abs() < 1e-14));
        let mut grad = vec![0.0; p.len()];
        mlp.backward(&p, &cache, (&y - &target).view(), &mut grad);
        let h = 1e-6;
        for i in 0..p.len() {
            let mut plus = p.clone();
            plus[i] += h;
            let mut minus = p.clone();
            minus[i] -= h;
            let fd = (loss(&mlp, &plus, &x, &target) - loss(&mlp, &minus, &x, &target)) / (2.0 * h);
            // Relative error, floored at 1e-3 so that the ~1e-10 round-off of a central difference on a tiny
            // gradient is not mistaken for an error.
            let err = (fd - grad[i]).abs() / fd.abs().max(grad[i].abs()).max(1e-3);
            assert!(err < 1e-6, "param {i}: analytic {} vs finite difference {fd}", grad[i]);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_gradients(false);
    }

    #[test]
    fn residual_gradients_match_finite_differences() {
        check_gradients(true);
    }

    #[test]
    fn untrained_output_is_zero() {
        let mlp = Mlp::new(3, &[8], 2, false);
        let p: Vec<f32> = mlp.init(&mut derive(0, Stream::Init, &[]));
        let y = mlp.infer(&p, Array2::ones((4, 3)).view());
        assert!(y.iter().all(|v| *v == 0.0));
    }
}
