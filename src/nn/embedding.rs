//! Sinusoidal time embedding (Vaswani et al. 2017; DDPM): t in [0, 1] is scaled by 1000 and encoded by
//! sin/cos at geometrically spaced frequencies.

use super::Scalar;
use ndarray::ArrayViewMut1;

/// Writes the embedding of network time `t` into `out` (length even): first the sines, then the cosines.
pub fn embed_time<F: Scalar>(t: f64, out: ArrayViewMut1<F>) {
    embed_time_at(t, &frequencies(out.len()), out);
}

/// The frequencies exp(-ln(10^4) i / half), i < half, of an embedding of `len` (= 2 half) values; computed once
/// per batch and passed to [`embed_time_at`].
pub fn frequencies(len: usize) -> Vec<f64> {
    let half = len / 2;
    (0..half)
        .map(|i| (-(10_000f64.ln()) * i as f64 / half as f64).exp())
        .collect()
}

/// [`embed_time`] with the frequencies from [`frequencies`] of `out.len()`.
pub fn embed_time_at<F: Scalar>(t: f64, freqs: &[f64], mut out: ArrayViewMut1<F>) {
    let half = freqs.len();
    for (i, freq) in freqs.iter().enumerate() {
        let arg = 1000.0 * t * freq;
        out[i] = F::of(arg.sin());
        out[half + i] = F::of(arg.cos());
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array1;

    #[test]
    fn lowest_frequency_is_one_per_unit_of_scaled_time() {
        let mut e = Array1::<f64>::zeros(4);
        super::embed_time(0.5e-3, e.view_mut());
        // arg = 1000 * 0.0005 * freq, freq = [1, 1e-2].
        assert!((e[0] - 0.5f64.sin()).abs() < 1e-12);
        assert!((e[1] - 0.005f64.sin()).abs() < 1e-12);
        assert!((e[2] - 0.5f64.cos()).abs() < 1e-12);
    }
}
