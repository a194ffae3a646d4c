//! What the job binaries share beyond `hive-core`: parsing arguments, turning a `run`
//! result into an exit code, and printing errors the way operators expect.
//!
//! Each binary's `main` parses arguments with [`parse_args`], calls its library's `run`
//! (library errors cross into `anyhow` through [`JobResultExt`], which keeps their
//! [`ErrorKind`]), ends with [`conclude`] (the JSON summary line, the reconciliation
//! check, the exit status) and returns the status from [`finish`]; nothing else lives in
//! a binary. Whatever happens, the job's last stdout line is a JSON summary: a failed
//! run prints [`FailureSummary`], so the DAG's XCom always says how the task ended.

use std::fmt::Display;

use anyhow::Context as _;
use hive_core::ExitStatus;
use hive_core::exit::{Classified, Classify, ErrorKind};
use hive_core::summary::JobSummary;
use serde::Serialize;

/// Prints the summary line, then fails when the summary's rows do not reconcile, else
/// returns the exit status its run status means.
pub fn conclude<S: JobSummary>(summary: &S) -> anyhow::Result<ExitStatus> {
    hive_core::summary::emit(summary).context("writing the summary line")?;
    if let Some(equation) = summary.reconciliation_error() {
        return Err(Classified::msg(ErrorKind::Runtime, format!("rows do not reconcile: {equation}")).into());
    }
    Ok(summary.exit_status())
}

/// The summary of a run that had nothing to do before its library was called (a job
/// that is not configured, or whose input partitions are all absent).
#[derive(Debug, Serialize)]
pub struct NothingSummary<'a> {
    pub job: &'a str,
    pub date: String,
    pub status: &'static str,
    pub reason: &'a str,
}

/// Says why there is nothing to process (stderr and the summary line) and returns 99.
pub fn nothing_to_process(job: &str, date: String, reason: &str) -> anyhow::Result<ExitStatus> {
    eprintln!("{job}: {reason} (exit 99, task skipped)");
    let summary = NothingSummary {
        job,
        date,
        status: ExitStatus::NothingToProcess.name(),
        reason,
    };
    hive_core::summary::emit(&summary).context("writing the summary line")?;
    Ok(ExitStatus::NothingToProcess)
}

/// Library results on their way into `anyhow`: the error keeps its kind.
pub trait JobResultExt<T> {
    /// Like `anyhow::Context::with_context`, remembering the error's kind.
    fn job_context<C, F>(self, context: F) -> anyhow::Result<T>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C;

    /// Converts the error, remembering its kind.
    fn classified(self) -> anyhow::Result<T>;
}

impl<T, E: Classify + Send + Sync + 'static> JobResultExt<T> for Result<T, E> {
    fn job_context<C, F>(self, context: F) -> anyhow::Result<T>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| anyhow::Error::new(Classified::new(e)).context(context()))
    }

    fn classified(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(Classified::new(e)))
    }
}

/// A usage error a binary raises itself (exit 2).
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    Classified::msg(ErrorKind::Usage, message).into()
}

/// The kind of a failed run: the first classified error in the chain. An error nobody
/// classified is a runtime failure (exit 3, retried), except I/O on stdout/stderr, which
/// is one too.
pub fn error_kind(error: &anyhow::Error) -> ErrorKind {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Classified>().map(Classified::kind))
        .unwrap_or(ErrorKind::Runtime)
}

/// The summary line of a run that ended in an error (exit 2, 3, or 99 from an error).
#[derive(Debug, Serialize)]
pub struct FailureSummary<'a> {
    pub job: &'a str,
    /// The partition date, when the arguments got that far.
    pub date: Option<String>,
    /// The exit status's name (`bad_input`, `runtime_failure`, ...).
    pub status: &'static str,
    pub exit_code: u8,
    pub error_kind: ErrorKind,
    /// The error and its causes, joined by `: `.
    pub error: String,
}

