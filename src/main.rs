//! The `ddmsim` binary: parse arguments, run, print the error once on failure (exit code 1, or 128 + the signal's
//! number when a signal stopped the work).

mod cli;
mod slurm_cli;

use clap::Parser;
use std::io::Write;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if let Err(e) = ddmsim::interrupt::install() {
        let _ = writeln!(
            std::io::stderr(),
            "warning: SIGTERM and SIGINT will not be handled cleanly: {e}"
        );
    }
    match cli::run(cli) {
        Ok(()) => {
            if let Some(signal) = ddmsim::interrupt::received() {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {} arrived after the work's last checkpoint: the work had finished, and its results are \
                     complete",
                    ddmsim::interrupt::signal_name(signal)
                );
            }
            std::process::ExitCode::SUCCESS
        }
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
            let signal = err
                .chain()
                .find_map(|cause| match cause.downcast_ref::<ddmsim::Error>() {
                    Some(ddmsim::Error::Interrupted { number, .. }) => u8::try_from(128 + number).ok(),
                    _ => None,
                });
            signal.map_or(std::process::ExitCode::FAILURE, std::process::ExitCode::from)
        }
    }
}
