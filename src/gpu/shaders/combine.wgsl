// Routed combination of expert predictions: out[i, d] = sum_j weights[i, j] pred[j, i, d] (experts in order).

struct Dims {
    rows: u32, dim: u32, experts: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> pred: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let t = g.x + g.y * 65535u * 256u;
    if (t < dims.rows * dims.dim) {
        let i = t / dims.dim;
        let d = t % dims.dim;
        var acc = 0.0;
        for (var j = 0u; j < dims.experts; j = j + 1u) {
            let w = weights[i * dims.experts + j];
            if (w != 0.0) {
                acc = acc + w * pred[(j * dims.rows + i) * dims.dim + d];
            }
        }
        out[t] = acc;
    }
}
