//! Generated scenarios run in-process: a tiny scenario (tens of milliseconds) with one to three mutations at
//! paths drawn from every key of the schema (plus bogus keys, whole sections, routing lists, small sweeps and
//! CSV data written beside the scenario), then text mutations. Each case parses, validates and, when tiny (or so
//! large that it must be refused), runs in its own workspace: no panic, one-line errors, the inputs unchanged and
//! nothing written outside `out/` and `.ddmsim-cache/`. The generator also serves the CLI test.

use super::csv_files::{CsvCase, csv_case, sane_csv};
use super::grammar::{self, TextMutation, apply_text, map};
use super::{Mode, Tally, Watchdog, fuzz, one_line, panic_text, stray_changes, temp_dir, tree};
use ddmsim::scenario::{DataKind, LoadedScenario, RoutingConfig, Scenario};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use serde_norway::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The tiny scenario every case starts from: a few milliseconds to run in release in memory (`/dev/shm`), tens
/// on a disk, where ddmsim syncs each file it writes.
pub const TINY: &str = "\
name: tiny
seed: 0
data: { kind: gmm, components: 3, dim: 2, radius: 3.0, std: 0.3, samples: 300, test_fraction: 0.25 }
clusters: { method: kmeans, k: 3 }
clients: { count: 4, partition: { kind: dirichlet, alpha: 0.3, min_partition_size: 0 } }
federation: { rounds: 2, local_steps: 2, batch_size: 16 }
model: { hidden: [8], time_embedding: 4 }
router: { hidden: [8], time_embedding: 4, rounds: 2, local_steps: 2 }
sampling: { steps: 3, samples: 20 }
metrics:
  max_reference: 60
  nearest_k: 3
  alignment_points: 20
  error_points: 20
  error_bins: 2
  projections: 8
  classifier: { hidden: [8], epochs: 1, batch_size: 64 }
routing: [ { policy: top_k, k: 1 }, { policy: full }, { policy: monolith } ]
";

/// Placeholder in generated YAML for the workspace's absolute path (known only when the case is written).
pub const WS: &str = "@WS@";

/// What a schema key holds, for its sane values.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer in the inclusive range.
    Count(u64, u64),
    /// An even integer in the inclusive range.
    Even(u64, u64),
    /// A float in the range.
    Real(f64, f64),
    /// A boolean.
    Bool,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// A list of one to three small widths.
    Widths,
    /// A list of mixture weights.
    Weights,
    /// A scenario name.
    Name,
    /// A data file path.
    DataPath,
    /// A label column name.
    Label,
    /// `true`, `false` or null.
    OptBool,
}

