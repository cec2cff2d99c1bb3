//! Studies: a base scenario run under several settings and seeds, each cell an ordinary run in its own folder.
//! A cell whose folder already holds results for the identical resolved scenario is reused, so an interrupted
//! study resumes where it stopped. All cells' rows are gathered into one table and summarised.

mod file;
mod summary;

pub use file::{Setting, StudyFile};
pub use summary::{SummaryRow, distinct_in_order, mean_std, summarise, write_summary_markdown};

use crate::cells::{self, CellOutcome, CellRunner, run_cells};
use crate::error::{Error, Result};
use crate::report::{Record, write_study_figures, write_study_results};
use crate::routing::PolicyLabel;
use crate::scenario::{self, Scenario, check_name, with_override};
use crate::store::{FolderKind, LiveFolder, Protected};
use std::path::{Path, PathBuf};

/// A study file loaded with every cell's scenario resolved and validated.
#[derive(Debug, Clone)]
pub struct LoadedStudy {
    /// The study as written.
    pub study: StudyFile,
    /// The study file itself.
    pub path: PathBuf,
    /// The base scenario file.
    pub base_path: PathBuf,
    /// The base scenario file's folder (relative data paths resolve against it).
    pub base_dir: PathBuf,
    /// The policies compared in `summary.md` (all when empty), each one the scenario's cells run.
    pub policies: Vec<PolicyLabel>,
    /// Every cell: setting name, seed and the scenario it runs.
    pub cells: Vec<(String, u64, Scenario)>,
}

/// Reads a study file, loads its base scenario and applies every setting's overrides and seed (errors name the
/// setting and the path).
pub fn load(path: &Path) -> Result<LoadedStudy> {
    let text = scenario::read_text(path)?;
    let study: StudyFile = scenario::parse_as(&text).map_err(|message| Error::Yaml {
        file: path.to_path_buf(),
        message,
    })?;
    check_name("name", &study.name)?;
    if study.seeds.is_empty() {
        return Err(Error::invalid("seeds", "must list at least one seed"));
    }
    if let Some(i) = (1..study.seeds.len()).find(|&i| study.seeds[..i].contains(&study.seeds[i])) {
        return Err(Error::invalid(
            format!("seeds[{i}]"),
            format!("seed {} is listed twice", study.seeds[i]),
        ));
    }
    if study.settings.is_empty() {
        return Err(Error::invalid("settings", "must list at least one setting"));
    }
    let base_path = path.parent().unwrap_or(Path::new("")).join(&study.scenario);
    let base = scenario::load(&base_path)?;
    if !base.scenario.sweep.is_empty() {
        return Err(Error::invalid(
            "scenario",
            format!(
                "{} has its own `sweep`; a study's base scenario must be a single run",
                base_path.display()
            ),
        ));
    }
    let mut common = base.scenario.clone();
    for (key, value) in &study.set {
        common = with_override(&common, key, value).map_err(|e| Error::invalid("set", e.to_string()))?;
    }
    let cells = settings_cells(&study, &common)?;
    let policies = study_policies(&study, &cells)?;
    Ok(LoadedStudy {
        study,
        path: path.to_path_buf(),
        base_path,
        base_dir: base.base_dir,
        policies,
        cells,
    })
}

/// Every (setting, seed) cell of the study.
fn settings_cells(study: &StudyFile, common: &Scenario) -> Result<Vec<(String, u64, Scenario)>> {
    let mut cells = Vec::new();
    for (i, setting) in study.settings.iter().enumerate() {
        check_name(&format!("settings[{i}].name"), &setting.name)?;
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
    Ok(cells)
}

/// The study's `policies`, each a label of a policy that the cells run.
fn study_policies(study: &StudyFile, cells: &[(String, u64, Scenario)]) -> Result<Vec<PolicyLabel>> {
    let run: Vec<PolicyLabel> = cells
        .iter()
        .flat_map(|(_, _, s)| s.routing.iter().map(PolicyLabel::of))
        .collect();
    study
        .policies
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let label: PolicyLabel = text
                .parse()
                .map_err(|e: String| Error::invalid(format!("policies[{i}]"), e))?;
            if !run.contains(&label) {
                let known = distinct_in_order(run.iter().map(PolicyLabel::to_string)).join(", ");
                return Err(Error::invalid(
                    format!("policies[{i}]"),
                    format!("`{label}` is not a policy of the study's scenarios; they run {known}"),
                ));
            }
            Ok(label)
        })
        .collect()
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

