//! Metrics and schedules against golden values from an independent numpy/scipy reference
//! (`tests/data/make_golden.py`, which wrote `tests/data/golden.json`).

use ddmsim::analysis::stats::{quantile, spearman};
use ddmsim::diffusion::schedule::cosine_alpha_bar;
use ddmsim::metrics::{frechet_distance, knn_radii, median_distance, mmd2, prdc};
use ndarray::Array2;
use serde_json::Value;

fn golden() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn frechet_distance_matches_scipy_sqrtm_to_1e_6() {
    let g = golden();
    let fd = frechet_distance(matrix(&g["a"]).view(), matrix(&g["b"]).view());
    let expected = g["fd"].as_f64().unwrap();
    assert!(rel(fd, expected) < 1e-6, "ours {fd}, scipy {expected}");
}

#[test]
fn mmd_and_bandwidth_match_numpy() {
    let g = golden();
    let (a, b) = (matrix(&g["a"]), matrix(&g["b"]));
    let h = median_distance(b.view());
    assert!(rel(h, g["bandwidth"].as_f64().unwrap()) < 1e-12);
    let m = mmd2(a.view(), b.view(), h);
    assert!(rel(m, g["mmd2"].as_f64().unwrap()) < 1e-9, "ours {m}");
}

#[test]
fn precision_recall_density_coverage_match_the_reference_definitions() {
    let g = golden();
    let rows = |v: &Value| -> Vec<Vec<f64>> { serde_json::from_value(v.clone()).unwrap() };
    let (real, fake) = (rows(&g["real"]), rows(&g["fake"]));
    let k = g["k"].as_u64().unwrap() as usize;
    let p = prdc(&real, &knn_radii(&real, k), &fake, k);
    let e = &g["prdc"];
    for (ours, name) in [
        (p.precision, "precision"),
        (p.recall, "recall"),
        (p.density, "density"),
        (p.coverage, "coverage"),
    ] {
        let expected = e[name].as_f64().unwrap();
        assert!(rel(ours, expected) < 1e-12, "{name}: ours {ours}, numpy {expected}");
    }
}

#[test]
fn cosine_schedule_matches_improved_diffusion() {
    let g = golden();
    let ours = cosine_alpha_bar(1000);
    let idx: Vec<usize> = serde_json::from_value(g["cosine_index"].clone()).unwrap();
    let expected: Vec<f64> = serde_json::from_value(g["cosine_alpha_bar"].clone()).unwrap();
    for (i, e) in idx.iter().zip(expected) {
        assert!(rel(ours[*i], e) < 1e-12, "abar[{i}] = {} vs {e}", ours[*i]);
    }
}

#[test]
fn spearman_with_ties_and_quantile_match_scipy_and_numpy() {
    let g = golden();
    let u: Vec<f64> = serde_json::from_value(g["rank_u"].clone()).unwrap();
    let v: Vec<f64> = serde_json::from_value(g["rank_v"].clone()).unwrap();
    let rho = spearman(&u, &v);
    let expected = g["spearman"].as_f64().unwrap();
    assert!(rel(rho, expected) < 1e-12, "spearman {rho} vs scipy {expected}");
    let q = quantile(&v, 0.95);
    let expected = g["quantile95"].as_f64().unwrap();
    assert!(rel(q, expected) < 1e-12, "quantile {q} vs numpy {expected}");
}

/// KID and memorization golden values from `tests/data/make_kid_memorization.py` (scikit-learn's
/// `polynomial_kernel` and `NearestNeighbors`, numpy's linear quantile).
fn kid_memorization() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kid_memorization.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn kid_matches_scikit_learn_polynomial_kernel_to_1e_12() {
    let g = kid_memorization();
    let cases = g["kid"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let (x, y) = (matrix(&case["x"]), matrix(&case["y"]));
        let ours = ddmsim::metrics::kid::kid(x.view(), y.view());
        let expected = case["kid"].as_f64().unwrap();
        assert!(
            rel(ours, expected) < 1e-12,
            "{}: ours {ours}, sklearn {expected}",
            case["name"]
        );
    }
}

#[test]
fn memorization_threshold_and_share_match_numpy_and_scikit_learn() {
    let g = kid_memorization();
    let cases = g["memorization"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = &case["name"];
        let q = case["quantile"].as_f64().unwrap();
        let set = ddmsim::metrics::TrainingSet::new(matrix(&case["train"]).view(), matrix(&case["held_out"]).view(), q);
        let expected = case["threshold"].as_f64().unwrap();
        assert!(
            rel(set.threshold, expected) < 1e-12,
            "{name}: τ {} vs {expected}",
            set.threshold
        );
        let generated: Vec<Vec<f64>> = serde_json::from_value(case["generated"].clone()).unwrap();
        let nearest = set.nearest(&generated);
        let expected_nearest: Vec<f64> = serde_json::from_value(case["nearest_generated"].clone()).unwrap();
        for (a, b) in nearest.iter().zip(&expected_nearest) {
            assert!((a - b).abs() <= 1e-12 * b.max(1e-300) + 1e-15, "{name}: {a} vs {b}");
        }
        let share = ddmsim::metrics::memorization::memorized_share(&set, &generated);
        assert_eq!(share, case["memorization"].as_f64().unwrap(), "{name}");
    }
}
