//! `synth-events`: writes realistic raw exports with planted effects (see `hive_synth`);
//! this binary only parses arguments and reports.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hive_jobs::JobResultExt;

use hive_core::ExitStatus;
use hive_core::cli::LogArgs;
use hive_synth::{OutputFormat, Scenario, SynthOptions};

const JOB: &str = "synth-events";

/// Generate realistic raw generations and project snapshots with planted effects.
///
/// Writes `<out>/raw/generations/dt=*/` and `<out>/raw/snapshots/dt=*/` (one file per day),
/// `planted.json` (what was planted: effects, anomaly counts, expected outcomes per run),
/// `truth.ndjson` (per event: the run that must handle it and what it must find) and
/// `experiments.yaml` (the experiments config). The same scenario and seed give identical
/// bytes. Memory stays flat from ten to a million generations.
///
/// Examples:
///   synth-events --out /tmp/lake --generations 2000 --days 14
///   synth-events --out data/sample --scenario data/sample/scenario.yaml --format parquet
///   synth-events --out /tmp/big --generations 1000000 --days 60 --no-truth
#[derive(Debug, Parser)]
#[command(name = "synth-events", version, verbatim_doc_comment)]
struct Cli {
    /// Directory to write under (it becomes a data root for the other jobs).
    #[arg(long, env = "HIVE_SYNTH_OUT", value_name = "DIR")]
    out: PathBuf,

    /// Scenario YAML (docs/synth-events.md); built-in defaults when absent.
    #[arg(long, env = "HIVE_SYNTH_SCENARIO", value_name = "FILE")]
    scenario: Option<PathBuf>,

    /// File format of the raw exports.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,

    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,

    /// Override the number of distinct generation events.
    #[arg(long)]
    generations: Option<u64>,

    /// Override the number of days generations are spread over.
    #[arg(long)]
    days: Option<u32>,

    /// Override the first day (YYYY-MM-DD).
    #[arg(long)]
    start_date: Option<hive_core::PartitionDate>,

    /// Override the planted relative effect of every non-control variant of the first
    /// experiment (e.g. -0.2 for 20% less rewriting).
    #[arg(long, allow_hyphen_values = true)]
    effect: Option<f64>,

    /// Do not write truth.ndjson (for very large runs).
    #[arg(long)]
    no_truth: bool,

    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Ndjson,
    Parquet,
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let mut scenario = match &cli.scenario {
        Some(path) => {
            hive_core::CoreError::require_file("scenario", path).classified()?;
            let text = fs_err::read_to_string(path)?;
            Scenario::from_yaml(&text, &path.display().to_string()).classified()?
        }
        None => Scenario::default(),
    };
    if let Some(seed) = cli.seed {
        scenario.seed = seed;
    }
    if let Some(n) = cli.generations {
        scenario.generations = n;
    }
    if let Some(d) = cli.days {
        scenario.days = d;
    }
    if let Some(d) = cli.start_date {
        scenario.start_date = d.date();
    }
    if let Some(effect) = cli.effect
        && let Some(experiment) = scenario.experiments.first_mut()
    {
        for v in experiment.variants.iter_mut().skip(1) {
            v.effect = effect;
        }
    }
    let options = SynthOptions {
        out: cli.out.clone(),
        format: match cli.format {
            Format::Ndjson => OutputFormat::Ndjson,
            Format::Parquet => OutputFormat::Parquet,
        },
        scenario,
        truth: !cli.no_truth,
    };
    let mut progress = hive_core::progress::Progress::new("generations", Some(options.scenario.generations), cli.log.quiet);
    let planted = hive_synth::run(&options, |n| progress.inc(n)).job_context(|| format!("generating into `{}`", cli.out.display()))?;
    progress.finish();
    let summary = serde_json::json!({
        "job": "synth-events",
        "out": cli.out,
        "format": planted.format,
        "counts": planted.counts,
        "files": planted.files.len(),
    });
    hive_core::summary::emit(&summary).context("writing the summary line")?;
    Ok(ExitStatus::Success)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.log);
    hive_jobs::finish(JOB, None, run(&cli))
}
