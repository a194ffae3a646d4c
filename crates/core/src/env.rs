//! The environment variables the jobs read, in one documented table.
//!
//! Every flag an operator may set from Airflow also reads an environment variable, so a
//! DAG can configure a task without templating its command line. The clap definitions
//! refer to these constants; `docs/configuration.md` mirrors this table.

/// Root of the lake (`--data-root`).
pub const DATA_ROOT: &str = "HIVE_DATA_ROOT";
/// Partition date to process (`--date`).
pub const DATE: &str = "HIVE_DATE";
/// Shard `k/n` (`--shard`).
pub const SHARD: &str = "HIVE_SHARD";
/// `text` or `json` logs on stderr (`--log-format`).
pub const LOG_FORMAT: &str = "HIVE_LOG_FORMAT";
/// Only warnings and errors on stderr (`--quiet`).
pub const QUIET: &str = "HIVE_QUIET";
/// `tracing` filter directives, e.g. `hive_extract=debug` (overrides `--quiet`).
pub const LOG_FILTER: &str = "HIVE_LOG";
/// Observation window in days (`extract-edits --window-days`).
pub const WINDOW_DAYS: &str = "HIVE_WINDOW_DAYS";
/// Largest file content accepted, in bytes (`extract-edits --max-file-bytes`).
pub const MAX_FILE_BYTES: &str = "HIVE_MAX_FILE_BYTES";
/// Most bytes one read of a raw input may decode: an NDJSON line, a Parquet column
/// chunk of a row group (`extract-edits --max-read-bytes`, `validate-raw --max-read-bytes`).
pub const MAX_READ_BYTES: &str = "HIVE_MAX_READ_BYTES";
/// Snapshot file content kept in memory before the rest spills to disk, in bytes
/// (`extract-edits --snapshot-memory-bytes`).
pub const SNAPSHOT_MEMORY_BYTES: &str = "HIVE_SNAPSHOT_MEMORY_BYTES";
/// Directory of temporary spill files (`extract-edits`, `build-finetune --spill-dir`).
pub const SPILL_DIR: &str = "HIVE_SPILL_DIR";
/// Largest share of rows that may be quarantined before the job exits 1.
pub const MAX_QUARANTINE_RATIO: &str = "HIVE_MAX_QUARANTINE_RATIO";

/// Rewrite-rate threshold above which a generation counts as rewritten (`score-diffs`).
pub const REWRITTEN_THRESHOLD: &str = "HIVE_REWRITTEN_THRESHOLD";
/// Worker threads; 0 means one per core (`score-diffs`, `extract-edits`, `build-finetune`).
pub const THREADS: &str = "HIVE_THREADS";
/// Word operations an exact character distance may cost per phase (`score-diffs`).
pub const CHAR_BUDGET: &str = "HIVE_CHAR_BUDGET";
/// Which character distance: `hunks` or `whole-file` (`score-diffs --char-distance`).
pub const CHAR_DISTANCE: &str = "HIVE_CHAR_DISTANCE";

/// Days of `edits` read, ending with `--date` (`build-finetune --days`).
pub const FINETUNE_DAYS: &str = "HIVE_FINETUNE_DAYS";
/// Dataset recipe YAML (`build-finetune --config`).
pub const FINETUNE_CONFIG: &str = "HIVE_FINETUNE_CONFIG";
/// Candidate records held in memory before the rest spills to disk, in bytes
/// (`build-finetune --memory-budget`).
pub const FINETUNE_MEMORY_BUDGET: &str = "HIVE_FINETUNE_MEMORY_BUDGET";
/// Directory of the per-part outcome cache (`build-finetune --cache-dir`).
pub const FINETUNE_CACHE_DIR: &str = "HIVE_FINETUNE_CACHE_DIR";

/// Experiments config (`ab-significance`, `promote-templates`, `route-project`).
pub const EXPERIMENTS_CONFIG: &str = "HIVE_EXPERIMENTS_CONFIG";

/// Read `gate_results` as guardrail data (`ab-significance --gate-results`).
pub const GATE_RESULTS: &str = "HIVE_GATE_RESULTS";

