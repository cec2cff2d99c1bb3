//! Grammars of the values and texts the harness feeds ddmsim: scalars, lists and maps that include the extremes
//! (huge, tiny, NaN, inf, empty, negative, wrong types, path tricks), weighted so that about half of the values
//! are small sane ones, and the text mutations (BOM, truncation, duplicated line, tab, second document, unknown
//! key, deep nesting, alias bomb) applied to serialised YAML.

use proptest::prelude::*;
use proptest::sample::select;
use serde_norway::{Mapping, Value};

/// The extreme integers of the grammar (as YAML numbers).
pub fn extreme_int() -> BoxedStrategy<Value> {
    prop_oneof![
        select(vec![
            0u64,
            1,
            2,
            3,
            7,
            1_000_000_000,
            1_000_000_000_000,
            1 << 63,
            u64::MAX
        ])
        .prop_map(Value::from),
        select(vec![-1i64, i64::MIN]).prop_map(Value::from),
    ]
    .boxed()
}

/// The extreme floats of the grammar, NaN and both infinities included.
pub fn extreme_float() -> BoxedStrategy<Value> {
    select(vec![
        0.0f64,
        -0.0,
        1e-300,
        1e-45,
        1e-30,
        1e-3,
        0.5,
        1.0,
        2.0,
        1e30,
        1e39,
        1e308,
        -1e308,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ])
    .prop_map(Value::from)
    .boxed()
}

/// Strings that are empty, path tricks, huge, non-ASCII, hidden, or another type's spelling.
pub fn extreme_string() -> BoxedStrategy<Value> {
    select(vec![
        String::new(),
        "x".into(),
        ".".into(),
        "..".into(),
        "/abs/path".into(),
        "../../x".into(),
        "a/b".into(),
        "n".repeat(300),
        "données-ü-日本".into(),
        ".hidden".into(),
        "3".into(),
        "true".into(),
        "null".into(),
        "a\nb".into(),
        "a b".into(),
        "\u{0}".into(),
    ])
    .prop_map(Value::from)
    .boxed()
}

/// Lists of the grammar: empty, one or two items, huge items, a string item.
pub fn extreme_list() -> BoxedStrategy<Value> {
    select(vec![
        vec![],
        vec![Value::from(1u64)],
        vec![Value::from(0u64), Value::from(0u64)],
        vec![Value::from(1_000_000_000u64), Value::from(1_000_000_000u64)],
        vec![Value::from("a")],
        vec![Value::from(-1i64)],
        vec![Value::from(f64::NAN)],
    ])
    .prop_map(Value::Sequence)
    .boxed()
}

/// Maps of the grammar: empty, or one unknown key.
pub fn extreme_map() -> BoxedStrategy<Value> {
    prop_oneof![Just(Mapping::new()), Just(map(&[("a", Value::from(1u64))]))]
        .prop_map(Value::Mapping)
        .boxed()
}

/// Any extreme or wrongly typed value: ints, floats, strings, bools, null, lists and maps.
pub fn extreme() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => extreme_int(),
        4 => extreme_float(),
        3 => extreme_string(),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
        2 => extreme_list(),
        1 => extreme_map(),
    ]
    .boxed()
}

/// A small sane number: a count of 1 to 4, or a fraction in (0, 1).
pub fn small_number() -> BoxedStrategy<Value> {
    prop_oneof![
        (1u64..5).prop_map(Value::from),
        select(vec![0.1f64, 0.25, 0.5, 0.9]).prop_map(Value::from),
    ]
    .boxed()
}

/// Any value: about half small sane numbers, half extremes and wrong types.
pub fn value() -> BoxedStrategy<Value> {
    prop_oneof![1 => small_number(), 1 => extreme()].boxed()
}

/// A mapping built from `(key, value)` pairs.
pub fn map(entries: &[(&str, Value)]) -> Mapping {
    entries.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect()
}

