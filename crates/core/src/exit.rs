//! The exit codes every job uses, in one place.
//!
//! Airflow decides retries and skips from the exit code alone, so the meaning of each
//! code is part of the contract with the DAGs (`dags/`): 1 and 2 fail the task at once
//! (a retry would read the same data and give the same answer), 3 is retried (the file
//! system, the network or a server may be back), 99 becomes a skipped task.

/// How a job ended. The numeric values are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The job did its work; outputs are complete and committed.
    Success = 0,
    /// The job ran but the data failed a check (too many rows quarantined, a blocking
    /// gate failed, a sample-ratio mismatch). Outputs are still written so the failure
    /// can be inspected. Retrying will give the same answer.
    DataFailure = 1,
    /// The invocation or the input is unusable: unknown flag, corrupt Parquet, missing
    /// or mistyped column. Retrying will not help; the message names file and column.
    BadInput = 2,
    /// Something other than the data or the invocation failed: reading or writing the
    /// lake (disk full, permissions), the network or the MLflow server, or a bug such as
    /// rows that do not reconcile. A retry may help; the message says what failed.
    RuntimeFailure = 3,
    /// There was nothing to process for this partition (no input files, or none of the
    /// rows belong to this run). Airflow marks the task skipped.
    NothingToProcess = 99,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}
