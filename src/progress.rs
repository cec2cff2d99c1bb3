//! Progress bars and notes on stderr (indicatif), or none at all with `--quiet`; warnings always.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;

/// Makes progress bars, all hidden when quiet.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    quiet: bool,
}

impl Progress {
    /// Bars on stderr unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Progress { quiet }
    }

    /// An informational line on stderr (none when quiet).
    pub fn note(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "note: {message}");
        }
    }

    /// A bar of `len` units with a message.
    pub fn bar(&self, len: u64, message: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len).with_message(message.to_string());
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    }
}

/// A warning on stderr, shown even when quiet: something was wrong and ddmsim worked around it (e.g. a bad cache
/// entry it retrained).
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}
