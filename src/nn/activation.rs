//! SiLU (x * sigmoid(x)) and its derivative, the hidden activation of every network.

use super::Scalar;

/// The logistic function 1 / (1 + exp(-z)).
pub fn sigmoid<F: Scalar>(z: F) -> F {
    F::one() / (F::one() + (-z).exp())
}

/// SiLU(z) = z * sigmoid(z).
pub fn silu<F: Scalar>(z: F) -> F {
    z / (F::one() + (-z).exp())
}

/// d SiLU / dz = sigmoid(z) * (1 + z * (1 - sigmoid(z))).
pub fn silu_grad<F: Scalar>(z: F) -> F {
    let s = F::one() / (F::one() + (-z).exp());
    s * (F::one() + z * (F::one() - s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_matches_central_difference() {
        for z in [-6.0f64, -1.3, 0.0, 0.7, 4.0] {
            let h = 1e-6;
            let fd = (silu(z + h) - silu(z - h)) / (2.0 * h);
            assert!((fd - silu_grad(z)).abs() < 1e-8);
        }
    }
}
