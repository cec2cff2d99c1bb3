//! A sweep's (or a single run's) report: `summary.md`, `figures/` and a self-contained `report.html`, built from
//! the stored results only. `ddmsim report DIR` first regathers the sweep's tables from its cells when they are
//! there, so a report can be rebuilt after any change to the reporting without rerunning anything.

use super::gather::{
    CellSource, LONG_TABLES, SweepRow, gather_long_tables, read_parquet, read_sweep_results, write_long_tables,
    write_sweep_results,
};
use super::gathered::{FAILED_FILE, FailedCell, Gathered, read_failed};
use super::page::{Page, write_page};
use super::reading::reading;
use super::sections::sections;
use super::study_cells::StudyCells;
use super::summary::SweepSummary;
use super::sweep_figures::WrittenFigure;
use super::sweep_figures::write_figures;
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::scenario::{Scenario, expand, value_text};
use crate::store::{FolderKind, LiveFolder};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The scenario as run (`scenario.resolved.yaml`).
    pub scenario_yaml: String,
    /// The scenario's name.
    pub name: String,
    /// Every row of `results.parquet`.
    pub rows: Vec<SweepRow>,
    /// The gathered long tables by name (see [`LONG_TABLES`], plus `samples`).
    pub tables: Vec<(String, DataFrame)>,
    /// The cell the single-cell figures show: the one at the scenario's own values, if the sweep has it.
    pub showcase: Option<String>,
    /// The policy labels the report shows besides the reference rows (all when empty; a study's `policies`).
    pub policies: Vec<String>,
}

impl ReportData {
    /// The long table `name`, if any run wrote it.
    pub fn table(&self, name: &str) -> Option<&DataFrame> {
        self.tables.iter().find(|(n, _)| n == name).map(|(_, df)| df)
    }
}

