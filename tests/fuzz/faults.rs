//! Fault combinations (issue 17): a whole generated `faults` section (every key, sane values, bounds and a few
//! out-of-range ones) with an aggregator and a server clip on the tiny scenario. Each case either runs or fails
//! with one line, never panics or hangs, and writes nothing outside its output.

use super::grammar::map;
use super::scenarios::{Mutation, build, check};
use super::{Mode, Tally, Watchdog, fuzz};
use proptest::prelude::*;
use proptest::sample::select;
use serde_norway::Value;

/// A share: mostly in range, sometimes at or past a bound.
fn share() -> BoxedStrategy<Value> {
    prop_oneof![30 => 0.0f64..=0.9, 3 => select(vec![0.0f64, 0.5, 0.999]), 1 => select(vec![1.0f64, 1.5, -0.2])]
        .prop_map(Value::from)
        .boxed()
}

fn availability() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(map(&[("kind", Value::from("always"))])),
        (
            0.05f64..=1.0,
            prop_oneof![6 => Just(0.5f64), 6 => Just(10.0), 1 => Just(0.0)]
        )
            .prop_map(|(mean, c)| map(&[
                ("kind", Value::from("bernoulli")),
                ("mean", Value::from(mean)),
                ("concentration", Value::from(c)),
            ])),
        (prop_oneof![12 => 1u64..=5, 1 => Just(0u64)], 0.1f64..=1.0).prop_map(|(period, f)| map(&[
            ("kind", Value::from("diurnal")),
            ("period", Value::from(period)),
            ("online_fraction", Value::from(f)),
        ])),
    ]
    .prop_map(Value::Mapping)
    .boxed()
}

fn stragglers() -> BoxedStrategy<Value> {
    let work = prop_oneof![
        12 => (0.05f64..=1.0, 0.05f64..=1.0).prop_map(|(a, b)| (a.min(b), a.max(b))),
        1 => select(vec![(0.0f64, 1.0), (0.9, 0.5)]),
    ];
    (share(), work, select(vec!["partial", "drop", "fednova"]))
        .prop_map(|(fraction, (a, b), policy)| {
            Value::Mapping(map(&[
                ("fraction", fraction),
                ("work", Value::Sequence(vec![Value::from(a), Value::from(b)])),
                ("policy", Value::from(policy)),
            ]))
        })
        .boxed()
}

fn byzantine() -> BoxedStrategy<Value> {
    let kinds = vec!["sign_flip", "scale", "gaussian", "zero", "nan", "data_swap"];
    (
        share(),
        select(kinds),
        select(vec![0.0f64, 1.0, 5.0, 1e30]),
        prop_oneof![8 => Just(vec![]), 4 => Just(vec![0u64]), 1 => Just(vec![9u64])],
    )
        .prop_map(|(fraction, kind, scale, experts)| {
            Value::Mapping(map(&[
                ("fraction", fraction),
                ("kind", Value::from(kind)),
                ("scale", Value::from(scale)),
                (
                    "experts",
                    Value::Sequence(experts.into_iter().map(Value::from).collect()),
                ),
            ]))
        })
        .boxed()
}

fn outages() -> BoxedStrategy<Value> {
    let span = prop_oneof![
        12 => (1u64..=2).prop_map(|round| (round, round)),
        2 => Just((1u64, 2u64)),
        1 => (0u64..=3, 0u64..=3)
    ];
    proptest::collection::vec((prop_oneof![8 => 0u64..=1, 1 => Just(7u64)], span), 0..=1)
        .prop_map(|list| {
            Value::Sequence(
                list.into_iter()
                    .map(|(expert, (from, to))| {
                        Value::Mapping(map(&[
                            ("expert", Value::from(expert)),
                            ("from_round", Value::from(from)),
                            ("to_round", Value::from(to)),
                        ]))
                    })
                    .collect(),
            )
        })
        .boxed()
}

/// A whole `faults` section: each key present or left to its default.
fn faults_section() -> BoxedStrategy<Value> {
    let maybe = |s: BoxedStrategy<Value>| proptest::option::weighted(0.6, s);
    (
        maybe(share()),
        maybe(availability()),
        maybe(stragglers()),
        maybe(byzantine()),
        maybe(select(vec!["fail", "skip"]).prop_map(Value::from).boxed()),
        maybe(outages()),
    )
        .prop_map(|(dropout, availability, stragglers, byzantine, on_nonfinite, outage)| {
            let mut m = serde_norway::Mapping::new();
            for (key, v) in [
                ("dropout", dropout),
                ("availability", availability),
                ("stragglers", stragglers),
                ("byzantine", byzantine),
                ("on_nonfinite", on_nonfinite),
                ("expert_outage", outage),
            ] {
                if let Some(v) = v {
                    m.insert(Value::from(key), v);
                }
            }
            Value::Mapping(m)
        })
        .boxed()
}

/// The federation's aggregator and server clip beside the faults.
fn defence() -> BoxedStrategy<Vec<Mutation>> {
    let aggregate = select(vec!["mean", "median", "trimmed_mean", "krum"]).prop_map(|kind| {
        Mutation::Section(
            "federation.aggregate".into(),
            Value::Mapping(map(&[("kind", Value::from(kind))])),
        )
    });
    let clip = proptest::option::weighted(
        0.3,
        select(vec![1e-3f64, 1.0, 0.0]).prop_map(|c| {
            Mutation::Section(
                "federation.server".into(),
                Value::Mapping(map(&[
                    ("kind", Value::from("sgd")),
                    ("clip_update_norm", Value::from(c)),
                ])),
            )
        }),
    );
    (aggregate, clip)
        .prop_map(|(a, c)| std::iter::once(a).chain(c).collect())
        .boxed()
}

/// The fault-combination test: `mode`'s number of cases (300 in CI).
pub fn fuzz_fault_combinations(mode: Mode) {
    let name = format!("fuzz_fault_combinations({mode:?})");
    let tally = Tally::new(&name);
    let dog = Watchdog::start(&name);
    let cases = (faults_section(), defence()).prop_map(|(faults, mut defence)| {
        defence.push(Mutation::Section("faults".into(), faults));
        build(defence, Vec::new(), false)
    });
    fuzz(&name, mode, 300, cases, &tally, |case| {
        let _watch = dog.watch(format!("{case:?}"));
        check(&case, &tally)
    });
}
