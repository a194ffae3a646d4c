//! `mlflow-sync`: publishes a date's tables to an MLflow tracking server; this binary only
//! parses arguments, decides whether MLflow is configured at all, and reports.

use std::time::Duration;

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_core::cli::CommonArgs;
use hive_core::{ExitStatus, Shard, env};
use hive_mlflow::{Client, Config, Mode, Source, Sync, SyncOptions};

const JOB: &str = "mlflow-sync";

/// Publish a date's generation scores, A/B results, promotions, gate results and fine-tune manifests to MLflow.
///
/// Reads whatever exists for --date among `generation_scores`, `ab_results`, `promotions`,
/// `gate_results` and `finetune/dt=D/manifest.json`, and mirrors it into MLflow: runs with
/// metrics, params and tags; the winning template version as a registered model version with
/// the `champion` alias moved to it. Every object carries a stable key (tag `hive.key`), so a
/// rerun or a backfill of the same date creates no duplicates and completes what an earlier,
/// interrupted attempt left. The Parquet tables stay the source of truth.
///
/// Credentials come from MLflow's own variables only: MLFLOW_TRACKING_TOKEN, or
/// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD. They never appear in logs or errors.
///
/// Exit codes: 0 done; 2 bad input or config; 3 the server failed or refused (after bounded
/// retries for connection errors and 5xx), or I/O: a later retry may help; 99
/// MLFLOW_TRACKING_URI is not set, nothing to do.
///
/// A promotion is undone by hand with --rollback TEMPLATE_ID=TEMPLATE_VERSION: `champion`
/// moves back to that (earlier promoted) version and nothing is published. Nightly syncs do
/// not move the alias again for a promotion decided on an earlier night, so the rollback
/// holds until a new promotion is decided.
///
/// Examples:
///   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 mlflow-sync --data-root data --date 2026-10-17
///   mlflow-sync --date 2026-10-17 --rollback py-fastapi-service=2.4.0
///   mlflow-sync --date 2026-10-17 --tracking-uri http://mlflow:5000 --mode aggregated --concurrency 16
#[derive(Debug, Parser)]
#[command(name = "mlflow-sync", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// MLflow tracking server base URL. When unset, MLflow is not configured and the job
    /// exits 99 (Airflow marks the task skipped).
    #[arg(long, env = env::MLFLOW_TRACKING_URI, value_name = "URL")]
    tracking_uri: Option<String>,

    /// `per-generation`: one run per generation (default). `aggregated`: one run per
    /// template version per day, with the per-generation table as a Parquet artifact.
    #[arg(long, env = env::MLFLOW_MODE, value_enum, default_value_t = Mode::PerGeneration)]
    mode: Mode,

    /// Requests in flight at once.
    #[arg(long, env = env::MLFLOW_CONCURRENCY, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,

    /// Attempts per request on connection errors and 5xx before the job fails.
    #[arg(long, env = env::MLFLOW_MAX_ATTEMPTS, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_attempts: u32,

    /// First retry delay in milliseconds; doubled per attempt, with full jitter, capped at 30 s.
    #[arg(long, env = env::MLFLOW_RETRY_BASE_MS, default_value_t = 500)]
    retry_base_ms: u64,

    /// Per-request timeout in seconds.
    #[arg(long, env = env::MLFLOW_TIMEOUT_SECS, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,

    /// Prefix of the experiment names (`<prefix>/template-generations`, ...) and registered
    /// model names (`<prefix>.<template_id>`).
    #[arg(long, env = env::MLFLOW_NAME_PREFIX, default_value = "hive")]
    name_prefix: String,

    /// Publish only these sources (comma-separated); the others are not read. Each nightly
    /// DAG publishes its own: template_evolution everything but `gate_results`,
    /// quality_gates only `gate_results`.
    #[arg(
        long,
        env = env::MLFLOW_TABLES,
        value_enum,
        value_delimiter = ',',
        default_values_t = Source::ALL,
        value_name = "SOURCE"
    )]
    tables: Vec<Source>,

    /// The Airflow DAG id, tag `hive.dag_id` of every run (Airflow exports it to tasks).
    #[arg(long, env = env::AIRFLOW_CTX_DAG_ID, value_name = "ID")]
    dag_id: Option<String>,

    /// The Airflow DAG run id, tag `hive.dag_run_id` of every run (Airflow exports it).
    #[arg(long, env = env::AIRFLOW_CTX_DAG_RUN_ID, value_name = "ID")]
    dag_run_id: Option<String>,

    /// Only move the `champion` alias of TEMPLATE_ID's registered model back to the model
    /// version of TEMPLATE_VERSION (a version promoted earlier), print the result, and exit.
    #[arg(long, value_name = "TEMPLATE_ID=TEMPLATE_VERSION", value_parser = parse_rollback)]
    rollback: Option<(String, String)>,
}

fn parse_rollback(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((template, version)) if !template.trim().is_empty() && !version.trim().is_empty() => {
            Ok((template.trim().to_owned(), version.trim().to_owned()))
        }
        _ => Err(format!("`{value}` is not TEMPLATE_ID=TEMPLATE_VERSION")),
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(Shard::ALL).classified()?;
    let Some(uri) = cli.tracking_uri.as_deref().filter(|u| !u.trim().is_empty()) else {
        let reason = format!(
            "{} is not set; MLflow is not configured, nothing to publish",
            env::MLFLOW_TRACKING_URI
        );
        return hive_jobs::nothing_to_process(JOB, cli.common.date.to_string(), &reason);
    };
    let config = Config {
        tracking_uri: uri.to_owned(),
        auth: Config::auth_from_env(),
        max_attempts: cli.max_attempts,
        retry_base: Duration::from_millis(cli.retry_base_ms),
        timeout: Duration::from_secs(cli.timeout_secs),
    };
    let client = Client::new(&config).job_context(|| "configuring the MLflow client")?;
    if let Some((template, version)) = &cli.rollback {
        let done = hive_mlflow::sync::rollback(&client, &cli.name_prefix, template, version)
            .job_context(|| format!("rolling `{template}` back to {version} on {}", client.base()))?;
        return hive_jobs::conclude(&done);
    }
    let sources: std::collections::BTreeSet<Source> = cli.tables.iter().copied().collect();
    let options = SyncOptions {
        sources: sources.clone(),
        data_root: target.root().to_owned(),
        date: cli.common.date,
        mode: cli.mode,
        concurrency: cli.concurrency as usize,
        name_prefix: cli.name_prefix.clone(),
        provenance: hive_mlflow::sync::Provenance {
            user: None,
            dag_id: cli.dag_id.clone(),
            dag_run_id: cli.dag_run_id.clone(),
        },
    };
    let sync = Sync::new(&client, options);
    let summary = sync
        .run()
        .job_context(|| format!("publishing {} to MLflow at {}", cli.common.date, client.base()))?;
    let Some(summary) = summary else {
        let reason = format!(
            "none of {} has a partition for {} under `{}`; nothing to publish",
            sources.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            cli.common.date,
            cli.common.data_root.display()
        );
        return hive_jobs::nothing_to_process(JOB, cli.common.date.to_string(), &reason);
    };
    hive_jobs::conclude(&summary)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
