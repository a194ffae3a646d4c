//! `mlflow-sync` end to end: the CLI contract Airflow relies on, and (below) syncs against a
//! real `mlflow server` whose state is read back with MLflow's own Python client.

mod support;

use support::{Workdir, bin, run};

/// Airflow's helper marks the task skipped on exit 99: an unconfigured MLflow must say so
/// clearly and must not be mistaken for a failure.
#[test]
fn unset_tracking_uri_exits_99_with_a_clear_message() {
    let work = Workdir::new("mlflow-unset");
    let mut cmd = bin("mlflow-sync");
    cmd.args(["--data-root", work.path().to_str().expect("utf-8"), "--date", "2026-10-17"]);
    run(cmd).expect_code(99).expect_stderr("MLFLOW_TRACKING_URI is not set");
}
