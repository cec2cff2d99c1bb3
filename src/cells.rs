//! Running many cells, each an ordinary run in its own folder, as studies and sweeps do: a cell whose folder
//! already holds the results of exactly its inputs (resolved scenario and data file, by hash) is reused, several
//! cells run at once, one progress bar with an ETA covers them all, and every finished cell is reported at once
//! so its rows can be written.

use crate::error::Result;
use crate::experiment::{RunOptions, run};
use crate::progress::Progress;
use crate::report::{Record, read_results};
use crate::scenario::{LoadedScenario, Scenario};
use crate::store::{Existing, holds_results_of, inspect};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One cell to run: a name for messages, its folder, its scenario and the hash of its inputs.
#[derive(Debug, Clone)]
pub struct CellJob {
    /// Shown in the progress bar and in failure messages.
    pub name: String,
    /// The cell's own output folder.
    pub dir: PathBuf,
    /// The ordinary scenario the cell runs.
    pub scenario: Scenario,
    /// SHA-256 of the cell's inputs (see [`crate::experiment::inputs_sha256`]).
    pub inputs_sha256: String,
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
#[derive(Debug, Clone, Default)]
pub struct CellRunner {
    /// Folder that relative data paths resolve against.
    pub base_dir: PathBuf,
    /// Model cache shared by the cells (`None`: always train).
    pub cache: Option<PathBuf>,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Cells run at once (at least 1; see [`cells_at_once`]).
    pub parallel: usize,
    /// Skip policies asking for more experts than a cell has instead of failing the cell.
    pub skip_infeasible: bool,
    /// Run cells whose estimated memory exceeds what is available.
    pub force: bool,
    /// Files no cell folder may hold (the sweep's or study's own file).
    pub inputs: Vec<PathBuf>,
}

/// The jobs of `cells` (name, folder, scenario), each with the hash of its inputs; a data file shared by many
/// cells is read once.
pub fn jobs(cells: Vec<(String, PathBuf, Scenario)>, base_dir: &Path) -> Result<Vec<CellJob>> {
    let mut data_hashes: HashMap<String, Option<String>> = HashMap::new();
    let mut jobs = Vec::with_capacity(cells.len());
    for (name, dir, scenario) in cells {
        let data_key = serde_json::to_string(&scenario.data).expect("a data config serialises");
        let data_hash = match data_hashes.get(&data_key) {
            Some(hash) => hash.clone(),
            None => {
                let hash = crate::data::source_sha256(&scenario.data, base_dir)?;
                data_hashes.insert(data_key, hash.clone());
                hash
            }
        };
        let inputs_sha256 = crate::experiment::inputs_sha256_with(&scenario, data_hash.as_deref());
        jobs.push(CellJob {
            name,
            dir,
            scenario,
            inputs_sha256,
        });
    }
    Ok(jobs)
}

/// Whether `job.dir` holds the finished results of exactly the job's inputs. A cell of an older ddmsim (no
/// hash recorded) counts when its stored scenario gives the job's inputs (see [`holds_results_of`]).
pub fn is_finished(job: &CellJob) -> bool {
    let ours = matches!(inspect(&job.dir, ""), Ok(Existing::Marked(_) | Existing::Legacy));
    ours && holds_results_of(&job.dir, &job.inputs_sha256)
}

/// How many cells run at once: `requested` (refused, unless `force`, when that many of the largest cell would not
/// fit in the memory available), or by default one per worker thread, as many as fit.
pub fn cells_at_once(jobs: &[CellJob], runner: &CellRunner, requested: Option<usize>) -> Result<usize> {
    let largest = jobs
        .iter()
        .filter_map(|j| crate::experiment::estimate_scenario(&j.scenario, &runner.base_dir).ok())
        .map(|e| e.total())
        .fold(0.0, f64::max);
    match requested {
        Some(n) => {
            crate::experiment::check_parallel(largest, n.min(jobs.len()), runner.force)?;
            Ok(n.max(1))
        }
        None => {
            let fits = crate::experiment::available_memory()
                .map_or(usize::MAX, |available| (available / largest.max(1.0)) as usize);
            Ok(rayon::current_num_threads().min(fits).max(1))
        }
    }
}

/// The outcomes of the cells whose folders already hold their results (`None` for the others); a cell whose
/// results cannot be read is run again.
fn reuse_finished(jobs: &[CellJob], bar: &indicatif::ProgressBar) -> Vec<Option<CellOutcome>> {
    jobs.iter()
        .map(|job| {
            if !is_finished(job) {
                return None;
            }
            match read_results(&job.dir.join("results.parquet")) {
                Ok(records) => {
                    bar.inc(1);
                    Some(CellOutcome::Done(records))
                }
                Err(e) => {
                    crate::progress::warn(&format!("cell {}: {e}; running it again", job.name));
                    None
                }
            }
        })
        .collect()
}

/// Runs (or reuses) every cell, `runner.parallel` at a time, and returns their outcomes in job order. After each
/// cell finishes, `on_finished` sees the outcomes so far (`None`: not finished yet), one call at a time and never
/// with an older view than the call before. Failures of the machine (files that cannot be read or written, a
/// refused folder) stop the run (finished cells stay on disk); a cell whose own scenario fails is recorded and the
/// others go on. Cells run on threads of their own (their training uses the worker pool), so a worker waiting
/// inside a cell can never pick up another cell. Results do not depend on `parallel`.
pub fn run_cells(
    jobs: &[CellJob],
    runner: &CellRunner,
    on_finished: &(dyn Fn(&[Option<CellOutcome>]) -> Result<()> + Sync),
) -> Result<Vec<CellOutcome>> {
    let progress = Progress::new(runner.quiet);
    let bar = progress.bar(jobs.len() as u64, "cells");
    let start = reuse_finished(jobs, &bar);
    bar.reset_eta();
    let todo: Vec<usize> = (0..jobs.len()).filter(|&i| start[i].is_none()).collect();
    let outcomes = Mutex::new(start);
    // Held while a finished cell's view is published; the outcomes themselves are locked only to update them.
    let publishing = Mutex::new(());
    let fatal: Mutex<Option<crate::error::Error>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let worker = || {
        while !stop.load(Ordering::SeqCst) {
            let Some(&i) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else {
                break;
            };
            bar.set_message(jobs[i].name.clone());
            let result = run_one(&jobs[i], runner).and_then(|outcome| {
                let _turn = publishing.lock().expect("no panics while held");
                let view = {
                    let mut all = outcomes.lock().expect("no panics while held");
                    all[i] = Some(outcome);
                    all.clone()
                };
                on_finished(&view)
            });
            if let Err(e) = result {
                stop.store(true, Ordering::SeqCst);
                fatal.lock().expect("no panics while held").get_or_insert(e);
                break;
            }
            bar.inc(1);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..runner.parallel.clamp(1, todo.len().max(1)) {
            scope.spawn(worker);
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
        force: runner.force,
        inputs: runner.inputs.clone(),
        ..RunOptions::default()
    };
    match run(&cell, &options) {
        Ok(outcome) => Ok(CellOutcome::Done(outcome.records)),
        Err(e) if e.is_environment() => Err(e),
        Err(e) => Ok(CellOutcome::Failed(e.to_string())),
    }
}
