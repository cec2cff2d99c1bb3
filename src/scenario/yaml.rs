//! The YAML side of scenario and study files: text -> YAML value -> typed value, with every error naming the
//! dotted key path and the line it is on.
//!
//! serde's internally tagged enums (`data: { kind: gmm, ... }`) buffer their content and lose both the path and
//! the line of an error inside them, and silently accept extra keys on variants without settings
//! (`{ policy: full, k: 3 }`). So the sections with a tag key are rewritten to serde's external form
//! (`!gmm {...}`) before deserialising, and back after serialising; the path of an error is tracked by
//! `serde_path_to_error`, and its line is found again in the source text by [`locate`]. The data section also has
//! keys every kind shares (`samples`, `test_fraction`): serde's form keeps them beside the tag key, whose value is
//! the kind's own settings (`data: { kind: !moons { noise: 0.1 }, samples: 500 }`).

use super::{DataConfig, Scenario};
use crate::error::one_line;
use serde::de::DeserializeOwned;
use serde_norway::value::{Tag, TaggedValue};
use serde_norway::{Mapping, Value};
use std::fmt;

/// One step of a key path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A mapping key.
    Name(String),
    /// A list index.
    Index(usize),
}

/// A key path inside a YAML document, shown as `data.std` or `routing[2].k`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Key>);

impl KeyPath {
    fn with(&self, key: Key) -> KeyPath {
        let mut keys = self.0.clone();
        keys.push(key);
        KeyPath(keys)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            match key {
                Key::Name(name) if i == 0 => write!(f, "{name}")?,
                Key::Name(name) => write!(f, ".{name}")?,
                Key::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML document that could not be read as the expected type: the key path, what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// The offending key (empty for the document itself).
    pub path: KeyPath,
    /// What is wrong.
    pub message: String,
    /// 1-based line and column in the source text, when known.
    pub location: Option<(usize, usize)>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.0.is_empty() {
            write!(f, "{}: ", one_line(&self.path))?;
        }
        write!(f, "{}", one_line(&self.message))?;
        if let Some((line, column)) = self.location {
            write!(f, " at line {line} column {column}")?;
        }
        Ok(())
    }
}

/// A section of a scenario selected by a tag key.
struct Section {
    /// Where it is (`*` = every list item).
    at: &'static [&'static str],
    /// The tag key.
    tag: &'static str,
    /// Keys every variant shares, kept beside the tag key in serde's form (the section is a struct whose tag key
    /// holds the variant); empty when the section is the variant itself.
    common: &'static [&'static str],
    /// The keys a variant takes in the file's order, given its name and its own keys in serde's order (for a
    /// section with common keys: the common keys that variant takes, placed among its own).
    keys: fn(&str, Vec<String>) -> Vec<String>,
}

