//! The networks' matrix products c = a b. When a product is large and its thread has nothing else queued (pooled
//! training, a round with fewer clients than threads, the last model or client of a round, the evaluation
//! classifier), it is split into blocks of output rows or columns that idle worker threads of rayon's pool can
//! take, so one model's step can use every core. Each output element is computed by the same kernel over the same
//! reduction order whether its block is split or not (matrixmultiply's kernels reduce each element in an order set
//! by the reduction length alone), so a split never changes a bit: results stay byte-identical for any
//! `--threads` and any split (tested below, and by the determinism tests).

use super::Scalar;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

/// Multiply-adds below which a block is not split: each block must be worth a task (about 20 microseconds).
const SPLIT_WORK: usize = 1 << 21;

/// Rows (or columns) below which a block is not split: a multiple of the kernels' tiles.
const SPLIT_EDGE: usize = 32;

/// Blocks at most: each block packs its own panels of the operands, so more blocks than there are idle threads
/// to share them only repeat that packing.
const MAX_BLOCKS: usize = 4;

/// a b, as a new array.
pub fn product<F: Scalar>(a: ArrayView2<F>, b: ArrayView2<F>) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    product_into(a, b, c.view_mut());
    c
}

/// c = a b, overwriting c (shape [a rows, b columns]). A product of at least twice [`SPLIT_WORK`] multiply-adds,
/// on a worker thread of a pool of several threads with no task of its own queued, is halved along its longer
/// output side (rows of a and c, or columns of b and c), never along the reduction; the halves run under
/// `rayon::join`, into the pool's number of threads rounded up to a power of two, at most [`MAX_BLOCKS`].
pub fn product_into<F: Scalar>(a: ArrayView2<F>, b: ArrayView2<F>, c: ArrayViewMut2<F>) {
    let threads = rayon::current_num_threads().min(MAX_BLOCKS);
    let alone = rayon_core::current_thread_has_pending_tasks() == Some(false);
    let halvings = if threads > 1 && alone {
        threads.next_power_of_two().ilog2()
    } else {
        0
    };
    split(a, b, c, halvings);
}

/// c = a b in up to 2^`halvings` blocks (see [`product_into`]).
fn split<F: Scalar>(a: ArrayView2<F>, b: ArrayView2<F>, mut c: ArrayViewMut2<F>, halvings: u32) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let side = m.max(n);
    if halvings == 0 || m * k * n < 2 * SPLIT_WORK || side < 2 * SPLIT_EDGE {
        general_mat_mul(F::one(), &a, &b, F::zero(), &mut c);
        return;
    }
    // The first half a whole number of SPLIT_EDGE: a function of the shape alone.
    let mid = (side / 2).div_ceil(SPLIT_EDGE) * SPLIT_EDGE;
    if m >= n {
        let (a_top, a_bottom) = a.split_at(Axis(0), mid);
        let (c_top, c_bottom) = c.split_at(Axis(0), mid);
        rayon::join(
            || split(a_top, b, c_top, halvings - 1),
            || split(a_bottom, b, c_bottom, halvings - 1),
        );
    } else {
        let (b_left, b_right) = b.split_at(Axis(1), mid);
        let (c_left, c_right) = c.split_at(Axis(1), mid);
        rayon::join(
            || split(a, b_left, c_left, halvings - 1),
            || split(a, b_right, c_right, halvings - 1),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};
    use rand::Rng as _;

    fn random(rows: usize, cols: usize, salt: u64) -> Array2<f32> {
        let rng = &mut derive(5, Stream::Init, &[salt]);
        Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0f32..1.0))
    }

    /// Split or whole, on one thread or more, the bits are those of one kernel call over the whole product, for
    /// plain and transposed operands, splits along rows and along columns, and shapes that do not divide evenly.
    #[test]
    fn a_split_product_has_the_bits_of_the_whole_one_on_any_number_of_threads() {
        for (m, k, n) in [
            (1024, 256, 256),
            (333, 512, 200),
            (257, 129, 1031),
            (64, 256, 256),
            (40, 300, 700),
            (64, 64, 64),
        ] {
            let (a, b) = (random(m, k, 1), random(k, n, 2));
            let at = random(k, m, 3);
            let mut whole = Array2::zeros((m, n));
            general_mat_mul(1.0, &a, &b, 0.0, &mut whole);
            let mut whole_t = Array2::zeros((m, n));
            general_mat_mul(1.0, &at.t(), &b, 0.0, &mut whole_t);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                for halvings in 0..4 {
                    let mut c = Array2::zeros((m, n));
                    let mut c_t = Array2::zeros((m, n));
                    pool.install(|| {
                        split(a.view(), b.view(), c.view_mut(), halvings);
                        split(at.t(), b.view(), c_t.view_mut(), halvings);
                    });
                    assert_eq!(c, whole, "{m}x{k}x{n}, {halvings} halvings on {threads} threads");
                    assert_eq!(
                        c_t, whole_t,
                        "transposed {m}x{k}x{n}, {halvings} halvings on {threads} threads"
                    );
                }
                assert_eq!(pool.install(|| product(a.view(), b.view())), whole);
            }
        }
    }

    #[test]
    fn products_agree_with_a_naive_sum() {
        let (a, b) = (random(300, 70, 4), random(70, 150, 5));
        let c = product(a.view(), b.view());
        for (i, j) in [(0, 0), (299, 149), (128, 77), (191, 3)] {
            let naive: f64 = (0..70).map(|l| a[[i, l]] as f64 * b[[l, j]] as f64).sum();
            assert!((c[[i, j]] as f64 - naive).abs() < 1e-4, "({i}, {j})");
        }
    }
}
