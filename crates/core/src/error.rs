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
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    /// Writing a Parquet file failed: the disk, not the data (a full disk is retried).
    #[error("cannot write Parquet file `{path}`")]
    WriteParquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Another run holds the partition's write lock.
    #[error("another run is writing this part of the partition (lock `{path}` is held); retry when it has finished")]
    Locked { path: PathBuf },
    /// A path the invocation names (data root, config file, input table) does not exist
    /// or is not what it must be: a misconfiguration, never a quiet night.
    #[error("{what} `{path}` {problem}")]
    MissingInput {
        what: &'static str,
        path: PathBuf,
        problem: &'static str,
    },
}

impl CoreError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// Checks that the file `path` (a config, `what` names it) exists and is a regular
    /// file: a missing config is a misconfiguration (exit 2) in every job.
    pub fn require_file(what: &'static str, path: &std::path::Path) -> Result<(), Self> {
        Self::require(what, path, std::fs::Metadata::is_file, "is not a regular file")
    }

    /// Checks that the directory `path` exists.
    pub fn require_dir(what: &'static str, path: &std::path::Path) -> Result<(), Self> {
        Self::require(what, path, std::fs::Metadata::is_dir, "is not a directory")
    }

    fn require(
        what: &'static str,
        path: &std::path::Path,
        is_wanted: fn(&std::fs::Metadata) -> bool,
        otherwise: &'static str,
    ) -> Result<(), Self> {
        let problem = match std::fs::metadata(path) {
            Ok(meta) if is_wanted(&meta) => return Ok(()),
            Ok(_) => otherwise,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
            Err(e) => return Err(Self::io(path, e)),
        };
        Err(Self::MissingInput {
            what,
            path: path.to_owned(),
            problem,
        })
    }
}

impl crate::exit::Classify for CoreError {
    fn kind(&self) -> crate::exit::ErrorKind {
        use crate::exit::ErrorKind;
        match self {
            Self::Io { .. } | Self::WriteParquet { .. } | Self::Locked { .. } => ErrorKind::Runtime,
            Self::InvalidDate { .. } | Self::InvalidShard { .. } | Self::InvalidOption { .. } => ErrorKind::Usage,
            Self::Parquet { .. }
            | Self::Arrow { .. }
            | Self::MissingColumn { .. }
            | Self::WrongColumnType { .. }
            | Self::BadValue { .. }
            | Self::IncompletePartition { .. }
            | Self::BadManifest { .. }
            | Self::InvalidWeights { .. }
            | Self::MissingInput { .. } => ErrorKind::BadInput,
        }
    }
}