/// Sections of a scenario selected by a tag key.
const TAGGED: [Section; 10] = [
    Section {
        at: &["data"],
        tag: "kind",
        common: &DataConfig::COMMON_KEYS,
        keys: DataConfig::file_keys,
    },
    Section {
        at: &["clients", "partition"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["federation", "algorithm"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["federation", "server"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["federation", "aggregate"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["router", "algorithm"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["router", "server"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["router", "aggregate"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["faults", "availability"],
        tag: "kind",
        common: &[],
        keys: own_keys,
    },
    Section {
        at: &["routing", "*"],
        tag: "policy",
        common: &[],
        keys: own_keys,
    },
];

/// The keys of a variant of a section without common keys: its own.
fn own_keys(_name: &str, own: Vec<String>) -> Vec<String> {
    own
}

/// Deepest nesting of mappings and lists a file may have (scenarios nest about five levels; the YAML parser
/// behind serde slows down with the square of the depth, so a deep file is refused before it is parsed).
const MAX_DEPTH: usize = 64;

/// Refuses YAML nested deeper than [`MAX_DEPTH`], found by one linear pass over the parser's events.
fn check_depth(text: &str) -> Result<(), YamlError> {
    let mut depth = 0usize;
    let too_deep = |line: usize, col: usize| YamlError {
        path: KeyPath::default(),
        message: format!("nests mappings and lists more than {MAX_DEPTH} levels deep"),
        location: Some((line, col + 1)),
    };
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(event) => event,
            // The scanner's own limit on flow nesting; any other syntax error is left to the YAML parser.
            Err(e) if e.info().contains("recursion") => return Err(too_deep(e.marker().line(), e.marker().col())),
            Err(_) => return Ok(()),
        };
        match event {
            saphyr_parser::Event::MappingStart(..) | saphyr_parser::Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep(span.start.line(), span.start.col()));
                }
            }
            saphyr_parser::Event::MappingEnd | saphyr_parser::Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Reads the text of one YAML document (a leading byte-order mark is allowed).
pub fn read_document(text: &str) -> Result<Value, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_depth(text)?;
    serde_norway::from_str(text).map_err(|e| YamlError {
        path: KeyPath::default(),
        location: e.location().map(|l| (l.line(), l.column())),
        message: strip_location(&e.to_string()),
    })
}

/// A typed value from a YAML value; `text` (the source) lets the error name its line.
pub fn typed<T: DeserializeOwned>(value: Value, text: Option<&str>) -> Result<T, YamlError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = KeyPath::default();
        for segment in e.path() {
            match segment {
                serde_path_to_error::Segment::Map { key } => path.0.push(Key::Name(key.clone())),
                serde_path_to_error::Segment::Seq { index } => path.0.push(Key::Index(*index)),
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = strip_location(&e.inner().to_string());
        // An unknown or missing key belongs to the mapping the error names: point at the key itself.
        for prefix in ["unknown field `", "missing field `"] {
            if let Some(name) = message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()) {
                let key = Key::Name(name.to_string());
                if path.0.last() != Some(&key) {
                    path.0.push(key);
                }
                break;
            }
        }
        located(path, message, text)
    })
}

/// The scenario in a YAML value (the file's form, tagged sections with their tag key).
pub fn scenario_from_value(mut value: Value, text: Option<&str>) -> Result<Scenario, YamlError> {
    // The variant named at each section with common keys, for the keys named in an error inside it.
    let mut names: Vec<(KeyPath, &Section, String)> = Vec::new();
    for section in &TAGGED {
        let mut problem = None;
        visit(&mut value, section.at, &mut KeyPath::default(), &mut |node, path| {
            if problem.is_none() {
                match externalize(node, section, path) {
                    Ok(name) if !section.common.is_empty() => names.push((path.clone(), section, name)),
                    Ok(_) => {}
                    Err(e) => problem = Some(e),
                }
            }
        });
        if let Some((path, message)) = problem {
            return Err(located(path, message, text));
        }
    }
    typed(value, text).map_err(|mut e| {
        // An unknown variant is the tag's value: name the tag key.
        let tagged = TAGGED.iter().find(|section| matches_pattern(&e.path, section.at));
        if let (Some(section), true) = (tagged, e.message.starts_with("unknown variant")) {
            e.path.0.push(Key::Name(section.tag.to_string()));
            e.location = text.and_then(|text| locate(text, &e.path));
        }
        // Inside the settings of a section with common keys: in the file they sit beside the tag key, not in it,
        // and the keys it takes include the common ones.
        for (at, section, name) in &names {
            let tag = Key::Name(section.tag.to_string());
            if e.path.0.len() > at.0.len() + 1 && e.path.0.starts_with(&at.0) && e.path.0[at.0.len()] == tag {
                e.path.0.remove(at.0.len());
                if let Some((key, own)) = unknown_field_parts(&e.message) {
                    e.message = unknown_field(&key, &(section.keys)(name, own));
                }
                e.location = text.and_then(|text| locate(text, &e.path));
            }
        }
        e
    })
}

/// The scenario as a YAML value in the file's form (tagged sections with their tag key first).
pub fn scenario_to_value(scenario: &Scenario) -> Value {
    let mut value = serde_norway::to_value(scenario).expect("a scenario always serialises");
    for section in &TAGGED {
        visit(&mut value, section.at, &mut KeyPath::default(), &mut |node, _| {
            internalize_section(node, section)
        });
    }
    value
}

/// Calls `f` on every node of `value` at the path pattern `at` (`*` matches every list item).
fn visit(value: &mut Value, at: &[&str], path: &mut KeyPath, f: &mut dyn FnMut(&mut Value, &KeyPath)) {
    let Some((first, rest)) = at.split_first() else {
        f(value, path);
        return;
    };
    match (value, *first) {
        (Value::Sequence(items), "*") => {
            for (i, item) in items.iter_mut().enumerate() {
                path.0.push(Key::Index(i));
                visit(item, rest, path, f);
                path.0.pop();
            }
        }
        (Value::Mapping(map), key) => {
            if let Some(child) = map.get_mut(key) {
                path.0.push(Key::Name(key.to_string()));
                visit(child, rest, path, f);
                path.0.pop();
            }
        }
        _ => {}
    }
}

/// Whether `path` is an instance of the pattern `at`.
fn matches_pattern(path: &KeyPath, at: &[&str]) -> bool {
    path.0.len() == at.len()
        && path.0.iter().zip(at).all(|(key, pattern)| match key {
            Key::Name(name) => name == pattern,
            Key::Index(_) => *pattern == "*",
        })
}

/// `{ tag: name, k: v }` -> `!name { k: v }` (serde's external form in YAML), or the plain `name` for a variant
/// without settings; for a section with common keys `c`, `{ tag: name, k: v, c: w }` -> `{ tag: !name { k: v },
/// c: w }`. Returns the variant's name.
fn externalize(node: &mut Value, section: &Section, path: &KeyPath) -> Result<String, (KeyPath, String)> {
    let tag = section.tag;
    let Value::Mapping(map) = node else {
        return Err((path.clone(), format!("must be a mapping with a `{tag}` key")));
    };
    let name = match map.remove(tag) {
        Some(Value::String(name)) if !name.is_empty() => name,
        Some(other) => {
            let shown = match super::value_text(&other) {
                text if text.is_empty() => "an empty name".to_string(),
                text => text,
            };
            return Err((path.with(Key::Name(tag.into())), format!("must be a name, got {shown}")));
        }
        None => {
            return Err((
                path.with(Key::Name(tag.into())),
                format!("missing; every entry here needs `{tag}`"),
            ));
        }
    };
    let mut rest = std::mem::take(map);
    let mut common = Mapping::new();
    for key in section.common {
        if let Some(value) = rest.shift_remove(*key) {
            common.insert(Value::String(key.to_string()), value);
        }
    }
    // A variant without settings (`full`, `iid`) deserialises from its bare name; any key given with it is
    // an error, not silently dropped.
    let variant = if is_unit_variant(path, &name) {
        if let Some(key) = rest.keys().next() {
            let key = key.as_str().map_or_else(|| format!("{key:?}"), str::to_string);
            let message = match (section.keys)(&name, Vec::new()) {
                keys if keys.is_empty() => format!("unknown field `{key}`: `{tag}: {name}` takes no settings"),
                keys => unknown_field(&key, &keys),
            };
            return Err((path.with(Key::Name(key)), message));
        }
        Value::String(name.clone())
    } else {
        Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(name.clone()),
            value: Value::Mapping(rest),
        }))
    };
    *node = if section.common.is_empty() {
        variant
    } else {
        let mut map = Mapping::new();
        map.insert(Value::String(tag.into()), variant);
        map.extend(common);
        Value::Mapping(map)
    };
    Ok(name)
}

