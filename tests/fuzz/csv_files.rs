//! CSV data files from a grammar (quoted names with commas, BOM, CRLF, empty lines, missing and extra cells, NaN,
//! inf, out-of-range and huge numbers, non-numeric cells, labels with commas and quotes, one row, no rows, no
//! header, binary junk) fed to `ddmsim::data::csv::parse`: no panic; a success holds only finite values and one
//! label per row; a failure is one line naming the file. Also the sane CSV files of the scenario generator.

use super::{Mode, Tally, Watchdog, fuzz, one_line, panic_text};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use std::path::Path;

/// A generated CSV file and the label column asked for.
#[derive(Clone)]
pub struct CsvCase {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `label_column` as the scenario would give it.
    pub label_column: Option<String>,
}

impl std::fmt::Debug for CsvCase {
    /// Shows the file as text (lossy) so that a failing case can be copied.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CsvCase {{ label_column: {:?}, bytes: {:?} }}",
            self.label_column,
            String::from_utf8_lossy(&self.bytes)
        )
    }
}

/// Column names: plain, quoted with a comma or a quote inside, empty, padded, non-ASCII, numeric, duplicated.
fn column_name() -> BoxedStrategy<String> {
    select(vec![
        "x",
        "y",
        "z",
        "label",
        "\"a,b\"",
        "\"q\"\"uote\"",
        "",
        " spaced ",
        "ü",
        "1.5",
        "x",
        "\"label\"",
    ])
    .prop_map(str::to_string)
    .boxed()
}

/// A sane feature cell: a small number.
fn sane_cell() -> BoxedStrategy<String> {
    (-50i32..50).prop_map(|v| format!("{}", v as f64 / 10.0)).boxed()
}

