//! Studies: a base scenario run under several settings and seeds, each cell an ordinary run in its own folder.
//! A cell whose folder already holds results for the identical resolved scenario is reused, so an interrupted
//! study resumes where it stopped. All cells' rows are gathered into one table and summarised.

mod file;
mod summary;

pub use file::{Setting, StudyFile};
pub use summary::{SummaryRow, distinct_in_order, mean_std, summarise, write_summary_markdown};

use crate::cells::{CellJob, CellOutcome, CellRunner, run_cells};
use crate::error::{Error, Result};
use crate::report::{Record, write_study_figures, write_study_results};
use crate::scenario::{self, Scenario, with_override};
use std::path::{Path, PathBuf};

/// A study file loaded with every cell's scenario resolved and validated.
#[derive(Debug, Clone)]
pub struct LoadedStudy {
    /// The study as written.
    pub study: StudyFile,
    /// The base scenario file's folder (relative data paths resolve against it).
    pub base_dir: PathBuf,
    /// Every cell: setting name, seed and the scenario it runs.
    pub cells: Vec<(String, u64, Scenario)>,
}

/// Reads a study file, loads its base scenario and applies every setting's overrides and seed (errors name the
/// setting and the path).
pub fn load(path: &Path) -> Result<LoadedStudy> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let study: StudyFile = scenario::parse_as(&text).map_err(|message| Error::Yaml {
        file: path.to_path_buf(),
        message,
    })?;
    if study.seeds.is_empty() {
        return Err(Error::invalid("seeds", "must list at least one seed"));
    }
    if study.settings.is_empty() {
        return Err(Error::invalid("settings", "must list at least one setting"));
    }
    let base_path = path.parent().unwrap_or(Path::new("")).join(&study.scenario);
    let base = scenario::load(&base_path)?;
    let mut common = base.scenario.clone();
    for (key, value) in &study.set {
        common = with_override(&common, key, value).map_err(|e| Error::invalid("set", e.to_string()))?;
    }
    let mut cells = Vec::new();
    for (i, setting) in study.settings.iter().enumerate() {
        let safe = !setting.name.is_empty()
            && setting
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '='));
        if !safe {
            return Err(Error::invalid(
                format!("settings[{i}].name"),
                format!(
                    "must be non-empty letters, digits, `.`, `-`, `_` or `=`, got {:?}",
                    setting.name
                ),
            ));
        }
        if study.settings[..i].iter().any(|s| s.name == setting.name) {
            return Err(Error::invalid(
                format!("settings[{i}].name"),
                format!("`{}` is used twice", setting.name),
            ));
        }
        let mut s = common.clone();
        for (key, value) in &setting.set {
            s = with_override(&s, key, value)
                .map_err(|e| Error::invalid(format!("settings[{i}].set"), e.to_string()))?;
        }
        for &seed in &study.seeds {
            let mut cell = s.clone();
            cell.seed = seed;
            cells.push((setting.name.clone(), seed, cell));
        }
    }
    Ok(LoadedStudy {
        study,
        base_dir: base.base_dir,
        cells,
    })
}

/// The folder of one cell inside the study's output folder.
pub fn cell_dir(out_dir: &Path, setting: &str, seed: u64) -> PathBuf {
    out_dir.join("cells").join(setting).join(format!("seed-{seed}"))
}

/// Rows of every cell: (setting, record), in cell order.
pub type StudyRows = Vec<(String, Record)>;

/// A cell that could not run, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFailure {
    /// Setting name.
    pub setting: String,
    /// Seed.
    pub seed: u64,
    /// The error, as a user would see it.
    pub message: String,
}

/// What a study produced: the rows of the cells that ran, and the cells that could not.
#[derive(Debug, Clone, Default)]
pub struct StudyOutcome {
    /// Rows of every finished cell.
    pub rows: StudyRows,
    /// Cells whose scenario could not run (e.g. a policy needing more experts than the grouping produced).
    pub failures: Vec<CellFailure>,
}

/// Runs (or reuses) every cell of the study, `parallel` at a time; trained models are cached in `cache`. A
/// cell whose own scenario fails (invalid for its data, a diverged training) is recorded and the study goes on;
/// failures to read or write files stop the study.
pub fn run_study(
    loaded: &LoadedStudy,
    out_dir: &Path,
    quiet: bool,
    cache: Option<PathBuf>,
    parallel: usize,
) -> Result<StudyOutcome> {
    let jobs: Vec<CellJob> = loaded
        .cells
        .iter()
        .map(|(setting, seed, scenario)| CellJob {
            name: format!("{setting} seed {seed}"),
            dir: cell_dir(out_dir, setting, *seed),
            scenario: scenario.clone(),
        })
        .collect();
    let runner = CellRunner {
        base_dir: loaded.base_dir.clone(),
        cache,
        quiet,
        parallel,
        skip_infeasible: false,
    };
    let outcomes = run_cells(&jobs, &runner, &|_| Ok(()))?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for ((setting, seed, _), outcome) in loaded.cells.iter().zip(outcomes) {
        match outcome {
            CellOutcome::Done(records) => rows.extend(records.into_iter().map(|r| (setting.clone(), r))),
            CellOutcome::Failed(message) => failures.push(CellFailure {
                setting: setting.clone(),
                seed: *seed,
                message,
            }),
        }
    }
    Ok(StudyOutcome { rows, failures })
}

/// Writes the study's tables (`study.csv`, `study.parquet`), figures and `summary.md` into `out_dir`; `command`
/// is the command that regenerates them, quoted in the summary.
pub fn write_report(out_dir: &Path, study: &StudyFile, outcome: &StudyOutcome, command: &str) -> Result<()> {
    let rows = &outcome.rows;
    write_study_results(out_dir, rows)?;
    let policies: Vec<String> = if study.policies.is_empty() {
        distinct_in_order(
            rows.iter()
                .map(|(_, r)| r.policy.clone())
                .filter(|p| !p.starts_with("reference:")),
        )
    } else {
        study.policies.clone()
    };
    let figures = write_study_figures(&out_dir.join("figures"), &summarise(rows), &policies)?;
    write_summary_markdown(&out_dir.join("summary.md"), study, command, outcome, &figures)
}
