//! A sweep's tables: every cell's rows with `cell` and `param.<path>` columns (`results.csv`, `results.parquet`),
//! and every cell's long tables gathered into one Parquet file each.

use crate::error::{Error, Result};
use crate::report::{Record, frame, records_of, write_frame};
use crate::routing::PolicyLabel;
use crate::scenario::{SweepCell, value_text};
use polars::prelude::*;
use polars_io::SerReader;
use polars_io::csv::read::CsvReadOptions;
use polars_io::parquet::read::ParquetReader;
use serde_norway::Value;
use std::path::{Path, PathBuf};

/// The long tables a cell writes as CSV and the sweep gathers into `<name>.parquet` (plus `samples.parquet`).
pub const LONG_TABLES: [&str; 13] = [
    "stability_by_step",
    "alignment_by_step",
    "routing_share_by_step",
    "per_sample",
    "routing_error_by_bin",
    "expert_error",
    "training_loss",
    "client_cluster_counts",
    "expert_purity",
    "class_counts",
    "experts",
    "lost_experts",
    "guidance",
];

/// Columns of the long tables that hold text; every other column is read as a number.
const TEXT_COLUMNS: [&str; 4] = ["policy", "model", "cell", SETTING];

/// The parameter of a study's cells that names their setting; it is tabled in the column `setting` (every other
/// parameter, a dotted scenario path, in `param.<path>`).
pub const SETTING: &str = "setting";

/// The column of the parameter `path`: `setting`, or `param.<path>`.
fn param_column_name(path: &str) -> String {
    if path == SETTING {
        SETTING.to_string()
    } else {
        format!("param.{path}")
    }
}

/// One row of a sweep's results: the cell, its swept values and the run's record.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// The cell's label, e.g. `clients.partition.alpha=0.1 seed=2`.
    pub cell: String,
    /// The swept values of the cell: (dotted path, value).
    pub params: Vec<(String, Value)>,
    /// The row of the cell's own `results.csv`.
    pub record: Record,
}

fn table_error(verb: &'static str, path: &Path, e: PolarsError) -> Error {
    Error::Table {
        verb,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// How a swept path's values are tabled: integers, numbers, or their YAML text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ParamKind {
    Integer,
    Number,
    Text,
}

impl ParamKind {
    /// The narrowest kind that holds every one of `values`.
    fn of<'a>(values: impl IntoIterator<Item = &'a Value> + Clone) -> Self {
        if values.clone().into_iter().all(|v| v.as_i64().is_some()) {
            ParamKind::Integer
        } else if values.into_iter().all(|v| v.as_f64().is_some()) {
            ParamKind::Number
        } else {
            ParamKind::Text
        }
    }
}

/// The column `name` holding `values` as `kind`.
fn param_column(name: &str, kind: ParamKind, values: &[&Value]) -> Column {
    match kind {
        ParamKind::Integer => Column::new(name.into(), values.iter().map(|v| v.as_i64()).collect::<Vec<_>>()),
        ParamKind::Number => Column::new(name.into(), values.iter().map(|v| v.as_f64()).collect::<Vec<_>>()),
        ParamKind::Text => Column::new(name.into(), values.iter().map(|v| value_text(v)).collect::<Vec<_>>()),
    }
}

/// The sweep's results as a frame: `cell`, one `param.<path>` column per swept path, then the columns of
/// [`frame`].
pub fn sweep_frame(rows: &[SweepRow]) -> PolarsResult<DataFrame> {
    let records: Vec<Record> = rows.iter().map(|r| r.record.clone()).collect();
    let mut df = frame(&records)?;
    let mut leading = vec![Column::new(
        "cell".into(),
        rows.iter().map(|r| r.cell.clone()).collect::<Vec<_>>(),
    )];
    let paths: Vec<&String> = rows
        .first()
        .map(|r| r.params.iter().map(|(p, _)| p).collect())
        .unwrap_or_default();
    for (i, path) in paths.iter().enumerate() {
        let values: Vec<&Value> = rows.iter().map(|r| &r.params[i].1).collect();
        let kind = ParamKind::of(values.iter().copied());
        leading.push(param_column(&param_column_name(path), kind, &values));
    }
    for (i, column) in leading.into_iter().enumerate() {
        df.insert_column(i, column)?;
    }
    Ok(df)
}

/// Writes the sweep's `results.csv` and `results.parquet` into `dir`.
pub fn write_sweep_results(dir: &Path, rows: &[SweepRow]) -> Result<()> {
    let df = sweep_frame(rows).map_err(|e| table_error("writing", &dir.join("results.csv"), e))?;
    write_frame(dir, "results", df)
}

