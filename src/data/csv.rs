//! User data from a CSV file: a header row, numeric feature columns and an optional label column.

use crate::error::{Error, Result};
use ndarray::Array2;
use std::path::Path;

/// Feature rows and, when a label column is named, label ids (distinct label texts in sorted order).
pub type CsvData = (Array2<f32>, Option<Vec<usize>>);

/// Reads `path`; a missing column, a short row, or a non-numeric, NaN or infinite cell is an error naming its
/// line and column.
pub fn load(path: &Path, label_column: Option<&str>) -> Result<CsvData> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |line: usize, column: usize, message: String| Error::DataFormat {
        file: path.to_path_buf(),
        line,
        column,
        message,
    };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad(1, 1, "the file is empty".into()))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let label_index = match label_column {
        Some(name) => Some(names.iter().position(|n| *n == name).ok_or_else(|| {
            bad(
                1,
                1,
                format!("no column named {name:?} (label_column); columns are {names:?}"),
            )
        })?),
        None => None,
    };
    let features = names.len() - usize::from(label_index.is_some());
    if features == 0 {
        return Err(bad(1, 1, "no feature columns".into()));
    }
    let mut values = Vec::new();
    let mut label_texts = Vec::new();
    for (i, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != names.len() {
            return Err(bad(
                i + 1,
                cells.len().min(names.len()) + 1,
                format!("expected {} cells as in the header, got {}", names.len(), cells.len()),
            ));
        }
        for (j, cell) in cells.iter().enumerate() {
            if Some(j) == label_index {
                label_texts.push(cell.to_string());
                continue;
            }
            let v: f64 = cell
                .parse()
                .map_err(|_| bad(i + 1, j + 1, format!("column {:?}: not a number: {cell:?}", names[j])))?;
            if !v.is_finite() {
                return Err(bad(
                    i + 1,
                    j + 1,
                    format!("column {:?}: {cell} is not a finite number", names[j]),
                ));
            }
            values.push(v as f32);
        }
    }
    let rows = values.len() / features;
    if rows == 0 {
        return Err(bad(2, 1, "no data rows after the header".into()));
    }
    let x = Array2::from_shape_vec((rows, features), values).expect("row lengths are checked");
    let labels = label_index.map(|_| {
        let mut distinct = label_texts.clone();
        distinct.sort();
        distinct.dedup();
        label_texts
            .iter()
            .map(|t| distinct.binary_search(t).expect("label is in the list"))
            .collect()
    });
    Ok((x, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_features_and_labels() {
        let f = file("a,label,b\n1,cat,2\n3,dog,4\n5,cat,6\n");
        let (x, labels) = load(f.path(), Some("label")).unwrap();
        assert_eq!(x, ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert_eq!(labels.unwrap(), vec![0, 1, 0]);
    }

    #[test]
    fn bad_cell_names_line_and_column() {
        let f = file("a,b\n1,2\n3,x\n");
        let err = load(f.path(), None).unwrap_err().to_string();
        assert!(err.ends_with(":3:2: column \"b\": not a number: \"x\""), "{err}");
        let f = file("a,b\n1,NaN\n");
        let err = load(f.path(), None).unwrap_err().to_string();
        assert!(err.contains(":2:2:"), "{err}");
    }
}
