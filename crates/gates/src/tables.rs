//! The conversion of evaluate-gates' rows to Arrow batches of its four tables, whose
//! schemas live with every other table's in `hive_core::schema::gates`.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use hive_core::schema::TableSpec;

use crate::evaluate::GateResult;

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
            opt_text(rows.iter().map(|r| r.environment.as_ref().map(|e| e.compose_file.as_str()))),
            opt_text(rows.iter().map(|r| r.environment.as_ref().map(|e| e.status.as_str()))),
            opt_text(rows.iter().map(|r| r.environment.as_ref().and_then(|e| e.sha256.as_deref()))),
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
