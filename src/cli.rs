//! Command-line interface: `ddmsim run`, `study`, `report` and `validate`.

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
    /// Rebuild the tables (of a sweep, from its cells), figures, summary.md and report.html of an output folder
    /// from its stored results, without running anything.
    Report {
        /// The output folder of a run or sweep.
        dir: PathBuf,
    },
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
        Command::Report { dir } => {
            let figures = ddmsim::report::rebuild_report(&dir)?;
            out(&format!(
                "{} figures; report written to {}\n",
                figures.len(),
                dir.join("report.html").display()
            ))
        }
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

/// Runs a study and prints where its summary is; any cell that could not run makes it fail, naming the cells.
fn run_study(study: &std::path::Path, run: &RunArgs) -> Result<()> {
    set_threads(run.threads)?;
    let loaded = ddmsim::study::load(study)?;
    let (out_dir, cache) = run.places(&loaded.study.name);
    let options = ddmsim::sweep::SweepOptions {
        out_dir: out_dir.clone(),
        quiet: run.quiet,
        cache,
        parallel: run.jobs(),
        force: run.force,
        inputs: Vec::new(),
    };
    let outcome = ddmsim::study::run_study(&loaded, &options)?;
    let failed: Vec<String> = outcome
        .failures()
        .into_iter()
        .map(|(cell, message)| format!("{cell}: {message}"))
        .collect();
    report_failures(&failed, outcome.cells.len(), &out_dir)?;
    out(&format!(
        "{} cells; results written to {}\n",
        outcome.cells.len(),
        out_dir.display()
    ))
}

/// Runs a scenario's sweep and prints where its tables are; any cell that could not run makes it fail.
fn run_sweep(
    loaded: &scenario::LoadedScenario,
    file: &std::path::Path,
    run: &RunArgs,
    out_dir: PathBuf,
    cache: Option<PathBuf>,
) -> Result<()> {
    let options = ddmsim::sweep::SweepOptions {
        out_dir: out_dir.clone(),
        quiet: run.quiet,
        cache,
        parallel: run.jobs(),
        force: run.force,
        inputs: vec![file.to_path_buf()],
    };
    let outcome = ddmsim::sweep::run_sweep(loaded, &options)?;
    let failed: Vec<String> = outcome
        .failures()
        .into_iter()
        .map(|(cell, message)| format!("{cell}: {message}"))
        .collect();
    report_failures(&failed, outcome.cells.len(), &out_dir)?;
    out(&format!(
        "{} cells; results written to {}\n",
        outcome.cells.len(),
        out_dir.display()
    ))
}

/// Lists the cells that could not run on stderr and fails if there are any.
fn report_failures(failed: &[String], cells: usize, out_dir: &std::path::Path) -> Result<()> {
    for f in failed {
        let _ = writeln!(std::io::stderr(), "cell {f}");
    }
    anyhow::ensure!(
        failed.is_empty(),
        "{} of {cells} cells could not run (listed above); the others' results and the report are in {}",
        failed.len(),
        out_dir.display()
    );
    Ok(())
}

impl RunArgs {
    /// Cells at once: `--jobs` (`None`: one per worker thread, as many as fit in the memory available).
    fn jobs(&self) -> Option<usize> {
        self.jobs
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
