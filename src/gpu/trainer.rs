//! Local updates of many clients at once on the GPU: every dispatch covers all the round's clients, whose
//! parameter vectors are stacked in one buffer ([clients, P]); a step is one command buffer of batched products,
//! elementwise kernels and one Adam update over the whole stack.
//!
//! The host draws each client's mini-batch and noise from the client's own random stream exactly as
//! [`crate::federated::local_update`] does on the CPU, so both paths see the same data; they differ only by f32
//! rounding of the kernels.

use super::GpuContext;
use super::kernels::{AdamHyper, Epilogue, GridDims, MatmulSpec, Operand, Placement};
use crate::diffusion::{DenoiserTask, LoadedNets};
use crate::ensemble::DenoiserDevice;
use crate::error::Result;
use crate::federated::{ClientWork, LocalResult};
use crate::nn::{Mlp, TimeNet};
use crate::scenario::{OptimizerConfig, OptimizerKind};
use ndarray::Axis;

/// Device buffers of one batched step: activations per layer and the backward deltas, [clients, batch, width].
struct Activations {
    /// Input of each layer (layer 0's is uploaded every step).
    inputs: Vec<wgpu::Buffer>,
    /// Pre-activation of each layer (the last one is the output).
    pre: Vec<wgpu::Buffer>,
    /// dLoss/d(pre-activation) of each layer.
    delta: Vec<wgpu::Buffer>,
}

impl DenoiserDevice for GpuContext {
    fn describe(&self) -> String {
        self.adapter()
    }

    fn load_nets(&self, nets: &[(&TimeNet, &[f32])]) -> Result<Box<dyn LoadedNets + '_>> {
        Ok(Box::new(self.load(nets)))
    }

    /// Runs `steps` optimizer steps (Adam(W) or SGD with momentum, a fresh optimizer as `local_optimizer: fresh`,
    /// each client's gradient clipped to `grad_clip`) of the denoiser `task` for every client in `clients`, client
    /// k from `starts[k]`; returns each client's weights and mean loss.
    fn local_updates(
        &self,
        task: &DenoiserTask,
        starts: &[&[f32]],
        clients: &mut [ClientWork],
        steps: usize,
        batch_size: usize,
        optimizer: &OptimizerConfig,
    ) -> Result<Vec<LocalResult>> {
        let sgd = optimizer.kind == OptimizerKind::Sgd;
        let mlp = &task.net.mlp;
        let layers = mlp.layers();
        let (c, p) = (clients.len(), mlp.param_count());
        assert!(
            starts.len() == c && starts.iter().all(|w| w.len() == p),
            "one start of the task's size per client"
        );
        let n = clients.iter().map(|w| w.rows.len().min(batch_size)).max().unwrap_or(0);
        if c == 0 || n == 0 || steps == 0 {
            return Ok(starts.iter().map(|w| (w.to_vec(), Ok(0.0))).collect());
        }
        let (cu, nu, pu) = (c as u32, n as u32, p as u32);
        let dim = task.net.dim;
        let input_width = layers[0].fan_in;
        let stacked: Vec<f32> = starts.concat();
        let params = self.storage(&stacked);
        let grad = self.zeros(c * p);
        let (m, v, norms) = (self.zeros(c * p), self.zeros(c * p), self.zeros(c));
        let buffers = Activations {
            inputs: layers.iter().map(|l| self.zeros(c * n * l.fan_in)).collect(),
            pre: layers.iter().map(|l| self.zeros(c * n * l.fan_out)).collect(),
            delta: layers.iter().map(|l| self.zeros(c * n * l.fan_out)).collect(),
        };
        let target = self.zeros(c * n * dim);
        // 2 / (rows x dim) of each row's client (the mean squared error's gradient), 0 on padding rows.
        let scale: Vec<f32> = clients
            .iter()
            .flat_map(|w| {
                let rows = w.rows.len().min(batch_size);
                (0..n).map(move |r| if r < rows { 2.0 / (rows * dim) as f32 } else { 0.0 })
            })
            .collect();
        let row_scale = self.storage(&scale);
        let loss = self.zeros(c);
        let mut host = HostBatch {
            input: vec![0f32; c * n * input_width],
            target: vec![0f32; c * n * dim],
            rows: n,
        };
        for step in 1..=steps {
            host.draw(task, clients, batch_size);
            self.queue
                .write_buffer(&buffers.inputs[0], 0, bytemuck::cast_slice(&host.input));
            self.queue.write_buffer(&target, 0, bytemuck::cast_slice(&host.target));
            let mut encoder = self.encoder();
            self.encode_forward(&mut encoder, mlp, (cu, nu, pu), &params, &buffers);
            let last = layers.len() - 1;
            self.encode_mse_grad(
                &mut encoder,
                (cu * nu, dim as u32),
                [&buffers.pre[last], &target, &row_scale, &buffers.delta[last]],
            );
            self.encode_loss(
                &mut encoder,
                (cu, nu, dim as u32),
                [&buffers.pre[last], &target, &row_scale, &loss],
            );
            self.encode_backward(&mut encoder, mlp, (cu, nu, pu), &params, &buffers, &grad);
            let hyper = AdamHyper::at_step(optimizer, step, cu, pu);
            self.encode_update(&mut encoder, &hyper, sgd, [&grad, &params, &m, &v, &norms]);
            self.submit(encoder);
        }
        let all = self.read(&params, c * p);
        let losses = self.read(&loss, c);
        Ok(all
            .chunks(p)
            .zip(losses)
            .map(|(w, l)| {
                let mean = l / steps as f32;
                (w.to_vec(), if mean.is_finite() { Ok(mean) } else { Err(mean) })
            })
            .collect())
    }
}

