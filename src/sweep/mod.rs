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
pub use report::{ReportData, load_report_data, rebuild_report, showcase_label, write_report};
pub use summary::{SweepSummary, group_axis, group_of};

pub use tables::{
    CellSource, LONG_TABLES, SweepRow, gather_long_tables, read_parquet, read_sweep_results, sweep_frame,
    write_long_tables, write_sweep_results,
};

use crate::cells::{CellJob, CellOutcome, CellRunner, run_cells};
use crate::error::Result;
use crate::output::write_atomic;
use crate::scenario::{LoadedScenario, SweepCell, expand, to_yaml};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The sweep's output folder.
    pub out_dir: PathBuf,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Model cache shared by the cells (`None`: always train).
    pub cache: Option<PathBuf>,
    /// Cells run at once.
    pub parallel: usize,
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

/// The folder of one cell inside the sweep's output folder.
pub fn sweep_cell_dir(out_dir: &Path, cell: &SweepCell) -> PathBuf {
    out_dir.join("cells").join(cell.dir_name())
}

/// Runs every cell of `loaded`'s sweep that is not finished yet and writes the sweep's tables: `results.csv`
/// and `results.parquet` (one row per cell and policy, with `cell` and `param.<path>` columns), the long tables
/// of every cell gathered into Parquet files, the report (`summary.md`, `figures/`, `report.html`) and
/// `run.json`.
pub fn run_sweep(loaded: &LoadedScenario, options: &SweepOptions) -> Result<SweepOutcome> {
    let started = Instant::now();
    let cells = expand(&loaded.scenario)?;
    let out = &options.out_dir;
    std::fs::create_dir_all(out).map_err(|e| crate::error::Error::io(out, e))?;
    write_atomic(
        &out.join("scenario.resolved.yaml"),
        to_yaml(&loaded.scenario).as_bytes(),
    )?;
    let jobs: Vec<CellJob> = cells
        .iter()
        .map(|c| CellJob {
            name: c.label(),
            dir: sweep_cell_dir(out, c),
            scenario: c.scenario.clone(),
        })
        .collect();
    let runner = CellRunner {
        base_dir: loaded.base_dir.clone(),
        cache: options.cache.clone(),
        quiet: options.quiet,
        parallel: options.parallel,
        skip_infeasible: true,
    };
    let write_finished = |so_far: &[Option<CellOutcome>]| {
        let rows = rows_of(&cells, so_far.iter().map(Option::as_ref));
        write_sweep_results(out, &rows)
    };
    let outcomes = run_cells(&jobs, &runner, &write_finished)?;
    let rows = rows_of(&cells, outcomes.iter().map(Some));
    write_sweep_results(out, &rows)?;
    let finished: Vec<CellSource> = cells
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, CellOutcome::Done(_)))
        .map(|(c, _)| CellSource::of_cell(out, c))
        .collect();
    let tables = write_long_tables(out, &finished)?;
    let data = ReportData {
        scenario_yaml: to_yaml(&loaded.scenario),
        name: loaded.scenario.name.clone(),
        rows,
        tables,
        showcase: showcase_label(&loaded.scenario),
    };
    write_report(out, &data)?;
    let outcome = SweepOutcome { cells, outcomes };
    let info = serde_json::json!({
        "ddmsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": loaded.scenario.name,
        "threads": rayon::current_num_threads(),
        "parallel_cells": options.parallel,
        "cells": outcome.cells.iter().map(|c| c.label()).collect::<Vec<_>>(),
        "failed_cells": outcome.failures().into_iter().map(|(c, m)| serde_json::json!({"cell": c, "error": m})).collect::<Vec<_>>(),
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    let json = serde_json::to_string_pretty(&info).expect("json");
    write_atomic(&out.join("run.json"), json.as_bytes())?;
    Ok(outcome)
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
