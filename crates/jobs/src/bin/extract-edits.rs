//! `extract-edits`: pairs each generated file with what the user kept (see
//! `hive_extract` for the rules); this binary only parses arguments and reports.

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_core::cli::{CommonArgs, ShardArgs};
use hive_core::{ExitStatus, env};
use hive_extract::ExtractOptions;

const JOB: &str = "extract-edits";

/// Pair every generated file with what the user kept at the end of its observation window.
///
/// The run for --date D takes the generations whose window (generated_at + --window-days)
/// closes on D, reading `raw/generations` partitions D-window-1..=D, and compares each
/// generated file with the project's latest snapshot captured in [generated_at, window end]
/// (`raw/snapshots`). It writes `edits/dt=D/` and `quarantine/extract-edits/dt=D/`
/// (duplicates, late arrivals, broken records, generations without a snapshot, oversized
/// or non-UTF-8 text). Inputs may be Parquet or NDJSON.
///
/// Exit codes: 0 done; 1 too many rows quarantined (outputs written); 2 bad input or usage;
/// 3 runtime failure (I/O: a retry may help); 99 nothing to process for this date.
///
/// Examples:
///   extract-edits --data-root data/sample --date 2026-10-12
///   extract-edits --date 2026-10-12 --shard 1/4 --log-format json
#[derive(Debug, Parser)]
#[command(name = "extract-edits", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    shard: ShardArgs,

    /// Observation window in days: how long users may edit before what they kept is taken.
    #[arg(long, env = env::WINDOW_DAYS, default_value_t = 7)]
    window_days: u32,

    /// Largest file content accepted on either side, in bytes; larger files quarantine
    /// their generation.
    #[arg(long, env = env::MAX_FILE_BYTES, default_value_t = 16 << 20)]
    max_file_bytes: u64,

    /// Most bytes one read of a raw input may decode: an NDJSON line, or one column
    /// chunk of a Parquet row group (its uncompressed size in the footer, checked before
    /// decoding). Larger lines and row groups are quarantined as `oversized_record`
    /// unread, so a compression bomb cannot exhaust memory.
    #[arg(long, env = env::MAX_READ_BYTES, default_value_t = hive_extract::records::DEFAULT_MAX_READ_BYTES)]
    max_read_bytes: u64,

    /// Largest share of this run's generations that may be quarantined before it exits 1.
    #[arg(long, env = env::MAX_QUARANTINE_RATIO, default_value_t = 0.10)]
    max_quarantine_ratio: f64,

    /// Content of the chosen snapshots' files held in memory for the comparisons, in bytes;
    /// the rest waits in a temporary file (in --spill-dir), so memory does not grow with
    /// the day's size. Outputs are the same either way.
    #[arg(long, env = env::SNAPSHOT_MEMORY_BYTES, default_value_t = 512 << 20)]
    snapshot_memory_bytes: u64,

    /// Worker threads decoding raw Parquet row groups; 0 uses one per core. Outputs are
    /// the same for any number; memory holds one row group's selected rows per thread.
    #[arg(long, env = env::THREADS, default_value_t = 0)]
    threads: usize,

    /// Directory of the temporary spill file (unnamed: nothing is left behind). Default:
    /// the system's temporary directory ($TMPDIR).
    #[arg(long, env = env::SPILL_DIR, value_name = "DIR")]
    spill_dir: Option<std::path::PathBuf>,
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(cli.shard.shard).classified()?;
    for table in [hive_core::schema::RAW_GENERATIONS, hive_core::schema::RAW_SNAPSHOTS] {
        target.require_table(table).classified()?;
    }
    let options = ExtractOptions {
        data_root: target.root().to_owned(),
        date: cli.common.date,
        shard: cli.shard.shard,
        window_days: cli.window_days,
        max_file_bytes: cli.max_file_bytes,
        read_limits: hive_extract::records::ReadLimits {
            max_read_bytes: cli.max_read_bytes,
        },
        max_quarantine_ratio: cli.max_quarantine_ratio,
        snapshot_memory_bytes: cli.snapshot_memory_bytes,
        spill_dir: cli.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
        threads: cli.threads,
        quiet: cli.common.log.quiet,
    };
    let summary = hive_extract::run(&options).job_context(|| format!("extracting edits for {} (shard {})", options.date, options.shard))?;
    tracing::info!(
        generations = summary.generations_out,
        edit_rows = summary.edit_rows_out,
        quarantined = summary.rows_quarantined,
        reconciled = summary.reconciled,
        "extract-edits finished"
    );
    hive_jobs::conclude(&summary)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