/// The label of the cell at the scenario's own values of the swept paths (`clients.partition.alpha=0.1 seed=0`).
pub fn showcase_label(scenario: &Scenario) -> Option<String> {
    let tree = crate::scenario::yaml::scenario_to_value(scenario);
    let mut parts = Vec::new();
    for key in scenario.sweep.keys() {
        let path = key.as_str()?;
        let value = path.split('.').try_fold(&tree, |node, k| node.get(k))?;
        parts.push(format!("{path}={}", value_text(value)));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The folder of a sweep's cell inside the sweep's folder `dir` (`cells/<dir name>`).
pub fn cell_dir_of(dir: &Path, cell: &crate::scenario::SweepCell) -> std::path::PathBuf {
    dir.join("cells").join(cell.dir_name())
}

/// The scenario stored in an output folder.
fn stored_scenario(dir: &Path) -> Result<(String, Scenario)> {
    let path = dir.join("scenario.resolved.yaml");
    if !path.is_file() {
        return Err(Error::invalid(
            "report",
            format!(
                "{} has no scenario.resolved.yaml: not a ddmsim output folder",
                dir.display()
            ),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
    let scenario = crate::scenario::parse(&text).map_err(|message| Error::Yaml {
        file: path.clone(),
        message,
    })?;
    Ok((text, scenario))
}

/// Loads what the report of the output folder `dir` shows. A sweep whose cells are present has its tables
/// regathered from the cell folders whose stored scenario is the one the sweep's scenario gives that cell now
/// (cells left by a run of an older version of the sweep are not shown); otherwise the stored tables are read.
pub fn load_report_data(dir: &Path) -> Result<ReportData> {
    let (scenario_yaml, scenario) = stored_scenario(dir)?;
    if let Some(study) = study_cells(dir)? {
        if dir.join("cells").is_dir() {
            return load_study(dir, scenario_yaml, &study);
        }
        // A study folder without its cells (e.g. a committed report): its stored tables.
        return Ok(ReportData {
            scenario_yaml,
            name: study.name.clone(),
            rows: read_sweep_results(&dir.join("results.parquet"))?,
            tables: stored_tables(dir)?,
            showcase: None,
            policies: study.policies.clone(),
        });
    }
    let showcase = showcase_label(&scenario);
    let (rows, tables) = if scenario.sweep.is_empty() {
        let rows = read_sweep_results(&dir.join("results.parquet"))?;
        (rows, gather_long_tables(&[CellSource::single(dir)])?)
    } else if dir.join("cells").is_dir() {
        let recorded = recorded_inputs(dir);
        let mut rows = Vec::new();
        let mut finished = Vec::new();
        for cell in &expand(&scenario)? {
            let cell_dir = cell_dir_of(dir, cell);
            let inputs = recorded.as_ref().map(|r| r.get(&cell.label()).map(String::as_str));
            if !cell_is_current(&cell_dir, Some(&cell.scenario), inputs) {
                continue;
            }
            for record in crate::report::read_results(&cell_dir.join("results.parquet"))? {
                rows.push(SweepRow {
                    cell: cell.label(),
                    params: cell.params.clone(),
                    record,
                });
            }
            finished.push(CellSource::of_cell(&cell_dir, cell));
        }
        let tables = gather_long_tables(&finished)?;
        (rows, tables)
    } else {
        (read_sweep_results(&dir.join("results.parquet"))?, stored_tables(dir)?)
    };
    Ok(ReportData {
        scenario_yaml,
        name: scenario.name,
        rows,
        tables,
        showcase,
        policies: Vec::new(),
    })
}

/// The `cells.json` of `dir` when it is a study folder (its marker says so).
fn study_cells(dir: &Path) -> Result<Option<StudyCells>> {
    match crate::store::inspect(dir, "report") {
        Ok(crate::store::Existing::Marked(m)) if m.kind == FolderKind::Study => StudyCells::read(dir),
        _ => Ok(None),
    }
}

/// The recorded hash of each cell's inputs (`inputs.json`), if the folder has it.
fn recorded_inputs(dir: &Path) -> Option<BTreeMap<String, String>> {
    std::fs::read_to_string(dir.join(INPUTS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// What the report of a study folder shows: the rows and long tables of its cells whose stored inputs are the
/// ones the study recorded.
fn load_study(dir: &Path, scenario_yaml: String, study: &StudyCells) -> Result<ReportData> {
    let recorded = recorded_inputs(dir);
    let mut rows = Vec::new();
    let mut finished = Vec::new();
    for source in study.sources(dir) {
        let inputs = recorded.as_ref().and_then(|r| r.get(&source.label)).map(String::as_str);
        if !cell_is_current(&source.dir, None, Some(inputs)) {
            continue;
        }
        for record in crate::report::read_results(&source.dir.join("results.parquet"))? {
            rows.push(SweepRow {
                cell: source.label.clone(),
                params: source.params.clone(),
                record,
            });
        }
        finished.push(source);
    }
    Ok(ReportData {
        scenario_yaml,
        name: study.name.clone(),
        rows,
        tables: gather_long_tables(&finished)?,
        showcase: None,
        policies: study.policies.clone(),
    })
}

/// Whether the cell folder holds finished results of the cell as the sweep has it now: with the hash of its inputs
/// the sweep recorded (`inputs`: `Some(None)` when the sweep recorded none for it), or, in a folder of an older
/// version that recorded none, of the scenario `expected` (compared as parsed scenarios, so a newer version's
/// added defaults do not hide an older run of the same cell).
fn cell_is_current(cell_dir: &Path, expected: Option<&Scenario>, inputs: Option<Option<&str>>) -> bool {
    match inputs {
        Some(recorded) => recorded.is_some_and(|h| crate::store::holds_results_of(cell_dir, h)),
        None if !cell_dir.join("results.parquet").is_file() => false,
        None => {
            let stored = std::fs::read_to_string(cell_dir.join("scenario.resolved.yaml")).ok();
            stored
                .and_then(|t| crate::scenario::parse(&t).ok())
                .is_some_and(|s| Some(&s) == expected)
        }
    }
}

/// The gathered long tables stored as Parquet in a sweep's folder.
fn stored_tables(dir: &Path) -> Result<Vec<(String, DataFrame)>> {
    let mut tables = Vec::new();
    for name in LONG_TABLES.iter().copied().chain(["samples"]) {
        let path = dir.join(format!("{name}.parquet"));
        if path.is_file() {
            tables.push((name.to_string(), read_parquet(&path)?));
        }
    }
    Ok(tables)
}

/// The file of a sweep or study that maps each cell's label to the hash of its inputs.
pub const INPUTS_FILE: &str = "inputs.json";

/// How the report says it was made (the same whether `run` or `report` wrote it).
pub const MADE_BY: &str = "Built by ddmsim from the stored results: `ddmsim run` writes it, `ddmsim report <folder>` \
                           rebuilds it; do not edit by hand.";

/// Writes `summary.md`, `figures/` and `report.html` into `dir`. Returns the figures' stems.
pub fn write_report(dir: &Path, data: &ReportData) -> Result<Vec<String>> {
    let shown = shown_data(dir, data)?;
    let summary = SweepSummary::of(&shown.rows);
    let figures = write_figures(&dir.join("figures"), &shown, &summary)?;
    let reading = reading(&summary);
    let sections = sections(&summary, &shown.rows, &reading);
    let (headline, rest) = split_headline(&figures);
    let page = Page {
        headline: &headline,
        reading: &reading.sentences,
        rest: &rest,
        sections: &sections,
    };
    write_atomic(
        &dir.join("summary.md"),
        markdown(&data.name, &summary.seeds, &page).as_bytes(),
    )?;
    write_page(&dir.join("report.html"), data, &page)?;
    Ok(figures.into_iter().map(|f| f.stem).collect())
}

/// What the report shows of `data`: with a study's `policies`, only their rows (and the reference rows), in the
/// results and in every long table with a `policy` column; otherwise everything.
fn shown_data(dir: &Path, data: &ReportData) -> Result<ReportData> {
    if data.policies.is_empty() {
        return Ok(data.clone());
    }
    let keep = |r: &&SweepRow| r.record.policy.is_reference() || data.policies.contains(&r.record.policy.to_string());
    let tables = data
        .tables
        .iter()
        .map(|(name, df)| {
            let kept = keep_policies(df, &data.policies).map_err(|e| Error::Table {
                verb: "filtering",
                path: dir.join(format!("{name}.parquet")),
                message: e.to_string(),
            })?;
            Ok((name.clone(), kept))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ReportData {
        rows: data.rows.iter().filter(keep).cloned().collect(),
        tables,
        ..data.clone()
    })
}

/// `summary.md`: the page's content in the same order, the tables listed before they follow.
fn markdown(name: &str, seeds: &[u64], page: &Page) -> String {
    let mut md = format!(
        "# {name}\n\n{MADE_BY} Groups are the swept values other than the seed (a study's settings); seeds {seeds:?}. \
         The same figures and tables are in `report.html`.\n\n## Headline\n\n",
    );
    for f in page.headline {
        md.push_str(&figure_markdown(f));
    }
    md.push_str("### Reading\n\n");
    for sentence in page.reading {
        let _ = writeln!(md, "- {sentence}");
    }
    md.push_str("\n## Figures\n\n");
    for f in page.rest {
        md.push_str(&figure_markdown(f));
    }
    md.push_str("## Tables\n\n");
    for (i, (heading, _, _)) in page.sections.iter().enumerate() {
        let _ = writeln!(md, "{}. {heading}", i + 1);
    }
    md.push('\n');
    for (heading, text, table) in page.sections {
        let _ = write!(md, "### {heading}\n\n{text}\n\n{}\n", table.markdown());
    }
    md
}

/// The rows of `df` whose `policy` is one of `policies` or a reference row (all rows of a table without one).
fn keep_policies(df: &DataFrame, policies: &[String]) -> polars::prelude::PolarsResult<DataFrame> {
    let Ok(column) = df.column("policy") else {
        return Ok(df.clone());
    };
    let mask: polars::prelude::BooleanChunked = column
        .str()?
        .iter()
        .map(|p| p.is_some_and(|p| p.starts_with("reference:") || policies.iter().any(|q| q == p)))
        .collect();
    df.filter(&mask)
}

/// The figures a reader came for, in this order, where the data gives them: quality against the experts lost at
/// sampling time, quality against routing k per group, and quality against stability.
const HEADLINE: [&str; 3] = ["fd_vs_lost_experts", "fd_vs_k", "stability_vs_quality"];

/// The headline figures (the first figure when none of [`HEADLINE`] was drawn), then the others in order.
fn split_headline(figures: &[WrittenFigure]) -> (Vec<&WrittenFigure>, Vec<&WrittenFigure>) {
    let mut headline: Vec<&WrittenFigure> = HEADLINE
        .iter()
        .filter_map(|stem| figures.iter().find(|f| f.stem == *stem))
        .collect();
    if headline.is_empty() {
        headline.extend(figures.first());
    }
    let rest = figures
        .iter()
        .filter(|f| !headline.iter().any(|h| h.stem == f.stem))
        .collect();
    (headline, rest)
}

/// A figure in `summary.md`: the PNG, its caption, and links to its SVG and the CSV of its numbers.
fn figure_markdown(f: &WrittenFigure) -> String {
    format!(
        "![{stem}](figures/{stem}.png) {caption} ([SVG](figures/{stem}.svg), [numbers](figures/{stem}.csv))\n\n",
        stem = f.stem,
        caption = f.caption
    )
}

/// Writes the report of the run folder `dir` into it, from its stored results (a run's staged folder, before
/// its commit).
pub fn report_in_place(dir: &Path) -> Result<Vec<String>> {
    write_report(dir, &load_report_data(dir)?)
}

/// Rebuilds the report of the output folder `dir` from its stored results (regathering a sweep's tables from
/// its current cells, whichever processes ran them), building it in a staging folder inside `dir` and publishing
/// it whole; says which cells are missing or failed. Nothing but the tables and the report is touched.
pub fn rebuild_report(dir: &Path) -> Result<Gathered> {
    let what = format!("report {}", dir.display());
    let folder = LiveFolder::open_existing(dir, &what)?;
    let study = study_cells(dir)?;
    if folder.kind() == FolderKind::Study && study.is_none() {
        return Err(Error::Refused(format!(
            "{what}: is a study folder of an older ddmsim (no {}); run `ddmsim study FILE` again: it reuses every \
             finished cell and writes the tables and the report",
            StudyCells::FILE
        )));
    }
    let multi = matches!(folder.kind(), FolderKind::Sweep | FolderKind::Study);
    if multi && !dir.join("scenario.resolved.yaml").is_file() {
        return Err(Error::Refused(format!(
            "{what}: nothing to gather yet: no run of this {} has started in this folder; run it (or submit its \
             slurm/array.sbatch) first",
            if folder.kind() == FolderKind::Study {
                "study"
            } else {
                "sweep"
            }
        )));
    }
    let publishing = folder.begin()?;
    let data = load_report_data(dir)?;
    let staged = folder.staging()?;
    // A sweep's or study's tables are rebuilt from its cells when they are there; otherwise only the report is.
    let tables = multi && dir.join("cells").is_dir();
    let mut labels_of_all = Vec::new();
    if tables {
        write_sweep_results(staged.path(), &data.rows)?;
        let labels: Vec<&str> = data.rows.iter().map(|r| r.cell.as_str()).collect();
        let sources: Vec<CellSource> = match &study {
            Some(study) => study.sources(dir),
            None => {
                let (_, scenario) = stored_scenario(dir)?;
                expand(&scenario)?
                    .iter()
                    .map(|c| CellSource::of_cell(&cell_dir_of(dir, c), c))
                    .collect()
            }
        };
        labels_of_all = sources.iter().map(|c| c.label.clone()).collect();
        let finished: Vec<CellSource> = sources
            .into_iter()
            .filter(|c| labels.contains(&c.label.as_str()))
            .collect();
        write_long_tables(staged.path(), &finished)?;
    }
    let figures = write_report(staged.path(), &data)?;
    let rebuilt = |f: &str| {
        is_report_file(f)
            || (tables
                && !matches!(
                    f,
                    "run.json" | "scenario.resolved.yaml" | INPUTS_FILE | StudyCells::FILE | FAILED_FILE
                ))
    };
    folder.publish(&publishing, staged, &rebuilt)?;
    Ok(gathered(dir, figures, &labels_of_all, &data.rows))
}

/// What the gather found among the cells `all` (labels, in order) given the rows of the finished ones.
fn gathered(dir: &Path, figures: Vec<String>, all: &[String], rows: &[SweepRow]) -> Gathered {
    let finished: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.cell.as_str()).collect();
    let recorded = recorded_inputs(dir).unwrap_or_default();
    let failed: Vec<FailedCell> = read_failed(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| all.contains(&f.cell) && !finished.contains(f.cell.as_str()))
        .filter(|f| f.is_of(&f.cell, recorded.get(&f.cell).map(String::as_str)))
        .collect();
    let missing = all
        .iter()
        .filter(|c| !finished.contains(c.as_str()) && !failed.iter().any(|f| &f.cell == *c))
        .cloned()
        .collect();
    Gathered {
        figures,
        cells: all.len(),
        finished: all.iter().filter(|c| finished.contains(c.as_str())).count(),
        missing,
        failed,
    }
}

/// Whether `rel` is a file of the report (`summary.md`, `report.html`, `figures/...`).
fn is_report_file(rel: &str) -> bool {
    matches!(rel, "summary.md" | "report.html") || rel.starts_with("figures/")
}
