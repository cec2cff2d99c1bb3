//! Many runs in one folder, for sweeps and studies alike. A sweep's scenario lists values whose cartesian product
//! gives its cells; a study is the same with a list of named settings as one axis (the `study` module plans it).
//! Each cell is an ordinary run in its own folder under `cells/` (trained models shared through the model cache),
//! several cells run at once, and the tables (`results.csv` with `cell`, `setting` where settings are named and
//! `param.<path>`) are published as soon as a cell finishes, so an interrupted run keeps its finished cells and a
//! rerun runs only the others. Both are reported by `crate::report` and rebuilt by `ddmsim report` alike.

use crate::atomic::write_atomic;
use crate::cells::{self, CellOutcome, CellRunner, run_cells};
use crate::error::{Error, Result};
use crate::report::{
    CellSource, INPUTS_FILE, ReportData, SweepRow, showcase_label, write_long_tables, write_report, write_sweep_results,
};
use crate::scenario::{LoadedScenario, SweepCell, expand, to_yaml};
use crate::store::{FolderKind, LiveFolder, Protected};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// How to run a sweep or a study.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// The output folder.
    pub out_dir: PathBuf,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Model cache shared by the cells (`None`: always train).
    pub cache: Option<PathBuf>,
    /// Cells run at once (`None`: one per worker thread, as many as fit in memory).
    pub parallel: Option<usize>,
    /// Run cells whose estimated memory exceeds what is available.
    pub force: bool,
    /// Files the output folder must never hold (the scenario or study file).
    pub inputs: Vec<PathBuf>,
}

/// A planned multi-run: its cells and what is published with them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `Sweep` or `Study`.
    pub kind: FolderKind,
    /// The name shown in `run.json` and the report.
    pub name: String,
    /// Published as `scenario.resolved.yaml`: the sweep's scenario, or a study's base with its common overrides.
    pub scenario_yaml: String,
    /// Every cell with its folder, in order.
    pub cells: Vec<(SweepCell, PathBuf)>,
    /// The cell the report's single-cell figures show.
    pub showcase: Option<String>,
    /// Folder that relative data paths resolve against.
    pub base_dir: PathBuf,
    /// Files no output folder may hold, beyond `SweepOptions::inputs` (data files).
    pub inputs: Vec<PathBuf>,
    /// Extra files published with every table (a study's `cells.json`): (name, content).
    pub extra: Vec<(String, String)>,
    /// The policy labels the report shows besides the reference rows (all when empty).
    pub policies: Vec<String>,
}

/// What a sweep produced.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// Every cell, in order.
    pub cells: Vec<SweepCell>,
    /// What became of each cell.
    pub outcomes: Vec<CellOutcome>,
}

impl SweepOutcome {
    /// The cells that could not run, with the reason.
    pub fn failures(&self) -> Vec<(String, String)> {
        self.cells
            .iter()
            .zip(&self.outcomes)
            .filter_map(|(c, o)| match o {
                CellOutcome::Failed(m) => Some((c.label(), m.clone())),
                CellOutcome::Done(_) => None,
            })
            .collect()
    }
}

/// A cell that could not run, in `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCell {
    /// The cell's label.
    pub cell: String,
    /// Why it could not run.
    pub error: String,
}

/// The `run.json` of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// The ddmsim version that ran.
    pub ddmsim_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// Worker threads.
    pub threads: usize,
    /// Cells run at once.
    pub parallel_cells: usize,
    /// Every cell's label, in order.
    pub cells: Vec<String>,
    /// The cells that could not run.
    pub failed_cells: Vec<FailedCell>,
    /// Wall-clock seconds of the whole sweep.
    pub total_seconds: f64,
}

/// The folder of one cell inside the sweep's output folder.
pub fn sweep_cell_dir(out_dir: &Path, cell: &SweepCell) -> PathBuf {
    crate::report::cell_dir_of(out_dir, cell)
}

/// Runs every cell of `loaded`'s sweep that is not finished yet (see [`run_plan`]).
pub fn run_sweep(loaded: &LoadedScenario, options: &SweepOptions) -> Result<SweepOutcome> {
    let cells = expand(&loaded.scenario)?;
    let plan = Plan {
        kind: FolderKind::Sweep,
        name: loaded.scenario.name.clone(),
        scenario_yaml: to_yaml(&loaded.scenario),
        cells: cells
            .into_iter()
            .map(|c| {
                let dir = sweep_cell_dir(&options.out_dir, &c);
                (c, dir)
            })
            .collect(),
        showcase: showcase_label(&loaded.scenario),
        base_dir: loaded.base_dir.clone(),
        inputs: crate::data::input_file(&loaded.scenario.data, &loaded.base_dir)
            .into_iter()
            .collect(),
        extra: Vec::new(),
        policies: Vec::new(),
    };
    run_plan(&plan, options)
}

/// Refuses two cells that would run the identical inputs (the same scenario and data), naming both.
fn refuse_duplicates(jobs: &[cells::CellJob]) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, &cells::CellJob> = std::collections::HashMap::new();
    for job in jobs {
        if let Some(first) = seen.insert(job.inputs_sha256.as_str(), job) {
            return Err(Error::invalid(
                "cells",
                format!(
                    "`{}` and `{}` run the identical scenario; remove one of them",
                    first.name, job.name
                ),
            ));
        }
    }
    Ok(())
}

