//! The WGSL kernels (src/gpu/shaders/) compiled once per device, and host-slice entry points that upload their
//! inputs, dispatch, and read the results back (what the agreement tests and the CPU-side callers use).

use super::GpuContext;
use crate::nn::Mlp;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Rows of the output tile of one matmul workgroup.
const TILE_ROWS: u32 = 32;
/// Columns of the output tile of one matmul workgroup.
const TILE_COLS: u32 = 64;
/// Threads per workgroup of the elementwise kernels.
const GROUP: u32 = 256;
/// Largest workgroup count per dispatch dimension.
const MAX_GROUPS: u32 = 65_535;

/// The compiled pipelines.
pub(super) struct Kernels {
    matmul: wgpu::ComputePipeline,
    silu_backward: wgpu::ComputePipeline,
    column_sums: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
    sgd: wgpu::ComputePipeline,
    client_norms: wgpu::ComputePipeline,
    combine: wgpu::ComputePipeline,
    mse: wgpu::ComputePipeline,
    loss: wgpu::ComputePipeline,
}

fn pipeline(device: &wgpu::Device, source: &str, entry: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(entry),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions::default(),
        cache: None,
    })
}

impl Kernels {
    /// Compiles every kernel for `device`.
    pub(super) fn compile(device: &wgpu::Device) -> Self {
        let elementwise = include_str!("shaders/elementwise.wgsl");
        let optimizer = include_str!("shaders/optimizer.wgsl");
        Kernels {
            matmul: pipeline(device, include_str!("shaders/matmul.wgsl"), "main"),
            silu_backward: pipeline(device, elementwise, "silu_backward"),
            column_sums: pipeline(device, elementwise, "column_sums"),
            adam: pipeline(device, optimizer, "adam"),
            sgd: pipeline(device, optimizer, "sgd"),
            client_norms: pipeline(device, optimizer, "client_norms"),
            combine: pipeline(device, include_str!("shaders/combine.wgsl"), "main"),
            mse: pipeline(device, include_str!("shaders/mse.wgsl"), "main"),
            loss: pipeline(device, include_str!("shaders/mse.wgsl"), "accumulate_loss"),
        }
    }
}

/// How a matmul operand is laid out: element (c, i, k) sits at `c * batch + i * row + k * col`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operand {
    /// Stride between batches (clients or experts).
    pub batch: u32,
    /// Stride between rows.
    pub row: u32,
    /// Stride between columns.
    pub col: u32,
}

impl Operand {
    /// A row-major [rows, cols] matrix per batch.
    pub fn row_major(rows: u32, cols: u32) -> Self {
        Operand {
            batch: rows * cols,
            row: cols,
            col: 1,
        }
    }

    /// The transpose of a row-major [rows, cols] matrix per batch, read as [cols, rows] without a copy.
    pub fn transposed(rows: u32, cols: u32) -> Self {
        Operand {
            batch: rows * cols,
            row: 1,
            col: cols,
        }
    }
}

/// One batched product C[c] = A[c] B[c] of [m, k] by [k, n] for c < batches, with its epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulSpec {
    /// Independent products (stacked clients' or experts' weights).
    pub batches: u32,
    /// Rows of A and C.
    pub m: u32,
    /// Columns of B and C.
    pub n: u32,
    /// The shared dimension.
    pub k: u32,
    /// Layout of A.
    pub a: Operand,
    /// Layout of B.
    pub b: Operand,
    /// What happens to each sum before it is stored.
    pub epilogue: Epilogue,
}

/// The matmul kernel's epilogue (its WGSL code in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// Store the product (0).
    Store,
    /// Add a bias row per batch (`[batches, n]`) (1).
    Bias,
    /// Add the bias and also write SiLU of the result to `act`, as a hidden layer's forward pass does (2).
    BiasSilu,
    /// As `BiasSilu`, plus a skip connection: `act` = SiLU(z) + A[i, j] (A square, n = k) (3).
    BiasSiluSkip,
    /// Add the product to what `out` holds (4): a skip connection's gradient joining the backward pass.
    Accumulate,
}

