//! Command-line interface: `ddmsim run`, `study`, `report`, `slurm`, `validate` and `metrics`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ddmsim::scenario;
use std::io::Write;
use std::path::PathBuf;

/// Simulate decentralized diffusion models trained by federations of non-IID clients.
#[derive(Debug, Parser)]
#[command(name = "ddmsim", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario end to end and write its results folder.
    Run {
        /// The scenario YAML file.
        scenario: PathBuf,
        /// Output folder, threads, progress.
        #[command(flatten)]
        run: RunArgs,
        /// Override one scenario value by dotted path, e.g. `--set seed=1 --set router.temperature=2`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<String>,
        /// Train the models and stop: models, training_loss.csv and run.json, no sampling or metrics (not for
        /// sweeps).
        #[arg(long)]
        train_only: bool,
        /// Where the experts' and monolith's training and the sampler run, `cpu` or `gpu` (the scenario's
        /// `device`; `gpu` needs a build with `--features gpu`).
        #[arg(long, value_name = "cpu|gpu")]
        device: Option<String>,
    },
    /// Run a study: a base scenario under several settings and seeds; finished cells are reused.
    Study {
        /// The study YAML file.
        study: PathBuf,
        /// Output folder, threads, progress.
        #[command(flatten)]
        run: RunArgs,
    },
    /// Rebuild the tables (of a sweep or study, from whichever of its cells are finished), figures, summary.md
    /// and report.html of an output folder from its stored results, without running anything; says which cells
    /// are missing or failed.
    Report {
        /// The output folder of a run, sweep or study.
        dir: PathBuf,
    },
    /// Write (and with --submit, submit) Slurm scripts that run a sweep or study as a job array, each task one
    /// shard of the cells, and a gather job after it that runs `ddmsim report`.
    Slurm(crate::slurm_cli::SlurmArgs),
    /// Check a scenario and print it with every default filled in.
    Validate {
        /// The scenario YAML file.
        scenario: PathBuf,
    },
    /// Print the table of every metric (column, block, better side, where it applies, meaning) in Markdown, as the
    /// README's metrics table shows it.
    Metrics,
}

/// Options shared by the commands that run simulations.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Output folder (default: reports/<name in the file>). ddmsim replaces only folders it wrote (they carry a
    /// `.ddmsim` marker), keeping your own `*.md` notes in them.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores); results are identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// Hide progress bars and notes (warnings and errors still show).
    #[arg(long)]
    quiet: bool,
    /// Always train (trained models are otherwise cached in `.ddmsim-cache` beside the output folder and reused
    /// by runs that differ only in sampling, routing, metrics or router temperature).
    #[arg(long)]
    no_cache: bool,
    /// Cells of a sweep or study run at once (default: the number of worker threads, fewer if available memory
    /// is short); results are identical for any value.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run even when the estimated peak memory of a run exceeds the memory available (the run may then fail or
    /// make the machine swap).
    #[arg(long)]
    force: bool,
    /// Run only the cells of a sweep or study whose index is I modulo N; any number of processes, on any hosts
    /// sharing the output folder, may run shards at once (each cell is claimed before it runs).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Seconds without a heartbeat after which another host's claim on a cell counts as abandoned and is taken
    /// over (a claim from this host is taken over as soon as its process is gone).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    stale_claim: u64,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Metrics => out(&ddmsim::metrics::registry::markdown_table()),
        Command::Validate { scenario } => {
            let loaded = scenario::load(&scenario)?;
            if !loaded.scenario.sweep.is_empty() {
                scenario::expand(&loaded.scenario)?;
            }
            out(&scenario::to_yaml(&loaded.scenario))
        }
        Command::Report { dir } => report(&dir),
        Command::Slurm(args) => out(&crate::slurm_cli::run(&args)?),
        Command::Study { study, run } => run_study(&study, &run),
        Command::Run {
            scenario,
            run,
            overrides,
            train_only,
            device,
        } => {
            set_threads(run.threads)?;
            let mut loaded = scenario::load(&scenario)?;
            for text in overrides.iter().cloned().chain(device.map(|d| format!("device={d}"))) {
                let (path, value) = scenario::parse_assignment(&text)?;
                loaded.scenario = scenario::with_override(&loaded.scenario, &path, &value)?;
            }
            let (out_dir, cache) = run.places(&loaded.scenario.name);
            anyhow::ensure!(
                run.shard.is_none() || !loaded.scenario.sweep.is_empty(),
                "--shard: runs a share of a sweep's cells; {} is a single run (it has no `sweep`)",
                scenario.display()
            );
            if !loaded.scenario.sweep.is_empty() {
                anyhow::ensure!(!train_only, "--train-only: runs one scenario, not a sweep");
                return run_sweep(&loaded, &scenario, &run, out_dir, cache);
            }
            let options = ddmsim::RunOptions {
                out_dir,
                quiet: run.quiet,
                cache,
                train_only,
                report: (!train_only).then_some(ddmsim::report::report_in_place as _),
                force: run.force,
                inputs: vec![scenario.clone()],
                ..ddmsim::RunOptions::default()
            };
            let outcome = ddmsim::run(&loaded, &options)?;
            let done = outcome.out_dir.display().to_string();
            if train_only {
                return out(&format!("models written to {done} (--train-only)\n"))
                    .with_context(|| format!("the run is complete in {done}"));
            }
            let mut text = ddmsim::report::render(&outcome.records);
            if let Some(reading) = ddmsim::report::run_reading(&outcome.records) {
                text.push('\n');
                text.push_str(&textwrap::fill(&reading, 116));
                text.push('\n');
            }
            if let Some(accuracy) = outcome.classifier_accuracy {
                text.push_str(&format!(
                    "evaluation classifier (fd_classifier, class_tv, confidence): {:.1} % accurate on the held-out \
                     split\n",
                    100.0 * accuracy
                ));
            }
            text.push_str(&format!("results written to {done} (report: report.html)\n"));
            out(&text).with_context(|| format!("the run is complete in {done}"))
        }
    }
}