/// The unknown key and the keys expected instead, from serde's message for an unknown field.
fn unknown_field_parts(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let names = match expected.strip_prefix(", expected ") {
        Some(names) => names.split('`').skip(1).step_by(2).map(str::to_string).collect(),
        None if expected == ", there are no fields" => Vec::new(),
        None => return None,
    };
    Some((key.to_string(), names))
}

/// serde's message for an unknown field `key` where the keys `expected` are allowed.
fn unknown_field(key: &str, expected: &[String]) -> String {
    match expected {
        [] => format!("unknown field `{key}`, there are no fields"),
        [one] => format!("unknown field `{key}`, expected `{one}`"),
        [a, b] => format!("unknown field `{key}`, expected `{a}` or `{b}`"),
        _ => {
            let names: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
            format!("unknown field `{key}`, expected one of {}", names.join(", "))
        }
    }
}

/// Whether the variant `name` of the tagged section at `path` has no settings (it deserialises from its name).
fn is_unit_variant(path: &KeyPath, name: &str) -> bool {
    let bare = Value::String(name.to_string());
    match path.0.first() {
        Some(Key::Name(section)) if section == "routing" => {
            serde_norway::from_value::<super::RoutingConfig>(bare).is_ok()
        }
        Some(Key::Name(section)) if section == "clients" => {
            serde_norway::from_value::<super::PartitionConfig>(bare).is_ok()
        }
        Some(Key::Name(section)) if section == "federation" || section == "router" => match path.0.get(1) {
            Some(Key::Name(key)) if key == "algorithm" => {
                serde_norway::from_value::<super::AlgorithmConfig>(bare).is_ok()
            }
            Some(Key::Name(key)) if key == "server" => serde_norway::from_value::<super::ServerConfig>(bare).is_ok(),
            _ => serde_norway::from_value::<super::AggregateConfig>(bare).is_ok(),
        },
        Some(Key::Name(section)) if section == "faults" => {
            serde_norway::from_value::<super::AvailabilityConfig>(bare).is_ok()
        }
        _ => serde_norway::from_value::<super::DataKind>(bare).is_ok(),
    }
}

