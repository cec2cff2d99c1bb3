//! The quantity-skew and shard partitions give Flower Datasets' partition sizes exactly, and refuse where Flower
//! refuses: golden sizes written by `tests/data/flower_partitions/generate.py` with flwr-datasets itself.

use super::shard::{ShardSpec, shard};
use super::sizes::{numpy_sum, quantity, sizes};
use crate::rng::{Stream, derive};
use crate::scenario::SizeRule;
use serde_json::Value;

fn golden() -> Value {
    serde_json::from_str(include_str!("../../tests/data/flower_partitions/sizes.json")).unwrap()
}

fn count(case: &Value, key: &str) -> usize {
    case[key].as_u64().unwrap() as usize
}

fn optional(case: &Value, key: &str) -> Option<usize> {
    case[key].as_u64().map(|v| v as usize)
}

/// Flower's sizes, or `None` where Flower raised.
fn flower_sizes(case: &Value) -> Option<Vec<usize>> {
    case["sizes"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_u64().unwrap() as usize).collect())
}

#[test]
fn linear_square_and_exponential_sizes_are_flowers() {
    let g = golden();
    let cases = g["size_rules"].as_array().unwrap();
    assert!(cases.len() > 200);
    for case in cases {
        let (n, clients) = (count(case, "n"), count(case, "clients"));
        let rule = match case["kind"].as_str().unwrap() {
            "linear" => SizeRule::Linear,
            "square" => SizeRule::Square,
            "exponential" => SizeRule::Exponential,
            other => panic!("{other}"),
        };
        let ours = sizes(rule, n, clients).ok();
        assert_eq!(ours, flower_sizes(case), "{case}");
        // The partition itself holds exactly those sizes.
        if let Some(want) = ours {
            let parts = quantity(rule, n, clients, &mut derive(0, Stream::Partition, &[])).unwrap();
            assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), want);
        }
    }
}

#[test]
fn the_exponential_units_sum_to_numpys_float_bit_for_bit() {
    let g = golden();
    for case in g["exponential_totals"].as_array().unwrap() {
        let clients = count(case, "clients");
        let units: Vec<f64> = (1..=clients).map(|i| (i as f64).exp()).collect();
        let want = case["total_bits"].as_u64().unwrap();
        assert_eq!(numpy_sum(&units).to_bits(), want, "e^1 + ... + e^{clients}");
    }
}

#[test]
fn shard_sizes_are_flowers() {
    let g = golden();
    let cases = g["shard"].as_array().unwrap();
    for case in cases {
        let (n, clients) = (count(case, "n"), count(case, "clients"));
        let spec = ShardSpec {
            shards_per_client: optional(case, "shards_per_client"),
            shard_size: optional(case, "shard_size"),
            keep_incomplete_shard: case["keep_incomplete_shard"].as_bool().unwrap(),
        };
        // Labels as in the script: row i has label i % 10.
        let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
        let ours = shard(&labels, clients, spec, &mut derive(0, Stream::Partition, &[]))
            .ok()
            .map(|parts| parts.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(ours, flower_sizes(case), "{case}");
    }
}