/// What a sample-ratio mismatch does to `ab-significance`'s exit status: `fail` (exit 1)
/// or `warn` (exit 0; the flags stay in the summary, the log and the report).
pub const ON_SRM: &str = "HIVE_ON_SRM";

/// MLflow tracking server base URL (`mlflow-sync --tracking-uri`); MLflow's own name.
/// Unset means MLflow is not configured: `mlflow-sync` exits 99.
pub const MLFLOW_TRACKING_URI: &str = "MLFLOW_TRACKING_URI";
/// Bearer token for the tracking server (MLflow's own name; never logged).
pub const MLFLOW_TRACKING_TOKEN: &str = "MLFLOW_TRACKING_TOKEN";
/// Basic-auth user for the tracking server (MLflow's own name).
pub const MLFLOW_TRACKING_USERNAME: &str = "MLFLOW_TRACKING_USERNAME";
/// Basic-auth password for the tracking server (MLflow's own name; never logged).
pub const MLFLOW_TRACKING_PASSWORD: &str = "MLFLOW_TRACKING_PASSWORD";
/// `per-generation` or `aggregated` (`mlflow-sync --mode`).
pub const MLFLOW_MODE: &str = "HIVE_MLFLOW_MODE";
/// Requests in flight at once (`mlflow-sync --concurrency`).
pub const MLFLOW_CONCURRENCY: &str = "HIVE_MLFLOW_CONCURRENCY";
/// Attempts per request before giving up (`mlflow-sync --max-attempts`).
pub const MLFLOW_MAX_ATTEMPTS: &str = "HIVE_MLFLOW_MAX_ATTEMPTS";
/// First retry delay in milliseconds, doubled per attempt (`mlflow-sync --retry-base-ms`).
pub const MLFLOW_RETRY_BASE_MS: &str = "HIVE_MLFLOW_RETRY_BASE_MS";
/// Per-request timeout in seconds (`mlflow-sync --timeout-secs`).
pub const MLFLOW_TIMEOUT_SECS: &str = "HIVE_MLFLOW_TIMEOUT_SECS";
/// Prefix of the experiment and registered-model names (`mlflow-sync --name-prefix`).
pub const MLFLOW_NAME_PREFIX: &str = "HIVE_MLFLOW_NAME_PREFIX";
/// Sources `mlflow-sync` publishes, comma-separated (default: all).
pub const MLFLOW_TABLES: &str = "HIVE_MLFLOW_TABLES";
/// The DAG id Airflow exports to every task; mlflow-sync tags its runs with it.
pub const AIRFLOW_CTX_DAG_ID: &str = "AIRFLOW_CTX_DAG_ID";
/// The DAG run id Airflow exports to every task; mlflow-sync tags its runs with it.
pub const AIRFLOW_CTX_DAG_RUN_ID: &str = "AIRFLOW_CTX_DAG_RUN_ID";
/// Quality config (`evaluate-gates --config`).
pub const GATES_CONFIG: &str = "HIVE_GATES_CONFIG";
/// Projects and their reports directories, `ID=DIR,ID=DIR` (`evaluate-gates --project`).
pub const GATES_PROJECTS: &str = "HIVE_GATES_PROJECTS";
/// Directory with one reports directory per project (`evaluate-gates --projects-root`).
pub const GATES_PROJECTS_ROOT: &str = "HIVE_GATES_PROJECTS_ROOT";
/// Run id written to every row (`evaluate-gates --run-id`).
pub const GATES_RUN_ID: &str = "HIVE_GATES_RUN_ID";
/// Markdown summary path, `-` for stdout (`evaluate-gates --summary-md`).
pub const GATES_SUMMARY_MD: &str = "HIVE_GATES_SUMMARY_MD";
/// JUnit XML of the gate verdicts (`evaluate-gates --junit-out`).
pub const GATES_JUNIT_OUT: &str = "HIVE_GATES_JUNIT_OUT";
/// Largest report file read, in bytes (`evaluate-gates --max-report-bytes`).
pub const GATES_MAX_REPORT_BYTES: &str = "HIVE_GATES_MAX_REPORT_BYTES";
/// What a failed blocking gate does to `evaluate-gates`' exit status: `fail` (exit 1) or
/// `warn` (exit 0; the failures stay in the summary, the log and `gate_results`).
pub const GATES_ON_BLOCKING_FAILURE: &str = "HIVE_GATES_ON_BLOCKING_FAILURE";