/// Every key of the schema (file form, dotted) and what it holds.
const SCHEMA: &[(&str, Kind)] = &[
    ("name", Kind::Name),
    ("seed", Kind::Count(0, 5)),
    ("device", Kind::Choice(&["cpu", "gpu", "tpu"])),
    (
        "data.kind",
        Kind::Choice(&[
            "gmm",
            "moons",
            "rings",
            "checkerboard",
            "spirals",
            "digits",
            "csv",
            "gmmm",
        ]),
    ),
    ("data.components", Kind::Count(1, 6)),
    ("data.dim", Kind::Count(1, 4)),
    ("data.radius", Kind::Real(0.0, 5.0)),
    ("data.std", Kind::Real(0.05, 1.0)),
    ("data.layout", Kind::Choice(&["circle", "random", "grid"])),
    ("data.weights", Kind::Weights),
    ("data.samples", Kind::Count(10, 400)),
    ("data.test_fraction", Kind::Real(0.05, 0.6)),
    ("data.noise", Kind::Real(0.0, 0.3)),
    ("data.rings", Kind::Count(1, 4)),
    ("data.arms", Kind::Count(1, 4)),
    ("data.path", Kind::DataPath),
    ("data.label_column", Kind::Label),
    ("clusters.method", Kind::Choice(&["kmeans", "labels", "dbscan"])),
    ("clusters.k", Kind::Count(1, 5)),
    ("clusters.max_iterations", Kind::Count(1, 50)),
    ("clients.count", Kind::Count(1, 8)),
    (
        "clients.partition.kind",
        Kind::Choice(&[
            "iid",
            "dirichlet",
            "pathological",
            "shards",
            "linear",
            "square",
            "exponential",
            "shard",
            "inner_dirichlet",
            "natural",
        ]),
    ),
    ("clients.partition.alpha", Kind::Real(0.05, 100.0)),
    ("clients.partition.min_partition_size", Kind::Count(0, 20)),
    ("clients.partition.self_balancing", Kind::Bool),
    ("clients.partition.clusters_per_client", Kind::Count(1, 4)),
    ("clients.partition.shards_per_client", Kind::Count(0, 3)),
    ("clients.partition.shard_size", Kind::Count(0, 80)),
    ("clients.partition.keep_incomplete_shard", Kind::Bool),
    (
        "clients.partition.sizes",
        Kind::Choice(&["equal", "linear", "square", "exponential", "cubic"]),
    ),
    ("clients.partition.column", Kind::Label),
    ("experts.grouping", Kind::Choice(&["majority", "random", "all"])),
    ("federation.mode", Kind::Choice(&["fedavg", "pooled", "fedprox"])),
    ("federation.rounds", Kind::Count(1, 3)),
    ("federation.clients_per_round", Kind::Real(0.1, 1.0)),
    ("federation.local_steps", Kind::Count(1, 3)),
    ("federation.batch_size", Kind::Count(1, 64)),
    (
        "federation.local_optimizer",
        Kind::Choice(&["fresh", "persistent", "stale"]),
    ),
    ("model.hidden", Kind::Widths),
    ("model.time_embedding", Kind::Even(2, 8)),
    ("model.residual", Kind::Bool),
    ("model.objective", Kind::Choice(&["flow", "ddpm", "score"])),
    ("model.ema", Kind::Real(0.0, 0.999)),
    ("model.optimizer.kind", Kind::Choice(&["adam", "sgd", "lbfgs"])),
    ("model.optimizer.lr", Kind::Real(1e-4, 0.1)),
    ("model.optimizer.grad_clip", Kind::Real(0.0, 5.0)),
    ("model.optimizer.weight_decay", Kind::Real(0.0, 0.1)),
    ("model.optimizer.beta1", Kind::Real(0.0, 0.999)),
    ("model.optimizer.beta2", Kind::Real(0.0, 0.999)),
    ("model.optimizer.momentum", Kind::Real(0.0, 0.999)),
    ("router.hidden", Kind::Widths),
    ("router.time_embedding", Kind::Even(2, 8)),
    ("router.temperature", Kind::Real(0.1, 5.0)),
    ("router.rounds", Kind::Count(1, 3)),
    ("router.clients_per_round", Kind::Real(0.1, 1.0)),
    ("router.local_steps", Kind::Count(1, 3)),
    ("router.local_optimizer", Kind::Choice(&["fresh", "persistent"])),
    ("router.optimizer.kind", Kind::Choice(&["adam", "sgd"])),
    ("router.optimizer.lr", Kind::Real(1e-4, 0.1)),
    ("router.optimizer.grad_clip", Kind::Real(0.0, 5.0)),
    ("router.optimizer.weight_decay", Kind::Real(0.0, 0.1)),
    ("router.optimizer.beta1", Kind::Real(0.0, 0.999)),
    ("router.optimizer.beta2", Kind::Real(0.0, 0.999)),
    ("router.optimizer.momentum", Kind::Real(0.0, 0.999)),
    ("federation.server.clip_update_norm", Kind::Real(1e-3, 10.0)),
    ("faults.dropout", Kind::Real(0.0, 0.9)),
    ("faults.on_nonfinite", Kind::Choice(&["fail", "skip", "ignore"])),
    ("faults.byzantine.fraction", Kind::Real(0.0, 0.6)),
    (
        "faults.byzantine.kind",
        Kind::Choice(&["sign_flip", "scale", "gaussian", "zero", "nan", "data_swap", "flip"]),
    ),
    ("faults.byzantine.scale", Kind::Real(0.0, 10.0)),
    ("faults.stragglers.fraction", Kind::Real(0.0, 1.0)),
    (
        "faults.stragglers.policy",
        Kind::Choice(&["partial", "drop", "fednova"]),
    ),
    (
        "faults.availability.kind",
        Kind::Choice(&["always", "bernoulli", "diurnal"]),
    ),
    ("sampling.steps", Kind::Count(1, 5)),
    ("sampling.samples", Kind::Count(4, 60)),
    ("metrics.stability", Kind::Bool),
    ("metrics.alignment", Kind::Bool),
    ("metrics.perturbation_small", Kind::Real(1e-4, 0.5)),
    ("metrics.perturbation_large", Kind::Real(1e-4, 0.5)),
    ("metrics.alignment_neighbors", Kind::Count(1, 5)),
    ("metrics.alignment_points", Kind::Count(1, 40)),
    ("metrics.error_bins", Kind::Count(1, 4)),
    ("metrics.error_points", Kind::Count(1, 40)),
    ("metrics.nearest_k", Kind::Count(1, 5)),
    ("metrics.projections", Kind::Count(1, 16)),
    ("metrics.max_reference", Kind::Count(2, 100)),
    ("metrics.classifier.enabled", Kind::OptBool),
    ("metrics.classifier.hidden", Kind::Widths),
    ("metrics.classifier.epochs", Kind::Count(1, 2)),
    ("metrics.classifier.batch_size", Kind::Count(8, 64)),
    ("metrics.classifier.lr", Kind::Real(1e-4, 0.1)),
];

/// A sane value for a key of kind `kind`.
fn sane(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Count(lo, hi) => (lo..=hi).prop_map(Value::from).boxed(),
        Kind::Even(lo, hi) => (lo / 2..=hi / 2).prop_map(|v| Value::from(2 * v)).boxed(),
        Kind::Real(lo, hi) => prop_oneof![Just(lo), (lo..=hi)].prop_map(Value::from).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Kind::Choice(names) => select(names.to_vec()).prop_map(Value::from).boxed(),
        Kind::Widths => proptest::collection::vec(1u64..=12, 1..=3)
            .prop_map(|w| Value::Sequence(w.into_iter().map(Value::from).collect()))
            .boxed(),
        Kind::Weights => proptest::collection::vec(0.1f64..3.0, 1..=4)
            .prop_map(|w| Value::Sequence(w.into_iter().map(Value::from).collect()))
            .boxed(),
        Kind::Name => select(vec!["t", "run-2", "a.b_c=1", "x"]).prop_map(Value::from).boxed(),
        Kind::DataPath => select(vec!["d.csv", "./d.csv", "sub/d.csv", "missing.csv"])
            .prop_map(Value::from)
            .boxed(),
        Kind::Label => select(vec!["label", "f0", "nope"]).prop_map(Value::from).boxed(),
        Kind::OptBool => prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::from)].boxed(),
    }
}

