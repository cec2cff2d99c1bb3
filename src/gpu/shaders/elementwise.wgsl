// Elementwise and reduction kernels of the MLP's backward pass and of Adam.

struct Dims {
    rows: u32, cols: u32, batches: u32, out_offset: u32,
    out_batch: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

// dL/dz = dL/da * s (1 + z (1 - s)), s = sigmoid(z), in place on `grad` (dL/da in, dL/dz out).
@compute @workgroup_size(256, 1, 1)
fn silu_backward(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x + g.y * 65535u * 256u;
    if (i < dims.rows * dims.cols * dims.batches) {
        let z = pre[i];
        let s = 1.0 / (1.0 + exp(-z));
        grad[i] = grad[i] * s * (1.0 + z * (1.0 - s));
    }
}

// Column sums of `pre` viewed as [batches, rows, cols] into grad[out_offset + c out_batch + j] (the bias gradient).
@compute @workgroup_size(256, 1, 1)
fn column_sums(@builtin(global_invocation_id) g: vec3<u32>) {
    let j = g.x;
    let c = g.y;
    if (j < dims.cols && c < dims.batches) {
        var acc = 0.0;
        for (var r = 0u; r < dims.rows; r = r + 1u) {
            acc = acc + pre[(c * dims.rows + r) * dims.cols + j];
        }
        grad[dims.out_offset + c * dims.out_batch + j] = acc;
    }
}
