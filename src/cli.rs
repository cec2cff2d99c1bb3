//! Command-line interface: `ddmsim run`, `study`, `report` and `validate`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ddmsim::scenario;
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
}

/// Options shared by the commands that run simulations.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Output folder (default: reports/<name in the file>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores); results are identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// Hide progress bars.
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
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Validate { scenario } => {
            let loaded = scenario::load(&scenario)?;
            print!("{}", scenario::to_yaml(&loaded.scenario));
            Ok(())
        }
        Command::Report { dir } => {
            let figures = ddmsim::sweep::rebuild_report(&dir)?;
            println!(
                "{} figures; report written to {}",
                figures.len(),
                dir.join("report.html").display()
            );
            Ok(())
        }
        Command::Study { study, run } => {
            set_threads(run.threads)?;
            let loaded = ddmsim::study::load(&study)?;
            let (out_dir, cache) = run.places(&loaded.study.name);
            let outcome = ddmsim::study::run_study(&loaded, &out_dir, run.quiet, cache, run.jobs())?;
            let command = format!("cargo run --release -- study {}", study.display());
            ddmsim::study::write_report(&out_dir, &loaded.study, &outcome, &command)?;
            for f in &outcome.failures {
                eprintln!("cell {} seed {} could not run: {}", f.setting, f.seed, f.message);
            }
            println!(
                "{} cells, {} could not run; summary written to {}",
                loaded.cells.len(),
                outcome.failures.len(),
                out_dir.join("summary.md").display()
            );
            Ok(())
        }
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
                return run_sweep(&loaded, &run, out_dir, cache);
            }
            let options = ddmsim::RunOptions {
                out_dir,
                quiet: run.quiet,
                cache,
                skip_infeasible: false,
                train_only,
            };
            let outcome = ddmsim::run(&loaded, &options)?;
            if train_only {
                println!("models written to {} (--train-only)", outcome.out_dir.display());
                return Ok(());
            }
            print!("{}", ddmsim::report::render(&outcome.records));
            if let Some(accuracy) = outcome.classifier_accuracy {
                println!(
                    "evaluation classifier (fd_classifier, class_tv, confidence): {:.1} % accurate on the held-out split",
                    100.0 * accuracy
                );
            }
            ddmsim::sweep::rebuild_report(&outcome.out_dir)?;
            println!("results written to {} (report: report.html)", outcome.out_dir.display());
            Ok(())
        }
    }
}

/// Runs a scenario's sweep and prints where its tables are.
fn run_sweep(loaded: &scenario::LoadedScenario, run: &RunArgs, out_dir: PathBuf, cache: Option<PathBuf>) -> Result<()> {
    let options = ddmsim::sweep::SweepOptions {
        out_dir: out_dir.clone(),
        quiet: run.quiet,
        cache,
        parallel: run.jobs(),
    };
    let outcome = ddmsim::sweep::run_sweep(loaded, &options)?;
    for (cell, message) in outcome.failures() {
        eprintln!("cell {cell} could not run: {message}");
    }
    println!(
        "{} cells, {} could not run; results written to {}",
        outcome.cells.len(),
        outcome.failures().len(),
        out_dir.display()
    );
    Ok(())
}

impl RunArgs {
    /// Cells at once: `--jobs`, else one per worker thread, at most one per 512 MiB of available memory.
    fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| rayon::current_num_threads().min(ddmsim::cells::memory_slots()))
            .max(1)
    }

    /// The output folder (default `reports/<name>`) and the model cache beside it (none with `--no-cache`).
    fn places(&self, name: &str) -> (PathBuf, Option<PathBuf>) {
        let out_dir = self.out.clone().unwrap_or_else(|| PathBuf::from("reports").join(name));
        let cache = (!self.no_cache).then(|| ddmsim::model_cache::default_cache_dir(&out_dir));
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
