//! Aggregation of client updates: pure functions over parameter vectors, kept apart from the round loop.

/// Mean of `updates` weighted by their sample counts, summed in the given (client-id) order so the result does
/// not depend on which thread finished first.
pub fn weighted_mean(updates: &[(Vec<f32>, usize)]) -> Vec<f32> {
    let total: f64 = updates.iter().map(|(_, n)| *n as f64).sum();
    let len = updates[0].0.len();
    let mut acc = vec![0f64; len];
    for (params, n) in updates {
        let w = *n as f64 / total;
        for (a, p) in acc.iter_mut().zip(params) {
            *a += w * *p as f64;
        }
    }
    acc.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn weights_follow_sample_counts() {
        let m = super::weighted_mean(&[(vec![1.0, 0.0], 1), (vec![4.0, 2.0], 3)]);
        assert_eq!(m, vec![3.25, 1.5]);
    }

    #[test]
    fn identical_updates_average_to_themselves() {
        let u = vec![0.1f32, -7.25, 3.0e-5];
        assert_eq!(super::weighted_mean(&[(u.clone(), 5), (u.clone(), 9)]), u);
    }
}
