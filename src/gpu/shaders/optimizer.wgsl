// Optimizer updates of a flat parameter vector holding all clients' models one after another (P floats each),
// with each client's gradient clipped to global norm `clip` (0: off) as on the CPU:
// Adam(W): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p = p (1 - lr wd) - (lr / c1) m / (sqrt(v / c2) + eps).
// SGD:     v = momentum v + g; p = p (1 - lr wd) - lr v   (v lives in `m`).

struct Hyper {
    lr: f32, beta1: f32, beta2: f32, eps: f32,
    weight_decay: f32, c1: f32, c2: f32, len: u32,
    clip: f32, per_client: u32, momentum: f32, pad: u32,
}

@group(0) @binding(0) var<uniform> h: Hyper;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> norms: array<f32>;

var<workgroup> partial: array<f32, 256>;

// norms[c] = the global norm of client c's gradient: one workgroup per client, then a tree reduction.
@compute @workgroup_size(256, 1, 1)
fn client_norms(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    let c = wg.x;
    var acc = 0.0;
    for (var i = l.x; i < h.per_client; i = i + 256u) {
        let g = grad[c * h.per_client + i];
        acc = acc + g * g;
    }
    partial[l.x] = acc;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (l.x < stride) {
            partial[l.x] = partial[l.x] + partial[l.x + stride];
        }
        workgroupBarrier();
    }
    if (l.x == 0u) {
        norms[c] = sqrt(partial[0]);
    }
}

// The clipped gradient of parameter i.
fn clipped(i: u32) -> f32 {
    let norm = norms[i / h.per_client];
    var scale = 1.0;
    if (h.clip > 0.0 && norm > h.clip) {
        scale = h.clip / norm;
    }
    return grad[i] * scale;
}

@compute @workgroup_size(256, 1, 1)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * 65535u * 256u;
    if (i < h.len) {
        let g = clipped(i);
        let mi = h.beta1 * m[i] + (1.0 - h.beta1) * g;
        let vi = h.beta2 * v[i] + (1.0 - h.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * (1.0 - h.lr * h.weight_decay) - (h.lr / h.c1) * mi / (sqrt(vi / h.c2) + h.eps);
    }
}

@compute @workgroup_size(256, 1, 1)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * 65535u * 256u;
    if (i < h.len) {
        let vi = h.momentum * m[i] + clipped(i);
        m[i] = vi;
        params[i] = params[i] * (1.0 - h.lr * h.weight_decay) - h.lr * vi;
    }
}