/// A feature cell: mostly a sane number, else an extreme number or junk.
fn cell() -> BoxedStrategy<String> {
    prop_oneof![
        12 => sane_cell(),
        2 => select(vec![
            "NaN", "nan", "inf", "-inf", "Infinity", "1e39", "-1e308", "1e308", "1e-50", "1e-300", "-0", "0x10",
            "1_000", "1e400", "+3", ".5", "5.", "3.4028235e38", "3.4028236e38", "-3.5e38",
        ])
        .prop_map(str::to_string),
        1 => (1usize..500).prop_map(|n| "9".repeat(n)),
        1 => select(vec![
            "", "abc", "\"1.5\"", "\"\"", "\"cat, black\"", "\"say \"\"hi\"\"\"", " 3 ", "\t4", "日本", "\"1\n2\"",
            "\"unterminated", "1 2",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

/// A label cell: any text, commas and quotes included.
fn label() -> BoxedStrategy<String> {
    select(vec![
        "a",
        "b",
        "c",
        "\"cat, black\"",
        "\"q\"\"\"",
        "",
        "1",
        "ü",
        " a ",
        "\"\"",
    ])
    .prop_map(str::to_string)
    .boxed()
}

/// Per-row damage: none, a missing cell, an extra cell, an empty line after it.
#[derive(Debug, Clone, Copy)]
enum RowShape {
    Whole,
    Missing,
    Extra,
    EmptyAfter,
}

/// A CSV file from the full grammar.
pub fn csv_case() -> BoxedStrategy<CsvCase> {
    let header = prop_oneof![
        10 => proptest::collection::vec(column_name(), 1..=5).prop_map(Some),
        1 => Just(Some(Vec::new())),
        1 => Just(None),
    ];
    let rows = prop_oneof![
        1 => Just(0usize),
        2 => Just(1usize),
        6 => 2usize..30,
    ];
    let layout = (
        header,
        rows,
        select(vec!["\n", "\r\n", "\r"]),
        any::<bool>(),
        0usize..3,
        any::<u64>(),
        proptest::bool::weighted(0.5),
    );
    let junk = prop_oneof![
        6 => Just(None),
        1 => proptest::collection::vec(any::<u8>(), 0..120).prop_map(Some),
    ];
    let label_choice = prop_oneof![4 => Just(0u8), 4 => Just(1u8), 1 => Just(2u8)];
    (layout, junk, label_choice)
        .prop_flat_map(
            |((header, rows, eol, bom, label_at, seed, clean), junk, label_choice)| {
                let names = header.clone().unwrap_or_else(|| vec!["1".into(), "2".into()]);
                let width = names.len().max(1);
                // Half the files have only sane cells and whole rows, so that many parse.
                let cell = if clean { sane_cell() } else { cell() };
                let cells = proptest::collection::vec(proptest::collection::vec(cell, width..=width), rows..=rows);
                let damaged = if clean { 0 } else { 1 };
                let labels = proptest::collection::vec(label(), rows..=rows);
                let shapes = proptest::collection::vec(
                    prop_oneof![
                        12 => Just(RowShape::Whole),
                        damaged => Just(RowShape::Missing),
                        damaged => Just(RowShape::Extra),
                        1 => Just(RowShape::EmptyAfter),
                    ],
                    rows..=rows,
                );
                (
                    Just((
                        header,
                        eol,
                        bom,
                        label_at,
                        seed,
                        if clean { None } else { junk },
                        label_choice,
                    )),
                    cells,
                    labels,
                    shapes,
                )
            },
        )
        .prop_map(
            |((header, eol, bom, label_at, seed, junk, label_choice), cells, labels, shapes)| {
                build_csv(
                    header,
                    eol,
                    bom,
                    label_at,
                    seed,
                    junk,
                    label_choice,
                    cells,
                    labels,
                    shapes,
                )
            },
        )
        .boxed()
}

/// Assembles a CSV file from its generated parts.
#[allow(clippy::too_many_arguments)]
fn build_csv(
    header: Option<Vec<String>>,
    eol: &str,
    bom: bool,
    label_at: usize,
    seed: u64,
    junk: Option<Vec<u8>>,
    label_choice: u8,
    cells: Vec<Vec<String>>,
    labels: Vec<String>,
    shapes: Vec<RowShape>,
) -> CsvCase {
    let names = header.clone().unwrap_or_default();
    // The label column: one of the header's columns, none, or a name the header lacks.
    let label_index = (label_choice == 1 && !names.is_empty()).then(|| label_at % names.len());
    let label_column = match label_choice {
        0 => None,
        1 => label_index.map(|i| names[i].trim().trim_matches('"').to_string()),
        _ => Some(["nope", "", "LABEL"][(seed % 3) as usize].to_string()),
    };
    let mut text = String::new();
    if bom {
        text.push('\u{feff}');
    }
    if let Some(names) = &header {
        text.push_str(&names.join(","));
        text.push_str(eol);
    }
    for ((mut row, label), shape) in cells.into_iter().zip(labels).zip(shapes) {
        if let Some(i) = label_index.filter(|&i| i < row.len()) {
            row[i] = label;
        }
        match shape {
            RowShape::Missing => {
                row.pop();
            }
            RowShape::Extra => row.push("1".into()),
            _ => {}
        }
        text.push_str(&row.join(","));
        text.push_str(eol);
        if let RowShape::EmptyAfter = shape {
            text.push_str(eol);
        }
    }
    let mut bytes = text.into_bytes();
    if let Some(junk) = junk {
        if seed.is_multiple_of(2) {
            bytes = junk;
        } else {
            let at = (seed as usize / 2) % (bytes.len() + 1);
            bytes.splice(at..at, junk);
        }
    }
    CsvCase { bytes, label_column }
}

/// A small usable CSV file: 1 to 3 numeric columns around four blobs, 40 to 200 rows, sometimes a `label`
/// column; what most scenarios with CSV data read.
pub fn sane_csv() -> BoxedStrategy<CsvCase> {
    (1usize..=3, 40usize..200, any::<bool>(), any::<u64>())
        .prop_map(|(cols, rows, labelled, seed)| {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            };
            let names: Vec<String> = (0..cols).map(|c| format!("f{c}")).collect();
            let mut text = names.join(",");
            if labelled {
                text.push_str(",label");
            }
            text.push('\n');
            for i in 0..rows {
                let blob = i % 4;
                let cells: Vec<String> = (0..cols)
                    .map(|c| {
                        let center = if (blob >> (c % 2)) & 1 == 1 { 3.0 } else { -3.0 };
                        format!("{:.4}", center + 0.6 * (next() - 0.5))
                    })
                    .collect();
                text.push_str(&cells.join(","));
                if labelled {
                    text.push_str(&format!(",c{blob}"));
                }
                text.push('\n');
            }
            CsvCase {
                bytes: text.into_bytes(),
                label_column: labelled.then(|| "label".to_string()),
            }
        })
        .boxed()
}

/// Checks one CSV case against the contract of `data::csv::parse`.
fn check(case: &CsvCase, tally: &Tally) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz-input/data file.csv");
    let parsed = std::panic::catch_unwind(|| {
        let columns = ddmsim::data::csv::Columns {
            label: case.label_column.as_deref(),
            client: None,
        };
        ddmsim::data::csv::parse(&case.bytes, path, columns)
    })
    .map_err(|p| TestCaseError::fail(format!("csv::parse panicked: {}", panic_text(&*p))))?;
    match parsed {
        Ok(ddmsim::data::csv::CsvData { x, labels, .. }) => {
            tally.count("parsed");
            if x.nrows() == 0 || x.ncols() == 0 {
                return Err(TestCaseError::fail(format!("parsed to an empty matrix {:?}", x.dim())));
            }
            if let Some(v) = x.iter().find(|v| !v.is_finite()) {
                return Err(TestCaseError::fail(format!("parsed a non-finite value {v}")));
            }
            if labels.is_some() != case.label_column.is_some() {
                return Err(TestCaseError::fail(format!(
                    "label_column {:?} but labels {:?}",
                    case.label_column,
                    labels.as_ref().map(Vec::len)
                )));
            }
            if let Some(labels) = labels {
                if labels.len() != x.nrows() {
                    return Err(TestCaseError::fail(format!(
                        "{} labels for {} rows",
                        labels.len(),
                        x.nrows()
                    )));
                }
                if labels.iter().any(|&l| l >= labels.len()) {
                    return Err(TestCaseError::fail("a label id beyond the number of distinct labels"));
                }
            }
        }
        Err(e) => {
            tally.count("error");
            let message = e.to_string();
            one_line("csv::parse", &message)?;
            if !message.contains(&path.display().to_string()) {
                return Err(TestCaseError::fail(format!(
                    "the error does not name the file: {message}"
                )));
            }
        }
    }
    Ok(())
}

/// The CSV test: `mode`'s number of cases (2,000 in CI).
pub fn fuzz_csv_files(mode: Mode) {
    let name = format!("fuzz_csv_files({mode:?})");
    let tally = Tally::new(&name);
    let dog = Watchdog::start(&name);
    fuzz(&name, mode, 2_000, csv_case(), &tally, |case| {
        let _watch = dog.watch(format!("{case:?}"));
        check(&case, &tally)
    });
}
