//! Reading columns of the gathered tables as plain vectors, and picking the rows of one cell.

use polars::prelude::*;

/// The text column `name` (missing column or values: empty strings).
pub fn texts(df: &DataFrame, name: &str) -> Vec<String> {
    let Ok(column) = df.column(name) else {
        return vec![String::new(); df.height()];
    };
    match column.str() {
        Ok(ca) => ca.iter().map(|v| v.unwrap_or_default().to_string()).collect(),
        Err(_) => vec![String::new(); df.height()],
    }
}

/// The numeric column `name` as `f64` (missing column or values: NaN).
pub fn numbers(df: &DataFrame, name: &str) -> Vec<f64> {
    let cast = df.column(name).and_then(|c| c.cast(&DataType::Float64));
    match cast.as_ref().map(|c| c.f64()) {
        Ok(Ok(ca)) => ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
        _ => vec![f64::NAN; df.height()],
    }
}

/// The names of the columns starting with `prefix`, in order.
pub fn columns_with_prefix(df: &DataFrame, prefix: &str) -> Vec<String> {
    df.get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Row indices of `df` whose `cell` is `cell`.
pub fn rows_of_cell(df: &DataFrame, cell: &str) -> Vec<usize> {
    texts(df, "cell")
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == cell)
        .map(|(i, _)| i)
        .collect()
}
