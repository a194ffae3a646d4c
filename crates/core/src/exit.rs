//! The exit codes every job uses, and the one place an error's kind becomes one.
//!
//! Airflow decides retries and skips from the exit code alone, so the meaning of each
//! code is part of the contract with the DAGs (`dags/`): 1 and 2 fail the task at once
//! (a retry would read the same data and give the same answer), 3 is retried (the file
//! system, the network or a server may be back), 99 becomes a skipped task.
//!
//! Every error type of the workspace says once what kind of failure it is
//! ([`Classify`]); binaries wrap library errors in [`Classified`] as they hand them to
//! `anyhow`, and `hive_jobs::finish` reads the kind back from the chain, so no list of
//! error types has to be kept anywhere. The Python side of the contract
//! (`dags/hive_exit_codes.py`) is generated from [`ExitStatus::ALL`] and checked by a test.

use std::fmt;
use std::fmt::Write as _;

use serde::Serialize;

/// How a job ended. The numeric values are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// The job did its work; outputs are complete and committed.
    Success = 0,
    /// The job ran but the data failed a check (too many rows quarantined, a blocking
    /// gate failed, a sample-ratio mismatch). Outputs are still written so the failure
    /// can be inspected. Retrying will give the same answer.
    DataFailure = 1,
    /// The invocation or the input is unusable: unknown flag, missing data root or config
    /// file, corrupt Parquet, missing or mistyped column. Retrying will not help; the
    /// message names the file and column.
    BadInput = 2,
    /// Something other than the data or the invocation failed: reading or writing the
    /// lake (disk full, permissions), the network or the MLflow server, or a bug such as
    /// rows that do not reconcile. A retry may help; the message says what failed.
    RuntimeFailure = 3,
    /// There was nothing to process for this partition: it exists and is empty, or none
    /// of its rows belong to this run. Airflow marks the task skipped.
    NothingToProcess = 99,
}

impl ExitStatus {
    /// Every status, in code order (the table the DAGs read).
    pub const ALL: [ExitStatus; 5] = [
        Self::Success,
        Self::DataFailure,
        Self::BadInput,
        Self::RuntimeFailure,
        Self::NothingToProcess,
    ];

    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status's name in summaries and in the DAGs' table (`bad_input`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::DataFailure => "data_failure",
            Self::BadInput => "bad_input",
            Self::RuntimeFailure => "runtime_failure",
            Self::NothingToProcess => "nothing_to_process",
        }
    }

    /// What Airflow does with a task that exits with this status.
    pub fn airflow_action(self) -> AirflowAction {
        match self {
            Self::Success => AirflowAction::Succeed,
            Self::DataFailure | Self::BadInput => AirflowAction::FailAtOnce,
            Self::RuntimeFailure => AirflowAction::Retry,
            Self::NothingToProcess => AirflowAction::Skip,
        }
    }

    /// The Python module `dags/hive_exit_codes.py`, generated from this enum so that the
    /// DAGs and the local runner read the same table as the jobs.
    pub fn python_module() -> String {
        let mut out = String::from(
            "\"\"\"The jobs' exit codes, as the DAGs act on them.\n\n\
             GENERATED from `hive_core::exit::ExitStatus` (crates/core/src/exit.rs); do not edit.\n\
             Regenerate: `HIVE_UPDATE_CONTRACTS=1 cargo test -p hive-core exit_codes_module`.\n\"\"\"\n\n",
        );
        for status in Self::ALL {
            let _ = writeln!(out, "EXIT_{} = {}", status.name().to_uppercase(), status.code());
        }
        out.push_str("\n#: Exit codes that fail a task at once: a retry would read the same input.\n");
        let at_once: Vec<String> = Self::ALL
            .iter()
            .filter(|s| s.airflow_action() == AirflowAction::FailAtOnce)
            .map(|s| format!("EXIT_{}", s.name().to_uppercase()))
            .collect();
        let _ = writeln!(out, "FAIL_AT_ONCE = frozenset({{{}}})", at_once.join(", "));
        out.push_str("\n#: Every code the jobs use, by name.\nNAMES = {\n");
        for status in Self::ALL {
            let _ = writeln!(out, "    {}: \"{}\",", status.code(), status.name());
        }
        out.push_str("}\n");
        out
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// What Airflow does with a task's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AirflowAction {
    Succeed,
    /// The task fails without retrying (`AirflowFailException`).
    FailAtOnce,
    /// The task fails and is retried (`retries` in `default_args`).
    Retry,
    /// The task is marked skipped (`skip_on_exit_code`).
    Skip,
}