/// Runs every cell of `plan` that is not finished yet. After each cell the tables `results.csv` and
/// `results.parquet` (one row per cell and policy, with `cell`, `setting` and `param.<path>` columns) are
/// published (and an outdated report removed); at the end the long tables of every cell gathered into Parquet
/// files, the report (`summary.md`, `figures/`, `report.html`) and `run.json` are built and published together.
pub fn run_plan(plan: &Plan, options: &SweepOptions) -> Result<SweepOutcome> {
    let started = Instant::now();
    let mut inputs = options.inputs.clone();
    inputs.extend(plan.inputs.iter().cloned());
    let protected = Protected {
        inputs: inputs.clone(),
        cache: options.cache.clone(),
    };
    let what = format!("--out {}", options.out_dir.display());
    let folder = Mutex::new(LiveFolder::open(&options.out_dir, plan.kind, &protected, &what)?);
    let named = plan
        .cells
        .iter()
        .map(|(c, dir)| (c.label(), dir.clone(), c.scenario.clone()));
    let jobs = cells::jobs(named.collect(), &plan.base_dir)?;
    refuse_duplicates(&jobs)?;
    let mut runner = CellRunner {
        base_dir: plan.base_dir.clone(),
        cache: options.cache.clone(),
        quiet: options.quiet,
        parallel: 1,
        skip_infeasible: true,
        force: options.force,
        inputs,
    };
    runner.parallel = cells::cells_at_once(&jobs, &runner, options.parallel)?;
    // The inputs of every cell as this run has them: `ddmsim report` shows only the cells that match.
    let inputs: std::collections::BTreeMap<&str, &str> = jobs
        .iter()
        .map(|j| (j.name.as_str(), j.inputs_sha256.as_str()))
        .collect();
    let mut files = vec![
        ("scenario.resolved.yaml".to_string(), plan.scenario_yaml.clone()),
        (
            INPUTS_FILE.to_string(),
            serde_json::to_string_pretty(&inputs).expect("a map of strings serialises"),
        ),
    ];
    files.extend(plan.extra.iter().cloned());
    let cells: Vec<SweepCell> = plan.cells.iter().map(|(c, _)| c.clone()).collect();
    let publish_rows = |so_far: &[Option<CellOutcome>]| {
        let rows = rows_of(&cells, so_far.iter().map(Option::as_ref));
        publish(&folder, &files, |dir| write_sweep_results(dir, &rows))
    };
    let outcomes = run_cells(&jobs, &runner, &publish_rows)?;
    let outcome = SweepOutcome { cells, outcomes };
    let record = SweepRecord {
        ddmsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: plan.name.clone(),
        threads: rayon::current_num_threads(),
        parallel_cells: runner.parallel,
        cells: outcome.cells.iter().map(SweepCell::label).collect(),
        failed_cells: outcome
            .failures()
            .into_iter()
            .map(|(cell, error)| FailedCell { cell, error })
            .collect(),
        total_seconds: started.elapsed().as_secs_f64(),
    };
    publish(&folder, &files, |dir| {
        let rows = rows_of(&outcome.cells, outcome.outcomes.iter().map(Some));
        write_sweep_results(dir, &rows)?;
        let finished: Vec<CellSource> = plan
            .cells
            .iter()
            .zip(&outcome.outcomes)
            .filter(|(_, o)| matches!(o, CellOutcome::Done(_)))
            .map(|((c, cell_dir), _)| CellSource::of_cell(cell_dir, c))
            .collect();
        let tables = write_long_tables(dir, &finished)?;
        let data = ReportData {
            scenario_yaml: plan.scenario_yaml.clone(),
            name: plan.name.clone(),
            rows,
            tables,
            showcase: plan.showcase.clone(),
            policies: plan.policies.clone(),
        };
        write_report(dir, &data)?;
        let json = serde_json::to_string_pretty(&record).expect("a sweep record serialises");
        write_atomic(&dir.join("run.json"), json.as_bytes())
    })?;
    Ok(outcome)
}

/// Builds files with `write` in a staging folder inside the output folder (with the files every publish carries:
/// the resolved scenario, the cells' inputs and any extra file) and publishes them, removing the folder's own
/// files they replace.
fn publish(
    folder: &Mutex<LiveFolder>,
    with: &[(String, String)],
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let mut folder = folder.lock().expect("no panics while held");
    let staged = folder.staging()?;
    for (name, content) in with {
        write_atomic(&staged.path().join(name), content.as_bytes())?;
    }
    write(staged.path())?;
    folder.publish(staged, &|_| true)
}

/// The rows of the finished cells, in cell order.
fn rows_of<'a>(cells: &[SweepCell], outcomes: impl Iterator<Item = Option<&'a CellOutcome>>) -> Vec<SweepRow> {
    cells
        .iter()
        .zip(outcomes)
        .flat_map(|(cell, outcome)| match outcome {
            Some(CellOutcome::Done(records)) => records
                .iter()
                .map(|r| SweepRow {
                    cell: cell.label(),
                    params: cell.params.clone(),
                    record: r.clone(),
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}
