//! Typed errors of the shared lake conventions.
//!
//! Every message names the offending path, column or value in backticks so that an
//! operator reading an Airflow log can go straight to the file.

use std::path::PathBuf;

/// An error raised by the shared lake code. Binaries wrap it with `anyhow` context.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("I/O error on `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a readable Parquet file")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("Arrow error while handling `{path}`")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("`{path}` has no column `{column}` (found: {found})")]
    MissingColumn { path: PathBuf, column: String, found: String },
    #[error("`{path}`: column `{column}` has type {found}, expected {expected}")]
    WrongColumnType {
        path: PathBuf,
        column: String,
        expected: String,
        found: String,
    },
    #[error("`{path}` row {row}, column `{column}`: {message}")]
    BadValue {
        path: PathBuf,
        row: u64,
        column: String,
        message: String,
    },
    #[error("partition `{path}` is incomplete: it has no `_SUCCESS` marker")]
    IncompletePartition { path: PathBuf },
    #[error("`{path}`: {message}")]
    BadManifest { path: PathBuf, message: String },
    #[error("invalid date `{value}`: expected YYYY-MM-DD")]
    InvalidDate { value: String },
    #[error("invalid shard `{value}`: {reason}")]
    InvalidShard { value: String, reason: String },
    #[error("invalid routing weights {weights:?}: {reason}")]
    InvalidWeights { weights: Vec<f64>, reason: String },
}

impl CoreError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// Whether the error is the caller's input being unusable (exit code 2) rather than
    /// an environment failure.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Io { .. })
    }
}
