//! User data from a CSV file (RFC 4180, read with the `csv` crate: quoted fields, a byte-order mark and CRLF line
//! ends work): a header row, numeric feature columns and an optional label column.

use super::NaturalIds;
use crate::error::{Error, Result};
use ndarray::Array2;
use std::io::{BufRead, Read};
use std::path::Path;

/// The columns of a CSV file that are not features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Columns<'a> {
    /// The class labels (`data.label_column`), any text.
    pub label: Option<&'a str>,
    /// The client of each row (`clients.partition.column` under `kind: natural`), any text.
    pub client: Option<&'a str>,
}

/// What a CSV file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvData {
    /// Feature rows. Shape [rows, features].
    pub x: Array2<f32>,
    /// Label ids (distinct label texts in sorted order), when a label column is named.
    pub labels: Option<Vec<usize>>,
    /// Each row's client, when a client column is named.
    pub clients: Option<NaturalIds>,
}

/// Reads `path`; a missing column, a short row, or a cell that is not a finite number in single precision is an
/// error naming its line and column.
pub fn load(path: &Path, columns: Columns) -> Result<CsvData> {
    regular_file(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    parse(&bytes, path, columns)
}

/// A data file must be a regular file: its size bounds the memory estimate, and reading a device or a pipe
/// (`/dev/zero`) would never end.
fn regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::read(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            "data.path",
            format!(
                "{} is not a regular file (a folder, device or pipe); name a CSV file",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// A data-format error at `line` and `column` of `path`.
fn bad(path: &Path, line: u64, column: usize, message: String) -> Error {
    Error::DataFormat {
        file: path.to_path_buf(),
        line: line as usize,
        column,
        message,
    }
}

/// The header row: the column names and where the label and client columns are.
struct Header {
    names: Vec<String>,
    label: Option<usize>,
    client: Option<usize>,
    /// Number of feature columns (all but the label and client columns).
    features: usize,
}

impl Header {
    fn read(reader: &mut csv::Reader<&[u8]>, path: &Path, columns: Columns) -> Result<Header> {
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| bad(path, 1, 1, format!("the header row is not readable CSV: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        if names.iter().all(String::is_empty) {
            return Err(bad(path, 1, 1, "the file is empty (a header row is needed)".into()));
        }
        let label = match columns.label {
            Some(name) => Some(names.iter().position(|n| n == name).ok_or_else(|| {
                bad(
                    path,
                    1,
                    1,
                    format!("no column named {name:?} (label_column); columns are {names:?}"),
                )
            })?),
            None => None,
        };
        let client = match columns.client {
            Some(name) => Some(names.iter().position(|n| n == name).ok_or_else(|| {
                Error::invalid(
                    "clients.partition.column",
                    format!("no column named {name:?} in {}; columns are {names:?}", path.display()),
                )
            })?),
            None => None,
        };
        let features = (0..names.len())
            .filter(|j| Some(*j) != label && Some(*j) != client)
            .count();
        if features == 0 {
            return Err(bad(path, 1, 1, "no feature columns".into()));
        }
        Ok(Header {
            names,
            label,
            client,
            features,
        })
    }
}

/// The data rows: the feature values row by row, and the label and client cells as text.
#[derive(Default)]
struct Rows {
    values: Vec<f32>,
    label_texts: Vec<String>,
    client_texts: Vec<String>,
}

fn read_rows(reader: &mut csv::Reader<&[u8]>, path: &Path, header: &Header) -> Result<Rows> {
    let names = &header.names;
    let mut rows = Rows::default();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(path, line, 1, format!("not readable CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != names.len() {
            return Err(bad(
                path,
                line,
                record.len().min(names.len()) + 1,
                format!("expected {} cells as in the header, got {}", names.len(), record.len()),
            ));
        }
        for (j, cell) in record.iter().enumerate() {
            if Some(j) == header.client {
                rows.client_texts.push(cell.to_string());
            }
            if Some(j) == header.label {
                rows.label_texts.push(cell.to_string());
            }
            if Some(j) != header.client && Some(j) != header.label {
                let v = number(cell).map_err(|why| bad(path, line, j + 1, format!("column {:?}: {why}", names[j])))?;
                rows.values.push(v);
            }
        }
    }
    Ok(rows)
}

/// Parses CSV `bytes` read from `path` (named in errors).
pub fn parse(bytes: &[u8], path: &Path, columns: Columns) -> Result<CsvData> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = Header::read(&mut reader, path, columns)?;
    let rows = read_rows(&mut reader, path, &header)?;
    let count = rows.values.len() / header.features;
    if count == 0 {
        return Err(bad(path, 2, 1, "no data rows after the header".into()));
    }
    let x = Array2::from_shape_vec((count, header.features), rows.values).expect("row lengths are checked");
    let labels = header.label.map(|_| {
        let mut distinct = rows.label_texts.clone();
        distinct.sort();
        distinct.dedup();
        rows.label_texts
            .iter()
            .map(|t| distinct.binary_search(t).expect("label is in the list"))
            .collect()
    });
    let clients = header.client.map(|_| NaturalIds::from_texts(&rows.client_texts));
    Ok(CsvData { x, labels, clients })
}

/// A cell as a number the models can use: finite, and finite in single precision.
fn number(cell: &str) -> std::result::Result<f32, String> {
    let v: f64 = cell.parse().map_err(|_| format!("not a number: {cell:?}"))?;
    if !v.is_finite() {
        return Err(format!("{cell} is not a finite number"));
    }
    let single = v as f32;
    if !single.is_finite() {
        return Err(format!(
            "{cell} is beyond single precision (|x| <= 3.4e38), the precision the models compute in"
        ));
    }
    Ok(single)
}

/// An upper bound on the data rows of the CSV file at `path` (from its size) and its number of feature columns.
pub fn shape(path: &Path, label_column: Option<&str>) -> Result<(f64, f64)> {
    regular_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let size = file.metadata().map_err(|e| Error::read(path, e))?.len() as f64;
    let mut header = String::new();
    std::io::BufReader::new(file.take(1 << 20))
        .read_line(&mut header)
        .map_err(|e| Error::read(path, e))?;
    let columns = header.split(',').count().max(1) as f64 - f64::from(u8::from(label_column.is_some()));
    // Every value takes at least two bytes (a digit and a separator).
    Ok(((size / (2.0 * columns.max(1.0))).ceil(), columns.max(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn label(name: &str) -> Columns<'_> {
        Columns {
            label: Some(name),
            client: None,
        }
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_features_and_labels() {
        let f = file("a,label,b\n1,cat,2\n3,dog,4\n5,cat,6\n");
        let d = load(f.path(), label("label")).unwrap();
        assert_eq!(d.x, ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert_eq!(d.labels.unwrap(), vec![0, 1, 0]);
    }

    #[test]
    fn quoted_fields_a_bom_and_crlf_are_read() {
        let f = file("\u{feff}\"a,x\",\"b\",label\r\n\"1\",2,\"cat, black\"\r\n3,\"4\",dog\r\n");
        let d = load(f.path(), label("label")).unwrap();
        assert_eq!(d.x, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(d.labels.unwrap(), vec![0, 1]);
    }

    #[test]
    fn bad_cell_names_line_and_column() {
        let f = file("a,b\n1,2\n3,x\n");
        let err = load(f.path(), Columns::default()).unwrap_err().to_string();
        assert!(err.ends_with(":3:2: column \"b\": not a number: \"x\""), "{err}");
        let f = file("a,b\n1,NaN\n");
        let err = load(f.path(), Columns::default()).unwrap_err().to_string();
        assert!(err.contains(":2:2:"), "{err}");
        let f = file("a,b\n1,2\n1e39,0\n");
        let err = load(f.path(), Columns::default()).unwrap_err().to_string();
        assert!(err.contains(":3:1:") && err.contains("single precision"), "{err}");
    }

    #[test]
    fn the_client_column_is_read_as_ids_and_is_not_a_feature() {
        let f = file("a,user,label,b\n1,u7,cat,2\n3,u1,dog,4\n5,u7,cat,6\n");
        let columns = Columns {
            label: Some("label"),
            client: Some("user"),
        };
        let d = load(f.path(), columns).unwrap();
        assert_eq!(d.x, ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        let clients = d.clients.unwrap();
        assert_eq!(clients.names, ["u1", "u7"]);
        assert_eq!(clients.of, [1, 0, 1]);
        // The label column may name the clients too.
        let same = Columns {
            label: Some("user"),
            client: Some("user"),
        };
        let g = file("a,user,b\n1,u7,2\n3,u1,4\n");
        let d = load(g.path(), same).unwrap();
        assert_eq!(d.x, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(d.labels.unwrap(), d.clients.unwrap().of);
        let err = load(
            f.path(),
            Columns {
                label: None,
                client: Some("id"),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("clients.partition.column: no column named \"id\" in "),
            "{err}"
        );
    }
}