/// An edge value for a key of kind `kind`: at or just past the bounds that validation and the tiny budgets draw
/// (zero, one, the smallest normal f32, just below and above one, the tiny limits), where runs meet corner cases.
fn edge(kind: Kind) -> BoxedStrategy<Value> {
    let seq = |items: Vec<Value>| Value::Sequence(items);
    match kind {
        Kind::Count(..) => select(vec![0u64, 1, 2, 3, 10, 11, 16, 17, 33, 64, 100, 500, 2000])
            .prop_map(Value::from)
            .boxed(),
        Kind::Even(..) => select(vec![0u64, 1, 2, 3, 32, 34]).prop_map(Value::from).boxed(),
        Kind::Real(..) => select(vec![
            0.0f64, 1e-7, 1e-38, 1.2e-38, 1e-4, 0.999999, 1.0, 1.0000001, 100.0, 1e6, 3.4e38, 3.5e38,
        ])
        .prop_map(Value::from)
        .boxed(),
        Kind::Widths => select(vec![
            vec![1u64],
            vec![32, 32, 32],
            vec![1, 1, 1],
            vec![33],
            vec![1, 1, 1, 1],
            vec![0],
        ])
        .prop_map(move |w| seq(w.into_iter().map(Value::from).collect()))
        .boxed(),
        Kind::Weights => select(vec![
            vec![1e-30f64, 1.0, 1.0],
            vec![1e300, 1e300, 1e300],
            vec![0.0, 1.0, 1.0],
            vec![1.0; 16],
        ])
        .prop_map(move |w| seq(w.into_iter().map(Value::from).collect()))
        .boxed(),
        other => sane(other),
    }
}

/// A value for a key of kind `kind`: about half sane (a few at the edges), half from the extreme grammar.
fn value_for(kind: Kind) -> BoxedStrategy<Value> {
    prop_oneof![10 => sane(kind), 3 => edge(kind), 7 => grammar::extreme()].boxed()
}

/// One routing policy: every variant with sane or extreme settings, unknown names, missing keys, wrong types.
fn policy() -> BoxedStrategy<Value> {
    let k = || prop_oneof![3 => (1u64..=3).prop_map(Value::from), 1 => grammar::extreme()];
    let p = || prop_oneof![3 => select(vec![0.3f64, 0.5, 0.8, 1.0]).prop_map(Value::from), 1 => grammar::extreme()];
    let policy = |name: &str, rest: &[(&str, Value)]| {
        let mut m = map(&[("policy", Value::from(name))]);
        for (key, v) in rest {
            m.insert(Value::from(*key), v.clone());
        }
        Value::Mapping(m)
    };
    let stage = (
        prop_oneof![3 => select(vec![0.0f64, 0.5, 0.8]).prop_map(Value::from), 1 => grammar::extreme()],
        k(),
    )
        .prop_map(|(t, k)| Value::Mapping(map(&[("t_min", t), ("k", k)])));
    prop_oneof![
        3 => (k(), any::<bool>()).prop_map(move |(k, r)| policy("top_k", &[("k", k), ("renormalize", Value::from(r))])),
        2 => select(vec!["full", "uniform", "sample", "oracle", "monolith"]).prop_map(move |n| policy(n, &[])),
        1 => p().prop_map(move |p| policy("threshold", &[("p_min", p)])),
        1 => p().prop_map(move |p| policy("top_p", &[("p", p)])),
        1 => k().prop_map(move |k| policy("random", &[("k", k)])),
        1 => (
            prop_oneof![3 => select(vec!["s", "wide-then-one"]).prop_map(Value::from), 1 => grammar::extreme_string()],
            proptest::collection::vec(stage, 0..=3)
        )
            .prop_map(move |(name, stages)| policy("schedule", &[("name", name), ("stages", Value::Sequence(stages))])),
        1 => Just(policy("bogus", &[])),
        1 => Just(Value::Mapping(map(&[("k", Value::from(1u64))]))),
        1 => Just(policy("full", &[("k", Value::from(2u64))])),
        1 => grammar::extreme(),
    ]
    .boxed()
}

/// A data section of every kind with sane settings, or a wrong type.
fn data_section() -> BoxedStrategy<Value> {
    let frac = || select(vec![0.2f64, 0.25, 0.5]).prop_map(Value::from);
    let samples = || prop_oneof![3 => (20u64..300).prop_map(Value::from), 1 => grammar::extreme_int()];
    let section = |kind: &str, rest: Vec<(&str, Value)>| {
        let mut m = map(&[("kind", Value::from(kind))]);
        for (key, v) in rest {
            m.insert(Value::from(key), v);
        }
        Value::Mapping(m)
    };
    prop_oneof![
        2 => (1u64..=5, 1u64..=4, samples(), frac(), select(vec!["circle", "random"])).prop_map(
            move |(c, d, s, f, l)| section(
                "gmm",
                vec![("components", Value::from(c)), ("dim", Value::from(d)), ("samples", s), ("test_fraction", f), ("layout", Value::from(l))]
            )
        ),
        1 => (samples(), frac()).prop_map(move |(s, f)| section("moons", vec![("samples", s), ("test_fraction", f)])),
        1 => (1u64..=3, samples()).prop_map(move |(r, s)| section("rings", vec![("rings", Value::from(r)), ("samples", s)])),
        1 => samples().prop_map(move |s| section("checkerboard", vec![("samples", s)])),
        1 => (1u64..=3, samples()).prop_map(move |(a, s)| section("spirals", vec![("arms", Value::from(a)), ("samples", s)])),
        1 => frac().prop_map(move |f| section("digits", vec![("test_fraction", f)])),
        1 => grammar::extreme(),
    ]
    .boxed()
}

