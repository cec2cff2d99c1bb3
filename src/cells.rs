//! Running many cells, each an ordinary run in its own folder, as studies and sweeps do: a cell whose folder
//! already holds the results of exactly its inputs (resolved scenario and data file, by hash) is reused, a cell is
//! claimed before it runs so processes sharing the folder (shards) never run it twice, several cells run at once,
//! one progress bar with an ETA covers them all, and every finished cell is reported at once so its rows can be
//! written.

use crate::error::Result;
use crate::experiment::{RunOptions, run};
use crate::progress::Progress;
use crate::report::{Record, read_results};
use crate::scenario::{LoadedScenario, Scenario};
use crate::store::claim::{Attempt, ClaimLog, clear_finished, try_claim};
use crate::store::{Existing, TargetLock, holds_results_of, inspect};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// The shard of a multi-run a process runs: the cells whose index is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, below `count`.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parses `I/N` (`--shard`), with I < N.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = |why: &str| {
            crate::error::Error::invalid(
                "--shard",
                format!("{why}; write I/N with 0 <= I < N, e.g. 0/4 (got `{text}`)"),
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("I is not a whole number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a whole number"))?;
        if count == 0 {
            return Err(bad("N (the number of shards) must be at least 1"));
        }
        if index >= count {
            return Err(bad("I must be below N (shards are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }

    /// Whether cell `i` belongs to this shard.
    pub fn holds(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How the cells are claimed in their shared output folder (see [`crate::store::claim`]).
#[derive(Debug, Clone)]
pub struct Claiming {
    /// The folder's claim log, written as this process.
    pub log: ClaimLog,
    /// The age of a heartbeat after which another host's claim counts as abandoned.
    pub stale: Duration,
}

/// How often a cell held by another process is looked at again.
const POLL: Duration = Duration::from_secs(2);

/// The outcome of a finished cell read back from its folder (`None` if it is not finished, or its results
/// cannot be read: then it is run again).
pub fn finished_outcome(job: &CellJob) -> Option<CellOutcome> {
    if !is_finished(job) {
        return None;
    }
    match read_results(&job.dir.join("results.parquet")) {
        Ok(records) => Some(CellOutcome::Done(records)),
        Err(e) => {
            crate::progress::warn(&format!("cell {}: {e}; running it again", job.name));
            None
        }
    }
}

/// The shared state of the workers running a shard's cells.
struct Workers<'a> {
    jobs: &'a [CellJob],
    runner: &'a CellRunner,
    claiming: &'a Claiming,
    queue: Mutex<VecDeque<(usize, Instant)>>,
    outcomes: Mutex<Vec<Option<CellOutcome>>>,
    publishing: Mutex<()>,
    fatal: Mutex<Option<crate::error::Error>>,
    stop: AtomicBool,
    waiting_logged: Mutex<Vec<bool>>,
    bar: indicatif::ProgressBar,
}

/// Runs (or reuses) the cells of `shard`, `runner.parallel` at a time, claiming each in its shared folder first,
/// and returns every cell's outcome in job order (`None` for cells of other shards). A cell another live process
/// holds is looked at again every few seconds until it is finished there (then reused) or its holder is gone
/// (then taken over). After each cell finishes, `on_finished` sees the outcomes so far, one call at a time and
/// never with an older view than the call before. Failures of the machine (files that cannot be read or written,
/// a refused folder, a signal) stop the run, abandoning the cells in progress (finished cells stay on disk); a
/// cell whose own scenario fails is recorded and the others go on. Cells run on threads of their own (their
/// training uses the worker pool), so a worker waiting inside a cell can never pick up another cell. Results do
/// not depend on `parallel`.
pub fn run_cells(
    jobs: &[CellJob],
    shard: Shard,
    runner: &CellRunner,
    claiming: &Claiming,
    on_finished: &(dyn Fn(&[Option<CellOutcome>]) -> Result<()> + Sync),
) -> Result<Vec<Option<CellOutcome>>> {
    let progress = Progress::new(runner.quiet);
    let mine: Vec<usize> = (0..jobs.len()).filter(|&i| shard.holds(i)).collect();
    let bar = progress.bar(mine.len() as u64, "cells");
    let mut start: Vec<Option<CellOutcome>> = vec![None; jobs.len()];
    for &i in &mine {
        start[i] = finished_outcome(&jobs[i]);
        if start[i].is_some() {
            bar.inc(1);
        }
    }
    bar.reset_eta();
    let finished: Vec<(&Path, &str)> = mine
        .iter()
        .filter(|&&i| start[i].is_some())
        .map(|&i| (jobs[i].dir.as_path(), jobs[i].name.as_str()))
        .collect();
    clear_finished(&finished, &claiming.log, claiming.stale)?;
    let now = Instant::now();
    let queue = mine
        .iter()
        .filter(|&&i| start[i].is_none())
        .map(|&i| (i, now))
        .collect();
    let workers = Workers {
        jobs,
        runner,
        claiming,
        queue: Mutex::new(queue),
        outcomes: Mutex::new(start),
        publishing: Mutex::new(()),
        fatal: Mutex::new(None),
        stop: AtomicBool::new(false),
        waiting_logged: Mutex::new(vec![false; jobs.len()]),
        bar,
    };
    let todo = workers.queue.lock().expect("no panics while held").len();
    std::thread::scope(|scope| {
        for _ in 1..runner.parallel.clamp(1, todo.max(1)) {
            scope.spawn(|| workers.work(on_finished));
        }
        workers.work(on_finished);
    });
    workers.bar.finish_and_clear();
    if let Some(e) = workers.fatal.into_inner().expect("no panics while held") {
        return Err(e);
    }
    Ok(workers.outcomes.into_inner().expect("no panics while held"))
}

impl Workers<'_> {
    /// One worker: takes cells from the queue until it is empty or the run stops.
    fn work(&self, on_finished: &(dyn Fn(&[Option<CellOutcome>]) -> Result<()> + Sync)) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some((i, not_before)) = self.queue.lock().expect("no panics while held").pop_front() else {
                break;
            };
            let wait = not_before.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                // Every cell left is held elsewhere: wait a little before looking again.
                self.queue
                    .lock()
                    .expect("no panics while held")
                    .push_back((i, not_before));
                std::thread::sleep(wait.min(Duration::from_millis(500)));
                continue;
            }
            let result = crate::interrupt::check()
                .and_then(|()| self.one(i))
                .and_then(|done| match done {
                    Some(outcome) => self.publish(i, outcome, on_finished),
                    None => Ok(()),
                });
            if let Err(e) = result {
                self.stop.store(true, Ordering::SeqCst);
                self.fatal.lock().expect("no panics while held").get_or_insert(e);
                break;
            }
        }
    }

    /// Claims and runs cell `i`, or reuses it if another process finished it; `None` when another process holds
    /// it (it goes back in the queue).
    fn one(&self, i: usize) -> Result<Option<CellOutcome>> {
        let job = &self.jobs[i];
        if let Some(outcome) = finished_outcome(job) {
            return Ok(Some(outcome));
        }
        let claim = match try_claim(&job.dir, &job.name, &self.claiming.log, self.claiming.stale)? {
            Attempt::Taken(claim) => claim,
            Attempt::Busy(holder) => return self.wait_for(i, &format!("held by {holder}")),
        };
        if let Some(outcome) = finished_outcome(job) {
            claim.release("released", "finished meanwhile by another process")?;
            return Ok(Some(outcome));
        }
        if TargetLock::is_held(&job.dir)? {
            // Its claim was judged abandoned, yet a process still writes the cell (a stalled heartbeat).
            let why = "another process is still writing the cell's folder";
            claim.release("released", why)?;
            return self.wait_for(i, why);
        }
        self.bar.set_message(job.name.clone());
        let started = Instant::now();
        // An error of the machine or a signal drops the claim unreleased: logged as abandoned.
        let outcome = run_one(job, self.runner)?;
        let seconds = format!("{:.1} s", started.elapsed().as_secs_f64());
        match &outcome {
            CellOutcome::Done(_) => claim.release("finished", &seconds)?,
            CellOutcome::Failed(why) => claim.release("failed", why)?,
        }
        Ok(Some(outcome))
    }

    /// Puts cell `i`, busy elsewhere (`why`), back in the queue to be looked at again after [`POLL`]; logs the
    /// first wait.
    fn wait_for(&self, i: usize, why: &str) -> Result<Option<CellOutcome>> {
        let first = !std::mem::replace(&mut self.waiting_logged.lock().expect("no panics while held")[i], true);
        if first {
            self.claiming.log.append("waiting", &self.jobs[i].name, why)?;
        }
        self.queue
            .lock()
            .expect("no panics while held")
            .push_back((i, Instant::now() + POLL));
        Ok(None)
    }

    /// Records cell `i`'s outcome and shows every outcome so far to `on_finished`.
    fn publish(
        &self,
        i: usize,
        outcome: CellOutcome,
        on_finished: &(dyn Fn(&[Option<CellOutcome>]) -> Result<()> + Sync),
    ) -> Result<()> {
        let _turn = self.publishing.lock().expect("no panics while held");
        let view = {
            let mut all = self.outcomes.lock().expect("no panics while held");
            all[i] = Some(outcome);
            all.clone()
        };
        on_finished(&view)?;
        self.bar.inc(1);
        Ok(())
    }
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
