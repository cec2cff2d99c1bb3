// Batched matrix product with a fused epilogue: for every batch c (one client, or one expert),
// C[c, i, j] = sum_k A(c, i, k) B(c, k, j), with A and B addressed through offsets and strides, so that transposed
// operands and one layer of stacked parameter vectors need no copy. Epilogue: 0 stores the sum, 1 adds
// bias[c, j], 2 adds the bias and also writes SiLU of it to `act`. C[c, i, j] sits at out_offset + c out_batch +
// i n + j (in `act` too).
// 16 x 16 output tiles; each workgroup stages 16 x 16 tiles of A and B in workgroup memory.

struct Dims {
    m: u32, n: u32, k: u32, epilogue: u32,
    a_batch: u32, a_row: u32, a_col: u32, a_offset: u32,
    b_batch: u32, b_row: u32, b_col: u32, b_offset: u32,
    bias_batch: u32, bias_offset: u32, out_batch: u32, out_offset: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> act: array<f32>;

var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    let col = g.x;
    let row = g.y;
    let c = g.z;
    var acc = 0.0;
    let tiles = (dims.k + 15u) / 16u;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let ka = t * 16u + l.x;
        if (row < dims.m && ka < dims.k) {
            ta[l.y][l.x] = a[dims.a_offset + c * dims.a_batch + row * dims.a_row + ka * dims.a_col];
        } else {
            ta[l.y][l.x] = 0.0;
        }
        let kb = t * 16u + l.y;
        if (kb < dims.k && col < dims.n) {
            tb[l.y][l.x] = b[dims.b_offset + c * dims.b_batch + kb * dims.b_row + col * dims.b_col];
        } else {
            tb[l.y][l.x] = 0.0;
        }
        workgroupBarrier();
        for (var q = 0u; q < 16u; q = q + 1u) {
            acc = acc + ta[l.y][q] * tb[q][l.x];
        }
        workgroupBarrier();
    }
    if (row < dims.m && col < dims.n) {
        let i = dims.out_offset + c * dims.out_batch + row * dims.n + col;
        var v = acc;
        if (dims.epilogue >= 1u) {
            v = v + bias[dims.bias_offset + c * dims.bias_batch + col];
        }
        out[i] = v;
        if (dims.epilogue == 2u) {
            act[i] = v / (1.0 + exp(-v));
        }
    }
}
