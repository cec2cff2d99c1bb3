//! Noise schedules, computed in f64.

/// Number of discrete DDPM timesteps.
pub const DDPM_STEPS: usize = 1000;

/// Cosine schedule (Nichol and Dhariwal 2021, "Improved DDPM", eq. 17): alpha_bar(t) = f(t) / f(0) with
/// f(t) = cos^2(((t / T + s) / (1 + s)) * pi / 2), s = 0.008; betas 1 - alpha_bar(t+1)/alpha_bar(t) clipped at
/// 0.999, and the returned cumulative products abar_t = prod_{i <= t} (1 - beta_i) for t = 0..T-1.
pub fn cosine_alpha_bar(steps: usize) -> Vec<f64> {
    let s = 0.008;
    let f = |t: f64| {
        (((t / steps as f64 + s) / (1.0 + s)) * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    let mut abar = Vec::with_capacity(steps);
    let mut prod = 1.0;
    for i in 0..steps {
        let beta = (1.0 - f((i + 1) as f64) / f(i as f64)).min(0.999);
        prod *= 1.0 - beta;
        abar.push(prod);
    }
    abar
}

#[cfg(test)]
mod tests {
    #[test]
    fn cosine_schedule_is_decreasing_from_near_one_to_near_zero() {
        let a = super::cosine_alpha_bar(1000);
        assert!(a[0] > 0.9999 && a[999] < 1e-4);
        assert!(a.windows(2).all(|w| w[1] < w[0]));
    }
}
