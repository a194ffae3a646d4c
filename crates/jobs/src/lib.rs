//! What the job binaries share beyond `hive-core`: turning a `run` result into an exit
//! code and printing errors the way operators expect.
//!
//! Each binary's `main` parses arguments, calls its library's `run`, ends with
//! [`conclude`] (the JSON summary line, the reconciliation check, the exit status) and
//! returns the status from [`finish`]; nothing else lives in a binary.

use anyhow::Context as _;
use hive_core::ExitStatus;
use hive_core::summary::JobSummary;

/// Prints the summary line, then fails when the summary's rows do not reconcile, else
/// returns the exit status its run status means.
pub fn conclude<S: JobSummary>(summary: &S) -> anyhow::Result<ExitStatus> {
    hive_core::summary::emit(summary).context("writing the summary line")?;
    if let Some(equation) = summary.reconciliation_error() {
        anyhow::bail!("rows do not reconcile: {equation}");
    }
    Ok(summary.exit_status())
}

/// Prints `error: ...` with one `Caused by:` line per source and returns the exit
/// status: 2 when the input or invocation is at fault, else 3 (a runtime failure that a
/// retry may cure). Exit 1 is never an error: it is a check the data failed, which the
/// job reports through its summary's status.
pub fn report_error(error: &anyhow::Error, bad_input: bool) -> ExitStatus {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  Caused by: {cause}");
    }
    if bad_input {
        ExitStatus::BadInput
    } else {
        ExitStatus::RuntimeFailure
    }
}

/// Whether any error in the chain says the input is at fault.
pub fn is_bad_input(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<hive_core::CoreError>()
            .is_some_and(hive_core::CoreError::is_bad_input)
            || cause
                .downcast_ref::<hive_extract::ExtractError>()
                .is_some_and(hive_extract::ExtractError::is_bad_input)
            || cause
                .downcast_ref::<hive_score::ScoreError>()
                .is_some_and(hive_score::ScoreError::is_bad_input)
            || cause.downcast_ref::<hive_ab::AbError>().is_some_and(hive_ab::AbError::is_bad_input)
            || cause.downcast_ref::<hive_ab::config::ConfigError>().is_some()
            || cause
                .downcast_ref::<hive_mlflow::MlflowError>()
                .is_some_and(hive_mlflow::MlflowError::is_bad_input)
            || cause
                .downcast_ref::<hive_finetune::FinetuneError>()
                .is_some_and(hive_finetune::FinetuneError::is_bad_input)
            || cause
                .downcast_ref::<hive_gates::GatesError>()
                .is_some_and(hive_gates::GatesError::is_bad_input)
            || cause
                .downcast_ref::<hive_synth::SynthError>()
                .is_some_and(|e| matches!(e, hive_synth::SynthError::Scenario { .. }))
    })
}

/// Maps a job's result to the process exit code, reporting errors on stderr.
pub fn finish(result: anyhow::Result<ExitStatus>) -> std::process::ExitCode {
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            let bad = is_bad_input(&error);
            report_error(&error, bad).into()
        }
    }
}