/// What kind of failure an error is; each error type of the workspace says it once
/// ([`Classify`]) and the exit status follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The invocation is wrong: an invalid flag value, a flag the job does not take.
    Usage,
    /// The input is unusable: a missing data root or config file, corrupt Parquet, a
    /// missing column, a config that does not validate.
    BadInput,
    /// The data failed a check the job makes (reported through the summary).
    DataCheck,
    /// The environment failed (I/O, disk full, network, a server), or an internal
    /// invariant broke: a retry may help.
    Runtime,
    /// There was nothing to do.
    NothingToProcess,
}

impl ErrorKind {
    /// The exit status an error of this kind ends the job with.
    pub fn exit_status(self) -> ExitStatus {
        match self {
            Self::Usage | Self::BadInput => ExitStatus::BadInput,
            Self::DataCheck => ExitStatus::DataFailure,
            Self::Runtime => ExitStatus::RuntimeFailure,
            Self::NothingToProcess => ExitStatus::NothingToProcess,
        }
    }
}

/// An error type that knows what kind of failure it is.
pub trait Classify: std::error::Error {
    /// The kind of this error (and so the job's exit status).
    fn kind(&self) -> ErrorKind;
}

/// A library error with its kind attached, for the trip through `anyhow`: it displays as
/// the error itself and has the same sources, so the `Caused by:` lines are unchanged.
pub struct Classified {
    kind: ErrorKind,
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl Classified {
    /// Wraps `error`, remembering its kind.
    pub fn new<E: Classify + Send + Sync + 'static>(error: E) -> Self {
        Self {
            kind: error.kind(),
            inner: Box::new(error),
        }
    }

    /// An error of `kind` with a message (for the few checks a binary makes itself).
    pub fn msg(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            inner: message.into().into(),
        }
    }

    /// The kind of the wrapped error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Debug for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Classified {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DAGs and the trainer (packaged on its own, so it carries its own copy) read
    /// the same generated table.
    #[test]
    fn exit_codes_module_is_the_committed_one() {
        let generated = ExitStatus::python_module();
        for rel in ["dags/hive_exit_codes.py", "trainer/hive_trainer/exit_codes.py"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
            if std::env::var_os("HIVE_UPDATE_CONTRACTS").is_some() {
                std::fs::write(&path, &generated).expect("writing the exit-code module");
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                committed, generated,
                "{rel} is stale: run `HIVE_UPDATE_CONTRACTS=1 cargo test -p hive-core exit_codes_module` and commit it"
            );
        }
    }

    #[test]
    fn codes_are_stable_and_kinds_map_to_them() {
        let codes: Vec<u8> = ExitStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 99]);
        assert_eq!(ErrorKind::Usage.exit_status().code(), 2);
        assert_eq!(ErrorKind::BadInput.exit_status().code(), 2);
        assert_eq!(ErrorKind::DataCheck.exit_status().code(), 1);
        assert_eq!(ErrorKind::Runtime.exit_status().code(), 3);
        assert_eq!(ErrorKind::NothingToProcess.exit_status().code(), 99);
    }

    #[test]
    fn classified_displays_as_the_error_and_keeps_its_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        impl Classify for Outer {
            fn kind(&self) -> ErrorKind {
                ErrorKind::Runtime
            }
        }
        let wrapped = Classified::new(Outer(std::io::Error::other("inner")));
        assert_eq!(wrapped.to_string(), "outer");
        assert_eq!(
            std::error::Error::source(&wrapped).map(ToString::to_string),
            Some("inner".to_owned())
        );
        assert_eq!(wrapped.kind(), ErrorKind::Runtime);
    }
}