/// A partition section of every kind, or a wrong type.
fn partition_section() -> BoxedStrategy<Value> {
    let section = |kind: &str, rest: Vec<(&str, Value)>| {
        let mut m = map(&[("kind", Value::from(kind))]);
        for (key, v) in rest {
            m.insert(Value::from(key), v);
        }
        Value::Mapping(m)
    };
    prop_oneof![
        1 => Just(section("iid", vec![])),
        2 => (value_for(Kind::Real(0.05, 100.0)), 0u64..5, any::<bool>()).prop_map(move |(a, m, b)| section(
            "dirichlet",
            vec![("alpha", a), ("min_partition_size", Value::from(m)), ("self_balancing", Value::from(b))]
        )),
        1 => value_for(Kind::Count(1, 3)).prop_map(move |c| section("pathological", vec![("clusters_per_client", c)])),
        1 => select(vec!["linear", "square", "exponential"]).prop_map(move |k| section(k, vec![])),
        1 => (value_for(Kind::Count(0, 3)), value_for(Kind::Count(0, 80)), any::<bool>()).prop_map(move |(p, z, b)| {
            section(
                "shard",
                vec![("shards_per_client", p), ("shard_size", z), ("keep_incomplete_shard", Value::from(b))],
            )
        }),
        1 => (value_for(Kind::Real(0.05, 100.0)), select(vec!["equal", "linear", "square", "exponential"]))
            .prop_map(move |(a, z)| section("inner_dirichlet", vec![("alpha", a), ("sizes", Value::from(z))])),
        1 => value_for(Kind::Label).prop_map(move |c| section("natural", vec![("column", c)])),
        1 => grammar::extreme(),
    ]
    .boxed()
}

/// One change to the scenario's YAML tree.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Sets the value at a dotted path (numbers index lists), creating mappings on the way.
    Set(String, Value),
    /// Removes the key at a dotted path.
    Remove(String),
    /// Replaces a whole top-level section (or the partition section).
    Section(String, Value),
    /// Replaces the routing list.
    Routing(Vec<Value>),
    /// Sets the `sweep` mapping.
    Sweep(Mapping),
    /// CSV data: the `data` section names `path` (with `label_column`), and `file` (relative to the workspace)
    /// holds the bytes.
    Csv {
        /// `data.path` as written in the scenario.
        path: Value,
        /// `data.label_column` (absent when `None`).
        label: Option<Value>,
        /// Where the file is written, relative to the workspace.
        file: String,
        /// The file's contents.
        csv: CsvCase,
    },
    /// A symbolic link in the workspace to a folder beside it (`outside/`, which must stay untouched): as the
    /// output folder `out` (the folder empty or holding a user's file), or as the folder `link` of the CSV data
    /// (`data.path: link/d.csv`, the file in `outside/`).
    Link {
        /// The link is `out` (else `link`, the data's folder).
        out: bool,
        /// `outside/` holds a user's file `keep.txt`.
        user_file: bool,
        /// The CSV data (used when the link is the data's folder).
        csv: CsvCase,
    },
}

/// A dotted path of the schema, a path into the routing list, or a bogus one.
fn any_path() -> BoxedStrategy<(String, Kind)> {
    prop_oneof![
        24 => select(SCHEMA.to_vec()).prop_map(|(p, k)| (p.to_string(), k)),
        1 => (0usize..3, select(vec!["k", "renormalize", "p_min", "p", "policy", "stages", "name"]))
            .prop_map(|(i, key)| (format!("routing.{i}.{key}"), Kind::Count(1, 3))),
        2 => select(vec!["bogus", "data.bogus", "model.optimizer.bogus", "clients.partition.bogus", "metrics.classifier.x", "", "a..b", "name.x", "seed.0"])
            .prop_map(|p| (p.to_string(), Kind::Count(1, 3))),
    ]
    .boxed()
}

/// A small sweep: one or two axes, one to three cells in all (sometimes a non-list or a bad path).
fn sweep() -> BoxedStrategy<Mapping> {
    let axis_path = prop_oneof![
        6 => select(SCHEMA.to_vec()),
        1 => select(vec![("name", Kind::Name), ("sweep", Kind::Count(1, 2)), ("bogus.path", Kind::Count(1, 2)), ("routing", Kind::Count(1, 2))]),
    ];
    let first = (axis_path.clone(), 1usize..=3).prop_flat_map(|((path, kind), n)| {
        (Just(path), prop_oneof![8 => proptest::collection::vec(value_for(kind), n..=n).prop_map(Value::Sequence), 1 => grammar::extreme()])
    });
    let second = proptest::option::weighted(
        0.3,
        axis_path.prop_flat_map(|(path, kind)| (Just(path), value_for(kind).prop_map(|v| Value::Sequence(vec![v])))),
    );
    (first, second)
        .prop_map(|((p1, v1), second)| {
            let mut m = map(&[(p1, v1)]);
            if let Some((p2, v2)) = second {
                m.insert(Value::from(p2), v2);
            }
            m
        })
        .boxed()
}

