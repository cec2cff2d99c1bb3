//! The results table: one row per policy and reference row, every metric a column; written as CSV and Parquet
//! with polars, and rendered for the terminal.

use crate::error::{Error, Result};
use crate::metrics::{Family, Values};
use crate::routing::PolicyLabel;
use polars::prelude::*;
use polars_io::SerReader;
use polars_io::SerWriter;
use polars_io::csv::write::CsvWriter;
use polars_io::parquet::read::ParquetReader;
use polars_io::parquet::write::ParquetWriter;
use std::path::Path;

/// One row of `results.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Stable policy label, e.g. `top_k:k=1`, or `reference:data` / `reference:noise`.
    pub policy: PolicyLabel,
    /// Root seed of the run.
    pub seed: u64,
    /// Metric values by column (absent = not applicable, written empty).
    pub values: Values,
}

/// Every metric column of `results.csv`, in declaration order (`crate::metrics::registry`).
pub fn metric_columns() -> impl Iterator<Item = &'static str> {
    crate::metrics::columns()
}

/// The records as a polars frame: `policy`, `seed`, then every metric column (empty where not computed; a
/// column of guided samples only when some record has a value in it).
pub fn frame(records: &[Record]) -> PolarsResult<DataFrame> {
    let mut columns = vec![
        Column::new(
            "policy".into(),
            records.iter().map(|r| r.policy.to_string()).collect::<Vec<_>>(),
        ),
        Column::new("seed".into(), records.iter().map(|r| r.seed).collect::<Vec<_>>()),
    ];
    for name in metric_columns() {
        let values: Vec<Option<f64>> = records.iter().map(|r| r.values.get(name).copied()).collect();
        let guided = crate::metrics::registry::get(name).applies == crate::metrics::Applies::Guided;
        if guided && values.iter().all(Option::is_none) {
            continue;
        }
        columns.push(Column::new(name.into(), values));
    }
    DataFrame::new_infer_height(columns)
}

/// Writes `results.csv` and `results.parquet` into `dir`.
pub fn write_results(dir: &Path, records: &[Record]) -> Result<()> {
    let csv_path = dir.join("results.csv");
    let df = frame(records).map_err(|e| table_error(&csv_path, e))?;
    write_frame(dir, "results", df)
}

fn table_error(path: &Path, e: PolarsError) -> Error {
    Error::Table {
        verb: "writing",
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `<stem>.csv` and `<stem>.parquet` into `dir`, each atomically.
pub fn write_frame(dir: &Path, stem: &str, mut df: DataFrame) -> Result<()> {
    let csv_path = dir.join(format!("{stem}.csv"));
    let parquet_path = dir.join(format!("{stem}.parquet"));
    let fail = table_error;
    let mut csv = Vec::new();
    CsvWriter::new(&mut csv)
        .finish(&mut df)
        .map_err(|e| fail(&csv_path, e))?;
    crate::atomic::write_atomic(&csv_path, &csv)?;
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet)
        .finish(&mut df)
        .map_err(|e| fail(&parquet_path, e))?;
    crate::atomic::write_atomic(&parquet_path, &parquet)
}

/// Reads the records back from a `results.parquet` written by [`write_results`].
pub fn read_results(path: &Path) -> Result<Vec<Record>> {
    let fail = |e: PolarsError| Error::Table {
        verb: "reading",
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(fail)?;
    records_of(&df).map_err(fail)
}

/// The records of a results frame: its `policy`, `seed` and metric columns (other columns are ignored).
pub fn records_of(df: &DataFrame) -> PolarsResult<Vec<Record>> {
    let policy = df.column("policy")?.str()?.clone();
    let seed = df.column("seed")?.cast(&DataType::UInt64)?;
    let seed = seed.u64()?;
    let mut records: Vec<Record> = (0..df.height())
        .map(|i| {
            Ok(Record {
                policy: policy
                    .get(i)
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e: String| polars_err!(ComputeError: "{e}"))?,
                seed: seed.get(i).unwrap_or_default(),
                values: Values::new(),
            })
        })
        .collect::<PolarsResult<_>>()?;
    for name in metric_columns() {
        let Ok(column) = df.column(name) else { continue };
        let values = column.cast(&DataType::Float64)?;
        for (record, v) in records.iter_mut().zip(values.f64()?.iter()) {
            if let Some(v) = v {
                record.values.insert(name, v);
            }
        }
    }
    Ok(records)
}

/// Fixed-width text tables of the records for the terminal (4 decimals): quality, the classifier's, then
/// stability and alignment where computed, each block showing only the columns that have values.
pub fn render(records: &[Record]) -> String {
    [
        Family::Quality,
        Family::Classifier,
        Family::Stability,
        Family::Alignment,
    ]
    .iter()
    .map(|&family| render_block(records, &crate::metrics::columns_of(&[family])))
    .filter(|b| !b.is_empty())
    .collect::<Vec<_>>()
    .join("\n")
}

/// One block of [`render`]; empty if none of `columns` has a value.
fn render_block(records: &[Record], columns: &[&str]) -> String {
    let present: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| records.iter().any(|r| r.values.contains_key(c)))
        .collect();
    if present.is_empty() {
        return String::new();
    }
    let width = records
        .iter()
        .map(|r| r.policy.to_string().len())
        .max()
        .unwrap_or(6)
        .max(6);
    let records: Vec<&Record> = records
        .iter()
        .filter(|r| present.iter().any(|c| r.values.contains_key(c)))
        .collect();
    let mut out = format!("{:<width$}", "policy");
    for c in &present {
        let w = c.len().max(11);
        out.push_str(&format!(" {c:>w$}"));
    }
    out.push('\n');
    for r in &records {
        out.push_str(&format!("{:<width$}", r.policy.to_string()));
        for c in &present {
            let w = c.len().max(11);
            let cell = r.values.get(c).map(|v| format_value(*v)).unwrap_or_default();
            out.push_str(&format!(" {cell:>w$}"));
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
