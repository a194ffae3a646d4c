//! evaluate-gates' memory does not grow with the number of test cases or findings:
//! hostile reports (a SARIF log and a JUnit XML of many results and cases, written at
//! test time by `scripts/bench/hostile_reports.py`, which also prints the counts it
//! planted) are evaluated under an address-space limit (`ulimit -v`, i.e. RLIMIT_AS)
//! that the code before streaming exceeded on each of them, and every total must equal
//! what was planted, in the gates, in the summary and row for row in the `test_cases`
//! and `findings` tables.
//!
//! The files are a fifteenth (SARIF) and a sixth (JUnit) of issue 14's 1.5M results and
//! 80 MB, so that a debug build runs the test in 3 to 10 s; the limit is scaled to
//! them: 96 MiB, which the streaming code meets with room (about 40 MB resident, the
//! same at full size) and the old code exceeded on either file alone. The full-size
//! files are measured by `scripts/bench-gates-memory.sh` (docs/quality-gates.md,
//! "Resources"); nothing here is timed.

#![allow(clippy::unwrap_used, clippy::float_cmp)]

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use serde_json::Value;
use support::{Workdir, bin, run};

const DATE: &str = "2026-10-12";

/// Results in the SARIF log (about 12 MB) and cases in the JUnit XML (about 14 MB).
const SARIF_RESULTS: u64 = 100_000;
const JUNIT_CASES: u64 = 200_000;