/// CSV data with the file written in the workspace: mostly a sane file named as written, sometimes path tricks
/// (the file inside the output or cache folder, named `out`, given by absolute path or through `..`) or a file
/// from the full CSV grammar.
fn csv_mutation() -> BoxedStrategy<Mutation> {
    let file = prop_oneof![
        8 => Just("d.csv"),
        2 => Just("sub/d.csv"),
        1 => select(vec!["out/d.csv", ".ddmsim-cache/d.csv", "out", ".ddmsim-cache"]),
    ];
    let how = select(vec!["same", "same", "same", "dot", "up", "abs", "other"]);
    let csv = prop_oneof![4 => sane_csv(), 1 => csv_case()];
    let label = prop_oneof![
        3 => Just(None),
        3 => Just(Some(Value::from("label"))),
        1 => grammar::extreme().prop_map(Some),
    ];
    (file, how, csv, label, grammar::extreme_string())
        .prop_map(|(file, how, csv, label, other)| {
            let path = match how {
                "same" => Value::from(file),
                "dot" => Value::from(format!("./{file}")),
                "up" => Value::from(format!("../ws/{file}")),
                "abs" => Value::from(format!("{WS}/{file}")),
                _ => other,
            };
            let label = label.or_else(|| csv.label_column.clone().map(Value::from));
            Mutation::Csv {
                path,
                label,
                file: file.to_string(),
                csv,
            }
        })
        .boxed()
}

/// One mutation of the tiny scenario.
fn mutation() -> BoxedStrategy<Mutation> {
    let sections = select(vec![
        "data",
        "clusters",
        "clients",
        "experts",
        "federation",
        "model",
        "router",
        "faults",
        "sampling",
        "metrics",
        "routing",
        "sweep",
        "name",
        "seed",
    ]);
    prop_oneof![
        30 => any_path().prop_flat_map(|(p, k)| (Just(p), value_for(k))).prop_map(|(p, v)| Mutation::Set(p, v)),
        3 => any_path().prop_map(|(p, _)| Mutation::Remove(p)),
        3 => data_section().prop_map(|v| Mutation::Section("data".into(), v)),
        2 => partition_section().prop_map(|v| Mutation::Section("clients.partition".into(), v)),
        2 => (sections, grammar::extreme()).prop_map(|(s, v)| Mutation::Section(s.into(), v)),
        6 => prop_oneof![12 => proptest::collection::vec(policy(), 1..=4), 1 => Just(Vec::new())].prop_map(Mutation::Routing),
        3 => sweep().prop_map(Mutation::Sweep),
        5 => csv_mutation(),
        1 => (any::<bool>(), any::<bool>(), sane_csv()).prop_map(|(out, user_file, csv)| Mutation::Link { out, user_file, csv }),
    ]
    .boxed()
}

/// Sets (or with `None` removes) the node at the dotted `path` of `root`; numeric segments index lists (one past
/// the end appends), and missing or scalar nodes on the way become mappings.
pub fn set_path(root: &mut Value, path: &str, value: Option<Value>) {
    let keys: Vec<&str> = path.split('.').collect();
    set_keys(root, &keys, value);
}

/// [`set_path`] on the split path.
fn set_keys(node: &mut Value, keys: &[&str], value: Option<Value>) {
    let Some((key, rest)) = keys.split_first() else {
        return;
    };
    if let (Value::Sequence(items), Ok(i)) = (&mut *node, key.parse::<usize>()) {
        if i >= items.len() {
            if value.is_none() {
                return;
            }
            items.push(Value::Mapping(Mapping::new()));
        }
        let i = i.min(items.len() - 1);
        match (rest.is_empty(), value) {
            (true, Some(v)) => items[i] = v,
            (true, None) => {
                items.remove(i);
            }
            (false, value) => set_keys(&mut items[i], rest, value),
        }
        return;
    }
    if !matches!(node, Value::Mapping(_)) {
        if value.is_none() {
            return;
        }
        *node = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(m) = node else { return };
    let key = Value::from(*key);
    match (rest.is_empty(), value) {
        (true, Some(v)) => {
            m.insert(key, v);
        }
        (true, None) => {
            m.remove(&key);
        }
        (false, None) => {
            if let Some(child) = m.get_mut(&key) {
                set_keys(child, rest, None);
            }
        }
        (false, Some(v)) => {
            let child = m.entry(key).or_insert_with(|| Value::Mapping(Mapping::new()));
            set_keys(child, rest, Some(v));
        }
    }
}

/// A generated scenario file, the data files beside it, and how the case is run.
#[derive(Clone)]
pub struct ScenarioCase {
    /// The mutations applied to the tiny scenario.
    pub mutations: Vec<Mutation>,
    /// The text mutations applied after serialising.
    pub text_mutations: Vec<TextMutation>,
    /// The scenario file's bytes (with [`WS`] for the workspace's absolute path).
    pub yaml: Vec<u8>,
    /// Input files: path relative to the temporary folder (`ws/d.csv`, `outside/keep.txt`), contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// Folders beside the workspace (relative to the temporary folder).
    pub dirs: Vec<String>,
    /// Symbolic links: path relative to the temporary folder, target.
    pub links: Vec<(String, String)>,
    /// Whether an in-process run also writes the report (figures: slow, so rare).
    pub report: bool,
}

impl std::fmt::Debug for ScenarioCase {
    /// The scenario as text and the files, so a failing case can be copied into a reproduction.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "ScenarioCase (report: {}) mutations {:?}",
            self.report, self.mutations
        )?;
        writeln!(f, "text mutations {:?}", self.text_mutations)?;
        writeln!(f, "--- s.yaml ---\n{}", String::from_utf8_lossy(&self.yaml))?;
        for (link, target) in &self.links {
            writeln!(f, "--- symlink {link} -> {target}")?;
        }
        for (name, bytes) in &self.files {
            let text = String::from_utf8_lossy(bytes);
            let shown: String = text.chars().take(600).collect();
            writeln!(f, "--- {name} ({} bytes) ---\n{shown}", bytes.len())?;
        }
        write!(f, "---")
    }
}

