//! Robust aggregation rules: coordinate-wise median and trimmed mean (unweighted, as Flower's FedMedian and
//! FedTrimmedAvg), and Krum's choice of models (Blanchard et al. 2017).

/// Coordinate-wise median of the models (the mean of the two middle values for an even count, as numpy's).
pub fn median(updates: &[(Vec<f32>, usize)]) -> Vec<f32> {
    coordinate_wise(updates, |sorted| {
        let n = sorted.len();
        if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        }
    })
}

/// Coordinate-wise mean after cutting `floor(trim n)` values from each end (scipy's `trim_mean`).
pub fn trimmed_mean(updates: &[(Vec<f32>, usize)], trim: f64) -> Vec<f32> {
    let cut = (trim * updates.len() as f64) as usize;
    coordinate_wise(updates, |sorted| {
        let kept = &sorted[cut..sorted.len() - cut];
        kept.iter().sum::<f64>() / kept.len() as f64
    })
}

/// Applies `reduce` to each coordinate's values, sorted ascending (in double precision).
fn coordinate_wise(updates: &[(Vec<f32>, usize)], reduce: impl Fn(&[f64]) -> f64) -> Vec<f32> {
    let len = updates[0].0.len();
    let mut column = vec![0f64; updates.len()];
    (0..len)
        .map(|j| {
            for (c, (params, _)) in column.iter_mut().zip(updates) {
                *c = params[j] as f64;
            }
            column.sort_unstable_by(f64::total_cmp);
            reduce(&column) as f32
        })
        .collect()
}

/// The indices (ascending) of the `m` models with the lowest Krum scores: a model's score is the sum of its
/// squared distances to its `max(1, n - f - 2)` nearest other models. Ties go to the lower index.
pub fn krum_choice(updates: &[(Vec<f32>, usize)], f: usize, m: usize) -> Vec<usize> {
    let n = updates.len();
    let mut distances = vec![vec![0f64; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let d: f64 = updates[i]
                .0
                .iter()
                .zip(&updates[j].0)
                .map(|(a, b)| {
                    let d = *a as f64 - *b as f64;
                    d * d
                })
                .sum();
            distances[i][j] = d;
            distances[j][i] = d;
        }
    }
    let nearest = n.saturating_sub(f + 2).max(1).min(n - 1);
    let scores: Vec<f64> = (0..n)
        .map(|i| {
            let mut others: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| distances[i][j]).collect();
            others.sort_unstable_by(f64::total_cmp);
            others[..nearest].iter().sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = order.into_iter().take(m.min(n)).collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krum_picks_an_honest_model_among_planted_outliers() {
        // Seven honest models near (1, 1, 1) and two attackers far away, one of them close to the honest mean
        // in all but one coordinate.
        let honest = [0.98f32, 1.01, 1.02, 0.99, 1.0, 1.03, 0.97];
        let mut updates: Vec<(Vec<f32>, usize)> = honest.iter().map(|&h| (vec![h, 2.0 - h, h], 10)).collect();
        updates.push((vec![100.0, -100.0, 100.0], 1000));
        updates.push((vec![1.0, 1.0, 60.0], 1000));
        let one = krum_choice(&updates, 2, 1);
        assert_eq!(one.len(), 1);
        assert!(one[0] < honest.len(), "Krum chose attacker {one:?}");
        let many = krum_choice(&updates, 2, 5);
        assert!(many.iter().all(|&i| i < honest.len()), "Multi-Krum kept {many:?}");
        // The example-weighted mean of all would be dragged far away; the median barely moves.
        let m = median(&updates);
        assert!(m.iter().all(|v| (v - 1.0).abs() < 0.05), "{m:?}");
    }

    #[test]
    fn a_single_model_is_its_own_choice() {
        assert_eq!(krum_choice(&[(vec![1.0], 3)], 0, 1), vec![0]);
        assert_eq!(krum_choice(&[(vec![1.0], 3), (vec![2.0], 3)], 3, 5), vec![0, 1]);
    }

    /// Cases of tests/data/aggregate/golden.json, written by generate.py beside it (numpy, scipy, Flower's Krum).
    #[test]
    fn median_trimmed_mean_and_krum_match_the_numpy_golden_values() {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/aggregate/golden.json")).unwrap();
        let close = |got: &[f32], want: &serde_json::Value, what: &str| {
            let want: Vec<f64> = serde_json::from_value(want.clone()).unwrap();
            assert_eq!(got.len(), want.len(), "{what}");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{what}: {got:?} vs {want:?}"
                );
            }
        };
        let cases = golden["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 5);
        for case in cases {
            let weights: Vec<Vec<f32>> = serde_json::from_value(case["weights"].clone()).unwrap();
            let counts: Vec<usize> = serde_json::from_value(case["counts"].clone()).unwrap();
            let updates: Vec<(Vec<f32>, usize)> = weights.into_iter().zip(counts).collect();
            close(&median(&updates), &case["median"], "median");
            for (trim, want) in case["trimmed_mean"].as_object().unwrap() {
                close(
                    &trimmed_mean(&updates, trim.parse().unwrap()),
                    want,
                    &format!("trim {trim}"),
                );
            }
            for k in case["krum"].as_array().unwrap() {
                let (f, m) = (k["f"].as_u64().unwrap() as usize, k["m"].as_u64().unwrap() as usize);
                let rule = crate::scenario::AggregateConfig::Krum {
                    f,
                    m,
                    weighting: crate::scenario::Weighting::Examples,
                };
                close(
                    &super::super::aggregate(&rule, &updates),
                    &k["result"],
                    &format!("krum f {f} m {m}"),
                );
            }
        }
    }
}
