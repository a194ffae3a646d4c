//! evaluate-gates' memory does not grow with the number of test cases or findings: the
//! hostile reports of issue 14 (a SARIF log of 1.5M results, a JUnit XML of 1.2M cases,
//! written at test time by `scripts/bench/hostile_reports.py`, which also prints the
//! counts it planted) are evaluated under an address-space limit (`ulimit -v`, i.e.
//! RLIMIT_AS) that the code before streaming exceeded many times over, and every total
//! must equal what was planted, in the gates, in the summary and row for row in the
//! `test_cases` and `findings` tables.
//!
//! Peak memory itself is measured by `scripts/bench-gates-memory.sh`
//! (docs/quality-gates.md, "Resources"), never timed or sized here.

#![allow(clippy::unwrap_used, clippy::float_cmp)]

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use support::{Workdir, bin, run};

const DATE: &str = "2026-10-12";

/// Results in the SARIF log (about 180 MB) and cases in the JUnit XML (about 84 MB).
const SARIF_RESULTS: u64 = 1_500_000;
const JUNIT_CASES: u64 = 1_200_000;

/// The address-space limit, in KiB. The code that materialised every result needed
/// about 3.3 GB of resident memory on these files (7.1 GB on the red team's), and more
/// address space; the streaming code stays under 150 MB resident. The limit leaves room for
/// glibc's per-thread arenas and the binary's own mappings.
const LIMIT_KIB: u64 = 1 << 20;

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
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let mask = ProjectionMask::columns(builder.parquet_schema(), [column]);
        for batch in builder.with_projection(mask).build().unwrap() {
            let batch = batch.unwrap();
            let values = batch.column(0).as_string::<i32>();
            for v in values.iter() {
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
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
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
    assert_eq!(sarif["total"].as_u64().unwrap() + sarif["suppressed"].as_u64().unwrap(), SARIF_RESULTS);
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
    let mut yaml = String::from(
        "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [unit/junit.xml], tool: generator}\n  security:\n    reports:\n      - {format: sarif, paths: [security/hostile.sarif], tool: generator}\ngates:\n",
    );
    for (metric, _) in findings {
        writeln!(yaml, "  - {{id: {metric}, test_type: security, metric: {metric}, operator: \">=\", threshold: 0}}").unwrap();
    }
    for (metric, _) in tests {
        writeln!(yaml, "  - {{id: {metric}, test_type: unit, metric: {metric}, operator: \">=\", threshold: 0}}").unwrap();
    }
    let config = dir.write("quality.yaml", &yaml);
    let root = dir.join("lake");
    std::fs::create_dir_all(&root).unwrap();

    // `sh -c 'ulimit -v N; exec evaluate-gates ...'`: the limit applies to the job alone.
    let gates = bin("evaluate-gates");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {LIMIT_KIB} && exec \"$0\" \"$@\""))
        .arg(gates.get_program())
        .args(["--data-root", root.to_str().unwrap(), "--date", DATE, "--config", config.to_str().unwrap()])
        .arg("--project")
        .arg(format!("hostile={}", reports.display()));
    for (var, value) in gates.get_envs() {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    let summary = run(cmd).expect_code(0).summary();

    assert_eq!(summary["findings"].as_u64(), sarif["total"].as_u64(), "{summary}");
    assert_eq!(summary["test_cases"].as_u64(), junit["tests"].as_u64(), "{summary}");
    let actuals = gate_actuals(&root);
    for (gate, key) in findings {
        assert_eq!(actuals[gate], sarif[key].as_f64().unwrap(), "{gate}");
    }
    for (gate, key) in tests {
        assert_eq!(actuals[gate], junit[key].as_f64().unwrap(), "{gate}");
    }
    // Every streamed row reached its table, once.
    let levels = count_values(&root, "findings", "level");
    for level in ["error", "warning", "note"] {
        assert_eq!(levels.get(level).copied(), sarif[level].as_u64(), "findings of level {level}: {levels:?}");
    }
    assert_eq!(levels.values().sum::<u64>(), sarif["total"].as_u64().unwrap());
    let statuses = count_values(&root, "test_cases", "status");
    for (status, key) in [("passed", "passed"), ("failed", "failed"), ("error", "errors"), ("skipped", "skipped"), ("flaky", "flaky")] {
        assert_eq!(statuses.get(status).copied(), junit[key].as_u64(), "cases {status}: {statuses:?}");
    }
    assert_eq!(statuses.values().sum::<u64>(), JUNIT_CASES);
}
