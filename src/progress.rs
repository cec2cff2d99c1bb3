//! Progress bars on stderr (indicatif), or none at all with `--quiet`.

use indicatif::{ProgressBar, ProgressStyle};

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
