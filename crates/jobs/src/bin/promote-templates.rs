//! `promote-templates`: promotion decisions from `ab_results` (see `hive_ab::promote`);
//! this binary only parses arguments and reports.

use std::path::PathBuf;

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_ab::config::ExperimentsConfig;
use hive_core::cli::CommonArgs;
use hive_core::{CoreError, ExitStatus, Shard, env};

const JOB: &str = "promote-templates";

/// Decide, per experiment, whether to promote a template version, continue, or stop.
///
/// Reads the `ab_results` nights from the experiments' start through D and writes
/// `promotions/dt=D/`, one row per analysed experiment. Decisions are a ledger replayed from
/// those nights, so promote and stop are final and reruns or backfills give the same rows:
/// `promote` when the primary metric's running always-valid interval excludes zero in the good
/// direction after Holm across treatments, every guardrail passes its non-inferiority margin,
/// the split passes the sample-ratio check and the minimum runtime and projects are reached;
/// `stop` on a sample ratio mismatch, when every treatment fails a guardrail or is worse, or
/// once end + window days have passed with no winner; `continue` otherwise. Each decision
/// carries its evidence as JSON.
///
/// Exit codes: 0 done; 2 bad config or input; 3 runtime failure (I/O); 99 no `ab_results` for
/// the date.
///
/// Example:
///   promote-templates --data-root data --date 2026-10-17 --config data/experiments.yaml
#[derive(Debug, Parser)]
#[command(name = "promote-templates", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// Experiments config (docs/experiments.md).
    #[arg(long, env = env::EXPERIMENTS_CONFIG)]
    config: PathBuf,

    /// The scoring window of extract-edits (its --window-days): an experiment has ended once
    /// end + window days have passed and all its generations are scored.
    #[arg(long, env = env::WINDOW_DAYS, default_value_t = hive_ab::DEFAULT_WINDOW_DAYS)]
    window_days: u32,
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(Shard::ALL).classified()?;
    target.require_table(hive_core::schema::AB_RESULTS).classified()?;
    CoreError::require_file("experiments config", &cli.config).classified()?;
    let config = ExperimentsConfig::load(&cli.config).classified()?;
    let summary = hive_ab::promote::run(target.root(), cli.common.date, cli.window_days, &config)
        .job_context(|| format!("deciding promotions for {}", cli.common.date))?;
    hive_jobs::conclude(&summary)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
