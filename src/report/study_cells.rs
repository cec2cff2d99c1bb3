//! A study folder's `cells.json`: the study's name, the policies its report shows, and every cell (label, folder,
//! setting, seed) in order, so `ddmsim report` can regather a study from its cells as it does a sweep.

use super::gather::{CellSource, SETTING};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The content of `cells.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyCells {
    /// The study's name.
    pub name: String,
    /// Policy labels the report shows (all when empty).
    pub policies: Vec<String>,
    /// Every cell, in order.
    pub cells: Vec<StudyCellsEntry>,
}

/// One cell of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyCellsEntry {
    /// The cell's label (`setting=NAME seed=N`).
    pub cell: String,
    /// Its folder, relative to the study's folder.
    pub dir: String,
    /// Its setting's name.
    pub setting: String,
    /// Its seed.
    pub seed: u64,
}

/// The parameters of a study's cell: its setting (tabled as the `setting` column) and its seed.
pub fn study_params(setting: &str, seed: u64) -> Vec<(String, serde_norway::Value)> {
    vec![
        (SETTING.to_string(), serde_norway::Value::String(setting.to_string())),
        ("seed".to_string(), serde_norway::Value::from(seed)),
    ]
}

impl StudyCells {
    /// The file's name in a study folder.
    pub const FILE: &'static str = "cells.json";

    /// The file's text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a study's cells serialise")
    }

    /// Reads `cells.json` from the study folder `dir`, if it is there; a cell folder outside `dir` is refused.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(Self::FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        let cells: StudyCells =
            serde_json::from_str(&text).map_err(|e| Error::invalid(Self::FILE, format!("{}: {e}", path.display())))?;
        for c in &cells.cells {
            let inside = Path::new(&c.dir)
                .components()
                .all(|p| matches!(p, std::path::Component::Normal(_)));
            if !inside {
                return Err(Error::invalid(
                    Self::FILE,
                    format!(
                        "{}: cell folder `{}` is not inside the study folder",
                        path.display(),
                        c.dir
                    ),
                ));
            }
        }
        Ok(Some(cells))
    }

    /// Every cell as a source of rows, its folder inside `dir`.
    pub fn sources(&self, dir: &Path) -> Vec<CellSource> {
        self.cells
            .iter()
            .map(|c| CellSource {
                label: c.cell.clone(),
                params: study_params(&c.setting, c.seed),
                dir: dir.join(&c.dir),
            })
            .collect()
    }
}
