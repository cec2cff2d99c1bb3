//! The WGSL kernels (src/gpu/shaders/) compiled once per device, and host-slice entry points that upload their
//! inputs, dispatch, and read the results back (what the agreement tests and the CPU-side callers use).

use super::GpuContext;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Rows x columns of a 16 x 16 output tile of the matmul kernel.
const TILE: u32 = 16;
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
    combine: wgpu::ComputePipeline,
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
        Kernels {
            matmul: pipeline(device, include_str!("shaders/matmul.wgsl"), "main"),
            silu_backward: pipeline(device, elementwise, "silu_backward"),
            column_sums: pipeline(device, elementwise, "column_sums"),
            adam: pipeline(device, include_str!("shaders/adam.wgsl"), "main"),
            combine: pipeline(device, include_str!("shaders/combine.wgsl"), "main"),
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
    /// Add a bias row per batch (`[batches, n]`).
    pub bias: bool,
    /// Also return SiLU of the (biased) product, as a hidden layer's forward pass does.
    pub silu: bool,
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
    b_batch: u32,
    b_row: u32,
    b_col: u32,
    bias_batch: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GridDims {
    rows: u32,
    cols: u32,
    batches: u32,
    pad: u32,
}

/// Adam(W) settings of one update (the bias corrections c1 = 1 - beta1^t and c2 = 1 - beta2^t included).
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
    fn storage(&self, data: &[f32], writable: bool) -> wgpu::Buffer {
        // A binding may not be empty: an unused operand gets one zero.
        let zero = [0f32];
        let data = if data.is_empty() { &zero[..] } else { data };
        let mut usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        if writable {
            usage |= wgpu::BufferUsages::COPY_DST;
        }
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(data),
            usage,
        })
    }

    fn uniform<T: Pod>(&self, value: &T) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// Binds `buffers` to bindings 0.. of `pipeline` and dispatches `groups` workgroups.
    fn dispatch(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer], groups: (u32, u32, u32)) {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Copies the first `len` floats of `buffer` back to the host (waits for the queue).
    fn read(&self, buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
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
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("mapping a staging buffer"));
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("the device finished its work");
        let view = slice.get_mapped_range().expect("a mapped staging buffer");
        bytemuck::cast_slice(&view).to_vec()
    }

    /// The batched product of `spec` ([batches, m, n] out, row-major), and SiLU of it when `spec.silu`.
    pub fn matmul(&self, spec: &MatmulSpec, a: &[f32], b: &[f32], bias: &[f32]) -> (Vec<f32>, Option<Vec<f32>>) {
        assert!(!spec.silu || spec.bias, "the SiLU epilogue follows the bias");
        let len = (spec.batches * spec.m * spec.n) as usize;
        let dims = MatmulDims {
            m: spec.m,
            n: spec.n,
            k: spec.k,
            epilogue: u32::from(spec.bias) + u32::from(spec.silu),
            a_batch: spec.a.batch,
            a_row: spec.a.row,
            a_col: spec.a.col,
            b_batch: spec.b.batch,
            b_row: spec.b.row,
            b_col: spec.b.col,
            bias_batch: spec.n,
            pad: 0,
        };
        let (ua, ub, ubias) = (
            self.storage(a, false),
            self.storage(b, false),
            self.storage(bias, false),
        );
        let out = self.storage(&vec![0.0; len], true);
        let act = self.storage(&vec![0.0; if spec.silu { len } else { 0 }], true);
        let groups = (spec.n.div_ceil(TILE), spec.m.div_ceil(TILE), spec.batches);
        self.dispatch(
            &self.kernels.matmul,
            &[&self.uniform(&dims), &ua, &ub, &ubias, &out, &act],
            groups,
        );
        let z = self.read(&out, len);
        let a = spec.silu.then(|| self.read(&act, len));
        (z, a)
    }

    /// The SiLU backward pass in place: `grad` holds dL/da on entry and dL/dz on return; `pre` is z.
    pub fn silu_backward(&self, pre: &[f32], grad: &mut [f32]) {
        assert_eq!(pre.len(), grad.len());
        let dims = GridDims {
            rows: 1,
            cols: pre.len() as u32,
            batches: 1,
            pad: 0,
        };
        let (upre, ugrad) = (self.storage(pre, false), self.storage(grad, true));
        let (x, y) = groups_1d(pre.len() as u32);
        self.dispatch(
            &self.kernels.silu_backward,
            &[&self.uniform(&dims), &upre, &ugrad],
            (x, y, 1),
        );
        grad.copy_from_slice(&self.read(&ugrad, grad.len()));
    }

    /// Column sums of `x` viewed as [batches, rows, cols] (a layer's bias gradient). Shape [batches, cols].
    pub fn column_sums(&self, x: &[f32], batches: u32, rows: u32, cols: u32) -> Vec<f32> {
        assert_eq!(x.len(), (batches * rows * cols) as usize);
        let dims = GridDims {
            rows,
            cols,
            batches,
            pad: 0,
        };
        let len = (batches * cols) as usize;
        let (ux, out) = (self.storage(x, false), self.storage(&vec![0.0; len], true));
        self.dispatch(
            &self.kernels.column_sums,
            &[&self.uniform(&dims), &ux, &out],
            (cols.div_ceil(GROUP), batches, 1),
        );
        self.read(&out, len)
    }

    /// One Adam(W) update of `params` (and its moments `m`, `v`) from `grad`.
    pub fn adam(&self, hyper: &AdamHyper, grad: &[f32], params: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        let len = params.len();
        assert!(grad.len() == len && m.len() == len && v.len() == len);
        let hyper = AdamHyper {
            len: len as u32,
            ..*hyper
        };
        let (ug, up, um, uv) = (
            self.storage(grad, false),
            self.storage(params, true),
            self.storage(m, true),
            self.storage(v, true),
        );
        let (x, y) = groups_1d(len as u32);
        self.dispatch(
            &self.kernels.adam,
            &[&self.uniform(&hyper), &ug, &up, &um, &uv],
            (x, y, 1),
        );
        params.copy_from_slice(&self.read(&up, len));
        m.copy_from_slice(&self.read(&um, len));
        v.copy_from_slice(&self.read(&uv, len));
    }

    /// Routed combination out[i] = sum_j weights[i, j] pred[j, i] of `experts` predictions ([experts, rows, dim])
    /// with weights [rows, experts]. Shape [rows, dim].
    pub fn combine(&self, weights: &[f32], pred: &[f32], rows: u32, dim: u32, experts: u32) -> Vec<f32> {
        assert_eq!(weights.len(), (rows * experts) as usize);
        assert_eq!(pred.len(), (experts * rows * dim) as usize);
        let dims = GridDims {
            rows,
            cols: dim,
            batches: experts,
            pad: 0,
        };
        let len = (rows * dim) as usize;
        let (uw, up, out) = (
            self.storage(weights, false),
            self.storage(pred, false),
            self.storage(&vec![0.0; len], true),
        );
        let (x, y) = groups_1d(len as u32);
        self.dispatch(
            &self.kernels.combine,
            &[&self.uniform(&dims), &uw, &up, &out],
            (x, y, 1),
        );
        self.read(&out, len)
    }
}
