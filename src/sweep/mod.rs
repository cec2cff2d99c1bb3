//! Many runs in one folder, for sweeps and studies alike. A sweep's scenario lists values whose cartesian product
//! gives its cells; a study is the same with a list of named settings as one axis (the `study` module plans it).
//! Each cell is an ordinary run in its own folder under `cells/` (trained models shared through the model cache),
//! several cells run at once, and the tables (`results.csv` with `cell`, `setting` where settings are named and
//! `param.<path>`) are published as soon as a cell finishes, so an interrupted run keeps its finished cells and a
//! rerun runs only the others. Both are reported by `crate::report` and rebuilt by `ddmsim report` alike.

mod folder_state;

use crate::cells::{self, CellOutcome, CellRunner, Claiming, Shard, run_cells};
use crate::error::{Error, Result};
pub use crate::report::FailedCell;
use crate::report::showcase_label;
use crate::scenario::{LoadedScenario, SweepCell, expand, to_yaml};
use crate::store::claim::{CLAIM_LOG, ClaimLog, Claimant, DEFAULT_STALE};
use crate::store::{FolderKind, LiveFolder, Protected, Publishing};
use folder_state::{FolderState, Published};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// The cells this process runs (all by default).
    pub shard: Shard,
    /// Age of a heartbeat after which another host's claim on a cell counts as abandoned (`None`: the default,
    /// [`crate::store::claim::DEFAULT_STALE`]).
    pub stale: Option<Duration>,
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
    /// What became of each cell this process ran or reused (`None`: another shard's cell).
    pub outcomes: Vec<Option<CellOutcome>>,
    /// Whether every cell of the sweep is now finished or failed (in the folder, whoever ran it).
    pub complete: bool,
}

impl SweepOutcome {
    /// The cells of this process that could not run, with the reason.
    pub fn failures(&self) -> Vec<(String, String)> {
        self.cells
            .iter()
            .zip(&self.outcomes)
            .filter_map(|(c, o)| match o {
                Some(CellOutcome::Failed(m)) => Some((c.label(), m.clone())),
                _ => None,
            })
            .collect()
    }

    /// How many cells this process ran or reused.
    pub fn mine(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_some()).count()
    }
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

/// The plan of `loaded`'s sweep, its cells in folders under `out_dir`.
pub fn plan_sweep(loaded: &LoadedScenario, out_dir: &Path) -> Result<Plan> {
    let cells = expand(&loaded.scenario)?;
    Ok(Plan {
        kind: FolderKind::Sweep,
        name: loaded.scenario.name.clone(),
        scenario_yaml: to_yaml(&loaded.scenario),
        cells: cells
            .into_iter()
            .map(|c| {
                let dir = sweep_cell_dir(out_dir, &c);
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
    })
}

/// Runs every cell of `loaded`'s sweep (of `options.shard`) that is not finished yet (see [`run_plan`]).
pub fn run_sweep(loaded: &LoadedScenario, options: &SweepOptions) -> Result<SweepOutcome> {
    run_plan(&plan_sweep(loaded, &options.out_dir)?, options)
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

/// Runs every cell of `plan` in `options.shard` that is not finished yet, claiming each in the output folder
/// so that any number of processes (shards, overlapping or repeated) can share the folder. After each cell the
/// tables `results.csv` and `results.parquet` (one row per finished cell and policy, whichever process ran it,
/// with `cell`, `setting` and `param.<path>` columns) and `failed_cells.json` are published (an outdated report
/// removed). At the end, when this process ran the whole plan or every cell is now finished or failed, the long
/// tables of every finished cell gathered into Parquet files, the report (`summary.md`, `figures/`,
/// `report.html`) and `run.json` are built and published together; otherwise `ddmsim report` gathers them once
/// the other shards are done.
pub fn run_plan(plan: &Plan, options: &SweepOptions) -> Result<SweepOutcome> {
    let started = Instant::now();
    let mut inputs = options.inputs.clone();
    inputs.extend(plan.inputs.iter().cloned());
    let protected = Protected {
        inputs: inputs.clone(),
        cache: options.cache.clone(),
    };
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
    let published = Published::of(plan, &jobs);
    if !(0..jobs.len()).any(|i| options.shard.holds(i)) {
        crate::progress::warn(&format!(
            "shard {}: holds none of the {} cells (there are more shards than cells); it only gathers what the \
             other shards finished",
            options.shard,
            jobs.len()
        ));
    }
    let what = format!("--out {}", options.out_dir.display());
    let (folder, opening) = LiveFolder::open_publishing(&options.out_dir, plan.kind, &protected, &what)?;
    let claiming = Claiming {
        log: ClaimLog::new(
            options.out_dir.join(CLAIM_LOG),
            Claimant::this_process(&options.shard.to_string()),
        ),
        stale: options.stale.unwrap_or(DEFAULT_STALE),
    };
    join_plan(&folder, opening, &published, &what)?;
    let state = FolderState::new(&folder, plan, &jobs, &published);
    let outcomes = run_cells(&jobs, options.shard, &runner, &claiming, &|so_far| {
        state.publish(so_far, None).map(|_| ())
    })?;
    let record = |failed: &[FailedCell]| SweepRecord {
        ddmsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: plan.name.clone(),
        threads: rayon::current_num_threads(),
        parallel_cells: runner.parallel,
        cells: plan.cells.iter().map(|(c, _)| c.label()).collect(),
        failed_cells: failed.to_vec(),
        total_seconds: started.elapsed().as_secs_f64(),
    };
    let whole = options.shard.count == 1;
    let complete = state.publish(&outcomes, Some((&record, whole)))?;
    Ok(SweepOutcome {
        cells: plan.cells.iter().map(|(c, _)| c.clone()).collect(),
        outcomes,
        complete,
    })
}

/// Publishes the plan's files and lists the claim log in the folder's marker, still under the publish lock
/// `opening` taken to open the folder (so every process that joins later sees them); when other processes had
/// the folder open, refuses unless they run the same plan: the same cells in the same order with the same inputs.
fn join_plan(folder: &LiveFolder, opening: Publishing, published: &Published, what: &str) -> Result<()> {
    if !folder.was_alone() && !published.matches(folder.path()) {
        drop(opening);
        return Err(Error::Refused(format!(
            "{what}: another ddmsim process is running a different sweep or study (or another version or order \
             of this one) in this folder; wait for it to finish or choose another folder"
        )));
    }
    folder.list(&opening, CLAIM_LOG)?;
    let staged = folder.staging()?;
    published.write(staged.path())?;
    folder.publish(&opening, staged, &|_| false)
}
