//! What gathering a sweep's or study's folder found: how many of its cells are finished, which are missing, and
//! which could not run (kept in `failed_cells.json` by the processes that ran them, shards included).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file, in a sweep's or study's folder, listing the cells whose own scenario could not run.
pub const FAILED_FILE: &str = "failed_cells.json";

/// A cell that could not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCell {
    /// The cell's label.
    pub cell: String,
    /// Why it could not run.
    pub error: String,
    /// The hash of the inputs it failed with (absent in files of older versions): a failure counts only for the
    /// cell as the sweep has it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_sha256: Option<String>,
}

impl FailedCell {
    /// Whether this failure is of the cell `cell` with the inputs `inputs` (a failure recorded without a hash
    /// counts for none: the cell is run again).
    pub fn is_of(&self, cell: &str, inputs: Option<&str>) -> bool {
        self.cell == cell && self.inputs_sha256.is_some() && self.inputs_sha256.as_deref() == inputs
    }
}

/// The cells listed in `dir`'s [`FAILED_FILE`] (none when it is absent).
pub fn read_failed(dir: &Path) -> Result<Vec<FailedCell>> {
    let path = dir.join(FAILED_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read(&path, e)),
    };
    serde_json::from_str(&text).map_err(|e| {
        Error::Refused(format!(
            "{}: is not a list of failed cells ({e}); it is ddmsim's: remove it and run the sweep again",
            path.display()
        ))
    })
}

/// What `ddmsim report` gathered.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathered {
    /// The figures written.
    pub figures: Vec<String>,
    /// Every cell of a sweep or study (0 for a single run).
    pub cells: usize,
    /// The cells whose results are in the tables.
    pub finished: usize,
    /// The cells that are neither finished nor failed, in order.
    pub missing: Vec<String>,
    /// The cells that could not run.
    pub failed: Vec<FailedCell>,
}

impl Gathered {
    /// A line for each thing a user should know beyond the report's place: missing and failed cells.
    pub fn remarks(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.cells > 0 {
            lines.push(format!("gathered {} of {} cells", self.finished, self.cells));
        }
        if !self.missing.is_empty() {
            let count = match self.missing.len() {
                1 => "1 cell is".to_string(),
                n => format!("{n} cells are"),
            };
            lines.push(format!(
                "{count} missing (not run yet, running, or abandoned): {}; run the sweep (or its unfinished shards) \
                 again to finish them, then `ddmsim report` again",
                self.missing.join(", ")
            ));
        }
        for f in &self.failed {
            lines.push(format!("cell {} could not run: {}", f.cell, f.error));
        }
        lines
    }
}