/// The host side of one step's batches: every client's network inputs and targets, each padded to `rows` rows.
struct HostBatch {
    input: Vec<f32>,
    target: Vec<f32>,
    rows: usize,
}

impl HostBatch {
    /// Draws each client's batch (all its rows if it has at most `batch_size`) and noise from its own stream,
    /// and lays out its inputs and targets at its slot, zero-padded.
    fn draw(&mut self, task: &DenoiserTask, clients: &mut [ClientWork], batch_size: usize) {
        let (n, dim) = (self.rows, task.net.dim);
        let input_width = self.input.len() / (clients.len() * n);
        let mut batch = Vec::with_capacity(n);
        for (k, work) in clients.iter_mut().enumerate() {
            batch.clear();
            if work.rows.len() <= batch_size {
                batch.extend_from_slice(work.rows);
            } else {
                batch.extend(
                    rand::seq::index::sample(&mut work.rng, work.rows.len(), batch_size)
                        .iter()
                        .map(|i| work.rows[i]),
                );
            }
            let x0 = task.data.select(Axis(0), &batch);
            let noised = task.objective.noise(x0.view(), &mut work.rng);
            let input = task.net.input(noised.xt.view(), |i| noised.time[i]);
            let (a, b) = (k * n * input_width, k * n * dim);
            self.input[a..a + input.len()].copy_from_slice(input.as_slice().expect("standard layout"));
            self.input[a + input.len()..a + n * input_width].fill(0.0);
            self.target[b..b + noised.target.len()].copy_from_slice(noised.target.as_slice().expect("standard layout"));
            self.target[b + noised.target.len()..b + n * dim].fill(0.0);
        }
    }
}

impl AdamHyper {
    /// The optimizer's settings for the 1-based `step`, over `clients` stacked models of `per_client` parameters.
    fn at_step(optimizer: &OptimizerConfig, step: usize, clients: u32, per_client: u32) -> Self {
        AdamHyper {
            lr: optimizer.lr as f32,
            beta1: optimizer.beta1 as f32,
            beta2: optimizer.beta2 as f32,
            eps: 1e-8,
            weight_decay: optimizer.weight_decay as f32,
            c1: 1.0 - (optimizer.beta1 as f32).powi(step as i32),
            c2: 1.0 - (optimizer.beta2 as f32).powi(step as i32),
            len: clients * per_client,
            clip: optimizer.grad_clip as f32,
            per_client,
            momentum: optimizer.momentum as f32,
            pad: 0,
        }
    }
}

