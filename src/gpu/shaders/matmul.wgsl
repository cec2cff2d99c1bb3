// Batched matrix product with a fused epilogue: for every batch c (one client, or one expert),
// C[c, i, j] = sum_k A(c, i, k) B(c, k, j), with A and B addressed through offsets and strides, so that transposed
// operands and one layer of stacked parameter vectors need no copy. Epilogue: 0 stores the sum, 1 adds
// bias[c, j], 2 adds the bias and also writes SiLU of it to `act`, 3 as 2 plus a skip connection (act gets
// A(c, i, j) added; A square), 4 adds the sum to what `out` holds. C[c, i, j] sits at out_offset + c out_batch +
// i n + j (in `act` too).
// A workgroup of 8 x 8 threads computes a 32 x 64 tile of C; each thread keeps a 4 x 8 block in registers (rows
// 4 ly + r, columns lx + 8 s), so neighbouring threads read neighbouring columns of B and the same row of A. No
// workgroup memory or barriers: on a CPU adapter (lavapipe) this ran 6-9x faster than 16 x 16 shared-memory tiles.

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

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    let c = wg.z;
    let row0 = wg.y * 32u + l.y * 4u;
    let col0 = wg.x * 64u + l.x;
    var acc: array<vec4<f32>, 8>;
    // Clamp out-of-range rows and columns to a valid one: their sums are computed but never stored.
    var arow: array<u32, 4>;
    for (var r = 0u; r < 4u; r = r + 1u) {
        arow[r] = dims.a_offset + c * dims.a_batch + min(row0 + r, dims.m - 1u) * dims.a_row;
    }
    var bcol: array<u32, 8>;
    for (var s = 0u; s < 8u; s = s + 1u) {
        bcol[s] = dims.b_offset + c * dims.b_batch + min(col0 + 8u * s, dims.n - 1u) * dims.b_col;
    }
    for (var k = 0u; k < dims.k; k = k + 1u) {
        let kb = k * dims.b_row;
        let ka = k * dims.a_col;
        let av = vec4<f32>(a[arow[0] + ka], a[arow[1] + ka], a[arow[2] + ka], a[arow[3] + ka]);
        for (var s = 0u; s < 8u; s = s + 1u) {
            acc[s] = acc[s] + av * b[bcol[s] + kb];
        }
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        let row = row0 + r;
        for (var s = 0u; s < 8u; s = s + 1u) {
            let col = col0 + 8u * s;
            if (row < dims.m && col < dims.n) {
                let i = dims.out_offset + c * dims.out_batch + row * dims.n + col;
                var v = acc[s][r];
                if (dims.epilogue == 4u) {
                    v = v + out[i];
                } else if (dims.epilogue >= 1u) {
                    v = v + bias[dims.bias_offset + c * dims.bias_batch + col];
                }
                out[i] = v;
                if (dims.epilogue == 2u || dims.epilogue == 3u) {
                    var y = v / (1.0 + exp(-v));
                    if (dims.epilogue == 3u) {
                        y = y + a[dims.a_offset + c * dims.a_batch + row * dims.a_row + col * dims.a_col];
                    }
                    act[i] = y;
                }
            }
        }
    }
}
