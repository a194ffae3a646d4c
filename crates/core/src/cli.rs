//! The arguments every job accepts, as a clap `Args` group to flatten into each CLI.
//!
//! Keeping them in one struct guarantees that `--data-root`, `--date`, `--shard`,
//! `--log-format` and `--quiet` mean the same thing, read the same environment variables
//! and validate the same way in every binary.

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

    /// Process only shard k of n: projects with xxh3_64(project_id) % n == k.
    #[arg(long, env = env::SHARD, default_value = "0/1", value_name = "K/N")]
    pub shard: Shard,

    #[command(flatten)]
    pub log: LogArgs,
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
