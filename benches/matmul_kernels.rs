//! The candidate single-precision matrix kernels side by side, one thread each (issue 20): matrixmultiply (through
//! ndarray, today's), the `gemm` crate and faer, at the three products of a training step's hidden layer (forward
//! x W, input gradient dz W^T, weight gradient x^T dz) for the four shapes of the PyTorch comparison and for
//! workload W's. Run with `cargo bench --features compare-kernels --bench matmul_kernels`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// (name, batch, width): the hidden layers of benches/training_step.rs's shapes and of W (scenarios/bench_fedavg.yaml).
const SHAPES: [(&str, usize, usize); 5] = [
    ("w_b64_w128", 64, 128),
    ("d2_w128_b128", 128, 128),
    ("d2_w256_b256", 256, 256),
    ("d64_w512_b256", 256, 512),
    ("d64_w1024_b1024", 1024, 1024),
];

/// c = a b with matrixmultiply, through ndarray.
fn with_matrixmultiply(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ArrayViewMut2<f32>) {
    general_mat_mul(1.0, &a, &b, 0.0, c);
}

/// c = a b with the `gemm` crate on the calling thread (its convention: dst = alpha dst + beta lhs rhs).
fn with_gemm(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ArrayViewMut2<f32>) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides().to_vec());
    // SAFETY: the pointers and strides come from live ndarray views of the stated shapes, and c is borrowed
    // mutably for the call.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc[1],
            sc[0],
            false,
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// c = a b with faer on the calling thread.
fn with_faer(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ArrayViewMut2<f32>) {
    let view = |x: &ArrayView2<f32>| {
        let s = x.strides();
        // SAFETY: a live ndarray view's pointer, shape and strides.
        unsafe { faer::MatRef::from_raw_parts(x.as_ptr(), x.nrows(), x.ncols(), s[0], s[1]) }
    };
    let (rows, cols, s) = (c.nrows(), c.ncols(), c.strides().to_vec());
    // SAFETY: as above, and c is borrowed mutably for the call.
    let dst = unsafe { faer::MatMut::from_raw_parts_mut(c.as_mut_ptr(), rows, cols, s[0], s[1]) };
    faer::linalg::matmul::matmul(dst, faer::Accum::Replace, view(&a), view(&b), 1.0, faer::Par::Seq);
}

type Kernel = fn(ArrayView2<f32>, ArrayView2<f32>, &mut ArrayViewMut2<f32>);

fn bench_kernels(c: &mut Criterion) {
    let kernels: [(&str, Kernel); 3] = [
        ("matrixmultiply", with_matrixmultiply),
        ("gemm", with_gemm),
        ("faer", with_faer),
    ];
    let fill = |r: usize, cols: usize, salt: f32| {
        Array2::from_shape_fn((r, cols), |(i, j)| ((i * 31 + j * 17) as f32 * 0.013 + salt).sin())
    };
    for (shape, batch, width) in SHAPES {
        let mut group = c.benchmark_group(format!("matmul/{shape}"));
        group.throughput(Throughput::Elements((2 * batch * width * width) as u64));
        if width >= 1024 {
            group.sample_size(10);
        }
        let (x, w, dz) = (
            fill(batch, width, 0.1),
            fill(width, width, 0.7),
            fill(batch, width, 1.3),
        );
        // The products of one hidden layer: forward x W, input gradient dz W^T, weight gradient x^T dz.
        let products = [
            ("forward", x.view(), w.view(), (batch, width)),
            ("input_grad", dz.view(), w.t(), (batch, width)),
            ("weight_grad", x.t(), dz.view(), (width, width)),
        ];
        for (product, a, b, out) in products {
            let reference = a.dot(&b);
            for (name, kernel) in kernels {
                let mut out = Array2::<f32>::zeros(out);
                kernel(a, b, &mut out.view_mut());
                let worst = (&out - &reference).iter().fold(0f32, |m, d| m.max(d.abs()));
                assert!(worst <= 1e-3 * width as f32, "{name} {product}: off by {worst}");
                group.bench_function(BenchmarkId::new(product, name), |bench| {
                    bench.iter(|| kernel(a, b, &mut out.view_mut()))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_kernels);
criterion_main!(benches);
