//! The one JSON line a job prints on stdout when it ends.
//!
//! Airflow pushes the last stdout line to XCom, so downstream tasks and alerts read row
//! counts and output paths from it instead of parsing logs.

use std::io::Write;

use serde::Serialize;

use crate::ExitStatus;

/// How a lake job's run ended: its summary's `status`. (evaluate-gates has its own words,
/// `passed` and `failed`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Success,
    /// More of the partition's rows quarantined than the job's `--max-quarantine-ratio`
    /// allows; outputs are written.
    TooManyQuarantined,
    NothingToProcess,
}

impl RunStatus {
    /// 0, 1 or 99.
    pub fn exit_status(self) -> ExitStatus {
        match self {
            Self::Success => ExitStatus::Success,
            Self::TooManyQuarantined => ExitStatus::DataFailure,
            Self::NothingToProcess => ExitStatus::NothingToProcess,
        }
    }
}

/// A job's summary line, and what it means for the process: which exit status the run
/// ends with and whether its row counts reconcile, so every binary ends the same way
/// (`hive_jobs::conclude`).
pub trait JobSummary: Serialize {
    /// The exit status of a run that ended this way.
    fn exit_status(&self) -> ExitStatus;

    /// When the rows out do not add up to the rows in: the equation that failed. A job
    /// without such a check keeps the default.
    fn reconciliation_error(&self) -> Option<String> {
        None
    }
}

/// Prints `summary` as a single JSON line on stdout. A closed stdout (a consumer that
/// stopped reading) is not an error.
pub fn emit<T: Serialize>(summary: &T) -> std::io::Result<()> {
    let line = serde_json::to_string(summary).map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