/// Applies `mutations` to the tiny scenario and serialises it (then the text mutations).
pub fn build(mutations: Vec<Mutation>, text_mutations: Vec<TextMutation>, report: bool) -> ScenarioCase {
    let mut root: Value = serde_norway::from_str(TINY).expect("the tiny scenario is YAML");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    let mut links: Vec<(String, String)> = Vec::new();
    for m in &mutations {
        match m {
            Mutation::Set(path, v) => set_path(&mut root, path, Some(v.clone())),
            Mutation::Remove(path) => set_path(&mut root, path, None),
            Mutation::Section(path, v) => set_path(&mut root, path, Some(v.clone())),
            Mutation::Routing(list) => set_path(&mut root, "routing", Some(Value::Sequence(list.clone()))),
            Mutation::Sweep(m) => set_path(&mut root, "sweep", Some(Value::Mapping(m.clone()))),
            Mutation::Csv { path, label, file, csv } => {
                let mut data = map(&[("kind", Value::from("csv")), ("path", path.clone())]);
                if let Some(label) = label {
                    data.insert(Value::from("label_column"), label.clone());
                }
                set_path(&mut root, "data", Some(Value::Mapping(data)));
                let file = format!("ws/{file}");
                files.retain(|(f, _)| *f != file);
                files.push((file, csv.bytes.clone()));
            }
            Mutation::Link { out, user_file, csv } => {
                if !dirs.contains(&"outside".to_string()) {
                    dirs.push("outside".into());
                }
                let link = if *out { "ws/out" } else { "ws/link" };
                if !links.iter().any(|(l, _)| l == link) {
                    links.push((link.into(), "../outside".into()));
                }
                if *user_file {
                    files.retain(|(f, _)| f != "outside/keep.txt");
                    files.push(("outside/keep.txt".into(), b"a file of the user".to_vec()));
                }
                if !out {
                    let mut data = map(&[("kind", Value::from("csv")), ("path", Value::from("link/d.csv"))]);
                    if csv.label_column.is_some() {
                        data.insert(Value::from("label_column"), Value::from("label"));
                    }
                    set_path(&mut root, "data", Some(Value::Mapping(data)));
                    files.retain(|(f, _)| f != "outside/d.csv");
                    files.push(("outside/d.csv".into(), csv.bytes.clone()));
                }
            }
        }
    }
    let mut yaml = serde_norway::to_string(&root)
        .unwrap_or_else(|_| TINY.to_string())
        .into_bytes();
    for t in &text_mutations {
        apply_text(t, &mut yaml);
    }
    ScenarioCase {
        mutations,
        text_mutations,
        yaml,
        files,
        dirs,
        links,
        report,
    }
}

/// Generated scenario cases: one to three mutations of the tiny scenario and sometimes text mutations.
pub fn scenario_case() -> BoxedStrategy<ScenarioCase> {
    let count = prop_oneof![6 => Just(1usize), 3 => Just(2usize), 1 => Just(3usize)];
    (
        count.prop_flat_map(|n| proptest::collection::vec(mutation(), n..=n)),
        grammar::text_mutations(),
        proptest::bool::weighted(0.08),
    )
        .prop_map(|(m, t, r)| build(m, t, r))
        .boxed()
}

/// A fresh workspace: `<tmp>/ws/` holding the scenario (`s.yaml`) and the data files, [`WS`] replaced by its
/// absolute path, and the folders, files and links of the case beside and inside it. Returns the temporary
/// folder (the root whose tree is checked) and the workspace.
pub fn workspace(case: &ScenarioCase) -> (tempfile::TempDir, PathBuf) {
    let dir = temp_dir();
    let root = dir.path().canonicalize().expect("canonical");
    let ws = root.join("ws");
    std::fs::create_dir_all(&ws).expect("the workspace");
    for d in &case.dirs {
        std::fs::create_dir_all(root.join(d)).expect("a folder");
    }
    for (link, target) in &case.links {
        std::os::unix::fs::symlink(target, root.join(link)).expect("a symlink");
    }
    for (name, bytes) in &case.files {
        let path = root.join(name);
        if path.is_dir() {
            continue;
        }
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("the data folder");
        std::fs::write(&path, bytes).expect("the data file");
    }
    let ws_text = ws.display().to_string();
    let yaml = replace_bytes(&case.yaml, WS.as_bytes(), ws_text.as_bytes());
    std::fs::write(ws.join("s.yaml"), yaml).expect("the scenario file");
    (dir, ws)
}

