//! `ab-significance`: experiment statistics from `generation_scores` (see `hive_ab`);
//! this binary only parses arguments and reports.

use std::path::PathBuf;

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_ab::AbOptions;
use hive_core::cli::{CommonArgs, OnDataFailure};
use hive_core::{CoreError, ExitStatus, Shard, env};

const JOB: &str = "ab-significance";

/// Compare template versions in every started experiment: per-project statistics that stay valid when read every night.
///
/// Reads the committed `generation_scores` partitions from each experiment's start (minus its
/// CUPED look-back) through --date, groups generations by project (the unit of randomisation),
/// checks each project's logged variant against the routing spec, and writes `ab_results/dt=D/`:
/// one row per experiment x metric x treatment with absolute and relative lifts, fixed-horizon
/// tests (delta-method ratio, Welch, clustered proportion), Holm and BH adjustments, CUPED,
/// always-valid sequential intervals and p-values, Bayesian chance to win and expected loss,
/// MDE and power, and the sample-ratio check. Also writes a Markdown report with charts to
/// `reports/ab-significance/dt=D/`.
///
/// Exit codes: 0 done; 1 done but an experiment's split fails the sample-ratio check (SRM;
/// with --on-srm warn, 0); 2 bad config or input; 3 runtime failure (I/O: a retry may help);
/// 99 no experiment started or no scores yet.
///
/// Examples:
///   ab-significance --data-root data --date 2026-10-17 --config data/experiments.yaml
///   HIVE_EXPERIMENTS_CONFIG=exp.yaml ab-significance --date 2026-10-17 --log-format json
#[derive(Debug, Parser)]
#[command(name = "ab-significance", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// Experiments config (docs/experiments.md).
    #[arg(long, env = env::EXPERIMENTS_CONFIG)]
    config: PathBuf,

    /// Also read `gate_results` from the experiment's start through --date, for the
    /// `gate_pass_rate` metric (usually a guardrail): the share of a project's gate
    /// evaluations that pass.
    #[arg(long, env = env::GATE_RESULTS)]
    gate_results: bool,

    /// The scoring window of extract-edits (its --window-days): generations of day g are
    /// scored on g + window. The CUPED pre-period ends this many days before the start,
    /// and the sequential power is planned through end + window.
    #[arg(long, env = env::WINDOW_DAYS, default_value_t = hive_ab::DEFAULT_WINDOW_DAYS)]
    window_days: u32,

    /// On a sample-ratio mismatch: `fail` exits 1 after writing everything; `warn` exits 0.
    /// Either way the experiments are listed in the summary's `srm_flags`, logged as an
    /// error and marked in `ab_results` and the report, and promote-templates stops them.
    /// The nightly DAG uses `warn` so the night's promotions are still decided, and fails
    /// its own `srm_alarm` task instead.
    #[arg(long, env = env::ON_SRM, value_enum, default_value_t = OnDataFailure::Fail)]
    on_srm: OnDataFailure,
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(Shard::ALL).classified()?;
    target.require_table(hive_core::schema::GENERATION_SCORES).classified()?;
    CoreError::require_file("experiments config", &cli.config).classified()?;
    let options = AbOptions {
        data_root: target.root().to_owned(),
        date: cli.common.date,
        config: cli.config.clone(),
        gate_results: cli.gate_results,
        window_days: cli.window_days,
    };
    let summary = hive_ab::run(&options).job_context(|| format!("analysing experiments for {}", options.date))?;
    if !summary.guardrails_not_judged.is_empty() {
        tracing::warn!(guardrails = ?summary.guardrails_not_judged, "guardrails not judged: they block promotion");
    }
    if !summary.srm_flags.is_empty() {
        tracing::error!(experiments = ?summary.srm_flags, "sample ratio mismatch: these splits are broken");
    }
    Ok(cli.on_srm.apply(hive_jobs::conclude(&summary)?))
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
