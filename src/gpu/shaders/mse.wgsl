// Gradient of a per-row weighted squared error: grad[i, d] = row_scale[i] (y[i, d] - goal[i, d]).
// row_scale is 2 / (rows x dim) of the row's own client, and 0 for the padding rows of smaller clients.

struct Dims {
    rows: u32, dim: u32, per_client: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> goal: array<f32>;
@group(0) @binding(3) var<storage, read> row_scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let t = g.x + g.y * 65535u * 256u;
    if (t < dims.rows * dims.dim) {
        grad[t] = row_scale[t / dims.dim] * (y[t] - goal[t]);
    }
}

// Adds each client's squared error to grad[c] (bound to the loss buffer): the sum over its rows and d of
// row_scale / 2 (y - goal)^2, which is the mean squared error of its real rows (padding rows have scale 0).

@compute @workgroup_size(64, 1, 1)
fn accumulate_loss(@builtin(global_invocation_id) g: vec3<u32>) {
    let c = g.x;
    if (c * dims.per_client < dims.rows) {
        var acc = 0.0;
        for (var r = c * dims.per_client; r < (c + 1u) * dims.per_client; r = r + 1u) {
            for (var d = 0u; d < dims.dim; d = d + 1u) {
                let e = y[r * dims.dim + d] - goal[r * dims.dim + d];
                acc = acc + 0.5 * row_scale[r] * e * e;
            }
        }
        grad[c] = grad[c] + acc;
    }
}
