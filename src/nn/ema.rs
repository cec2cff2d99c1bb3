//! Exponential moving average of weights, with the usual warm-up so short runs are not anchored at init.

/// Effective decay after `steps` optimizer steps along the model's path: min(decay, (1 + n) / (10 + n)).
pub fn warmed_decay(decay: f64, steps: usize) -> f64 {
    decay.min((1.0 + steps as f64) / (10.0 + steps as f64))
}

/// ema <- d * ema + (1 - d) * params.
pub fn update(ema: &mut [f32], params: &[f32], d: f64) {
    let d = d as f32;
    for (e, p) in ema.iter_mut().zip(params) {
        *e = d * *e + (1.0 - d) * p;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warm_up_then_configured_decay() {
        assert!((super::warmed_decay(0.999, 0) - 0.1).abs() < 1e-12);
        assert_eq!(super::warmed_decay(0.999, 1_000_000), 0.999);
        let mut e = vec![0.0];
        super::update(&mut e, &[1.0], 0.75);
        assert_eq!(e, vec![0.25]);
    }
}