/// A YAML value as one line of flow text (as a `--set` value or a list item is written).
pub fn flow(value: &Value) -> String {
    match value {
        Value::Sequence(items) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Mapping(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", flow(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::String(s) => serde_json::to_string(s).expect("a string serialises"),
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// A change to a YAML file's bytes after it was serialised.
#[derive(Debug, Clone)]
pub enum TextMutation {
    /// A UTF-8 byte-order mark in front.
    Bom,
    /// Cut at this fraction of the length (at any byte: the text may stop inside a character).
    Truncate(f64),
    /// The line at this fraction of the lines written twice (a duplicate key).
    DuplicateLine(f64),
    /// A tab inserted at this fraction of the length (tabs are not YAML indentation).
    Tab(f64),
    /// A second document after `---`.
    SecondDocument,
    /// An unknown top-level key.
    UnknownKey,
    /// CRLF line ends.
    CrLf,
    /// A value nested this many levels deep (YAML parsers recurse; the limit is far lower).
    DeepNesting(usize),
    /// Aliases that expand exponentially (a "billion laughs").
    AliasBomb,
    /// A byte that is not UTF-8.
    NotUtf8,
}

/// One text mutation.
pub fn text_mutation() -> BoxedStrategy<TextMutation> {
    prop_oneof![
        3 => Just(TextMutation::Bom),
        3 => (0.0f64..1.0).prop_map(TextMutation::Truncate),
        3 => (0.0f64..1.0).prop_map(TextMutation::DuplicateLine),
        3 => (0.0f64..1.0).prop_map(TextMutation::Tab),
        2 => Just(TextMutation::SecondDocument),
        2 => Just(TextMutation::UnknownKey),
        2 => Just(TextMutation::CrLf),
        1 => select(vec![200usize, 3000]).prop_map(TextMutation::DeepNesting),
        1 => Just(TextMutation::AliasBomb),
        1 => Just(TextMutation::NotUtf8),
    ]
    .boxed()
}

/// No text mutation most of the time, sometimes one or two.
pub fn text_mutations() -> BoxedStrategy<Vec<TextMutation>> {
    prop_oneof![
        16 => Just(Vec::new()),
        3 => proptest::collection::vec(text_mutation(), 1..=1),
        1 => proptest::collection::vec(text_mutation(), 2..=2),
    ]
    .boxed()
}

/// Applies `mutation` to the bytes of a YAML file.
pub fn apply_text(mutation: &TextMutation, text: &mut Vec<u8>) {
    let at = |fraction: f64, len: usize| ((fraction * len as f64) as usize).min(len);
    match mutation {
        TextMutation::Bom => *text = ["\u{feff}".as_bytes(), text.as_slice()].concat(),
        TextMutation::Truncate(f) => text.truncate(at(*f, text.len())),
        TextMutation::DuplicateLine(f) => {
            let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
            if !lines.is_empty() {
                let i = at(*f, lines.len() - 1);
                let mut out = Vec::with_capacity(text.len() * 2);
                for (j, line) in lines.iter().enumerate() {
                    out.extend_from_slice(line);
                    if j == i {
                        if !line.ends_with(b"\n") {
                            out.push(b'\n');
                        }
                        out.extend_from_slice(line);
                    }
                }
                *text = out;
            }
        }
        TextMutation::Tab(f) => {
            let i = at(*f, text.len());
            text.insert(i, b'\t');
        }
        TextMutation::SecondDocument => text.extend_from_slice(b"\n---\nname: second\n"),
        TextMutation::UnknownKey => text.extend_from_slice(b"\nunknown_key: 1\n"),
        TextMutation::CrLf => {
            let mut out = Vec::with_capacity(text.len() + text.len() / 8);
            for &b in text.iter() {
                if b == b'\n' {
                    out.push(b'\r');
                }
                out.push(b);
            }
            *text = out;
        }
        TextMutation::DeepNesting(depth) => {
            let depth = *depth;
            text.extend_from_slice(b"\ndeep: ");
            text.extend(std::iter::repeat_n(b'[', depth));
            text.extend(std::iter::repeat_n(b']', depth));
            text.push(b'\n');
        }
        TextMutation::AliasBomb => {
            let mut bomb = String::from("\nbomb0: &b0 [x, x, x, x, x, x, x, x, x, x]\n");
            for level in 1..10 {
                let refs = vec![format!("*b{}", level - 1); 10].join(", ");
                bomb.push_str(&format!("bomb{level}: &b{level} [{refs}]\n"));
            }
            text.extend_from_slice(bomb.as_bytes());
        }
        TextMutation::NotUtf8 => {
            let i = text.len() / 2;
            text.insert(i, 0xff);
        }
    }
}