/// How to run a study.
#[derive(Debug, Clone, Default)]
pub struct StudyOptions {
    /// The study's output folder.
    pub out_dir: PathBuf,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Model cache shared by the cells (`None`: always train).
    pub cache: Option<PathBuf>,
    /// Cells run at once (`None`: one per worker thread, as many as fit in memory).
    pub parallel: Option<usize>,
    /// Run cells whose estimated memory exceeds what is available.
    pub force: bool,
}

/// Runs (or reuses) every cell of the study, `parallel` at a time, then builds its tables, figures and
/// `summary.md` and publishes them into the study's folder; `command` is the command that regenerates them. A
/// cell whose own scenario fails (invalid for its data, a diverged training) is recorded and the study goes on;
/// failures to read or write files stop the study.
pub fn run_study(loaded: &LoadedStudy, options: &StudyOptions, command: &str) -> Result<StudyOutcome> {
    let mut inputs = vec![loaded.path.clone(), loaded.base_path.clone()];
    inputs.extend(
        loaded
            .cells
            .iter()
            .filter_map(|(_, _, s)| crate::data::input_file(&s.data, &loaded.base_dir)),
    );
    let protected = Protected {
        inputs: inputs.clone(),
        cache: options.cache.clone(),
    };
    let what = format!("--out {}", options.out_dir.display());
    let mut folder = LiveFolder::open(&options.out_dir, FolderKind::Study, &protected, &what)?;
    let named = loaded.cells.iter().map(|(setting, seed, scenario)| {
        let dir = cell_dir(&options.out_dir, setting, *seed);
        (format!("{setting} seed {seed}"), dir, scenario.clone())
    });
    let jobs = cells::jobs(named.collect(), &loaded.base_dir)?;
    let mut runner = CellRunner {
        base_dir: loaded.base_dir.clone(),
        cache: options.cache.clone(),
        quiet: options.quiet,
        parallel: 1,
        skip_infeasible: false,
        force: options.force,
        inputs,
    };
    runner.parallel = cells::cells_at_once(&jobs, &runner, options.parallel)?;
    let outcomes = run_cells(&jobs, &runner, &|_| Ok(()))?;
    let mut outcome = StudyOutcome::default();
    for ((setting, seed, _), cell) in loaded.cells.iter().zip(outcomes) {
        match cell {
            CellOutcome::Done(records) => outcome.rows.extend(records.into_iter().map(|r| (setting.clone(), r))),
            CellOutcome::Failed(message) => outcome.failures.push(CellFailure {
                setting: setting.clone(),
                seed: *seed,
                message,
            }),
        }
    }
    let staged = folder.staging()?;
    write_report(staged.path(), loaded, &outcome, command)?;
    folder.publish(staged, &|_| true)?;
    Ok(outcome)
}

/// Writes the study's tables (`study.csv`, `study.parquet`), figures and `summary.md` into `out_dir`; `command`
/// is the command that regenerates them, quoted in the summary.
pub fn write_report(out_dir: &Path, study: &LoadedStudy, outcome: &StudyOutcome, command: &str) -> Result<()> {
    let rows = &outcome.rows;
    write_study_results(out_dir, rows)?;
    let policies: Vec<String> = if study.policies.is_empty() {
        distinct_in_order(rows.iter().map(|(_, r)| r.policy.clone()).filter(|p| !p.is_reference()))
            .iter()
            .map(PolicyLabel::to_string)
            .collect()
    } else {
        study.policies.iter().map(PolicyLabel::to_string).collect()
    };
    let figures = write_study_figures(&out_dir.join("figures"), &summarise(rows), &policies)?;
    write_summary_markdown(&out_dir.join("summary.md"), study, command, outcome, &figures)
}