impl GpuContext {
    /// Records the forward pass of every client: hidden layers with the fused bias + SiLU (+ skip) epilogue.
    fn encode_forward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        mlp: &Mlp,
        (c, n, p): (u32, u32, u32),
        params: &wgpu::Buffer,
        buffers: &Activations,
    ) {
        let layers = mlp.layers();
        for (l, layer) in layers.iter().enumerate() {
            let hidden = l + 1 < layers.len();
            let spec = MatmulSpec::layer_forward(mlp, l, n, c, p);
            let at = Placement {
                b: layer.weight as u32,
                bias: layer.bias as u32,
                bias_batch: p,
                out_batch: n * layer.fan_out as u32,
                ..Placement::default()
            };
            let act = if hidden {
                &buffers.inputs[l + 1]
            } else {
                &buffers.pre[l]
            };
            self.encode_matmul(
                encoder,
                &spec,
                at,
                &buffers.inputs[l],
                params,
                params,
                &buffers.pre[l],
                act,
            );
        }
    }

    /// Records the backward pass from the output deltas: SiLU backward, dW = x^T delta, db = column sums, and
    /// delta of the layer below = delta W^T (plus the upstream delta through a skip connection), all written into
    /// the stacked gradient.
    fn encode_backward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        mlp: &Mlp,
        (c, n, p): (u32, u32, u32),
        params: &wgpu::Buffer,
        buffers: &Activations,
        grad: &wgpu::Buffer,
    ) {
        let layers = mlp.layers();
        for (l, layer) in layers.iter().enumerate().rev() {
            let (fi, fo) = (layer.fan_in as u32, layer.fan_out as u32);
            let skip = mlp.skips(l);
            if skip {
                // The skip passes dL/d(output) straight to the layer below; delta W^T is added to it.
                let size = (c * n * fo) as u64 * std::mem::size_of::<f32>() as u64;
                encoder.copy_buffer_to_buffer(&buffers.delta[l], 0, &buffers.delta[l - 1], 0, size);
            }
            if l + 1 < layers.len() {
                self.encode_silu_backward(encoder, c * n * fo, &buffers.pre[l], &buffers.delta[l]);
            }
            let dw = MatmulSpec {
                batches: c,
                m: fi,
                n: fo,
                k: n,
                a: Operand::transposed(n, fi),
                b: Operand::row_major(n, fo),
                epilogue: Epilogue::Store,
            };
            let at = Placement {
                out_batch: p,
                out: layer.weight as u32,
                ..Placement::default()
            };
            let delta = &buffers.delta[l];
            self.encode_matmul(encoder, &dw, at, &buffers.inputs[l], delta, delta, grad, grad);
            let sums = GridDims {
                out_offset: layer.bias as u32,
                out_batch: p,
                ..GridDims::new(n, fo, c)
            };
            self.encode_column_sums(encoder, &sums, delta, grad);
            if l > 0 {
                let dx = MatmulSpec {
                    batches: c,
                    m: n,
                    n: fi,
                    k: fo,
                    a: Operand::row_major(n, fo),
                    b: Operand {
                        batch: p,
                        row: 1,
                        col: fo,
                    },
                    epilogue: if skip { Epilogue::Accumulate } else { Epilogue::Store },
                };
                let at = Placement {
                    b: layer.weight as u32,
                    out_batch: n * fi,
                    ..Placement::default()
                };
                let below = &buffers.delta[l - 1];
                self.encode_matmul(encoder, &dx, at, delta, params, params, below, below);
            }
        }
    }
}