/// Every variable with its meaning, for `--help` texts and the docs test.
pub const ALL: &[(&str, &str)] = &[
    (DATA_ROOT, "root of the lake (default `data`)"),
    (DATE, "partition date YYYY-MM-DD to process"),
    (SHARD, "shard k/n: projects with xxh3_64(project_id) % n == k"),
    (LOG_FORMAT, "`text` (default) or `json` logs on stderr"),
    (QUIET, "only warnings and errors on stderr"),
    (LOG_FILTER, "tracing filter directives, e.g. `info,hive_extract=debug`"),
    (WINDOW_DAYS, "observation window in days (extract-edits)"),
    (MAX_FILE_BYTES, "largest file content accepted, in bytes (extract-edits)"),
    (
        MAX_READ_BYTES,
        "most bytes one read of a raw input may decode: an NDJSON line, a Parquet column chunk (extract-edits, validate-raw)",
    ),
    (
        SNAPSHOT_MEMORY_BYTES,
        "snapshot file content held in memory before the rest spills to disk, in bytes (extract-edits)",
    ),
    (
        SPILL_DIR,
        "directory of temporary spill files, default the system's (extract-edits, build-finetune)",
    ),
    (
        MAX_QUARANTINE_RATIO,
        "largest share of the partition's rows quarantined before exit 1 (extract-edits, score-diffs)",
    ),
    (
        REWRITTEN_THRESHOLD,
        "rewrite rate above which a generation counts as rewritten (score-diffs)",
    ),
    (
        THREADS,
        "worker threads, 0 for one per core (score-diffs, extract-edits, build-finetune)",
    ),
    (FINETUNE_DAYS, "days of edits read, ending with --date (build-finetune)"),
    (FINETUNE_CONFIG, "dataset recipe YAML (build-finetune)"),
    (
        FINETUNE_MEMORY_BUDGET,
        "candidate records (texts, shingle sets, lineage) held in memory before the rest spills to disk, in bytes (build-finetune)",
    ),
    (
        FINETUNE_CACHE_DIR,
        "directory of the outcome cache that spares re-reading days already read, default `<data-root>/_cache/build-finetune` (build-finetune)",
    ),
    (
        EXPERIMENTS_CONFIG,
        "experiments config YAML (ab-significance, promote-templates, route-project)",
    ),
    (
        GATE_RESULTS,
        "also read gate_results for the gate_pass_rate metric (ab-significance)",
    ),
    (
        ON_SRM,
        "`fail` (default: exit 1) or `warn` (exit 0) on a sample-ratio mismatch (ab-significance)",
    ),
    (
        CHAR_BUDGET,
        "word operations an exact character distance may cost per phase; 0 for the line-hunk bound only (score-diffs)",
    ),
    (
        CHAR_DISTANCE,
        "`hunks` (default: the sum of the line diff's hunks' distances) or `whole-file` (the exact whole-file distance, slower) (score-diffs)",
    ),
    (
        MLFLOW_TRACKING_URI,
        "MLflow tracking server URL; unset: mlflow-sync exits 99 (mlflow-sync)",
    ),
    (
        MLFLOW_TRACKING_TOKEN,
        "bearer token for the tracking server, never logged (mlflow-sync)",
    ),
    (MLFLOW_TRACKING_USERNAME, "basic-auth user for the tracking server (mlflow-sync)"),
    (
        MLFLOW_TRACKING_PASSWORD,
        "basic-auth password for the tracking server, never logged (mlflow-sync)",
    ),
    (
        MLFLOW_TABLES,
        "sources published, comma-separated: generation_scores, ab_results, promotions, gate_results, finetune (mlflow-sync)",
    ),
    (MLFLOW_MODE, "`per-generation` (default) or `aggregated` (mlflow-sync)"),
    (MLFLOW_CONCURRENCY, "requests in flight at once (mlflow-sync)"),
    (
        MLFLOW_MAX_ATTEMPTS,
        "attempts per request on connection errors and 5xx (mlflow-sync)",
    ),
    (
        MLFLOW_RETRY_BASE_MS,
        "first retry delay in ms, doubled per attempt, with jitter (mlflow-sync)",
    ),
    (MLFLOW_TIMEOUT_SECS, "per-request timeout in seconds (mlflow-sync)"),
    (
        MLFLOW_NAME_PREFIX,
        "prefix of MLflow experiment and registered-model names (mlflow-sync)",
    ),
    (
        AIRFLOW_CTX_DAG_ID,
        "set by Airflow for each task: the DAG id, tag `hive.dag_id` of every run (mlflow-sync)",
    ),
    (
        AIRFLOW_CTX_DAG_RUN_ID,
        "set by Airflow for each task: the DAG run id, tag `hive.dag_run_id` of every run (mlflow-sync)",
    ),
    (GATES_CONFIG, "quality config YAML (evaluate-gates)"),
    (
        GATES_PROJECTS,
        "projects and their reports directories, ID=DIR separated by commas (evaluate-gates)",
    ),
    (
        GATES_PROJECTS_ROOT,
        "directory with one reports directory per project (evaluate-gates)",
    ),
    (GATES_RUN_ID, "run id written to every row (evaluate-gates)"),
    (GATES_SUMMARY_MD, "Markdown summary path, `-` for stdout (evaluate-gates)"),
    (GATES_JUNIT_OUT, "JUnit XML of the gate verdicts (evaluate-gates)"),
    (GATES_MAX_REPORT_BYTES, "largest report file read, in bytes (evaluate-gates)"),
    (
        GATES_ON_BLOCKING_FAILURE,
        "`fail` (default: exit 1) or `warn` (exit 0) when a blocking gate fails (evaluate-gates)",
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn configuration_reference_lists_every_variable() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let doc = std::fs::read_to_string(path).expect("docs/configuration.md exists");
        for (var, _) in super::ALL {
            assert!(
                doc.contains(&format!("| `{var}` |")),
                "docs/configuration.md does not document `{var}`"
            );
        }
    }

    /// Variables only the DAGs read (they choose how a job is started, not what it does).
    const DAG_ONLY: &[&str] = &[
        "HIVE_AIRFLOW_MODE",
        "HIVE_BIN_DIR",
        "HIVE_IMAGE",
        "HIVE_SHARDS",
        "HIVE_K8S_NAMESPACE",
        "HIVE_K8S_POD_TEMPLATE",
        // The Kubernetes Secret whose keys reach the mlflow_sync and train_generator pods.
        "HIVE_K8S_MLFLOW_SECRET",
        // train-generator (trainer/, Python) reads these, not a Rust job.
        "HIVE_TRAIN_MODE",
        "HIVE_TRAIN_BASE_MODEL",
        "HIVE_TRAIN_LORA_RANK",
        "HIVE_TRAIN_EPOCHS",
        "HIVE_TRAIN_NODES",
        "HIVE_TRAIN_GPUS_PER_NODE",
        "HIVE_TRAIN_NAMESPACE",
        "HIVE_TRAIN_IMAGE",
    ];

    /// One name per setting: every `HIVE_*` variable the DAGs set or read is one the jobs
    /// read (`ALL`), or one of the few that only start jobs. A DAG that sets
    /// `HIVE_PROJECTS_ROOT` while the job reads `HIVE_GATES_PROJECTS_ROOT` fails here.
    #[test]
    fn the_dags_use_the_jobs_variable_names() {
        let dags = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dags");
        let mut checked = 0;
        for entry in std::fs::read_dir(dags).expect("dags/ exists") {
            let path = entry.expect("entry").path();
            // hive_exit_codes.py is generated (its header names the test's own variable).
            if path.extension().is_none_or(|e| e != "py") || path.ends_with("hive_exit_codes.py") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let mut rest = text.as_str();
            while let Some(at) = rest.find("HIVE_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(tail.len());
                let name = tail[..end].trim_end_matches('_');
                rest = &tail[end..];
                if name.len() <= "HIVE".len() {
                    continue;
                }
                checked += 1;
                assert!(
                    super::ALL.iter().any(|(v, _)| *v == name) || DAG_ONLY.contains(&name),
                    "{} uses `{name}`, which no job reads: use the job's variable (hive_core::env)",
                    path.display()
                );
            }
        }
        assert!(checked > 10, "only {checked} variables found in dags/");
    }
}
