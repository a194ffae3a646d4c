//! The four tables evaluate-gates writes, with their column descriptions, and the
//! conversion of rows to Arrow batches.
//!
//! The schemas live here until they move to `hive_core::schema` with the other tables;
//! every column carries its description in the field metadata, as there.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use hive_core::schema::{TableSpec, col};

use crate::evaluate::GateResult;

pub const GATE_RESULTS: &str = "gate_results";
pub const TEST_CASES: &str = "test_cases";
pub const COVERAGE: &str = "coverage";
pub const FINDINGS: &str = "findings";

/// Schema version of the four tables.
pub const VERSION: u32 = 1;

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

fn spec(name: &str, mut fields: Vec<Field>) -> TableSpec {
    let mut all = key_columns();
    all.append(&mut fields);
    TableSpec {
        name: name.to_owned(),
        version: VERSION,
        schema: Arc::new(Schema::new(all)),
    }
}

/// `gate_results`: one row per project and gate.
pub fn gate_results_spec() -> TableSpec {
    spec(
        GATE_RESULTS,
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
                "`pass`, `fail` (blocking gate failed), `warn` (warning gate failed) or `missing`.",
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
        ],
    )
}

/// `test_cases`: one row per JUnit test case.
pub fn test_cases_spec() -> TableSpec {
    spec(
        TEST_CASES,
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
                "status",
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

/// A row of `test_cases`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCaseRow {
    pub run_id: String,
    pub project_id: String,
    pub test_type: String,
    pub report_path: String,
    pub case: crate::reports::TestCase,
}

/// A row of `coverage`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRow {
    pub run_id: String,
    pub project_id: String,
    pub test_type: String,
    pub file: String,
    pub lines_valid: u64,
    pub lines_covered: u64,
    pub branches_valid: u64,
    pub branches_covered: u64,
}

/// A row of `findings`.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    pub run_id: String,
    pub project_id: String,
    pub test_type: String,
    pub report_path: String,
    pub finding: crate::reports::Finding,
}

fn text<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn opt_text<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn int(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(values.map(|v| i64::try_from(v).unwrap_or(i64::MAX)).collect::<Int64Array>())
}

fn batch(spec: &TableSpec, columns: Vec<ArrayRef>) -> Result<RecordBatch, arrow::error::ArrowError> {
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

pub fn gate_results_batch(spec: &TableSpec, rows: &[GateResult]) -> Result<RecordBatch, arrow::error::ArrowError> {
    batch(
        spec,
        vec![
            text(rows.iter().map(|r| r.run_id.as_str())),
            text(rows.iter().map(|r| r.project_id.as_str())),
            text(rows.iter().map(|r| r.gate_id.as_str())),
            text(rows.iter().map(|r| r.test_type.as_str())),
            text(rows.iter().map(|r| r.metric.as_str())),
            text(rows.iter().map(|r| r.operator)),
            Arc::new(rows.iter().map(|r| r.threshold).collect::<Float64Array>()),
            Arc::new(rows.iter().map(|r| r.actual).collect::<Float64Array>()),
            text(rows.iter().map(|r| r.status.as_str())),
            Arc::new(rows.iter().map(|r| Some(r.blocking)).collect::<BooleanArray>()),
            text(rows.iter().map(|r| r.on_missing.as_str())),
            Arc::new(rows.iter().map(|r| Some(r.blocks())).collect::<BooleanArray>()),
            text(rows.iter().map(|r| r.message.as_str())),
        ],
    )
}

pub fn test_cases_batch(spec: &TableSpec, rows: &[TestCaseRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    batch(
        spec,
        vec![
            text(rows.iter().map(|r| r.run_id.as_str())),
            text(rows.iter().map(|r| r.project_id.as_str())),
            text(rows.iter().map(|r| r.test_type.as_str())),
            text(rows.iter().map(|r| r.report_path.as_str())),
            text(rows.iter().map(|r| r.case.suite.as_str())),
            text(rows.iter().map(|r| r.case.classname.as_str())),
            text(rows.iter().map(|r| r.case.name.as_str())),
            text(rows.iter().map(|r| r.case.status.as_str())),
            Arc::new(rows.iter().map(|r| r.case.duration_seconds).collect::<Float64Array>()),
            int(rows.iter().map(|r| u64::from(r.case.reruns))),
            opt_text(rows.iter().map(|r| r.case.message.as_deref())),
        ],
    )
}

pub fn coverage_batch(spec: &TableSpec, rows: &[CoverageRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    batch(
        spec,
        vec![
            text(rows.iter().map(|r| r.run_id.as_str())),
            text(rows.iter().map(|r| r.project_id.as_str())),
            text(rows.iter().map(|r| r.test_type.as_str())),
            text(rows.iter().map(|r| r.file.as_str())),
            int(rows.iter().map(|r| r.lines_valid)),
            int(rows.iter().map(|r| r.lines_covered)),
            int(rows.iter().map(|r| r.branches_valid)),
            int(rows.iter().map(|r| r.branches_covered)),
            Arc::new(rows.iter().map(|r| ratio(r.lines_covered, r.lines_valid)).collect::<Float64Array>()),
            Arc::new(
                rows.iter()
                    .map(|r| ratio(r.branches_covered, r.branches_valid))
                    .collect::<Float64Array>(),
            ),
        ],
    )
}

pub fn findings_batch(spec: &TableSpec, rows: &[FindingRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    batch(
        spec,
        vec![
            text(rows.iter().map(|r| r.run_id.as_str())),
            text(rows.iter().map(|r| r.project_id.as_str())),
            text(rows.iter().map(|r| r.test_type.as_str())),
            text(rows.iter().map(|r| r.report_path.as_str())),
            text(rows.iter().map(|r| r.finding.tool.as_str())),
            opt_text(rows.iter().map(|r| r.finding.rule_id.as_deref())),
            text(rows.iter().map(|r| r.finding.level.as_str())),
            opt_text(
                rows.iter()
                    .map(|r| r.finding.security_severity.map(crate::reports::SecuritySeverity::as_str)),
            ),
            Arc::new(rows.iter().map(|r| r.finding.security_severity_score).collect::<Float64Array>()),
            text(rows.iter().map(|r| r.finding.message.as_str())),
            opt_text(rows.iter().map(|r| r.finding.file.as_deref())),
            Arc::new(rows.iter().map(|r| r.finding.line.map(i64::from)).collect::<Int64Array>()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Analysts read docs/data-dictionary.md: every column of the four tables is there,
    /// in the section of its table, with the schema version.
    #[test]
    fn data_dictionary_documents_every_column() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/data-dictionary.md");
        let doc = std::fs::read_to_string(path).expect("docs/data-dictionary.md exists");
        for spec in [gate_results_spec(), test_cases_spec(), coverage_spec(), findings_spec()] {
            let heading = format!("## `{}`", spec.name);
            let start = doc.find(&heading).unwrap_or_else(|| panic!("no section {heading}"));
            let section = &doc[start..];
            let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
            assert!(section.contains(&format!("schema version {}", spec.version)), "{heading}: version");
            for field in spec.schema.fields() {
                assert!(
                    section.contains(&format!("| `{}` |", field.name())),
                    "{heading} does not document `{}`",
                    field.name()
                );
            }
        }
    }
}
