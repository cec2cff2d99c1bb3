//! Sweeps: a scenario whose `sweep` key lists values runs as the cartesian product of them. Each cell is an
//! ordinary run in `cells/<cell>/` (trained models shared through the model cache), several cells run at once,
//! and the sweep's tables are rewritten as soon as a cell finishes, so an interrupted sweep keeps its finished
//! cells and a rerun runs only the others.

mod figures;
mod frames;
mod grid_table;
mod page;
mod report;
mod summary;
mod tables;

pub use figures::WrittenFigure;
pub use report::{ReportData, load_report_data, rebuild_report, report_in_place, showcase_label, write_report};
pub use summary::{SweepSummary, group_axis, group_of};

pub use tables::{
    CellSource, LONG_TABLES, SweepRow, gather_long_tables, read_parquet, read_sweep_results, sweep_frame,
    write_long_tables, write_sweep_results,
};

use crate::atomic::write_atomic;
use crate::cells::{self, CellOutcome, CellRunner, run_cells};
use crate::error::Result;
use crate::scenario::{LoadedScenario, SweepCell, expand, to_yaml};
use crate::store::{FolderKind, LiveFolder, Protected};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// How to run a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// The sweep's output folder.
    pub out_dir: PathBuf,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Model cache shared by the cells (`None`: always train).
    pub cache: Option<PathBuf>,
    /// Cells run at once (`None`: one per worker thread, as many as fit in memory).
    pub parallel: Option<usize>,
    /// Run cells whose estimated memory exceeds what is available.
    pub force: bool,
    /// Files the output folder must never hold (the scenario file).
    pub inputs: Vec<PathBuf>,
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
    out_dir.join("cells").join(cell.dir_name())
}

/// Runs every cell of `loaded`'s sweep that is not finished yet. After each cell the sweep's `results.csv` and
/// `results.parquet` (one row per cell and policy, with `cell` and `param.<path>` columns) are published (and an
/// outdated report removed); at the end the long tables of every cell gathered into Parquet files, the report
/// (`summary.md`, `figures/`, `report.html`) and `run.json` are built and published together.
pub fn run_sweep(loaded: &LoadedScenario, options: &SweepOptions) -> Result<SweepOutcome> {
    let started = Instant::now();
    let cells = expand(&loaded.scenario)?;
    let mut inputs = options.inputs.clone();
    inputs.extend(crate::data::input_file(&loaded.scenario.data, &loaded.base_dir));
    let protected = Protected {
        inputs: inputs.clone(),
        cache: options.cache.clone(),
    };
    let what = format!("--out {}", options.out_dir.display());
    let folder = Mutex::new(LiveFolder::open(
        &options.out_dir,
        FolderKind::Sweep,
        &protected,
        &what,
    )?);
    let out = &options.out_dir;
    let named = cells
        .iter()
        .map(|c| (c.label(), sweep_cell_dir(out, c), c.scenario.clone()));
    let jobs = cells::jobs(named.collect(), &loaded.base_dir)?;
    let mut runner = CellRunner {
        base_dir: loaded.base_dir.clone(),
        cache: options.cache.clone(),
        quiet: options.quiet,
        parallel: 1,
        skip_infeasible: true,
        force: options.force,
        inputs,
    };
    runner.parallel = cells::cells_at_once(&jobs, &runner, options.parallel)?;
    // The inputs of every cell as this sweep has them: `ddmsim report` shows only the cells that match.
    let inputs: std::collections::BTreeMap<&str, &str> = jobs
        .iter()
        .map(|j| (j.name.as_str(), j.inputs_sha256.as_str()))
        .collect();
    let yaml = Published {
        scenario: to_yaml(&loaded.scenario),
        inputs: serde_json::to_string_pretty(&inputs).expect("a map of strings serialises"),
    };
    let publish_rows = |so_far: &[Option<CellOutcome>]| {
        let rows = rows_of(&cells, so_far.iter().map(Option::as_ref));
        publish(&folder, &yaml, |dir| write_sweep_results(dir, &rows))
    };
    let outcomes = run_cells(&jobs, &runner, &publish_rows)?;
    let outcome = SweepOutcome { cells, outcomes };
    let record = SweepRecord {
        ddmsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: loaded.scenario.name.clone(),
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
    publish(&folder, &yaml, |dir| {
        let rows = rows_of(&outcome.cells, outcome.outcomes.iter().map(Some));
        write_sweep_results(dir, &rows)?;
        let finished: Vec<CellSource> = outcome
            .cells
            .iter()
            .zip(&outcome.outcomes)
            .filter(|(_, o)| matches!(o, CellOutcome::Done(_)))
            .map(|(c, _)| CellSource::of_cell(out, c))
            .collect();
        let tables = write_long_tables(dir, &finished)?;
        let data = ReportData {
            scenario_yaml: yaml.scenario.clone(),
            name: loaded.scenario.name.clone(),
            rows,
            tables,
            showcase: showcase_label(&loaded.scenario),
        };
        write_report(dir, &data)?;
        let json = serde_json::to_string_pretty(&record).expect("a sweep record serialises");
        write_atomic(&dir.join("run.json"), json.as_bytes())
    })?;
    Ok(outcome)
}

/// What every publish of a sweep carries: its resolved scenario, and the hash of each cell's inputs by label.
struct Published {
    scenario: String,
    inputs: String,
}

/// The file of a sweep that maps each cell's label to the hash of its inputs.
pub const INPUTS_FILE: &str = "inputs.json";

/// Builds files with `write` in a staging folder inside the sweep's folder (with its resolved scenario and the
/// cells' inputs) and publishes them, removing the sweep's own files they replace.
fn publish(folder: &Mutex<LiveFolder>, with: &Published, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut folder = folder.lock().expect("no panics while held");
    let staged = folder.staging()?;
    write_atomic(&staged.path().join("scenario.resolved.yaml"), with.scenario.as_bytes())?;
    write_atomic(&staged.path().join(INPUTS_FILE), with.inputs.as_bytes())?;
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
