//! Buffers whose size comes from the user (points, samples, clients) are allocated fallibly: a request the
//! system cannot meet is an error naming the scenario key, never an abort (the memory estimate refuses such runs
//! first; this is what stands when it is overridden with `--force`).

use crate::error::{Error, Result};
use ndarray::Array2;

/// A vector of `len` copies of `value`, or an error naming `key` if the memory cannot be had.
pub fn filled<T: Clone>(len: usize, value: T, key: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| refused(key, len, std::mem::size_of::<T>()))?;
    v.resize(len, value);
    Ok(v)
}

/// A `rows` x `cols` array of zeros, or an error naming `key` if the memory cannot be had.
pub fn zeros<T: Clone + num_traits::Zero>(rows: usize, cols: usize, key: &str) -> Result<Array2<T>> {
    let len = rows
        .checked_mul(cols)
        .ok_or_else(|| refused(key, usize::MAX, std::mem::size_of::<T>()))?;
    let v = filled(len, T::zero(), key)?;
    Ok(Array2::from_shape_vec((rows, cols), v).expect("rows x cols elements"))
}

/// Hands the memory freed so far back to the system, where the allocator keeps it otherwise: glibc keeps what
/// each thread freed in that thread's arena, so after training (the round's client models, allocated and freed
/// on the worker threads) a few hundred MB of a cross-device run would stay resident under the evaluation's own
/// allocations. Changes no result; a no-op on other allocators.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc's malloc_trim(3): releases free memory of every arena; returns 1 if any was released.
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointer, only the padding to keep at the heap's top, and is thread-safe.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn refused(key: &str, len: usize, size: usize) -> Error {
    Error::invalid(
        key,
        format!(
            "allocating {len} elements of {size} bytes failed: the machine does not have that much memory; lower \
             {key}"
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_impossible_allocation_is_an_error_naming_the_key() {
        let err = super::zeros::<f32>(1 << 40, 1 << 20, "data.samples")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("data.samples: allocating"), "{err}");
        assert_eq!(super::filled(3, 1u8, "x").unwrap(), vec![1, 1, 1]);
    }
}