/// The address-space limit, in KiB (96 MiB). Measured with a debug build: the
/// streaming code runs either file in 64 MiB (peak resident 37 to 40 MB, whatever the
/// file's size); the code that held every case and result aborted on the SARIF file
/// under 128 MiB and on 100,000 JUnit cases under 64 MiB (74 MB resident, growing
/// with the cases: 162 MB for 240,000).
const LIMIT_KIB: u64 = 96 << 10;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `python3` that runs the generator: the reports venv's when it exists (CI builds
/// it), else the one on PATH (the generator needs only the standard library).
fn python() -> PathBuf {
    let venv = repo().join(".venv/reports/bin/python3");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

/// Column `column` of every committed part of `table`, as strings, counted by value.
fn count_values(root: &Path, table: &str, column: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for path in support::parts(root, table, DATE) {
        for batch in support::batches(&path) {
            let values = batch.column_by_name(column).unwrap().as_string::<i32>();
            for v in values {
                *counts.entry(v.unwrap_or("<null>").to_owned()).or_default() += 1;
            }
        }
    }
    counts
}

/// `actual` of each gate, by gate id.
fn gate_actuals(root: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for path in support::parts(root, "gate_results", DATE) {
        for batch in support::batches(&path) {
            let ids = batch.column_by_name("gate_id").unwrap().as_string::<i32>();
            let actual = batch.column_by_name("actual").unwrap().as_primitive::<Float64Type>();
            for i in 0..batch.num_rows() {
                out.insert(ids.value(i).to_owned(), actual.value(i));
            }
        }
    }
    out
}

#[test]
fn hostile_sarif_and_junit_are_evaluated_under_an_address_space_limit() {
    let dir = Workdir::new("gates-memory");
    let reports = dir.join("reports");
    let generator = repo().join("scripts/bench/hostile_reports.py");
    let generated = run({
        let mut cmd = Command::new(python());
        cmd.arg(&generator)
            .arg("--out")
            .arg(&reports)
            .arg("--sarif-results")
            .arg(SARIF_RESULTS.to_string())
            .arg("--junit-cases")
            .arg(JUNIT_CASES.to_string());
        cmd
    })
    .expect_code(0);
    let planted: Value = serde_json::from_str(generated.stdout().trim()).unwrap();
    let (sarif, junit) = (&planted["sarif"], &planted["junit"]);
    assert_eq!(
        sarif["total"].as_u64().unwrap() + sarif["suppressed"].as_u64().unwrap(),
        SARIF_RESULTS
    );
    assert_eq!(junit["tests"].as_u64().unwrap(), JUNIT_CASES);

    let findings = [
        ("findings_total", "total"),
        ("findings_critical", "critical"),
        ("findings_high", "high"),
        ("findings_medium", "medium"),
        ("findings_low", "low"),
        ("findings_error", "error"),
        ("findings_warning", "warning"),
        ("findings_note", "note"),
    ];
    let tests = [
        ("tests", "tests"),
        ("passed", "passed"),
        ("failed", "failed"),
        ("errors", "errors"),
        ("skipped", "skipped"),
        ("flaky", "flaky"),
        ("duration_seconds", "duration_seconds"),
    ];
    let root = dir.join("lake");
    std::fs::create_dir_all(&root).unwrap();
    // One run per report, each under the limit: either file alone broke the old code.
    let sarif_summary = evaluate_under_limit(&dir, &root, &reports, "security", "sarif", "security/hostile.sarif", &findings);
    assert_eq!(sarif_summary["findings"].as_u64(), sarif["total"].as_u64(), "{sarif_summary}");
    let mut actuals = gate_actuals(&root);
    let levels = count_values(&root, "findings", "level");
    let junit_summary = evaluate_under_limit(&dir, &root, &reports, "unit", "junit", "unit/junit.xml", &tests);
    assert_eq!(junit_summary["test_cases"].as_u64(), junit["tests"].as_u64(), "{junit_summary}");
    actuals.extend(gate_actuals(&root));
    let statuses = count_values(&root, "test_cases", "outcome");

    for (gate, key) in findings {
        assert_eq!(actuals[gate], sarif[key].as_f64().unwrap(), "{gate}");
    }
    for (gate, key) in tests {
        assert_eq!(actuals[gate], junit[key].as_f64().unwrap(), "{gate}");
    }
    // Every streamed row reached its table, once.
    for level in ["error", "warning", "note"] {
        assert_eq!(
            levels.get(level).copied(),
            sarif[level].as_u64(),
            "findings of level {level}: {levels:?}"
        );
    }
    assert_eq!(levels.values().sum::<u64>(), sarif["total"].as_u64().unwrap());
    for (status, key) in [
        ("passed", "passed"),
        ("failed", "failed"),
        ("error", "errors"),
        ("skipped", "skipped"),
        ("flaky", "flaky"),
    ] {
        assert_eq!(statuses.get(status).copied(), junit[key].as_u64(), "cases {status}: {statuses:?}");
    }
    assert_eq!(statuses.values().sum::<u64>(), JUNIT_CASES);
}

/// Runs evaluate-gates under [`LIMIT_KIB`] on the one report `rel` of `reports`, as test
/// type `test_type`, with a passing gate per metric (so each total is recorded);
/// returns the summary line. A rerun replaces the previous run's partition.
fn evaluate_under_limit(
    dir: &Workdir,
    root: &Path,
    reports: &Path,
    test_type: &str,
    format: &str,
    rel: &str,
    metrics: &[(&str, &str)],
) -> Value {
    let mut yaml = format!(
        "version: 1\ntest_types:\n  {test_type}:\n    reports:\n      - {{format: {format}, paths: [\"{rel}\"], tool: generator}}\ngates:\n"
    );
    for (metric, _) in metrics {
        writeln!(
            yaml,
            "  - {{id: {metric}, test_type: {test_type}, metric: {metric}, operator: \">=\", threshold: 0}}"
        )
        .unwrap();
    }
    let config = dir.write(&format!("{format}.yaml"), &yaml);
    // `sh -c 'ulimit -v N && exec evaluate-gates ...'`: the limit applies to the job alone.
    let gates = bin("evaluate-gates");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {LIMIT_KIB} && exec \"$0\" \"$@\""))
        .arg(gates.get_program())
        .args([
            "--data-root",
            root.to_str().unwrap(),
            "--date",
            DATE,
            "--config",
            config.to_str().unwrap(),
        ])
        .arg("--project")
        .arg(format!("hostile={}", reports.display()));
    for (var, value) in gates.get_envs() {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    run(cmd).expect_code(0).summary()
}
