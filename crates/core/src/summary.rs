//! The one JSON line a job prints on stdout when it ends.
//!
//! Airflow pushes the last stdout line to XCom, so downstream tasks and alerts read row
//! counts and output paths from it instead of parsing logs.

use std::io::Write;

use serde::Serialize;

use crate::ExitStatus;

/// A job's summary line, and what it means for the process.
///
/// Each library crate keeps its own `RunStatus` (its words for how a run ends go into the
/// JSON), and says here which exit status that is and whether its row counts reconcile,
/// so every binary ends the same way (`hive_jobs::conclude`).
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
