//! The arguments every job accepts, as a clap `Args` group to flatten into each CLI.
//!
//! Keeping them in one struct guarantees that `--data-root`, `--date`, `--shard`,
//! `--log-format` and `--quiet` mean the same thing, read the same environment variables
//! and validate the same way in every binary. Only the jobs that shard flatten
//! [`ShardArgs`]: a job that needs whole partitions does not offer `--shard` at all.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::{PartitionDate, Shard, env};

/// Arguments shared by every job.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Root of the lake: tables live in `<root>/<table>/dt=YYYY-MM-DD/`.
    #[arg(long, env = env::DATA_ROOT, default_value = "data", value_name = "DIR")]
    pub data_root: PathBuf,

    /// Partition date (UTC) to process, YYYY-MM-DD.
    #[arg(long, env = env::DATE, value_name = "YYYY-MM-DD")]
    pub date: PartitionDate,

    #[command(flatten)]
    pub log: LogArgs,
}

impl CommonArgs {
    /// The run's place in the lake, once the data root is known to exist: a wrong
    /// `--data-root` is a misconfiguration (exit 2), never an empty night.
    pub fn target(&self, shard: Shard) -> Result<crate::lake::Target, crate::CoreError> {
        crate::lake::Target::open(&self.data_root, self.date, shard)
    }
}

/// `--shard`, for the jobs that split a partition by project.
#[derive(Debug, Clone, Args)]
pub struct ShardArgs {
    /// Process only shard k of n: projects with xxh3_64(project_id) % n == k.
    #[arg(long, env = env::SHARD, default_value = "0/1", value_name = "K/N")]
    pub shard: Shard,
}

/// Logging arguments, for jobs that do not take a partition date.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format on stderr: `text` for people, `json` for Airflow's log collection.
    #[arg(long, env = env::LOG_FORMAT, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Only print warnings and errors on stderr (the JSON summary still goes to stdout).
    #[arg(long, short = 'q', env = env::QUIET)]
    pub quiet: bool,
}

/// How logs are rendered on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What a check the data failed (exit 1) does to a job's exit status, for the jobs
/// whose nightly DAG must go on after such a night (`ab-significance --on-srm`,
/// `evaluate-gates --on-blocking-failure`): the DAG passes `warn` and raises the failure
/// in an alarm task of its own, so the night's results are still written and published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDataFailure {
    /// Exit 1 (outputs are written either way).
    Fail,
    /// Exit 0; the failure stays in the summary line and the error log.
    Warn,
}

impl OnDataFailure {
    /// `status` as this policy has it: `warn` turns a data failure into success.
    pub fn apply(self, status: crate::ExitStatus) -> crate::ExitStatus {
        match (self, status) {
            (Self::Warn, crate::ExitStatus::DataFailure) => crate::ExitStatus::Success,
            _ => status,
        }
    }
}

/// The worker pool of a job's `--threads` option (0: one thread per core). Jobs run
/// their parallel passes inside it and keep their outputs independent of its size.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, crate::CoreError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| crate::CoreError::InvalidOption {
            name: "--threads",
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitStatus;

    #[test]
    fn warn_turns_only_a_data_failure_into_success() {
        for status in [
            ExitStatus::Success,
            ExitStatus::DataFailure,
            ExitStatus::BadInput,
            ExitStatus::RuntimeFailure,
            ExitStatus::NothingToProcess,
        ] {
            assert_eq!(OnDataFailure::Fail.apply(status), status);
            let warned = if status == ExitStatus::DataFailure {
                ExitStatus::Success
            } else {
                status
            };
            assert_eq!(OnDataFailure::Warn.apply(status), warned);
        }
    }
}
