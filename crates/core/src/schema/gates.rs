//! The four tables evaluate-gates writes (`gate_results`, `test_cases`, `coverage`,
//! `findings`) and the gate verdict vocabulary, here with the other tables because
//! ab-significance (the `gate_pass_rate` guardrail) and mlflow-sync read them too.
//!
//! Every column carries its description in the field metadata. One vocabulary: a gate's
//! `status` is its verdict ([`GateStatus`]: `pass`, `fail`, `warn`, `missing`); a test
//! case's `outcome` is what its JUnit report says happened (`passed`, `failed`, ...).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use serde::Serialize;

use super::{TableSpec, col};

/// A gate's verdict, as in `gate_results.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Pass,
    /// A blocking gate failed.
    Fail,
    /// A warning gate failed.
    Warn,
    /// The metric had no value.
    Missing,
}

impl GateStatus {
    /// Every verdict, in the order reports list them.
    pub const ALL: [GateStatus; 4] = [Self::Pass, Self::Fail, Self::Warn, Self::Missing];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Missing => "missing",
        }
    }

    /// The verdict a `status` cell holds, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

pub const GATE_RESULTS: &str = "gate_results";
pub const TEST_CASES: &str = "test_cases";
pub const COVERAGE: &str = "coverage";
pub const FINDINGS: &str = "findings";

/// Schema version of `gate_results` (2: the `environment_*` columns).
pub const GATE_RESULTS_VERSION: u32 = 2;
/// Schema version of `test_cases` (2: `status` renamed `outcome`: a gate's `status` is
/// its verdict, `pass`/`fail`; a test case's `outcome` is what JUnit says happened).
pub const TEST_CASES_VERSION: u32 = 2;
/// Schema version of `coverage` and `findings`.
pub const COVERAGE_VERSION: u32 = 1;
pub const FINDINGS_VERSION: u32 = 1;

fn key_columns() -> Vec<Field> {
    vec![
        col(
            "run_id",
            DataType::Utf8,
            false,
            "Id of the evaluation run (`--run-id`, default `<project_id>@<date>`).",
        ),
        col("project_id", DataType::Utf8, false, "Project whose reports were evaluated."),
    ]
}

fn spec(name: &str, version: u32, mut fields: Vec<Field>) -> TableSpec {
    let mut all = key_columns();
    all.append(&mut fields);
    TableSpec {
        name: name.to_owned(),
        version,
        schema: Arc::new(Schema::new(all)),
    }
}

/// `gate_results`: one row per project and gate.
pub fn gate_results_spec() -> TableSpec {
    spec(
        GATE_RESULTS,
        GATE_RESULTS_VERSION,
        vec![
            col("gate_id", DataType::Utf8, false, "Gate id from quality-fabric-config.yaml."),
            col(
                "test_type",
                DataType::Utf8,
                false,
                "Test type measured, or `overall` for every test type's reports.",
            ),
            col(
                "metric",
                DataType::Utf8,
                false,
                "Metric compared (docs/quality-gates.md lists them).",
            ),
            col(
                "operator",
                DataType::Utf8,
                false,
                "Comparison: `actual <operator> threshold` passes (>=, >, <=, <, ==, !=).",
            ),
            col("threshold", DataType::Float64, false, "Threshold after project overrides."),
            col("actual", DataType::Float64, true, "Measured value; null when status is `missing`."),
            col(
                "status",
                DataType::Utf8,
                false,
                "`pass`, `fail` (blocking gate failed), `warn` (warning gate failed) or `missing` (GateStatus).",
            ),
            col("blocking", DataType::Boolean, false, "Whether the gate's level is `blocking`."),
            col(
                "on_missing",
                DataType::Utf8,
                false,
                "Missing-report policy: `fail`, `warn` or `ignore`.",
            ),
            col("blocks_run", DataType::Boolean, false, "Whether this row failed the run (exit 1)."),
            col("message", DataType::Utf8, false, "Why the gate did not pass; empty when it passed."),
            col(
                "environment_compose_file",
                DataType::Utf8,
                true,
                "The config's `environment.compose_file`; null when the config has no `environment`.",
            ),
            col(
                "environment_status",
                DataType::Utf8,
                true,
                "`verified` (the Compose file landed with the reports, parses and declares every listed service), `missing` (not landed) or `invalid` (does not parse, or lacks a service: see `message` of the run's log); null without `environment`.",
            ),
            col(
                "environment_sha256",
                DataType::Utf8,
                true,
                "sha256 of the landed Compose file (which environment the suites ran in); null unless `verified` or `invalid`.",
            ),
        ],
    )
}