/// [`internalize`] for any section: for one with common keys `c`, `{ tag: !name { k: v }, c: w }` ->
/// `{ tag: name, k: v, c: w }` with the keys in the file's order.
fn internalize_section(node: &mut Value, section: &Section) {
    if section.common.is_empty() {
        return internalize(node, section.tag);
    }
    let tag = Value::String(section.tag.to_string());
    let Value::Mapping(outer) = node else { return };
    let Some(mut variant) = outer.shift_remove(&tag) else {
        return;
    };
    internalize(&mut variant, section.tag);
    let Value::Mapping(mut keys) = variant else {
        unreachable!("internalize gives a mapping for a variant");
    };
    let name = keys.shift_remove(&tag).unwrap_or_default();
    let own = keys.keys().filter_map(|k| k.as_str().map(str::to_string)).collect();
    keys.extend(std::mem::take(outer));
    let order = (section.keys)(name.as_str().unwrap_or_default(), own);
    let mut file = Mapping::new();
    file.insert(tag, name);
    for key in order {
        if let Some(value) = keys.shift_remove(&key) {
            file.insert(Value::String(key), value);
        }
    }
    file.extend(keys);
    *node = Value::Mapping(file);
}

/// `!name { k: v }` (or `{ name: { k: v } }`) -> `{ tag: name, k: v }`, and a plain `name` -> `{ tag: name }`.
fn internalize(node: &mut Value, tag: &str) {
    let (name, rest) = match std::mem::take(node) {
        Value::String(name) => (name, Mapping::new()),
        Value::Tagged(tagged) => {
            let name = tagged.tag.to_string().trim_start_matches('!').to_string();
            match tagged.value {
                Value::Mapping(rest) => (name, rest),
                _ => (name, Mapping::new()),
            }
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (name, rest) = map.into_iter().next().expect("one entry");
            let name = name.as_str().unwrap_or_default().to_string();
            match rest {
                Value::Mapping(rest) => (name, rest),
                _ => (name, Mapping::new()),
            }
        }
        other => {
            *node = other;
            return;
        }
    };
    let mut map = Mapping::new();
    map.insert(Value::String(tag.to_string()), Value::String(name));
    map.extend(rest);
    *node = Value::Mapping(map);
}

/// A [`YamlError`] at `path`, with the line found in `text`.
fn located(path: KeyPath, message: String, text: Option<&str>) -> YamlError {
    let location = text.and_then(|t| locate(t, &path));
    YamlError {
        path,
        message,
        location,
    }
}

