//! The `ddmsim` binary: parse arguments, run, print the error once on failure (exit code 1).

mod cli;

use clap::Parser;
use std::io::Write;

fn main() -> std::process::ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Each cause is shown once: a message that already quotes its cause (as the library's errors quote
            // the operating system's) is not followed by it again.
            let mut line = err.to_string();
            for cause in err.chain().skip(1) {
                let text = cause.to_string();
                if !line.contains(&text) {
                    line = format!("{line}: {text}");
                }
            }
            let _ = writeln!(std::io::stderr(), "error: {}", ddmsim::error::one_line(line));
            std::process::ExitCode::FAILURE
        }
    }
}