/// The input files of a case (relative to the temporary folder), which must never change.
pub fn inputs(case: &ScenarioCase) -> Vec<String> {
    let mut inputs: Vec<String> = case.files.iter().map(|(name, _)| name.clone()).collect();
    inputs.push("ws/s.yaml".into());
    inputs
}

/// `haystack` with every `from` replaced by `to`.
fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Whether `s` runs on tiny budgets: every size field small (checked on the typed scenario, cells included).
pub fn tiny(s: &Scenario) -> bool {
    let net = |hidden: &[usize], emb: usize| hidden.len() <= 3 && hidden.iter().all(|&w| w <= 32) && emb <= 32;
    let kind_ok = match &s.data.kind {
        DataKind::Gmm { components, dim, .. } => *components <= 16 && *dim <= 64,
        DataKind::Rings { rings, .. } => *rings <= 16,
        DataKind::Spirals { arms, .. } => *arms <= 16,
        _ => true,
    };
    let data_ok = kind_ok && (!s.data.kind.draws_points() || s.data.samples <= 2000);
    let m = &s.metrics;
    let c = &m.classifier;
    let classifier = c.enabled.unwrap_or(matches!(s.data.kind, DataKind::Digits));
    let classifier_ok =
        !classifier || (c.hidden.len() <= 3 && c.hidden.iter().all(|&w| w <= 32) && c.epochs <= 3 && c.batch_size >= 8);
    let stages_ok = s.routing.iter().all(|r| match r {
        RoutingConfig::Schedule { stages, .. } => stages.len() <= 8,
        _ => true,
    });
    data_ok
        && classifier_ok
        && stages_ok
        && s.clusters.k <= 16
        && s.clusters.max_iterations <= 1000
        && s.clients.count <= 64
        && s.federation.rounds <= 4
        && s.federation.local_steps <= 8
        && s.federation.batch_size <= 4096
        && net(&s.model.hidden, s.model.time_embedding)
        && net(&s.router.hidden, s.router.time_embedding)
        && s.router.rounds <= 4
        && s.router.local_steps <= 8
        && s.sampling.steps <= 8
        && s.sampling.samples <= 500
        && s.routing.len() <= 12
        && m.max_reference <= 2000
        && m.nearest_k <= 50
        && m.alignment_neighbors <= 50
        && m.alignment_points <= 2000
        && m.error_points <= 2000
        && m.error_bins <= 16
        && m.projections <= 256
}

/// Whether `s` (valid, not a sweep) is estimated to need over four times the memory available, so that a run
/// must be refused before it allocates anything.
pub fn must_be_refused(s: &Scenario) -> bool {
    let samples = s.data.samples as f64;
    let (rows, dim) = match &s.data.kind {
        DataKind::Gmm { dim, .. } => (samples, *dim as f64),
        DataKind::Moons { .. } | DataKind::Rings { .. } | DataKind::Checkerboard | DataKind::Spirals { .. } => {
            (samples, 2.0)
        }
        DataKind::Digits => (1797.0, 64.0),
        DataKind::Csv { .. } => return false,
    };
    let Some(available) = ddmsim::experiment::available_memory() else {
        return false;
    };
    s.sweep.is_empty() && ddmsim::experiment::estimate_memory(s, rows, dim).total() > 4.0 * available
}

/// What happens to a parsed, valid scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Run it (tiny).
    Run,
    /// Run it expecting a refusal (its estimated memory is far beyond the machine's).
    Refusal,
    /// Too large to run in a test: validated only.
    ValidateOnly,
}

/// The plan for a valid scenario: its cells (one for a non-sweep) decide.
pub fn plan(s: &Scenario) -> Plan {
    if s.sweep.is_empty() {
        if tiny(s) {
            return Plan::Run;
        }
        return if must_be_refused(s) {
            Plan::Refusal
        } else {
            Plan::ValidateOnly
        };
    }
    match ddmsim::scenario::expand(s) {
        Ok(cells) if cells.len() <= 3 && tiny(s) && cells.iter().all(|c| tiny(&c.scenario)) => Plan::Run,
        Ok(_) => Plan::ValidateOnly,
        // A sweep that does not expand fails before any cell runs.
        Err(_) => Plan::Run,
    }
}