/// Writes `text` to standard output; a closed pipe or a full device is an error, not a panic.
fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}

/// Rebuilds the report of `dir` and says what it gathered.
fn report(dir: &std::path::Path) -> Result<()> {
    let gathered = ddmsim::report::rebuild_report(dir)?;
    let mut text = String::new();
    for remark in gathered.remarks() {
        text.push_str(&remark);
        text.push('\n');
    }
    text.push_str(&format!(
        "{} figures; report written to {}\n",
        gathered.figures.len(),
        dir.join("report.html").display()
    ));
    out(&text)
}

/// Runs a study and prints where its summary is; any cell that could not run makes it fail, naming the cells.
fn run_study(study: &std::path::Path, run: &RunArgs) -> Result<()> {
    set_threads(run.threads)?;
    let loaded = ddmsim::study::load(study)?;
    let (out_dir, cache) = run.places(&loaded.study.name);
    let options = run.sweep_options(out_dir.clone(), cache, Vec::new())?;
    let outcome = ddmsim::study::run_study(&loaded, &options)?;
    finish_multi_run(&outcome, &options)
}

/// Runs a scenario's sweep and prints where its tables are; any cell that could not run makes it fail.
fn run_sweep(
    loaded: &scenario::LoadedScenario,
    file: &std::path::Path,
    run: &RunArgs,
    out_dir: PathBuf,
    cache: Option<PathBuf>,
) -> Result<()> {
    let options = run.sweep_options(out_dir, cache, vec![file.to_path_buf()])?;
    let outcome = ddmsim::sweep::run_sweep(loaded, &options)?;
    finish_multi_run(&outcome, &options)
}

/// Lists the cells of this process that could not run on stderr and fails if there are any; otherwise says where
/// the results are and, for a shard, what is left to gather.
fn finish_multi_run(outcome: &ddmsim::sweep::SweepOutcome, options: &ddmsim::sweep::SweepOptions) -> Result<()> {
    let out_dir = options.out_dir.display();
    let failed = outcome.failures();
    for (cell, message) in &failed {
        let _ = writeln!(std::io::stderr(), "cell {cell}: {message}");
    }
    let cells = outcome.cells.len();
    anyhow::ensure!(
        failed.is_empty(),
        "{} of {cells} cells could not run (listed above); the others' results and the report are in {out_dir}",
        failed.len()
    );
    if options.shard.count == 1 {
        return out(&format!("{cells} cells; results written to {out_dir}\n"));
    }
    let rest = if outcome.complete {
        "every cell is done, and the report is written".to_string()
    } else {
        format!("once every shard is done, `ddmsim report {out_dir}` gathers the tables and the report")
    };
    out(&format!(
        "shard {}: {} of {cells} cells run or reused; results so far in {out_dir}; {rest}\n",
        options.shard,
        outcome.mine()
    ))
}

impl RunArgs {
    /// The options of a sweep or study into `out_dir`, with the files it must never write over.
    fn sweep_options(
        &self,
        out_dir: PathBuf,
        cache: Option<PathBuf>,
        inputs: Vec<PathBuf>,
    ) -> Result<ddmsim::sweep::SweepOptions> {
        let shard = match &self.shard {
            Some(text) => ddmsim::cells::Shard::parse(text)?,
            None => ddmsim::cells::Shard::default(),
        };
        let least = ddmsim::store::claim::MIN_STALE.as_secs();
        anyhow::ensure!(
            self.stale_claim >= least,
            "--stale-claim: must be at least {least} seconds (three heartbeats): a shorter timeout would take over \
             claims whose holders are alive (got {})",
            self.stale_claim
        );
        Ok(ddmsim::sweep::SweepOptions {
            out_dir,
            quiet: self.quiet,
            cache,
            parallel: self.jobs,
            force: self.force,
            inputs,
            shard,
            stale: Some(std::time::Duration::from_secs(self.stale_claim)),
        })
    }

    /// The output folder (default `reports/<name>`) and the model cache beside it (none with `--no-cache`).
    fn places(&self, name: &str) -> (PathBuf, Option<PathBuf>) {
        let out_dir = self.out.clone().unwrap_or_else(|| PathBuf::from("reports").join(name));
        let cache = (!self.no_cache).then(|| ddmsim::store::default_cache_dir(&out_dir));
        (out_dir, cache)
    }
}

/// Starts the global thread pool with `threads` workers (default: all cores).
fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        anyhow::ensure!(n >= 1, "--threads: must be >= 1, got {n}");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("starting the thread pool")?;
    }
    Ok(())
}