impl Epilogue {
    /// The code the kernel switches on.
    fn code(self) -> u32 {
        match self {
            Epilogue::Store => 0,
            Epilogue::Bias => 1,
            Epilogue::BiasSilu => 2,
            Epilogue::BiasSiluSkip => 3,
            Epilogue::Accumulate => 4,
        }
    }

    /// Whether the kernel writes `act` too.
    pub fn writes_act(self) -> bool {
        matches!(self, Epilogue::BiasSilu | Epilogue::BiasSiluSkip)
    }
}

impl MatmulSpec {
    /// The forward product of layer `l` of `mlp` for `batches` stacks of `rows` rows each, batch c's weights
    /// `stride` floats after batch c - 1's: bias for the output layer, bias + SiLU (+ skip) for hidden ones.
    pub(super) fn layer_forward(mlp: &Mlp, l: usize, rows: u32, batches: u32, stride: u32) -> Self {
        let layer = mlp.layers()[l];
        let (fi, fo) = (layer.fan_in as u32, layer.fan_out as u32);
        let hidden = l + 1 < mlp.layers().len();
        MatmulSpec {
            batches,
            m: rows,
            n: fo,
            k: fi,
            a: Operand::row_major(rows, fi),
            b: Operand {
                batch: stride,
                row: fo,
                col: 1,
            },
            epilogue: match (hidden, mlp.skips(l)) {
                (false, _) => Epilogue::Bias,
                (true, false) => Epilogue::BiasSilu,
                (true, true) => Epilogue::BiasSiluSkip,
            },
        }
    }
}

/// Where a matmul reads and writes inside larger buffers (all in floats): A, B and the bias start at their offsets,
/// batch c's bias at `bias + c bias_batch`; C[c, i, j] sits at `out + c out_batch + i n + j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Placement {
    pub(super) a: u32,
    pub(super) b: u32,
    pub(super) bias: u32,
    pub(super) bias_batch: u32,
    pub(super) out_batch: u32,
    pub(super) out: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulDims {
    m: u32,
    n: u32,
    k: u32,
    epilogue: u32,
    a_batch: u32,
    a_row: u32,
    a_col: u32,
    a_offset: u32,
    b_batch: u32,
    b_row: u32,
    b_col: u32,
    b_offset: u32,
    bias_batch: u32,
    bias_offset: u32,
    out_batch: u32,
    out_offset: u32,
}

/// Sizes of the elementwise kernels (and where column sums write).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(super) struct GridDims {
    pub(super) rows: u32,
    pub(super) cols: u32,
    pub(super) batches: u32,
    pub(super) out_offset: u32,
    pub(super) out_batch: u32,
    pub(super) pad: [u32; 3],
}

impl GridDims {
    /// rows x cols per batch, written densely.
    pub(super) fn new(rows: u32, cols: u32, batches: u32) -> Self {
        GridDims {
            rows,
            cols,
            batches,
            out_offset: 0,
            out_batch: cols,
            pad: [0; 3],
        }
    }
}

/// Sizes of the routed combination: rows, output width, experts, and the row stride of the predictions.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CombineDims {
    rows: u32,
    dim: u32,
    experts: u32,
    stride: u32,
}

/// Sizes of the squared-error gradient and loss: rows in all, their width, and rows per client (read by the loss
/// only).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MseDims {
    rows: u32,
    dim: u32,
    per_client: u32,
    pad: u32,
}

/// Optimizer settings of one update (Adam's bias corrections c1 = 1 - beta1^t and c2 = 1 - beta2^t included).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AdamHyper {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator floor.
    pub eps: f32,
    /// Decoupled weight decay.
    pub weight_decay: f32,
    /// 1 - beta1^t.
    pub c1: f32,
    /// 1 - beta2^t.
    pub c2: f32,
    /// Number of parameters (filled in by [`GpuContext::adam`]).
    pub len: u32,
    /// Largest global gradient norm per client (0: no clipping).
    pub clip: f32,
    /// Parameters per client (the stride of the stacked vector; filled in by [`GpuContext::adam`]).
    pub per_client: u32,
    /// SGD's heavy-ball momentum (unused by Adam).
    pub momentum: f32,
    /// Padding to 16 bytes.
    pub pad: u32,
}