/// Reads a `results.parquet` of a sweep (or of a single run, whose rows get the cell `single` and no params).
pub fn read_sweep_results(path: &Path) -> Result<Vec<SweepRow>> {
    let fail = |e: PolarsError| table_error("reading", path, e);
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(fail)?;
    let records = records_of(&df).map_err(fail)?;
    let cells: Vec<String> = match df.column("cell") {
        Ok(c) => c
            .str()
            .map_err(fail)?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
        Err(_) => vec!["single".into(); df.height()],
    };
    let mut params: Vec<Vec<(String, Value)>> = vec![Vec::new(); df.height()];
    for column in df.columns() {
        let Some(path) = column
            .name()
            .strip_prefix("param.")
            .or((column.name() == SETTING).then_some(SETTING))
        else {
            continue;
        };
        let values: Vec<Value> = match column.dtype() {
            DataType::String if path == SETTING => column
                .str()
                .map_err(fail)?
                .iter()
                .map(|v| Value::String(v.unwrap_or_default().to_string()))
                .collect(),
            DataType::String => column
                .str()
                .map_err(fail)?
                .iter()
                .map(|v| serde_norway::from_str(v.unwrap_or_default()).unwrap_or(Value::Null))
                .collect(),
            DataType::Int64 => column
                .i64()
                .map_err(fail)?
                .iter()
                .map(|v| v.map(Value::from).unwrap_or(Value::Null))
                .collect(),
            _ => column
                .cast(&DataType::Float64)
                .map_err(fail)?
                .f64()
                .map_err(fail)?
                .iter()
                .map(|v| v.map(Value::from).unwrap_or(Value::Null))
                .collect(),
        };
        for (row, value) in params.iter_mut().zip(values) {
            row.push((path.to_string(), value));
        }
    }
    Ok(records
        .into_iter()
        .zip(cells)
        .zip(params)
        .map(|((record, cell), params)| SweepRow { cell, params, record })
        .collect())
}

/// Where a run's files are and what to call its rows: a sweep's cell, or a single run (`single`, no params).
#[derive(Debug, Clone, PartialEq)]
pub struct CellSource {
    /// The label of the rows (`cell` column).
    pub label: String,
    /// The swept values (`param.<path>` columns).
    pub params: Vec<(String, Value)>,
    /// The run's folder.
    pub dir: PathBuf,
}

impl CellSource {
    /// The cell of a sweep or study whose folder is `dir`.
    pub fn of_cell(dir: &Path, cell: &SweepCell) -> Self {
        CellSource {
            label: cell.label(),
            params: cell.params.clone(),
            dir: dir.to_path_buf(),
        }
    }

    /// A single run in `dir`.
    pub fn single(dir: &Path) -> Self {
        CellSource {
            label: "single".into(),
            params: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }
}

/// Reads one CSV long table of a run, numbers as `Float64`, with the run's label and swept values (tabled as
/// `kinds`) in front.
fn read_cell_table(path: &Path, cell: &CellSource, kinds: &[ParamKind]) -> Result<DataFrame> {
    let fail = |e: PolarsError| table_error("reading", path, e);
    // Numbers are read as Float64 from the start: inferred, a column of integer-looking values (a huge finite
    // float prints without a point) would become i64 and fail on one beyond its range. Seeds are u64 (one at or
    // above 2^63 is no i64 either).
    let schema = Schema::from_iter(
        (header(path)?.into_iter())
            .filter(|name| !TEXT_COLUMNS.contains(&name.as_str()))
            .map(|name| {
                let kind = if name == "seed" {
                    DataType::UInt64
                } else {
                    DataType::Float64
                };
                Field::new(name.into(), kind)
            }),
    );
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .with_schema_overwrite(Some(std::sync::Arc::new(schema)))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .map_err(fail)?
        .finish()
        .map_err(fail)?;
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    for name in names.iter().filter(|n| !TEXT_COLUMNS.contains(&n.as_str())) {
        let column = df.column(name).map_err(fail)?.cast(&DataType::Float64).map_err(fail)?;
        df.replace(name, column).map_err(fail)?;
    }
    let height = df.height();
    let mut leading = vec![Column::new("cell".into(), vec![cell.label.clone(); height])];
    for ((path, value), kind) in cell.params.iter().zip(kinds) {
        leading.push(param_column(&param_column_name(path), *kind, &vec![value; height]));
    }
    for (i, column) in leading.into_iter().enumerate() {
        df.insert_column(i, column).map_err(fail)?;
    }
    Ok(df)
}

/// The column names of the CSV file at `path` (its header line).
fn header(path: &Path) -> Result<Vec<String>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut header = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut header)
        .map_err(|e| Error::read(path, e))?;
    Ok(header.trim_end().split(',').map(str::to_string).collect())
}

