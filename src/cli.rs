//! Command-line interface: `ddmsim run` and `ddmsim validate`.

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
        /// Output folder (default: reports/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores); results are identical for any value.
        #[arg(long)]
        threads: Option<usize>,
        /// Hide progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a scenario and print it with every default filled in.
    Validate {
        /// The scenario YAML file.
        scenario: PathBuf,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Validate { scenario } => {
            let loaded = scenario::load(&scenario)?;
            print!("{}", scenario::to_yaml(&loaded.scenario));
            Ok(())
        }
        Command::Run {
            scenario,
            out,
            threads,
            quiet,
        } => {
            if let Some(n) = threads {
                anyhow::ensure!(n >= 1, "--threads: must be >= 1, got {n}");
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build_global()
                    .context("starting the thread pool")?;
            }
            let loaded = scenario::load(&scenario)?;
            let out_dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&loaded.scenario.name));
            let outcome = ddmsim::run(&loaded, &ddmsim::RunOptions { out_dir, quiet })?;
            print!("{}", ddmsim::report::render(&outcome.records));
            println!("results written to {}", outcome.out_dir.display());
            Ok(())
        }
    }
}