/// The error's messages, outermost first, each scrubbed of secrets and personal data
/// ([`hive_secrets::scrub_message`]: quoted input text, a server's answer, a URL with
/// credentials) while the files they name stay readable.
fn scrubbed_chain(error: &anyhow::Error) -> Vec<String> {
    error.chain().map(|cause| hive_secrets::scrub_message(&cause.to_string())).collect()
}

/// Prints `error: ...` with one `Caused by:` line per source on stderr, scrubbed of
/// secrets, and returns the error's kind.
pub fn print_error(error: &anyhow::Error) -> ErrorKind {
    let chain = scrubbed_chain(error);
    if let Some((first, causes)) = chain.split_first() {
        eprintln!("error: {first}");
        for cause in causes {
            eprintln!("  Caused by: {cause}");
        }
    }
    error_kind(error)
}

/// Maps a job's result to the process exit code; an error is printed on stderr and
/// reported as the failure summary line on stdout.
pub fn finish(job: &str, date: Option<String>, result: anyhow::Result<ExitStatus>) -> std::process::ExitCode {
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            let kind = print_error(&error);
            let status = kind.exit_status();
            let summary = FailureSummary {
                job,
                date,
                status: status.name(),
                exit_code: status.code(),
                error_kind: kind,
                error: scrubbed_chain(&error).join(": "),
            };
            // A closed stdout cannot take the summary; the exit code still says it all.
            let _ = hive_core::summary::emit(&summary);
            status.into()
        }
    }
}

/// Maps a tool's result (`route-project`, whose stdout is its answer, not a summary) to
/// the process exit code, printing an error on stderr only.
pub fn finish_tool(result: anyhow::Result<ExitStatus>) -> std::process::ExitCode {
    match result {
        Ok(status) => status.into(),
        Err(error) => print_error(&error).exit_status().into(),
    }
}

/// Parses the command line; a usage error prints clap's message and a failure summary
/// line, and exits 2 (`--help` and `--version` exit 0 as usual).
pub fn parse_args<P: clap::Parser>(job: &str) -> P {
    match P::try_parse() {
        Ok(parsed) => parsed,
        Err(e) => {
            use clap::error::ErrorKind as Clap;
            if !matches!(
                e.kind(),
                Clap::DisplayHelp | Clap::DisplayVersion | Clap::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // clap quotes the offending value, which may be a credential
                // (`--tracking-uri https://user:pass@host`): print it scrubbed.
                let rendered = hive_secrets::scrub_message(&e.render().to_string());
                eprint!("{rendered}");
                let first = rendered.lines().next().unwrap_or_default();
                let summary = FailureSummary {
                    job,
                    date: None,
                    status: ExitStatus::BadInput.name(),
                    exit_code: ExitStatus::BadInput.code(),
                    error_kind: ErrorKind::Usage,
                    error: first.trim_start_matches("error: ").to_owned(),
                };
                let _ = hive_core::summary::emit(&summary);
                std::process::exit(i32::from(ExitStatus::BadInput.code()));
            }
            e.exit()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("bad thing")]
    struct Bad;
    impl Classify for Bad {
        fn kind(&self) -> ErrorKind {
            ErrorKind::BadInput
        }
    }

    #[test]
    fn the_kind_survives_context_layers() {
        let result: Result<(), Bad> = Err(Bad);
        let error = result.job_context(|| "reading").context("outer").expect_err("an error");
        assert_eq!(error_kind(&error), ErrorKind::BadInput);
        assert_eq!(
            error.chain().map(ToString::to_string).collect::<Vec<_>>(),
            ["outer", "reading", "bad thing"]
        );
    }

    #[test]
    fn an_unclassified_error_is_a_runtime_failure() {
        let error = anyhow::anyhow!("disk full");
        assert_eq!(error_kind(&error).exit_status(), ExitStatus::RuntimeFailure);
    }
}
