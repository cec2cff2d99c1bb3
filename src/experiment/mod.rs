//! The experiment driver: the only place that knows the order of the pipeline. A run is four stages, each
//! returning a typed value the next consumes: prepare (data, clusters, partition, expert groups, policies) ->
//! train (through the model cache) -> evaluate (each policy: sampling, quality, analyses) -> record (every file
//! staged, report included, then committed at once).

mod budget;
mod device;
mod evaluate;
mod inputs;
mod krum_bound;
mod prepare;
mod record;
mod survivors;
mod train;

pub use crate::store::inputs_sha256_with;
pub use budget::{Estimate, Part, available_memory, bytes_text, check_parallel, estimate_memory, estimate_scenario};
pub use prepare::inputs_sha256;

use crate::error::Result;
use crate::progress::Progress;
use crate::report::Record;
use crate::scenario::LoadedScenario;
use crate::store::{Protected, Staging};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Writes the report of a run folder into it (returns the figures' names).
pub type WriteReport = fn(&std::path::Path) -> Result<Vec<String>>;

/// How to run: where to write and whether to show progress.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The output folder (replaced only when the run succeeds).
    pub out_dir: PathBuf,
    /// Hide progress bars.
    pub quiet: bool,
    /// Where trained models are cached and reused (`None`: always train, store nothing).
    pub cache: Option<PathBuf>,
    /// Skip (and list in `run.json`) the policies that ask for more experts than the grouping produced, instead
    /// of failing the run; sweeps use this so that, e.g., top-4 at near-IID skew does not sink the whole cell.
    pub skip_infeasible: bool,
    /// Stop after training: write the models, `training_loss.csv` and `run.json`, no sampling or metrics (the
    /// training workload alone, e.g. to time it against another framework).
    pub train_only: bool,
    /// Writes the report (`summary.md`, `figures/`, `report.html`) into the staged folder before it is committed
    /// (single runs; a sweep's cells leave it to the sweep). A function, so the driver need not know the report.
    pub report: Option<WriteReport>,
    /// Run even when the estimated peak memory exceeds the memory available.
    pub force: bool,
    /// Files the output folder must never hold (the scenario or study file).
    pub inputs: Vec<PathBuf>,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The output folder.
    pub out_dir: PathBuf,
    /// The rows of `results.csv`.
    pub records: Vec<Record>,
    /// The evaluation classifier's accuracy on the held-out split, when it was used.
    pub classifier_accuracy: Option<f64>,
}

/// Runs one scenario end to end and writes its output folder.
pub fn run(loaded: &LoadedScenario, options: &RunOptions) -> Result<RunOutcome> {
    let mut clock = Clock::start();
    let progress = Progress::new(options.quiet);
    let staging = open_output(loaded, options)?;
    let prepared = prepare::prepare(loaded, options, &mut clock)?;
    let trained = train::train(&prepared, options, &progress, &mut clock)?;
    let evaluated = match options.train_only {
        true => None,
        false => Some(evaluate::evaluate(&prepared, &trained, options, &progress, &mut clock)?),
    };
    record::record(staging, &prepared, &trained, evaluated, options, clock)
}

/// Checks the output folder before any work: refusals (a file, the user's folder, the inputs, the cache, a
/// folder another run is writing) come first, so nothing is computed for a run that could not be saved.
fn open_output(loaded: &LoadedScenario, options: &RunOptions) -> Result<Staging> {
    let mut inputs = options.inputs.clone();
    inputs.extend(crate::data::input_file(&loaded.scenario.data, &loaded.base_dir));
    let protected = Protected {
        inputs,
        cache: options.cache.clone(),
    };
    let what = format!("--out {}", options.out_dir.display());
    Staging::create(&options.out_dir, &protected, &what)
}

/// Wall-clock seconds per stage, for `run.json`.
#[derive(Debug)]
struct Clock {
    started: Instant,
    lap: Instant,
    seconds: BTreeMap<String, f64>,
}

impl Clock {
    fn start() -> Self {
        Clock {
            started: Instant::now(),
            lap: Instant::now(),
            seconds: BTreeMap::new(),
        }
    }

    /// Records the time since the previous lap under `name`.
    fn lap(&mut self, name: &str) {
        self.seconds.insert(name.into(), self.lap.elapsed().as_secs_f64());
        self.lap = Instant::now();
    }

    /// Every lap and the total.
    fn finish(mut self) -> BTreeMap<String, f64> {
        self.seconds
            .insert("total".into(), self.started.elapsed().as_secs_f64());
        self.seconds
    }
}
