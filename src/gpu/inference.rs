//! Nets held on the GPU for sampling: their weights are uploaded once into one buffer; a call uploads the rows'
//! inputs, runs each net's layers on its rows with the fused bias + SiLU (+ skip) products and, for a routed
//! combination, adds the nets' outputs with the routing weights on the device, so only the result is read back.

use super::GpuContext;
use super::kernels::{MatmulSpec, Placement};
use crate::diffusion::LoadedNets;
use crate::nn::TimeNet;
use ndarray::{Array2, ArrayView2, Axis};

/// Nets resident on a GPU, in load order.
pub struct GpuNets<'a> {
    ctx: &'a GpuContext,
    nets: Vec<TimeNet>,
    /// Where each net's parameters start in `params` (floats).
    offsets: Vec<usize>,
    params: wgpu::Buffer,
}

/// One net's share of a call: the net and its rows' inputs (time embedding included), [rows, fan_in].
struct Segment {
    net: usize,
    input: Array2<f32>,
}

/// A call's outputs: the segments' rows one after the other in `buffer`, `stride` floats per row.
struct Outputs {
    buffer: wgpu::Buffer,
    stride: u32,
}

impl GpuContext {
    /// Uploads `nets` (architecture and weights) for inference.
    pub fn load(&self, nets: &[(&TimeNet, &[f32])]) -> GpuNets<'_> {
        let mut offsets = Vec::with_capacity(nets.len());
        let mut all = Vec::new();
        for (net, params) in nets {
            assert_eq!(params.len(), net.mlp.param_count(), "weights of another architecture");
            offsets.push(all.len());
            all.extend_from_slice(params);
        }
        GpuNets {
            ctx: self,
            nets: nets.iter().map(|(net, _)| (*net).clone()).collect(),
            offsets,
            params: self.storage(&all),
        }
    }
}

impl GpuNets<'_> {
    /// Records every segment's forward pass into `encoder`. Each segment occupies its own rows of shared
    /// scratch buffers of the widest layer, so all of them run in one command buffer.
    fn run(&self, encoder: &mut wgpu::CommandEncoder, segments: &[Segment]) -> Outputs {
        let ctx = self.ctx;
        let mut starts = Vec::with_capacity(segments.len());
        let mut total = 0u32;
        for s in segments {
            starts.push(total);
            total += s.input.nrows() as u32;
        }
        let layers_of = |s: &Segment| self.nets[s.net].mlp.layers();
        let width = segments
            .iter()
            .flat_map(|s| layers_of(s).iter().flat_map(|l| [l.fan_in, l.fan_out]))
            .max()
            .unwrap_or(1) as u32;
        let stride = segments
            .iter()
            .map(|s| self.nets[s.net].mlp.output())
            .max()
            .unwrap_or(1) as u32;
        // Segment s's input is dense [rows, fan_in] from float starts[s] x width on (as in every scratch buffer).
        let mut host_input = vec![0f32; (total * width) as usize];
        for (s, &start) in segments.iter().zip(&starts) {
            let at = (start * width) as usize;
            let input = s.input.as_standard_layout();
            let input = input.as_slice().expect("standard layout");
            host_input[at..at + input.len()].copy_from_slice(input);
        }
        let input = ctx.storage(&host_input);
        let len = (total * width) as usize;
        let (pre, ping, pong) = (ctx.zeros(len), ctx.zeros(len), ctx.zeros(len));
        let output = ctx.zeros((total * stride) as usize);
        for (s, &start) in segments.iter().zip(&starts) {
            let (mlp, offset) = (&self.nets[s.net].mlp, self.offsets[s.net] as u32);
            let rows = s.input.nrows() as u32;
            let last = mlp.layers().len() - 1;
            let mut from = &input;
            for (l, layer) in mlp.layers().iter().enumerate() {
                let spec = MatmulSpec::layer_forward(mlp, l, rows, 1, 0);
                let at = Placement {
                    a: start * width,
                    b: offset + layer.weight as u32,
                    bias: offset + layer.bias as u32,
                    out: if l == last { start * stride } else { start * width },
                    ..Placement::default()
                };
                let (out, act) = match (l == last, l % 2) {
                    (true, _) => (&output, &output),
                    (false, 0) => (&pre, &ping),
                    (false, _) => (&pre, &pong),
                };
                ctx.encode_matmul(encoder, &spec, at, from, &self.params, &self.params, out, act);
                from = act;
            }
        }
        Outputs { buffer: output, stride }
    }
}

impl LoadedNets for GpuNets<'_> {
    fn forward(&self, net: usize, x: ArrayView2<f32>, t: f64) -> Array2<f32> {
        let out = self.nets[net].mlp.output();
        if x.nrows() == 0 {
            return Array2::zeros((0, out));
        }
        let segment = Segment {
            net,
            input: self.nets[net].input(x, |_| t),
        };
        let mut encoder = self.ctx.encoder();
        let outputs = self.run(&mut encoder, &[segment]);
        self.ctx.submit(encoder);
        let values = self.ctx.read(&outputs.buffer, x.nrows() * out);
        Array2::from_shape_vec((x.nrows(), out), values).expect("rows x output floats")
    }

    fn combine(&self, x: ArrayView2<f32>, t: f64, weights: ArrayView2<f32>) -> Array2<f32> {
        let (n, experts) = weights.dim();
        assert_eq!(n, x.nrows(), "one weight row per row of x");
        let dim = self.nets[0].mlp.output();
        let mut segments = Vec::new();
        let mut slots = vec![0u32; n * experts];
        let mut next = 0u32;
        for j in 0..experts {
            let rows: Vec<usize> = (0..n).filter(|&i| weights[[i, j]] > 0.0).collect();
            if rows.is_empty() {
                continue;
            }
            assert_eq!(self.nets[j].mlp.output(), dim, "experts of one output width");
            for (k, &i) in rows.iter().enumerate() {
                slots[i * experts + j] = next + k as u32;
            }
            next += rows.len() as u32;
            let input = self.nets[j].input(x.select(Axis(0), &rows).view(), |_| t);
            segments.push(Segment { net: j, input });
        }
        if segments.is_empty() {
            return Array2::zeros((n, dim));
        }
        let ctx = self.ctx;
        let mut encoder = ctx.encoder();
        let outputs = self.run(&mut encoder, &segments);
        let host_weights = weights.as_standard_layout();
        let uw = ctx.storage(host_weights.as_slice().expect("standard layout"));
        let (us, out) = (ctx.storage(&slots), ctx.zeros(n * dim));
        let sizes = (n as u32, dim as u32, experts as u32, outputs.stride);
        ctx.encode_combine(&mut encoder, sizes, [&uw, &outputs.buffer, &us, &out]);
        ctx.submit(encoder);
        Array2::from_shape_vec((n, dim), ctx.read(&out, n * dim)).expect("rows x dim floats")
    }
}
