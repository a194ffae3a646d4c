//! `validate-raw`: checks a raw export against the published contract (`contracts/`,
//! see `hive_extract::contract`) without writing the lake; this binary only parses
//! arguments and reports.

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_core::cli::CommonArgs;
use hive_core::{ExitStatus, Shard, env};

const JOB: &str = "validate-raw";

/// Check one day of a raw export against the contract, writing nothing.
///
/// Reads every row of `raw/generations/dt=D` and `raw/snapshots/dt=D` (Parquet or NDJSON)
/// with the reader extract-edits uses and reports each row it would quarantine for its
/// shape: a missing, null or empty key, a timestamp that is not one, a `schema_version`
/// this reader does not know, a bad `files` entry (path, content, base64, a path given
/// twice, text that is not UTF-8), and files lacking a required column or with a column of
/// the wrong type. Each violation is logged on stderr (file, row, field, reason) and
/// listed in the summary line's `violations`. Rules that depend on a run (the window,
/// --max-file-bytes, redeliveries, a generation without a snapshot) are not checked. The
/// contract: contracts/ and docs/contracts.md; the same check in Python:
/// tests/python/check_contracts.py.
///
/// Exit codes: 0 every row follows the contract; 1 at least one violation; 2 bad usage, a
/// missing data root or raw table, or no `raw/generations/dt=D` partition; 3 runtime
/// failure (I/O); 99 the partitions hold no rows.
///
/// Example:
///   validate-raw --data-root /tmp/platform-export --date 2026-10-12
#[derive(Debug, Parser)]
#[command(name = "validate-raw", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// Most bytes one read may decode (an NDJSON line, one column chunk of a Parquet row
    /// group), as extract-edits --max-read-bytes: larger ones are violations
    /// (`oversized_record`), reported unread.
    #[arg(long, env = env::MAX_READ_BYTES, default_value_t = hive_extract::records::DEFAULT_MAX_READ_BYTES)]
    max_read_bytes: u64,
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(Shard::ALL).classified()?;
    for table in [hive_core::schema::RAW_GENERATIONS, hive_core::schema::RAW_SNAPSHOTS] {
        target.require_table(table).classified()?;
    }
    // Checking a day the export does not have must not look like a clean export.
    let partition = hive_core::lake::partition_dir(target.root(), hive_core::schema::RAW_GENERATIONS, cli.common.date);
    hive_core::CoreError::require_dir("raw/generations partition", &partition).classified()?;
    let summary = hive_extract::contract::validate_partition(
        target.root(),
        cli.common.date,
        hive_extract::records::ReadLimits {
            max_read_bytes: cli.max_read_bytes,
        },
    )
    .job_context(|| format!("validating the raw export of {}", cli.common.date))?;
    for violation in &summary.violations {
        tracing::warn!("contract violation: {violation}");
    }
    tracing::info!(
        generation_rows = summary.generation_rows,
        snapshot_rows = summary.snapshot_rows,
        violating_rows = summary.violating_rows,
        "validate-raw finished"
    );
    hive_jobs::conclude(&summary)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
