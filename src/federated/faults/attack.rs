//! What a Byzantine client sends in place of its honest weights w, given the global weights g.

use super::{Draw, Faults, draw};
use crate::scenario::AttackKind;
use rand_distr::{Distribution, StandardNormal};

/// Replaces the honest weights `params` of client `id` (trained from `global` in `round` of the model tagged
/// `tag`) by what a Byzantine client of `faults` sends: sign_flip g - scale (w - g), scale g + scale (w - g),
/// gaussian g + scale z (z standard normal, from the client's own stream), zero 0, nan NaN; data_swap sends its
/// honest update (its poison is in its data).
pub fn attack(faults: &Faults, global: &[f32], params: &mut [f32], (seed, tag, round, id): (u64, u64, usize, usize)) {
    let scale = faults.scale;
    match faults.attack {
        AttackKind::SignFlip => move_from(global, params, -scale),
        AttackKind::Scale => move_from(global, params, scale),
        AttackKind::Gaussian => {
            let rng = &mut draw(seed, Draw::Noise, &[tag, round as u64, id as u64]);
            for (w, &g) in params.iter_mut().zip(global) {
                let z: f64 = StandardNormal.sample(rng);
                *w = (g as f64 + scale * z) as f32;
            }
        }
        AttackKind::Zero => params.fill(0.0),
        AttackKind::Nan => params.fill(f32::NAN),
        AttackKind::DataSwap => {}
    }
}

/// w <- g + factor (w - g).
fn move_from(global: &[f32], params: &mut [f32], factor: f64) {
    for (w, &g) in params.iter_mut().zip(global) {
        *w = (g as f64 + factor * (*w as f64 - g as f64)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(kind: AttackKind, scale: f64) -> Vec<f32> {
        let faults = Faults {
            attack: kind,
            scale,
            ..Faults::default()
        };
        let mut w = vec![2.0, -1.0, 0.5];
        attack(&faults, &[1.0, 1.0, 1.0], &mut w, (0, 0, 1, 0));
        w
    }

    #[test]
    fn each_attack_sends_what_it_says() {
        assert_eq!(sent(AttackKind::SignFlip, 5.0), [-4.0, 11.0, 3.5]);
        assert_eq!(sent(AttackKind::Scale, 2.0), [3.0, -3.0, 0.0]);
        assert_eq!(sent(AttackKind::Zero, 5.0), [0.0; 3]);
        assert!(sent(AttackKind::Nan, 1.0).iter().all(|v| v.is_nan()));
        assert_eq!(sent(AttackKind::DataSwap, 5.0), [2.0, -1.0, 0.5]);
        let noise = sent(AttackKind::Gaussian, 0.5);
        assert_eq!(noise, sent(AttackKind::Gaussian, 0.5), "the client's own stream");
        assert!(noise.iter().all(|&v| (v - 1.0).abs() < 3.0 && v != 1.0), "{noise:?}");
    }
}