/// `test_cases`: one row per JUnit test case.
pub fn test_cases_spec() -> TableSpec {
    spec(
        TEST_CASES,
        TEST_CASES_VERSION,
        vec![
            col("test_type", DataType::Utf8, false, "Test type of the report."),
            col(
                "report_path",
                DataType::Utf8,
                false,
                "Report file, relative to the project's reports directory.",
            ),
            col(
                "suite",
                DataType::Utf8,
                false,
                "Enclosing <testsuite> names, outermost first, joined with `/`.",
            ),
            col(
                "classname",
                DataType::Utf8,
                false,
                "`classname` attribute (the innermost suite name when absent).",
            ),
            col("name", DataType::Utf8, false, "Test case name."),
            col(
                "outcome",
                DataType::Utf8,
                false,
                "`passed`, `failed`, `error`, `skipped` or `flaky` (failed, then passed on a rerun).",
            ),
            col("duration_seconds", DataType::Float64, false, "`time` attribute (0 when absent)."),
            col(
                "reruns",
                DataType::Int64,
                false,
                "Failed runs before the final one (flakyFailure, rerunFailure, ...).",
            ),
            col("message", DataType::Utf8, true, "Failure, error or skip message, at most 4 KiB."),
        ],
    )
}

/// `coverage`: one row per project, test type and source file (all of the test type's
/// coverage reports merged).
pub fn coverage_spec() -> TableSpec {
    spec(
        COVERAGE,
        COVERAGE_VERSION,
        vec![
            col("test_type", DataType::Utf8, false, "Test type of the coverage reports."),
            col("file", DataType::Utf8, false, "Source file as the report names it."),
            col("lines_valid", DataType::Int64, false, "Coverable lines."),
            col("lines_covered", DataType::Int64, false, "Lines executed at least once."),
            col(
                "branches_valid",
                DataType::Int64,
                false,
                "Branches (0 when the tool did not measure branches).",
            ),
            col("branches_covered", DataType::Int64, false, "Branches taken."),
            col(
                "line_rate",
                DataType::Float64,
                true,
                "lines_covered / lines_valid; null without coverable lines.",
            ),
            col(
                "branch_rate",
                DataType::Float64,
                true,
                "branches_covered / branches_valid; null without branches.",
            ),
        ],
    )
}

/// `findings`: one row per unsuppressed SARIF result.
pub fn findings_spec() -> TableSpec {
    spec(
        FINDINGS,
        FINDINGS_VERSION,
        vec![
            col("test_type", DataType::Utf8, false, "Test type of the report."),
            col(
                "report_path",
                DataType::Utf8,
                false,
                "Report file, relative to the project's reports directory.",
            ),
            col("tool", DataType::Utf8, false, "`tool.driver.name` of the SARIF run."),
            col("rule_id", DataType::Utf8, true, "Rule id (`ruleId`)."),
            col("level", DataType::Utf8, false, "SARIF level: `error`, `warning`, `note` or `none`."),
            col(
                "security_severity",
                DataType::Utf8,
                true,
                "`critical` (>= 9.0), `high` (>= 7.0), `medium` (>= 4.0) or `low` (> 0) from the rule's security-severity, as GitHub code scanning maps it; null when the rule has none.",
            ),
            col(
                "security_severity_score",
                DataType::Float64,
                true,
                "The rule's `properties.security-severity` number.",
            ),
            col("message", DataType::Utf8, false, "Result message text, at most 4 KiB."),
            col("file", DataType::Utf8, true, "URI of the first location's artifact."),
            col("line", DataType::Int64, true, "Start line of the first location."),
        ],
    )
}
