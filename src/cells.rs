//! Running many cells, each an ordinary run in its own folder, as studies and sweeps do: a cell whose folder
//! already holds the results of exactly its scenario is reused, several cells run at once, one progress bar
//! with an ETA covers them all, and every finished cell is reported at once so its rows can be written.

use crate::error::{Error, Result};
use crate::experiment::{RunOptions, run};
use crate::progress::Progress;
use crate::report::{Record, read_results};
use crate::scenario::{LoadedScenario, Scenario, to_yaml};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One cell to run: a name for messages, its folder and its scenario.
#[derive(Debug, Clone)]
pub struct CellJob {
    /// Shown in the progress bar and in failure messages.
    pub name: String,
    /// The cell's own output folder.
    pub dir: PathBuf,
    /// The ordinary scenario the cell runs.
    pub scenario: Scenario,
}

/// What became of a cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOutcome {
    /// Its rows (freshly run or read back from its folder).
    Done(Vec<Record>),
    /// Its scenario could not run (e.g. a policy needing more experts than the grouping produced); the message.
    Failed(String),
}

/// How to run the cells.
#[derive(Debug, Clone)]
pub struct CellRunner {
    /// Folder that relative data paths resolve against.
    pub base_dir: PathBuf,
    /// Model cache shared by the cells (`None`: always train).
    pub cache: Option<PathBuf>,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Cells run at once (at least 1).
    pub parallel: usize,
    /// Skip policies asking for more experts than a cell has instead of failing the cell.
    pub skip_infeasible: bool,
}

/// Memory a cell of the bundled scenarios may need at its peak (measured below 200 MiB; doubled for safety).
const CELL_MEMORY_BYTES: u64 = 512 << 20;

/// How many cells fit in the memory available now (`MemAvailable` of `/proc/meminfo`; unlimited if unknown).
pub fn memory_slots() -> usize {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    match available {
        Some(kib) => ((kib << 10) / CELL_MEMORY_BYTES).max(1) as usize,
        None => usize::MAX,
    }
}

/// Whether `dir` already holds the finished results of exactly `scenario`.
pub fn is_finished(dir: &Path, scenario: &Scenario) -> bool {
    let same = std::fs::read_to_string(dir.join("scenario.resolved.yaml")).is_ok_and(|t| t == to_yaml(scenario));
    same && dir.join("results.parquet").is_file()
}

/// Runs (or reuses) every cell and returns their outcomes in job order. After each cell finishes,
/// `on_finished` sees the outcomes so far (`None`: not finished yet), one call at a time. Failures to read or
/// write files stop the run (finished cells stay on disk); a cell whose own scenario fails is recorded and the
/// others go on. Results do not depend on `parallel`: each cell is deterministic on its own.
pub fn run_cells(
    jobs: &[CellJob],
    runner: &CellRunner,
    on_finished: &(dyn Fn(&[Option<CellOutcome>]) -> Result<()> + Sync),
) -> Result<Vec<CellOutcome>> {
    let progress = Progress::new(runner.quiet);
    let bar = progress.bar(jobs.len() as u64, "cells");
    let mut start: Vec<Option<CellOutcome>> = Vec::with_capacity(jobs.len());
    for job in jobs {
        let reused = is_finished(&job.dir, &job.scenario)
            .then(|| read_results(&job.dir.join("results.parquet")))
            .transpose()?;
        if reused.is_some() {
            bar.inc(1);
        }
        start.push(reused.map(CellOutcome::Done));
    }
    bar.reset_eta();
    let todo: Vec<usize> = (0..jobs.len()).filter(|&i| start[i].is_none()).collect();
    let outcomes = Mutex::new(start);
    let fatal: Mutex<Option<Error>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let worker = || {
        while !stop.load(Ordering::SeqCst) {
            let Some(&i) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else {
                break;
            };
            let job = &jobs[i];
            bar.set_message(job.name.clone());
            let outcome = match run_one(job, runner) {
                Ok(outcome) => outcome,
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    fatal.lock().expect("no panics while held").get_or_insert(e);
                    break;
                }
            };
            let mut all = outcomes.lock().expect("no panics while held");
            all[i] = Some(outcome);
            if let Err(e) = on_finished(&all) {
                stop.store(true, Ordering::SeqCst);
                fatal.lock().expect("no panics while held").get_or_insert(e);
            }
            bar.inc(1);
        }
    };
    rayon::scope(|scope| {
        for _ in 1..runner.parallel.clamp(1, todo.len().max(1)) {
            scope.spawn(|_| worker());
        }
        worker();
    });
    bar.finish_and_clear();
    if let Some(e) = fatal.into_inner().expect("no panics while held") {
        return Err(e);
    }
    Ok(outcomes
        .into_inner()
        .expect("no panics while held")
        .into_iter()
        .map(|o| o.expect("every cell ran"))
        .collect())
}

/// Runs one cell; errors of the cell's own scenario become [`CellOutcome::Failed`].
fn run_one(job: &CellJob, runner: &CellRunner) -> Result<CellOutcome> {
    let cell = LoadedScenario {
        scenario: job.scenario.clone(),
        base_dir: runner.base_dir.clone(),
    };
    let options = RunOptions {
        out_dir: job.dir.clone(),
        quiet: true,
        cache: runner.cache.clone(),
        skip_infeasible: runner.skip_infeasible,
        train_only: false,
    };
    match run(&cell, &options) {
        Ok(outcome) => Ok(CellOutcome::Done(outcome.records)),
        Err(e @ (Error::Io { .. } | Error::Table { .. })) => Err(e),
        Err(e) => Ok(CellOutcome::Failed(e.to_string())),
    }
}