impl AdamHyper {
    /// Adam's first step at learning rate `lr` with the usual decays (0.9, 0.999), eps 1e-8, no weight decay or
    /// clipping (what the agreement test and the kernel bench run).
    pub fn first_step(lr: f32) -> Self {
        AdamHyper {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            c1: 1.0 - 0.9,
            c2: 1.0 - 0.999,
            len: 0,
            clip: 0.0,
            per_client: 0,
            momentum: 0.0,
            pad: 0,
        }
    }
}

/// Workgroups for `threads` threads of an elementwise kernel, folded into two dimensions past 65,535 groups.
fn groups_1d(threads: u32) -> (u32, u32) {
    let groups = threads.div_ceil(GROUP).max(1);
    if groups <= MAX_GROUPS {
        (groups, 1)
    } else {
        (MAX_GROUPS, groups.div_ceil(MAX_GROUPS))
    }
}

impl GpuContext {
    /// A storage buffer holding `data` (one zero if empty: a binding may not be empty); readable back and writable
    /// from the host.
    pub(super) fn storage<T: Pod + Zeroable>(&self, data: &[T]) -> wgpu::Buffer {
        let zero = [T::zeroed()];
        let data = if data.is_empty() { &zero[..] } else { data };
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// A zeroed storage buffer of `len` floats.
    pub(super) fn zeros(&self, len: usize) -> wgpu::Buffer {
        // wgpu zero-initialises new buffers: no host-side zeros to build and upload.
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (len.max(1) * std::mem::size_of::<f32>()) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    fn uniform<T: Pod>(&self, value: &T) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// Records one dispatch of `pipeline` with `uniform` at binding 0 and `buffers` at bindings 1.. into `encoder`.
    fn encode<T: Pod>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        uniform: &T,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32, u32),
    ) {
        let bound: Vec<(u32, &wgpu::Buffer)> = (1..).zip(buffers.iter().copied()).collect();
        self.encode_bound(encoder, pipeline, uniform, &bound, groups);
    }

