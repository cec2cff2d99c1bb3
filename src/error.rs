//! The library's error type: every failure a user can cause names the field, file, line or model at fault.

use std::path::PathBuf;

/// Errors raised by ddmsim; each renders as one line that says where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario value is out of range or inconsistent; `path` is the dotted path of the key.
    #[error("{path}: {message}")]
    Invalid {
        /// Dotted path of the offending key, e.g. `clients.partition.alpha`.
        path: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The scenario file is not valid YAML or does not match the schema.
    #[error("{file}: {message}")]
    Yaml {
        /// The scenario file.
        file: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A data file has a malformed cell, row or header.
    #[error("{file}:{line}:{column}: {message}")]
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
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Training produced a non-finite loss.
    #[error("training diverged: {model}, client {client}, round {round}: loss is {loss}")]
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
    #[error("{path}: {message}")]
    Partition {
        /// Dotted path of the scenario key that governs the failing step.
        path: String,
        /// What failed and how to fix it.
        message: String,
    },
    /// Writing a results table failed.
    #[error("writing {}: {message}", path.display())]
    Table {
        /// The table file.
        path: PathBuf,
        /// The writer's message.
        message: String,
    },
    /// No usable GPU adapter, or the GPU failed.
    #[error("gpu: {0}")]
    Gpu(String),
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

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
