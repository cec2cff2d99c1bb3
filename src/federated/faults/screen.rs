//! What the server checks of an update it receives: finite (else it fails the run or rejects the update) and,
//! under `server.clip_update_norm`, an update w - g no longer than the clip.

/// What the server makes of one received update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Screened {
    /// Finite: aggregate it.
    Finite,
    /// Its loss or a weight is not finite: this value (the loss, or the first bad weight).
    NonFinite(f32),
}

/// Whether the update with local mean `loss` (or its first non-finite loss as `Err`) and weights `params` is
/// usable.
pub fn screen(loss: Result<f32, f32>, params: &[f32]) -> Screened {
    match loss {
        Err(bad) => Screened::NonFinite(bad),
        Ok(loss) if !loss.is_finite() => Screened::NonFinite(loss),
        Ok(_) => match params.iter().find(|v| !v.is_finite()) {
            Some(&bad) => Screened::NonFinite(bad),
            None => Screened::Finite,
        },
    }
}

/// Scales the update `params - global` down to norm `clip` when longer (norm in f64); whether it was clipped.
pub fn clip_update(params: &mut [f32], global: &[f32], clip: f64) -> bool {
    let norm = params
        .iter()
        .zip(global)
        .map(|(&w, &g)| (w as f64 - g as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm <= clip {
        return false;
    }
    let factor = clip / norm;
    for (w, &g) in params.iter_mut().zip(global) {
        *w = (g as f64 + factor * (*w as f64 - g as f64)) as f32;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_update_is_scaled_to_the_clip_and_a_short_one_kept() {
        let global = [1.0, 1.0];
        let mut long = [4.0, 5.0]; // update (3, 4), norm 5
        assert!(clip_update(&mut long, &global, 2.5));
        assert_eq!(long, [2.5, 3.0]);
        let mut short = [1.5, 1.0];
        assert!(!clip_update(&mut short, &global, 2.5));
        assert_eq!(short, [1.5, 1.0]);
    }

    #[test]
    fn a_non_finite_loss_or_weight_is_caught() {
        assert_eq!(screen(Ok(0.5), &[1.0, 2.0]), Screened::Finite);
        assert_eq!(screen(Err(f32::INFINITY), &[1.0]), Screened::NonFinite(f32::INFINITY));
        assert!(matches!(screen(Ok(0.5), &[1.0, f32::NAN]), Screened::NonFinite(v) if v.is_nan()));
    }
}