    /// [`GpuContext::encode`] with each buffer's binding given (an entry point binds only what it uses).
    fn encode_bound<T: Pod>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        uniform: &T,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: (u32, u32, u32),
    ) {
        let uniform = self.uniform(uniform);
        let entries: Vec<wgpu::BindGroupEntry> = std::iter::once((0, &uniform))
            .chain(buffers.iter().copied())
            .map(|(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, groups.2);
    }

    /// A new command encoder.
    pub(super) fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
    }

    /// Submits `encoder`'s work.
    pub(super) fn submit(&self, encoder: wgpu::CommandEncoder) {
        self.queue.submit([encoder.finish()]);
    }

    /// Records the product of `spec` placed by `at`: `a`, `b`, `bias` in, `out` (and `act` with SiLU) out.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn encode_matmul(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        spec: &MatmulSpec,
        at: Placement,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        out: &wgpu::Buffer,
        act: &wgpu::Buffer,
    ) {
        assert!(
            spec.epilogue != Epilogue::BiasSiluSkip || (spec.n == spec.k && spec.a.col == 1),
            "a skip connection adds a square, row-major input"
        );
        let dims = MatmulDims {
            m: spec.m,
            n: spec.n,
            k: spec.k,
            epilogue: spec.epilogue.code(),
            a_batch: spec.a.batch,
            a_row: spec.a.row,
            a_col: spec.a.col,
            a_offset: at.a,
            b_batch: spec.b.batch,
            b_row: spec.b.row,
            b_col: spec.b.col,
            b_offset: at.b,
            bias_batch: at.bias_batch,
            bias_offset: at.bias,
            out_batch: at.out_batch,
            out_offset: at.out,
        };
        let groups = (spec.n.div_ceil(TILE_COLS), spec.m.div_ceil(TILE_ROWS), spec.batches);
        self.encode(encoder, &self.kernels.matmul, &dims, &[a, b, bias, out, act], groups);
    }

    /// Records the SiLU backward pass in place on `grad` (`len` floats), with `pre` the pre-activations.
    pub(super) fn encode_silu_backward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        len: u32,
        pre: &wgpu::Buffer,
        grad: &wgpu::Buffer,
    ) {
        let (x, y) = groups_1d(len);
        let dims = GridDims::new(1, len, 1);
        self.encode(encoder, &self.kernels.silu_backward, &dims, &[pre, grad], (x, y, 1));
    }

    /// Records column sums of `x` ([batches, rows, cols]) into `out` as `dims` places them.
    pub(super) fn encode_column_sums(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        dims: &GridDims,
        x: &wgpu::Buffer,
        out: &wgpu::Buffer,
    ) {
        let groups = (dims.cols.div_ceil(GROUP), dims.batches, 1);
        self.encode(encoder, &self.kernels.column_sums, dims, &[x, out], groups);
    }

    /// Records one optimizer update (Adam(W), or SGD with momentum when `sgd`) over the first `hyper.len` floats,
    /// each client's gradient first clipped to `hyper.clip` (`norms` receives the clients' gradient norms).
    pub(super) fn encode_update(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        hyper: &AdamHyper,
        sgd: bool,
        [grad, params, m, v, norms]: [&wgpu::Buffer; 5],
    ) {
        if hyper.clip > 0.0 {
            let clients = hyper.len / hyper.per_client;
            let bound = [(1, grad), (5, norms)];
            self.encode_bound(encoder, &self.kernels.client_norms, hyper, &bound, (clients, 1, 1));
        }
        let (x, y) = groups_1d(hyper.len);
        if sgd {
            let bound = [(1, grad), (2, params), (3, m), (5, norms)];
            self.encode_bound(encoder, &self.kernels.sgd, hyper, &bound, (x, y, 1));
        } else {
            let bound = [(1, grad), (2, params), (3, m), (4, v), (5, norms)];
            self.encode_bound(encoder, &self.kernels.adam, hyper, &bound, (x, y, 1));
        }
    }

    /// Records grad = row_scale[row] (y - target) over `rows` rows of `dim`.
    pub(super) fn encode_mse_grad(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        (rows, dim): (u32, u32),
        [y, target, row_scale, grad]: [&wgpu::Buffer; 4],
    ) {
        let (x, g) = groups_1d(rows * dim);
        let dims = MseDims {
            rows,
            dim,
            per_client: 0,
            pad: 0,
        };
        self.encode(
            encoder,
            &self.kernels.mse,
            &dims,
            &[y, target, row_scale, grad],
            (x, g, 1),
        );
    }

    /// Records loss[c] += mean squared error of client c's real rows (`rows` = clients x per_client rows of `dim`).
    pub(super) fn encode_loss(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        (clients, per_client, dim): (u32, u32, u32),
        [y, target, row_scale, loss]: [&wgpu::Buffer; 4],
    ) {
        let dims = MseDims {
            rows: clients * per_client,
            dim,
            per_client,
            pad: 0,
        };
        let groups = (clients.div_ceil(64), 1, 1);
        self.encode(
            encoder,
            &self.kernels.loss,
            &dims,
            &[y, target, row_scale, loss],
            groups,
        );
    }

    /// Copies the first `len` floats of `buffer` back to the host (waits for the queue).
    pub(super) fn read(&self, buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
        if len == 0 {
            return Vec::new();
        }
        let size = (len * std::mem::size_of::<f32>()) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.encoder();
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.submit(encoder);
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("mapping a staging buffer"));
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("the device finished its work");
        let view = slice.get_mapped_range().expect("a mapped staging buffer");
        bytemuck::cast_slice(&view).to_vec()
    }

    /// The batched product of `spec` ([batches, m, n] out, row-major), and the activation when the epilogue writes
    /// one (an accumulating epilogue adds to zeros here).
    pub fn matmul(&self, spec: &MatmulSpec, a: &[f32], b: &[f32], bias: &[f32]) -> (Vec<f32>, Option<Vec<f32>>) {
        let len = (spec.batches * spec.m * spec.n) as usize;
        let (ua, ub, ubias) = (self.storage(a), self.storage(b), self.storage(bias));
        let act_len = if spec.epilogue.writes_act() { len } else { 0 };
        let (out, act) = (self.zeros(len), self.zeros(act_len));
        let at = Placement {
            bias_batch: spec.n,
            out_batch: spec.m * spec.n,
            ..Placement::default()
        };
        let mut encoder = self.encoder();
        self.encode_matmul(&mut encoder, spec, at, &ua, &ub, &ubias, &out, &act);
        self.submit(encoder);
        let z = self.read(&out, len);
        let a = spec.epilogue.writes_act().then(|| self.read(&act, len));
        (z, a)
    }

    /// The SiLU backward pass in place: `grad` holds dL/da on entry and dL/dz on return; `pre` is z.
    pub fn silu_backward(&self, pre: &[f32], grad: &mut [f32]) {
        assert_eq!(pre.len(), grad.len());
        let (upre, ugrad) = (self.storage(pre), self.storage(grad));
        let mut encoder = self.encoder();
        self.encode_silu_backward(&mut encoder, pre.len() as u32, &upre, &ugrad);
        self.submit(encoder);
        grad.copy_from_slice(&self.read(&ugrad, grad.len()));
    }

    /// Column sums of `x` viewed as [batches, rows, cols] (a layer's bias gradient). Shape [batches, cols].
    pub fn column_sums(&self, x: &[f32], batches: u32, rows: u32, cols: u32) -> Vec<f32> {
        assert_eq!(x.len(), (batches * rows * cols) as usize);
        let len = (batches * cols) as usize;
        let (ux, out) = (self.storage(x), self.zeros(len));
        let mut encoder = self.encoder();
        self.encode_column_sums(&mut encoder, &GridDims::new(rows, cols, batches), &ux, &out);
        self.submit(encoder);
        self.read(&out, len)
    }

    /// One Adam(W) update of `params` (and its moments `m`, `v`) from `grad`, clipped to `hyper.clip` first.
    pub fn adam(&self, hyper: &AdamHyper, grad: &[f32], params: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        let len = params.len();
        assert!(grad.len() == len && m.len() == len && v.len() == len);
        let hyper = AdamHyper {
            len: len as u32,
            per_client: len as u32,
            ..*hyper
        };
        let buffers = [grad, &*params, &*m, &*v, &[0.0]].map(|x| self.storage(x));
        let mut encoder = self.encoder();
        let [g, p, mb, vb, norms] = [0, 1, 2, 3, 4].map(|i| &buffers[i]);
        self.encode_update(&mut encoder, &hyper, false, [g, p, mb, vb, norms]);
        self.submit(encoder);
        params.copy_from_slice(&self.read(&buffers[1], len));
        m.copy_from_slice(&self.read(&buffers[2], len));
        v.copy_from_slice(&self.read(&buffers[3], len));
    }

    /// Routed combination out[i] = sum_j weights[i, j] pred[j, i] of `experts` predictions ([experts, rows, dim])
    /// with weights [rows, experts], over the experts with positive weight. Shape [rows, dim].
    pub fn combine(&self, weights: &[f32], pred: &[f32], rows: u32, dim: u32, experts: u32) -> Vec<f32> {
        assert_eq!(weights.len(), (rows * experts) as usize);
        assert_eq!(pred.len(), (experts * rows * dim) as usize);
        let len = (rows * dim) as usize;
        // Expert j's prediction of row i is row j rows + i of `pred`.
        let slots: Vec<u32> = (0..rows)
            .flat_map(|i| (0..experts).map(move |j| j * rows + i))
            .collect();
        let (uw, up, us, out) = (
            self.storage(weights),
            self.storage(pred),
            self.storage(&slots),
            self.zeros(len),
        );
        let mut encoder = self.encoder();
        self.encode_combine(&mut encoder, (rows, dim, experts, dim), [&uw, &up, &us, &out]);
        self.submit(encoder);
        self.read(&out, len)
    }

    /// Records out[i] = sum_j weights[i, j] pred[slots[i, j]] over (rows, dim, experts, stride): row r of `pred`
    /// starts at r stride; experts with zero weight are skipped.
    pub(super) fn encode_combine(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        (rows, dim, experts, stride): (u32, u32, u32, u32),
        [weights, pred, slots, out]: [&wgpu::Buffer; 4],
    ) {
        let dims = CombineDims {
            rows,
            dim,
            experts,
            stride,
        };
        let (x, y) = groups_1d(rows * dim);
        let bound = [(1, weights), (2, pred), (3, out), (4, slots)];
        self.encode_bound(encoder, &self.kernels.combine, &dims, &bound, (x, y, 1));
    }
}
