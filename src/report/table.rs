//! The results table: one row per policy and reference row, every metric a column; written as CSV and Parquet
//! with polars, and rendered for the terminal.

use crate::error::{Error, Result};
use crate::metrics::{QUALITY_COLUMNS, Values};
use polars::prelude::*;
use polars_io::SerWriter;
use polars_io::csv::write::CsvWriter;
use polars_io::parquet::write::ParquetWriter;
use std::path::Path;

/// One row of `results.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Stable policy label, e.g. `top_k:k=1`, or `reference:data` / `reference:noise`.
    pub policy: String,
    /// Root seed of the run.
    pub seed: u64,
    /// Metric values by column (absent = not applicable, written empty).
    pub values: Values,
}

/// The records as a polars frame: `policy`, `seed`, then the quality columns.
pub fn frame(records: &[Record]) -> PolarsResult<DataFrame> {
    let mut columns = vec![
        Column::new(
            "policy".into(),
            records.iter().map(|r| r.policy.clone()).collect::<Vec<_>>(),
        ),
        Column::new("seed".into(), records.iter().map(|r| r.seed).collect::<Vec<_>>()),
    ];
    for name in QUALITY_COLUMNS {
        let values: Vec<Option<f64>> = records.iter().map(|r| r.values.get(name).copied()).collect();
        columns.push(Column::new(name.into(), values));
    }
    DataFrame::new_infer_height(columns)
}

/// Writes `results.csv` and `results.parquet` into `dir`.
pub fn write_results(dir: &Path, records: &[Record]) -> Result<()> {
    let csv_path = dir.join("results.csv");
    let parquet_path = dir.join("results.parquet");
    let fail = |path: &Path, e: PolarsError| Error::Table {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut df = frame(records).map_err(|e| fail(&csv_path, e))?;
    let mut csv = Vec::new();
    CsvWriter::new(&mut csv)
        .finish(&mut df)
        .map_err(|e| fail(&csv_path, e))?;
    crate::output::write_atomic(&csv_path, &csv)?;
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet)
        .finish(&mut df)
        .map_err(|e| fail(&parquet_path, e))?;
    crate::output::write_atomic(&parquet_path, &parquet)
}

/// A fixed-width text table of the records for the terminal (4 significant digits).
pub fn render(records: &[Record]) -> String {
    let present: Vec<&str> = QUALITY_COLUMNS
        .iter()
        .copied()
        .filter(|c| records.iter().any(|r| r.values.contains_key(c)))
        .collect();
    let width = records.iter().map(|r| r.policy.len()).max().unwrap_or(6).max(6);
    let mut out = format!("{:<width$}", "policy");
    for c in &present {
        out.push_str(&format!(" {c:>13}"));
    }
    out.push('\n');
    for r in records {
        out.push_str(&format!("{:<width$}", r.policy));
        for c in &present {
            match r.values.get(c) {
                Some(v) => out.push_str(&format!(" {:>13}", format_value(*v))),
                None => out.push_str(&format!(" {:>13}", "")),
            }
        }
        out.push('\n');
    }
    out
}

fn format_value(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e5) {
        format!("{:.4}", v)
    } else {
        format!("{v:.3e}")
    }
}
