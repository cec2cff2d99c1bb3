//! The library's error type: every failure a user can cause names the field, file, line or model at fault.

use std::path::PathBuf;

/// Errors raised by ddmsim; each renders as one line that says where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario value is out of range or inconsistent; `path` is the dotted path of the key.
    #[error("{}: {}", one_line(path), one_line(message))]
    Invalid {
        /// Dotted path of the offending key, e.g. `clients.partition.alpha`.
        path: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The scenario file is not valid YAML or does not match the schema.
    #[error("{}: {}", one_line(file.display()), one_line(message))]
    Yaml {
        /// The scenario file.
        file: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A data file has a malformed cell, row or header.
    #[error("{}:{line}:{column}: {}", one_line(file.display()), one_line(message))]
    DataFormat {
        /// The data file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number (a column index, not a character offset).
        column: usize,
        /// What is wrong with the cell.
        message: String,
    },
    /// A file or folder could not be read, written, created, renamed or removed.
    #[error("{verb} {}: {}", one_line(path.display()), one_line(source))]
    Io {
        /// What was being done: `reading`, `writing`, `creating`, `renaming`, `removing`, `locking`.
        verb: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Training produced a non-finite loss.
    #[error(
        "training diverged: {}, client {}, round {round}: loss is {loss}",
        one_line(model),
        one_line(client)
    )]
    Diverged {
        /// Which model, e.g. `expert 3`, `router`, `monolith`.
        model: String,
        /// The client whose local update diverged (or `pooled`).
        client: String,
        /// The 1-based federated round.
        round: usize,
        /// The offending loss value.
        loss: f32,
    },
    /// The data cannot be partitioned or grouped as asked.
    #[error("{}: {}", one_line(path), one_line(message))]
    Partition {
        /// Dotted path of the scenario key that governs the failing step.
        path: String,
        /// What failed and how to fix it.
        message: String,
    },
    /// Reading or writing a results table failed.
    #[error("{verb} {}: {}", one_line(path.display()), one_line(message))]
    Table {
        /// `reading` or `writing`.
        verb: &'static str,
        /// The table file.
        path: PathBuf,
        /// The writer's message.
        message: String,
    },
    /// No usable GPU adapter, or the GPU failed.
    #[error("gpu: {}", one_line(.0))]
    Gpu(String),
    /// A number that must be finite is not: a model weight, a router probability, a sample or a metric.
    #[error("{}: {}", one_line(place), one_line(what))]
    NonFinite {
        /// Where it arose: the model, policy and sampler step, file, or metric.
        place: String,
        /// What is not finite and what usually causes it.
        what: String,
    },
    /// ddmsim refuses to touch a path (it did not write it, or it holds inputs) or to start a run it cannot
    /// finish (too much memory, another run writing the same folder); the message says what to do instead.
    #[error("{}", one_line(.0))]
    Refused(String),
    /// A signal (SIGTERM, SIGINT) stopped the work: what was in progress was abandoned and its partial files
    /// removed.
    #[error(
        "interrupted by {signal}: the work in progress was abandoned and its partial files removed; finished work \
         is kept, and the same command resumes"
    )]
    Interrupted {
        /// The signal's name, e.g. `SIGTERM`.
        signal: String,
        /// The signal's number (the process exits with 128 + it).
        number: i32,
    },
}

/// `text` on one line: line breaks and other control characters are shown escaped (`\n`), so every error is one
/// line whatever a file name, key or value holds.
pub fn one_line(text: impl std::fmt::Display) -> String {
    let mut out = String::new();
    for c in text.to_string().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Invalid`] for the key at `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An I/O error while `verb`-ing `path` (`reading`, `writing`, `creating`, `renaming`, `removing`).
    pub fn io(verb: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            verb,
            path: path.into(),
            source,
        }
    }

    /// An I/O error while reading `path`.
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::io("reading", path, source)
    }

    /// An I/O error while writing `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::io("writing", path, source)
    }

    /// Whether the error is about the machine's files or folders rather than about the run's own inputs (a
    /// sweep stops on the former and records the latter as a failed cell).
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            Error::Io { .. } | Error::Table { .. } | Error::Refused(_) | Error::Interrupted { .. }
        )
    }
}
