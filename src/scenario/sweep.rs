//! Sweeps: the `sweep` key maps dotted paths to lists of values, and a scenario with a sweep stands for the
//! cartesian product of those values (its cells), the first path varying slowest.

use super::{Scenario, with_override};
use crate::error::{Error, Result};
use serde_norway::Value;
use std::collections::{HashMap, HashSet};

/// Longest folder name of a cell (hidden names built from it must stay within 255 bytes).
const MAX_DIR_NAME: usize = 120;

/// One cell of a sweep: the swept values it takes and the ordinary scenario (without `sweep`) it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepCell {
    /// The swept values of this cell, in the order of the `sweep` key: (dotted path, value).
    pub params: Vec<(String, Value)>,
    /// The scenario of the cell: the base with every swept value applied and `sweep` removed.
    pub scenario: Scenario,
}

impl SweepCell {
    /// A readable identifier, e.g. `clients.partition.alpha=0.1 seed=2` (`single` for a scenario without sweep).
    pub fn label(&self) -> String {
        if self.params.is_empty() {
            return "single".into();
        }
        self.params
            .iter()
            .map(|(path, value)| format!("{path}={}", value_text(value)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The folder name of the cell: its label with every character other than letters, digits, `.`, `-`, `=`
    /// and `,` replaced by `_`, and the paths shortened to their last key (`alpha=0.1_seed=2`).
    pub fn dir_name(&self) -> String {
        if self.params.is_empty() {
            return "single".into();
        }
        let text = self
            .params
            .iter()
            .map(|(path, value)| {
                let key = path.rsplit('.').next().unwrap_or(path);
                format!("{key}={}", value_text(value))
            })
            .collect::<Vec<_>>()
            .join("_");
        let name: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '=' | ',') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.len() <= MAX_DIR_NAME {
            return name;
        }
        // Too long for a file name: a prefix and a hash of the whole label keep it unique and recognisable.
        let hash = crate::hash::sha256_hex(self.label().as_bytes());
        format!("{}-{}", &name[..MAX_DIR_NAME - 17], &hash[..16])
    }
}

/// A YAML value written on one line without a trailing newline (`0.1`, `pooled`, `[64, 64]`, `{a: 1}`).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Sequence(items) => format!("[{}]", items.iter().map(value_text).collect::<Vec<_>>().join(", ")),
        Value::Mapping(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", value_text(k), value_text(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, value_text(&tagged.value)),
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// Most cells a sweep may have: each cell is a folder and a run, and planning holds every cell's scenario.
pub const MAX_CELLS: usize = 100_000;

/// The swept axes of `scenario` (dotted path, values), checked: each key a path that may be swept, each value
/// a non-empty list, and at most [`MAX_CELLS`] cells in all.
fn axes(scenario: &Scenario) -> Result<Vec<(String, Vec<Value>)>> {
    let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
    let mut cells: usize = 1;
    for (key, values) in &scenario.sweep {
        let Some(path) = key.as_str() else {
            return Err(Error::invalid(
                "sweep",
                format!("keys must be dotted paths, got {key:?}"),
            ));
        };
        let field = format!("sweep.{path}");
        if path == "name" || path == "sweep" || path.starts_with("sweep.") {
            return Err(Error::invalid(field, "cannot be swept"));
        }
        let Value::Sequence(values) = values else {
            return Err(Error::invalid(field, "must be a list of values"));
        };
        if values.is_empty() {
            return Err(Error::invalid(field, "must list at least one value"));
        }
        cells = cells.saturating_mul(values.len());
        if cells > MAX_CELLS {
            let total: f64 = scenario
                .sweep
                .values()
                .map(|v| v.as_sequence().map_or(1.0, |s| s.len() as f64))
                .product();
            return Err(Error::invalid(
                "sweep",
                format!(
                    "{total} cells is more than a sweep may have ({MAX_CELLS}); split it into several sweeps (there \
                     is no --force for this limit)"
                ),
            ));
        }
        axes.push((path.to_string(), values.clone()));
    }
    Ok(axes)
}

/// Checks a sweep without forming its cells: the axes, and every value of every axis on its own (time linear in
/// the number of values, not of cells); a listed value that repeats is an error.
pub fn check_axes(scenario: &Scenario) -> Result<()> {
    let mut base = scenario.clone();
    base.sweep = serde_norway::Mapping::new();
    for (path, values) in axes(scenario)? {
        let mut seen = HashSet::new();
        for value in &values {
            if !seen.insert(value_text(value)) {
                return Err(Error::invalid(
                    format!("sweep.{path}"),
                    format!("the value {} is listed twice; list each value once", value_text(value)),
                ));
            }
            with_override(&base, &path, value).map_err(|e| Error::invalid(format!("sweep.{path}"), e.to_string()))?;
        }
    }
    Ok(())
}

/// The cells of `scenario`'s sweep in order (one cell without parameters if it has none). Errors name the
/// swept path: a path that is not a list, an empty list, a path the scenario does not have, a value out of range,
/// two cells that would share a folder. Time is linear in the number of cells.
pub fn expand(scenario: &Scenario) -> Result<Vec<SweepCell>> {
    let mut base = scenario.clone();
    base.sweep = serde_norway::Mapping::new();
    let axes = axes(scenario)?;
    let mut cells = vec![SweepCell {
        params: Vec::new(),
        scenario: base,
    }];
    for (path, values) in &axes {
        let mut next = Vec::with_capacity(cells.len() * values.len());
        for cell in &cells {
            for value in values {
                let scenario = with_override(&cell.scenario, path, value)
                    .map_err(|e| Error::invalid(format!("sweep.{path}"), e.to_string()))?;
                let mut params = cell.params.clone();
                params.push((path.clone(), value.clone()));
                next.push(SweepCell { params, scenario });
            }
        }
        cells = next;
    }
    let mut folders: HashMap<String, usize> = HashMap::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        if let Some(&other) = folders.get(&cell.dir_name()) {
            return Err(Error::invalid(
                "sweep",
                format!(
                    "the cells `{}` and `{}` would share the folder name `{}`; list each value once",
                    cells[other].label(),
                    cell.label(),
                    cell.dir_name()
                ),
            ));
        }
        folders.insert(cell.dir_name(), i);
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    #[test]
    fn cells_are_the_cartesian_product_first_path_slowest() {
        let s = parse("name: t\nsweep: { clients.partition.alpha: [0.1, 1000], seed: [0, 1, 2] }\n").unwrap();
        let cells = expand(&s).unwrap();
        assert_eq!(cells.len(), 6);
        let labels: Vec<String> = cells.iter().map(SweepCell::label).collect();
        assert_eq!(labels[0], "clients.partition.alpha=0.1 seed=0");
        assert_eq!(labels[2], "clients.partition.alpha=0.1 seed=2");
        assert_eq!(labels[3], "clients.partition.alpha=1000 seed=0");
        assert_eq!(cells[4].dir_name(), "alpha=1000_seed=1");
        assert_eq!(cells[4].scenario.seed, 1);
        assert!(cells.iter().all(|c| c.scenario.sweep.is_empty()));
        let crate::scenario::PartitionConfig::Dirichlet { alpha, .. } = cells[4].scenario.clients.partition else {
            panic!("dirichlet expected");
        };
        assert_eq!(alpha, 1000.0);
    }

    #[test]
    fn a_scenario_without_sweep_is_one_cell() {
        let s = parse("name: t\n").unwrap();
        let cells = expand(&s).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].scenario, s);
        assert_eq!(cells[0].label(), "single");
    }

    #[test]
    fn bad_sweeps_name_the_path() {
        let err = |text: &str| expand(&parse(text).unwrap()).unwrap_err().to_string();
        assert_eq!(
            err("name: t\nsweep: { seed: 3 }\n"),
            "sweep.seed: must be a list of values"
        );
        assert_eq!(
            err("name: t\nsweep: { seed: [] }\n"),
            "sweep.seed: must list at least one value"
        );
        assert_eq!(
            err("name: t\nsweep: { federation.rounds: [3, 0] }\n"),
            "sweep.federation.rounds: federation.rounds: must be >= 1, got 0"
        );
        assert!(err("name: t\nsweep: { router.temprature: [1] }\n").starts_with("sweep.router.temprature: "));
        assert_eq!(err("name: t\nsweep: { name: [a] }\n"), "sweep.name: cannot be swept");
        assert!(err("name: t\nsweep: { seed: [1, 1] }\n").contains("share the folder name `seed=1`"));
        let twice = check_axes(&parse("name: t\nsweep: { seed: [1, 1] }\n").unwrap()).unwrap_err();
        assert_eq!(
            twice.to_string(),
            "sweep.seed: the value 1 is listed twice; list each value once"
        );
        let many =
            parse("name: t\nsweep: { seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], model.ema: [0, 0.5, 0.9, 0.99, 0.999] }\n");
        assert!(expand(&many.unwrap()).is_ok());
        let text = format!(
            "name: t\nsweep: {{ seed: [{}], federation.rounds: [1, 2, 3] }}\n",
            (0..40_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
        );
        assert!(
            expand(&parse(&text).unwrap())
                .unwrap_err()
                .to_string()
                .contains("120000 cells is more than")
        );
        let hidden = expand(&parse("name: t\nsweep: { model.hidden: [[8, 8], [16]] }\n").unwrap()).unwrap();
        assert_eq!(hidden[0].label(), "model.hidden=[8, 8]");
        assert_eq!(hidden[0].dir_name(), "hidden=_8,_8_");
    }
}
