// Routed combination of expert predictions: out[i, d] = sum_j weights[i, j] pred[slots[i, j], d] over the experts
// j with positive weight, added in expert order (as the CPU path adds them). Row r of `pred` starts at r stride.

struct Dims {
    rows: u32, dim: u32, experts: u32, stride: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> pred: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> slots: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let t = g.x + g.y * 65535u * 256u;
    if (t < dims.rows * dims.dim) {
        let i = t / dims.dim;
        let d = t % dims.dim;
        var acc = 0.0;
        for (var j = 0u; j < dims.experts; j = j + 1u) {
            let w = weights[i * dims.experts + j];
            if (w > 0.0) {
                acc = acc + w * pred[slots[i * dims.experts + j] * dims.stride + d];
            }
        }
        out[t] = acc;
    }
}