/// Stacks frames whose columns may differ (e.g. more clusters in one cell): missing columns become nulls.
fn stack(frames: Vec<DataFrame>, path: &Path) -> Result<DataFrame> {
    let fail = |e: PolarsError| table_error("writing", path, e);
    let mut names: Vec<(String, DataType)> = Vec::new();
    for df in &frames {
        for column in df.columns() {
            if !names.iter().any(|(n, _)| n == column.name().as_str()) {
                names.push((column.name().to_string(), column.dtype().clone()));
            }
        }
    }
    let mut out: Option<DataFrame> = None;
    for df in frames {
        let height = df.height();
        let columns: Vec<Column> = names
            .iter()
            .map(|(name, dtype)| match df.column(name) {
                Ok(c) => c.clone(),
                Err(_) => Column::full_null(name.as_str().into(), height, dtype),
            })
            .collect();
        let aligned = DataFrame::new_infer_height(columns).map_err(fail)?;
        match &mut out {
            None => out = Some(aligned),
            Some(acc) => {
                acc.vstack_mut(&aligned).map_err(fail)?;
            }
        }
    }
    Ok(out.unwrap_or_default())
}

/// Gathers the long tables of the runs in `cells` into one frame each, named as in [`LONG_TABLES`], and every
/// run's samples (with a `policy` column, the test points as `reference:test`) as `samples`. A table no run
/// wrote is left out.
pub fn gather_long_tables(cells: &[CellSource]) -> Result<Vec<(String, DataFrame)>> {
    let axes = cells.first().map_or(0, |c| c.params.len());
    let kinds: Vec<ParamKind> = (0..axes)
        .map(|i| ParamKind::of(cells.iter().map(|c| &c.params[i].1)))
        .collect();
    let mut tables = Vec::new();
    for name in LONG_TABLES {
        let mut frames = Vec::new();
        for cell in cells {
            let path = cell.dir.join(format!("{name}.csv"));
            if path.is_file() {
                frames.push(read_cell_table(&path, cell, &kinds)?);
            }
        }
        if !frames.is_empty() {
            tables.push((name.to_string(), stack(frames, &cell_path(cells, name))?));
        }
    }
    let mut frames = Vec::new();
    for cell in cells {
        let records = crate::report::read_results(&cell.dir.join("results.parquet"))?;
        let mut labels: Vec<PolicyLabel> = records
            .into_iter()
            .map(|r| r.policy)
            .filter(|p| !p.is_reference())
            .collect();
        labels.push(PolicyLabel::ReferenceTest);
        for label in labels {
            let stem = label.file_stem();
            let path = cell.dir.join("samples").join(format!("{stem}.csv"));
            if !path.is_file() {
                continue;
            }
            let mut df = read_cell_table(&path, cell, &kinds)?;
            let policy = Column::new("policy".into(), vec![label.to_string(); df.height()]);
            let at = 1 + cell.params.len();
            df.insert_column(at, policy)
                .map_err(|e| table_error("writing", &path, e))?;
            frames.push(df);
        }
    }
    if !frames.is_empty() {
        tables.push(("samples".into(), stack(frames, &cell_path(cells, "samples"))?));
    }
    Ok(tables)
}

/// The file named in errors about stacking the table `name`.
fn cell_path(cells: &[CellSource], name: &str) -> PathBuf {
    cells.first().map_or_else(PathBuf::new, |c| c.dir.join(name))
}

/// Gathers the long tables of the finished cells (see [`gather_long_tables`]) into `<name>.parquet` in `dir`, and
/// returns them.
pub fn write_long_tables(dir: &Path, cells: &[CellSource]) -> Result<Vec<(String, DataFrame)>> {
    let tables = gather_long_tables(cells)?;
    for (name, df) in &tables {
        write_parquet(&dir.join(format!("{name}.parquet")), df.clone())?;
    }
    Ok(tables)
}

/// Reads a Parquet file into a frame.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| table_error("reading", path, e))
}

/// Writes one frame as Parquet, atomically.
fn write_parquet(path: &Path, mut df: DataFrame) -> Result<()> {
    let mut bytes = Vec::new();
    polars_io::parquet::write::ParquetWriter::new(&mut bytes)
        .finish(&mut df)
        .map_err(|e| table_error("writing", path, e))?;
    crate::atomic::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column whose values all print without a point and one of which is beyond i64 (a huge finite float), and a
    /// seed at or above 2^63, both read as numbers.
    #[test]
    fn integer_looking_floats_and_large_seeds_are_read_as_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let text = "policy,seed,lipschitz\nfull,18446744073709551615,3\ntop_k:k=1,1,384656488090175700000000000\n";
        std::fs::write(&path, text).unwrap();
        let df = read_cell_table(&path, &CellSource::single(dir.path()), &[]).unwrap();
        let lipschitz = df.column("lipschitz").unwrap().f64().unwrap().to_vec();
        assert_eq!(lipschitz, [Some(3.0), Some(3.846564880901757e26)]);
        let seeds = df.column("seed").unwrap().f64().unwrap().to_vec();
        assert_eq!(seeds, [Some(18446744073709551615u64 as f64), Some(1.0)]);
        assert_eq!(df.column("policy").unwrap().str().unwrap().get(1), Some("top_k:k=1"));
    }
}