/// What a case came to.
enum Ended {
    /// The pipeline ran to the end (`label` says which).
    Ran(&'static str),
    /// A one-line error at a stage.
    Failed(&'static str, String),
    /// Valid but too large to run here.
    ValidatedOnly,
}

/// Parses, validates and (per [`plan`]) runs the scenario in `ws`.
fn drive(ws: &Path, case: &ScenarioCase) -> Result<Ended, TestCaseError> {
    let file = ws.join("s.yaml");
    let bytes = std::fs::read(&file).expect("the scenario file");
    // The library's own loader, which the CLI uses, must agree with the stages below.
    let loaded_by_file = ddmsim::scenario::load(&file);
    if let Err(e) = &loaded_by_file {
        one_line("scenario::load", &e.to_string())?;
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            if loaded_by_file.is_ok() {
                return Err(TestCaseError::fail("scenario::load accepted a file that is not UTF-8"));
            }
            return Ok(Ended::Failed("error:not-utf8", String::new()));
        }
    };
    let scenario = match ddmsim::scenario::parse(&text) {
        Ok(s) => s,
        Err(message) => {
            one_line("scenario::parse", &message)?;
            return Ok(Ended::Failed("error:parse", message));
        }
    };
    if let Err(e) = ddmsim::scenario::validate(&scenario) {
        let message = e.to_string();
        one_line("scenario::validate", &message)?;
        return Ok(Ended::Failed("error:validate", message));
    }
    if let Err(e) = &loaded_by_file {
        return Err(TestCaseError::fail(format!(
            "parse and validate accept the scenario but scenario::load refuses it: {e}"
        )));
    }
    if !scenario.sweep.is_empty()
        && let Err(e) = ddmsim::scenario::expand(&scenario)
    {
        let message = e.to_string();
        one_line("scenario::expand", &message)?;
        return Ok(Ended::Failed("error:expand", message));
    }
    let plan = plan(&scenario);
    if plan == Plan::ValidateOnly {
        return Ok(Ended::ValidatedOnly);
    }
    let sweep = !scenario.sweep.is_empty();
    let loaded = LoadedScenario {
        scenario,
        base_dir: ws.to_path_buf(),
    };
    let out_dir = ws.join("out");
    let cache = Some(ws.join(".ddmsim-cache"));
    let result: Result<&'static str, String> = if sweep {
        let options = ddmsim::sweep::SweepOptions {
            out_dir,
            quiet: true,
            cache,
            parallel: Some(1),
            force: false,
            inputs: vec![file.clone()],
            ..Default::default()
        };
        match ddmsim::sweep::run_sweep(&loaded, &options) {
            Ok(outcome) => {
                let failures = outcome.failures();
                for (cell, message) in &failures {
                    one_line(&format!("sweep cell {cell}"), message)?;
                }
                Ok(if failures.is_empty() {
                    "ran:sweep"
                } else {
                    "ran:sweep-with-failed-cells"
                })
            }
            Err(e) => Err(e.to_string()),
        }
    } else {
        let options = ddmsim::RunOptions {
            out_dir,
            quiet: true,
            cache,
            report: case.report.then_some(ddmsim::report::report_in_place as _),
            inputs: vec![file.clone()],
            ..ddmsim::RunOptions::default()
        };
        ddmsim::run(&loaded, &options)
            .map(|_| if case.report { "ran:with-report" } else { "ran" })
            .map_err(|e| e.to_string())
    };
    match result {
        Ok(label) => {
            if plan == Plan::Refusal {
                return Err(TestCaseError::fail(
                    "a run estimated at over four times the available memory was not refused",
                ));
            }
            Ok(Ended::Ran(label))
        }
        Err(message) => {
            one_line("run", &message)?;
            Ok(Ended::Failed(
                if plan == Plan::Refusal {
                    "error:refused-huge"
                } else {
                    "error:run"
                },
                message,
            ))
        }
    }
}

/// Checks one case in a fresh workspace: no panic, one-line errors, no stray write.
pub fn check(case: &ScenarioCase, tally: &Tally) -> Result<(), TestCaseError> {
    let (dir, ws) = workspace(case);
    let root = dir.path().canonicalize().expect("canonical");
    let before = tree(&root);
    let started = std::time::Instant::now();
    let ended = std::panic::catch_unwind(|| drive(&ws, case))
        .map_err(|p| TestCaseError::fail(format!("PANIC: {}", panic_text(&*p))))??;
    let took = started.elapsed();
    match &ended {
        Ended::Ran(label) => tally.count_timed(label, took),
        Ended::Failed(stage, message) => {
            tally.count_timed(stage, took);
            if std::env::var("DDMSIM_FUZZ_DEBUG").is_ok() {
                tally.note(&format!(
                    "{stage}: {}",
                    super::failure_kind(message).chars().take(60).collect::<String>()
                ));
            }
        }
        Ended::ValidatedOnly => tally.count_timed("valid-not-tiny(validated only)", took),
    }
    let after = tree(&root);
    let diffs = stray_changes(&before, &after, &["ws/out", "ws/.ddmsim-cache"], &inputs(case));
    if !diffs.is_empty() {
        let why = match &ended {
            Ended::Failed(stage, message) => format!(" (ended in {stage}: {message})"),
            _ => String::new(),
        };
        return Err(TestCaseError::fail(format!("stray changes{why}: {diffs:?}")));
    }
    Ok(())
}

/// The scenario test: `mode`'s number of cases (4,000 in CI).
pub fn fuzz_scenarios(mode: Mode) {
    let name = format!("fuzz_scenarios({mode:?})");
    let tally = Tally::new(&name);
    let dog = Watchdog::start(&name);
    fuzz(&name, mode, 4_000, scenario_case(), &tally, |case| {
        let _watch = dog.watch(format!("{case:?}"));
        check(&case, &tally)
    });
}

/// A dotted path (from the schema, into the routing list, or bogus) with a value for it (about half sane).
pub fn path_and_value() -> BoxedStrategy<(String, Value)> {
    any_path().prop_flat_map(|(p, k)| (Just(p), value_for(k))).boxed()
}