/// Drops the " at line L column C" the YAML parser appends, so a message carries one location at most.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// The 1-based line and column of the key (or list item) at `path` in the YAML `text`; for a path that is not
/// in the text, the deepest part of it that is.
pub fn locate(text: &str, path: &KeyPath) -> Option<(usize, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut best: Option<(usize, (usize, usize))> = None;
    let mut note = |depth: usize, span: saphyr_parser::Span| {
        if best.is_none_or(|(d, _)| depth > d) {
            best = Some((depth, (span.start.line(), span.start.col() + 1)));
        }
    };
    let mut stack: Vec<Frame> = Vec::new();
    for event in saphyr_parser::Parser::new_from_str(text) {
        let Ok((event, span)) = event else { break };
        use saphyr_parser::Event;
        let container = match event {
            Event::Scalar(..) | Event::Alias(_) => false,
            Event::MappingStart(..) | Event::SequenceStart(..) => true,
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                finish_node(&mut stack);
                continue;
            }
            _ => continue,
        };
        // A mapping key: the path of the entry it opens.
        if let Some(Frame::Map { key, expecting_key }) = stack.last_mut()
            && *expecting_key
        {
            let name = match &event {
                Event::Scalar(value, ..) => value.to_string(),
                _ => String::new(),
            };
            *key = name;
            *expecting_key = false;
            let depth = matched_depth(&stack, path);
            if depth > 0 {
                note(depth, span);
            }
            if container {
                // A complex key: skip it as if it were a value-less scalar.
                stack.push(Frame::Skip);
            }
            continue;
        }
        let depth = matched_depth_item(&stack, path);
        if depth > 0 {
            note(depth, span);
        }
        if container {
            stack.push(match event {
                Event::MappingStart(..) => Frame::Map {
                    key: String::new(),
                    expecting_key: true,
                },
                _ => Frame::Seq { index: 0 },
            });
        } else {
            finish_node(&mut stack);
        }
    }
    best.map(|(_, at)| at)
}

/// A container being walked by [`locate`].
enum Frame {
    /// A mapping: the current key, and whether the next node is a key.
    Map { key: String, expecting_key: bool },
    /// A sequence: the index of the next item.
    Seq { index: usize },
    /// A node that is not part of any key path (a complex key).
    Skip,
}

/// After a node ends: the mapping expects its next key, the sequence moves to its next item.
fn finish_node(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { expecting_key, .. }) => *expecting_key = true,
        Some(Frame::Seq { index }) => *index += 1,
        _ => {}
    }
}

/// The path of the node that starts now, as keys.
fn current(stack: &[Frame]) -> Option<Vec<Key>> {
    stack
        .iter()
        .map(|frame| match frame {
            Frame::Map { key, .. } => Some(Key::Name(key.clone())),
            Frame::Seq { index } => Some(Key::Index(*index)),
            Frame::Skip => None,
        })
        .collect()
}

/// How many leading keys of `path` the key just read (the top mapping's current key) matches, if all of it.
fn matched_depth(stack: &[Frame], path: &KeyPath) -> usize {
    match current(stack) {
        Some(keys) if path.0.starts_with(&keys) => keys.len(),
        _ => 0,
    }
}

