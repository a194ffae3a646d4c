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
/// Largest share of rows that may be quarantined before the job exits 1.
pub const MAX_QUARANTINE_RATIO: &str = "HIVE_MAX_QUARANTINE_RATIO";

/// Rewrite-rate threshold above which a generation counts as rewritten (`score-diffs`).
pub const REWRITTEN_THRESHOLD: &str = "HIVE_REWRITTEN_THRESHOLD";
/// Worker threads; 0 means one per core (`score-diffs`).
pub const THREADS: &str = "HIVE_THREADS";
/// Word operations an exact character distance may cost per phase (`score-diffs`).
pub const CHAR_BUDGET: &str = "HIVE_CHAR_BUDGET";

/// Experiments config (`ab-significance`, `promote-templates`, `route-project`).
pub const EXPERIMENTS_CONFIG: &str = "HIVE_EXPERIMENTS_CONFIG";

/// Read `gate_results` as guardrail data (`ab-significance --gate-results`).
pub const GATE_RESULTS: &str = "HIVE_GATE_RESULTS";

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
    (MAX_QUARANTINE_RATIO, "largest share of rows quarantined before exit 1"),
    (
        REWRITTEN_THRESHOLD,
        "rewrite rate above which a generation counts as rewritten (score-diffs)",
    ),
    (THREADS, "worker threads, 0 for one per core (score-diffs)"),
    (
        EXPERIMENTS_CONFIG,
        "experiments config YAML (ab-significance, promote-templates, route-project)",
    ),
    (
        GATE_RESULTS,
        "also read gate_results for the gate_pass_rate metric (ab-significance)",
    ),
    (
        CHAR_BUDGET,
        "word operations an exact character distance may cost per phase; 0 for the line-hunk bound only (score-diffs)",
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
}
