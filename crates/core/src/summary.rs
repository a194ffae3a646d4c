//! The one JSON line a job prints on stdout when it ends.
//!
//! Airflow pushes the last stdout line to XCom, so downstream tasks and alerts read row
//! counts and output paths from it instead of parsing logs.

use std::io::Write;

use serde::Serialize;

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