/// How many leading keys of `path` a list item starting now matches (mapping values are found by their key).
fn matched_depth_item(stack: &[Frame], path: &KeyPath) -> usize {
    match (stack.last(), current(stack)) {
        (Some(Frame::Seq { .. }), Some(keys)) if path.0.starts_with(&keys) => keys.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, YamlError> {
        scenario_from_value(read_document(text)?, Some(text))
    }

    #[test]
    fn a_type_error_inside_a_tagged_section_names_its_key_and_line() {
        let err = parse("name: t\nseed: 1\ndata:\n  kind: gmm\n  std: abc\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.std");
        assert_eq!(err.location, Some((5, 3)));
        assert!(err.message.contains("invalid type"), "{err}");
        let err = parse("name: t\nclients: {partition: {kind: dirichlet, alpha: [1]}}\n").unwrap_err();
        assert_eq!(err.path.to_string(), "clients.partition.alpha");
        assert_eq!(err.location.map(|l| l.0), Some(2));
    }

    #[test]
    fn settings_given_to_a_variant_without_settings_are_rejected() {
        let err = parse("name: t\nrouting:\n  - {policy: top_k, k: 1}\n  - {policy: full, k: 3}\n").unwrap_err();
        assert_eq!(err.path.to_string(), "routing[1].k");
        assert_eq!(err.location.map(|l| l.0), Some(4));
        let err = parse("name: t\nclients: { partition: { kind: iid, alpha: 3 } }\n").unwrap_err();
        assert_eq!(err.path.to_string(), "clients.partition.alpha");
    }

    #[test]
    fn unknown_keys_and_variants_name_the_key() {
        let err = parse("name: t\ndata: { kind: gmm, radius: 2, colour: red }\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.colour");
        let err = parse("name: t\ndata:\n  kind: gmmm\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.kind");
        assert_eq!(err.location.map(|l| l.0), Some(3));
        let err = parse("name: t\nrouting:\n  - {k: 1}\n").unwrap_err();
        assert_eq!(err.path.to_string(), "routing[0].policy");
    }

    #[test]
    fn the_data_sections_shared_keys_sit_beside_the_kind() {
        let text = "name: t\ndata: {kind: rings, test_fraction: 0.3, noise: 0.1, rings: 3, samples: 500}\n";
        let s = parse(text).unwrap();
        assert_eq!(s.data.kind, crate::scenario::DataKind::Rings { rings: 3, noise: 0.1 });
        assert_eq!((s.data.samples, s.data.test_fraction), (500, 0.3));
        let yaml = serde_norway::to_string(&scenario_to_value(&s)).unwrap();
        assert!(
            yaml.contains("data:\n  kind: rings\n  rings: 3\n  samples: 500\n  noise: 0.1\n  test_fraction: 0.3\n"),
            "{yaml}"
        );
        assert_eq!(scenario_from_value(scenario_to_value(&s), None).unwrap(), s);
        // Unknown keys list every key the kind takes, shared ones included, in the file's order.
        let err = parse("name: t\ndata:\n  kind: moons\n  colour: red\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.colour");
        assert_eq!(err.location.map(|l| l.0), Some(4));
        assert!(
            err.message
                .ends_with("expected one of `samples`, `noise`, `test_fraction`"),
            "{err}"
        );
        let err = parse("name: t\ndata: {kind: digits, noise: 1}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "data.noise: unknown field `noise`, expected `test_fraction` at line 2 column 22"
        );
        let err = parse("name: t\ndata: {kind: csv}\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.path");
    }

    #[test]
    fn samples_for_data_that_brings_its_own_points_is_refused_at_its_key() {
        let err = parse("name: t\ndata:\n  kind: digits\n  samples: 100\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.samples");
        assert_eq!(err.location, Some((4, 3)));
        assert!(
            err.message.contains("`kind: digits` uses all 1,797 bundled images"),
            "{err}"
        );
        let err = parse("name: t\ndata: {kind: csv, path: a.csv, samples: 100}\n").unwrap_err();
        assert_eq!(err.path.to_string(), "data.samples");
        assert!(err.message.contains("`kind: csv` uses every row of its file"), "{err}");
        // Left out of their resolved form.
        let s = parse("name: t\ndata: {kind: digits}\n").unwrap();
        let yaml = serde_norway::to_string(&scenario_to_value(&s)).unwrap();
        assert!(
            yaml.contains("data:\n  kind: digits\n  test_fraction: 0.2\nclusters:"),
            "{yaml}"
        );
    }

    #[test]
    fn the_file_form_round_trips() {
        let text = "name: t\nrouting: [{policy: full}, {policy: top_k, k: 2}]\nclients: {partition: {kind: iid}}\n";
        let s = parse(text).unwrap();
        let back = scenario_from_value(scenario_to_value(&s), None).unwrap();
        assert_eq!(back, s);
        let yaml = serde_norway::to_string(&scenario_to_value(&s)).unwrap();
        assert!(yaml.contains("- policy: full\n"), "{yaml}");
        assert!(yaml.contains("partition:\n    kind: iid\n"), "{yaml}");
    }

    #[test]
    fn deep_nesting_is_refused_quickly() {
        let deep = format!("name: t\nseed: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let err = read_document(&deep).unwrap_err();
        assert!(err.message.contains("more than 64 levels"), "{err}");
        assert_eq!(err.location.map(|l| l.0), Some(2));
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let s = parse("\u{feff}# a comment\nname: t\nseed: 2\n").unwrap();
        assert_eq!(s.seed, 2);
    }

    #[test]
    fn locate_finds_keys_and_list_items() {
        let text = "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n";
        let path = |keys: Vec<Key>| KeyPath(keys);
        let name = |s: &str| Key::Name(s.into());
        assert_eq!(locate(text, &path(vec![name("a"), name("b")])), Some((2, 3)));
        assert_eq!(
            locate(text, &path(vec![name("a"), name("c"), Key::Index(1), name("d")])),
            Some((5, 8))
        );
        // Not in the text: the deepest part that is.
        assert_eq!(locate(text, &path(vec![name("a"), name("zz")])), Some((1, 1)));
    }
}
