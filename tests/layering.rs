//! The layering of the crate's top-level modules: each may use (`crate::X`) only modules declared below it in
//! [`LAYERS`], so there is no import cycle between them. A new top-level module must be placed in the list.
//! Unit tests (`#[cfg(test)] mod tests` to the end of a file) may reach anywhere.

use std::collections::BTreeMap;
use std::path::Path;

/// The top-level modules from the bottom layer up: each may use only those before it.
const LAYERS: [&str; 27] = [
    "error",
    "hash",
    "rng",
    "progress",
    "interrupt",
    "alloc",
    "atomic",
    "scenario",
    "data",
    "cluster",
    "partition",
    "nn",
    "federated",
    "diffusion",
    "routing",
    "ensemble",
    "store",
    "metrics",
    "classifier",
    "analysis",
    "gpu",
    "report",
    "experiment",
    "cells",
    "sweep",
    "study",
    "slurm",
];

/// Files of the binary and the crate root, which sit above every layer.
const ABOVE_ALL: [&str; 4] = ["lib", "main", "cli", "slurm_cli"];

/// The text of every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Each top-level module of `src` and the text of its files.
fn modules(src: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut texts = Vec::new();
        if path.is_dir() {
            sources(&path, &mut texts);
        } else if path.extension().is_some_and(|e| e == "rs") {
            texts.push(std::fs::read_to_string(&path).unwrap());
        } else {
            continue;
        }
        out.entry(name).or_insert_with(Vec::new).extend(texts);
    }
    out
}

/// The top-level modules `text` names through `crate::` (`crate::a::X` and every `a` of `crate::{a::X, b}`),
/// leaving out its unit tests (`#[cfg(test)] mod tests` to the end of the file).
fn uses(text: &str) -> Vec<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            // One level of grouping: the first name of each comma-separated part.
            let mut depth = 0;
            let mut part_start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(ident(&group[part_start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&group[part_start..j]));
                        part_start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

/// Every violation of the layering in `modules`: a module missing from `layers`, or one using a module that is
/// not below it.
fn violations(modules: &BTreeMap<String, Vec<String>>, layers: &[&str]) -> Vec<String> {
    let rank = |m: &str| layers.iter().position(|l| *l == m);
    let mut out = Vec::new();
    for (module, texts) in modules {
        if ABOVE_ALL.contains(&module.as_str()) {
            continue;
        }
        let Some(own) = rank(module) else {
            out.push(format!("`{module}` is not placed in LAYERS"));
            continue;
        };
        for used in texts.iter().flat_map(|t| uses(t)) {
            if used == *module || !modules.contains_key(&used) {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                _ => out.push(format!("`{module}` uses `crate::{used}`, which is not below it")),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&modules(&src), &LAYERS);
    assert!(found.is_empty(), "layering violations:\n{}", found.join("\n"));
}

#[test]
fn a_back_edge_or_an_unplaced_module_is_caught() {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(m, t)| (m.to_string(), vec![t.to_string()]))
            .collect()
    };
    let layers = ["scenario", "metrics", "report"];
    let fine = map(&[
        ("scenario", "use crate::error::Result;"),
        ("metrics", "use crate::scenario::MetricsConfig;"),
        (
            "report",
            "use crate::metrics::Values;\n#[cfg(test)]\nmod tests { use crate::report::x; }",
        ),
    ]);
    assert!(violations(&fine, &layers).is_empty());
    let back_edge = map(&[
        ("scenario", ""),
        ("metrics", "use crate::report::Record;"),
        ("report", "use crate::metrics::Values;"),
    ]);
    assert_eq!(
        violations(&back_edge, &layers),
        ["`metrics` uses `crate::report`, which is not below it"]
    );
    let grouped = map(&[
        ("scenario", "use crate::{error::Result, report::{a, b}};"),
        ("report", ""),
    ]);
    assert_eq!(
        violations(&grouped, &layers),
        ["`scenario` uses `crate::report`, which is not below it"]
    );
    let after_a_test_item = map(&[
        ("scenario", "#[cfg(test)]\nmod testing;\npub use crate::report::Record;"),
        ("report", ""),
    ]);
    assert_eq!(
        violations(&after_a_test_item, &layers),
        ["`scenario` uses `crate::report`, which is not below it"]
    );
    let unplaced = map(&[("scenario", ""), ("extra", "")]);
    assert_eq!(violations(&unplaced, &layers), ["`extra` is not placed in LAYERS"]);
}
