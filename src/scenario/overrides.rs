//! Overrides of single scenario values by dotted path (`router.temperature=2`, `clients.partition.alpha=1000`),
//! as given on the command line or by a study's settings. The changed scenario is parsed and validated again.

use super::yaml::{scenario_from_value, scenario_to_value};
use super::{Scenario, validate};
use crate::error::{Error, Result};
use serde_norway::Value;

/// Splits `path=value` and parses the value as YAML (so `2`, `true`, `[64, 64]` and `pooled` all work).
pub fn parse_assignment(text: &str) -> Result<(String, Value)> {
    let (path, value) = text
        .split_once('=')
        .ok_or_else(|| Error::invalid("--set", format!("expected PATH=VALUE, got {text:?}")))?;
    let value: Value = serde_norway::from_str(value)
        .map_err(|e| Error::invalid(path.trim(), format!("the value {value:?} is not valid YAML: {e}")))?;
    Ok((path.trim().to_string(), value))
}

/// The scenario with the value at the dotted `path` replaced by `value`. Every default is filled in, so the path
/// names an existing key of the resolved scenario, except for keys and sections left out while unset (e.g.
/// `router.local_optimizer`, `sweep`, `faults`): a missing key may be new if the scenario accepts it.
pub fn with_override(scenario: &Scenario, path: &str, value: &Value) -> Result<Scenario> {
    let mut root = scenario_to_value(scenario);
    let mut node = &mut root;
    let keys: Vec<&str> = path.split('.').collect();
    // The keys of the path the resolved scenario lacks, each with the error that names it and its siblings.
    let mut unknown: Vec<(String, Error)> = Vec::new();
    for (depth, key) in keys.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(Error::invalid(
                path,
                format!("`{key}` is inside a value that has no keys"),
            ));
        };
        let known: Vec<String> = map.keys().filter_map(|k| k.as_str().map(String::from)).collect();
        let missing = || Error::invalid(path, format!("no key `{key}` here; known keys: {}", known.join(", ")));
        if !map.contains_key(*key) {
            unknown.push((key.to_string(), missing()));
            let fresh = if depth + 1 < keys.len() {
                Value::Mapping(Default::default())
            } else {
                Value::Null
            };
            map.insert(Value::String(key.to_string()), fresh);
        }
        node = map.get_mut(*key).expect("present or just inserted");
    }
    *node = value.clone();
    let changed: Scenario = scenario_from_value(root, None).map_err(|e| {
        // A new key the scenario does not accept is a typo: name it (the one serde names, else the first) and the
        // keys that exist beside it.
        let named = e
            .message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next());
        if named.is_some() && !unknown.is_empty() {
            let at = unknown.iter().position(|(k, _)| Some(k.as_str()) == named).unwrap_or(0);
            return unknown.swap_remove(at).1;
        }
        if e.path.0.is_empty() {
            Error::invalid(path, e.message)
        } else {
            Error::invalid(e.path.to_string(), e.message)
        }
    })?;
    validate(&changed)?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    #[test]
    fn overrides_change_one_value_and_are_validated() {
        let s = parse("name: t\n").unwrap();
        let (path, value) = parse_assignment("router.temperature=2.5").unwrap();
        let changed = with_override(&s, &path, &value).unwrap();
        assert_eq!(changed.router.temperature, 2.5);
        assert_eq!(changed.federation, s.federation);
        let (path, value) = parse_assignment("model.hidden=[8, 8]").unwrap();
        assert_eq!(with_override(&s, &path, &value).unwrap().model.hidden, vec![8, 8]);
        let err = with_override(&s, "router.temprature", &value).unwrap_err().to_string();
        assert!(
            err.starts_with("router.temprature: no key `temprature` here; known keys:"),
            "{err}"
        );
        let (path, value) = parse_assignment("federation.rounds=0").unwrap();
        assert_eq!(
            with_override(&s, &path, &value).unwrap_err().to_string(),
            "federation.rounds: must be >= 1, got 0"
        );
        assert!(parse_assignment("seed").is_err());
        // A key that the resolved scenario leaves out while unset can still be set.
        let (path, value) = parse_assignment("router.local_optimizer=persistent").unwrap();
        let changed = with_override(&s, &path, &value).unwrap();
        assert_eq!(
            changed.router.local_optimizer,
            Some(crate::scenario::LocalOptimizer::Persistent)
        );
        // So can the keys of a section left out while unset, at any depth.
        let changed = with_override(&s, "faults.byzantine.fraction", &Value::from(0.2)).unwrap();
        assert_eq!(changed.faults.byzantine.fraction, 0.2);
        assert_eq!(
            with_override(&changed, "faults.dropout", &Value::from(0.3))
                .unwrap()
                .faults
                .dropout,
            0.3
        );
        let err = with_override(&s, "federation.nope.deeper", &Value::from(1))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("federation.nope.deeper: no key `nope` here; known keys:"),
            "{err}"
        );
        let err = with_override(&s, "faults.dropout", &Value::from(1.0))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("faults.dropout: must be in [0, 1)"), "{err}");
    }

    #[test]
    fn data_keys_are_set_by_their_path_in_the_file() {
        let s = parse("name: t\n").unwrap();
        let set = |s: &Scenario, text: &str| {
            let (path, value) = parse_assignment(text).unwrap();
            with_override(s, &path, &value)
        };
        let changed = set(&s, "data.samples=500").unwrap();
        assert_eq!(changed.data.samples, 500);
        assert_eq!(set(&s, "data.test_fraction=0.3").unwrap().data.test_fraction, 0.3);
        let changed = set(&set(&s, "data.std=0.5").unwrap(), "data.components=4").unwrap();
        let crate::scenario::DataKind::Gmm { std, components, .. } = changed.data.kind else {
            panic!("{:?}", changed.data.kind)
        };
        assert_eq!((std, components), (0.5, 4));
        let digits = parse("name: t\ndata: {kind: digits}\n").unwrap();
        assert_eq!(
            set(&digits, "data.samples=500").unwrap_err().to_string(),
            "data.samples: no key `samples` here; known keys: kind, test_fraction"
        );
    }
}
