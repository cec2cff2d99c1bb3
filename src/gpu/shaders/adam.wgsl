// One Adam(W) update of a flat parameter vector (all clients' models stacked one after another):
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p = p (1 - lr wd) - (lr / c1) m / (sqrt(v / c2) + eps).

struct Hyper {
    lr: f32, beta1: f32, beta2: f32, eps: f32,
    weight_decay: f32, c1: f32, c2: f32, len: u32,
}

@group(0) @binding(0) var<uniform> h: Hyper;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * 65535u * 256u;
    if (i < h.len) {
        let g = grad[i];
        let mi = h.beta1 * m[i] + (1.0 - h.beta1) * g;
        let vi = h.beta2 * v[i] + (1.0 - h.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * (1.0 - h.lr * h.weight_decay) - (h.lr / h.c1) * mi / (sqrt(vi / h.c2) + h.eps);
    }
}
