//! The float types networks run in: f32 for training and sampling, f64 for gradient checks.

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float, FromPrimitive};
use std::fmt::Debug;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A float type usable for network parameters and activations.
pub trait Scalar:
    LinalgScalar
    + ScalarOperand
    + Float
    + FromPrimitive
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Debug
    + Send
    + Sync
    + Default
    + 'static
{
    /// Converts from f64 (rounding for f32).
    fn of(v: f64) -> Self {
        Self::from_f64(v).expect("finite conversion")
    }
}

impl Scalar for f32 {}
impl Scalar for f64 {}
