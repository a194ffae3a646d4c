//! Reads `generation_scores` for the analysis: the committed partitions of a date range,
//! reduced to what the statistics need (one small struct per generation).
//!
//! `generation_scores` is one row per generation with sums already taken, so even a long
//! experiment is a few million small rows: it is read whole, then grouped by project.
//!
//! A row the statistics cannot use (a null key, a non-finite `diff_score`, line counts
//! that cannot be: negative, null, or more lines removed than generated) is not fatal and
//! does not poison a metric: it is set aside as a [`QuarantineRecord`] with its reason,
//! and the job writes those to `quarantine/ab-significance/dt=D/`.

use std::path::Path;

use arrow::array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch};
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use hive_core::columns::{ColumnKind, TextColumn, TimestampColumn, array, check_columns, typed};
use hive_core::lake::{committed_parts, partition_dir};
use hive_core::quarantine::QuarantineRecord;
use hive_core::schema::GENERATION_SCORES;
use hive_core::{CoreError, PartitionDate};

/// One generation, as the analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generation's key (`None` in a lake written without it): joins the report's
    /// breakdowns to `diff_scores`.
    pub event_id: Option<String>,
    pub project_id: String,
    pub template_id: String,
    pub template_version: String,
    pub experiment_id: Option<String>,
    pub variant: Option<String>,
    pub generated_at: DateTime<Utc>,
    pub lines_generated: i64,
    pub lines_removed: i64,
    pub diff_score: Option<f64>,
    pub rewritten: Option<bool>,
}

const COLUMNS: &[(&str, ColumnKind)] = &[
    ("project_id", ColumnKind::Text),
    ("template_id", ColumnKind::Text),
    ("template_version", ColumnKind::Text),
    ("experiment_id", ColumnKind::Text),
    ("variant", ColumnKind::Text),
    ("generated_at", ColumnKind::Timestamp),
];

/// What was read: generations, and the partitions found and missing.
#[derive(Debug, Default)]
pub struct Loaded {
    pub generations: Vec<Generation>,
    /// Rows set aside, with their reason (in partition, file and row order).
    pub quarantined: Vec<QuarantineRecord>,
    pub partitions_read: u64,
    /// Days of the range with no committed partition (not yet scored, or no data).
    pub partitions_missing: Vec<PartitionDate>,
}

/// Reads every committed `generation_scores` partition from `first` through `last`,
/// keeping the generations `keep` accepts. A partition directory without `_SUCCESS` is
/// an error (a job is writing it, or failed): the analysis must not run on half a day.
pub fn load(root: &Path, first: PartitionDate, last: PartitionDate, keep: &dyn Fn(&Generation) -> bool) -> Result<Loaded, CoreError> {
    let mut loaded = Loaded::default();
    for date in first.through(last) {
        if !partition_dir(root, GENERATION_SCORES, date).exists() {
            loaded.partitions_missing.push(date);
            continue;
        }
        for part in committed_parts(root, GENERATION_SCORES, date)? {
            let source = part.strip_prefix(root).unwrap_or(&part).to_string_lossy().into_owned();
            read_part(&part, &source, keep, &mut loaded)?;
        }
        loaded.partitions_read += 1;
    }
    Ok(loaded)
}

fn read_part(path: &Path, source: &str, keep: &dyn Fn(&Generation) -> bool, out: &mut Loaded) -> Result<(), CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let parquet = |source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    check_columns(path, builder.schema(), COLUMNS)?;
    let mut rows_before = 0_u64;
    for batch in builder.build().map_err(parquet)? {
        let batch = batch.map_err(|source| CoreError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        let offset = rows_before;
        rows_before += batch.num_rows() as u64;
        read_batch(path, source, offset, &batch, keep, out)?;
    }
    Ok(())
}

fn read_batch(
    path: &Path,
    source: &str,
    offset: u64,
    batch: &RecordBatch,
    keep: &dyn Fn(&Generation) -> bool,
    out: &mut Loaded,
) -> Result<(), CoreError> {
    let text = |name: &str| typed(batch, path, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
    let (event, project, template, version, experiment, variant) = (
        text("event_id").ok(),
        text("project_id")?,
        text("template_id")?,
        text("template_version")?,
        text("experiment_id")?,
        text("variant")?,
    );
    let at = typed(batch, path, "generated_at", ColumnKind::Timestamp, |a| {
        TimestampColumn::new(a.as_ref())
    })?;
    let generated: &Int64Array = array(batch, path, "lines_generated", "int64")?;
    let removed: &Int64Array = array(batch, path, "lines_removed", "int64")?;
    let diff_score: &Float64Array = array(batch, path, "diff_score", "double")?;
    let rewritten: &BooleanArray = array(batch, path, "rewritten", "bool")?;
    for row in 0..batch.num_rows() {
        let quarantine = |code: &'static str, reason: String| QuarantineRecord {
            source_file: source.to_owned(),
            source_row: offset + row as u64 + 1,
            record_key: event.as_ref().and_then(|e| e.get(row)).map(str::to_owned),
            project_id: project.get(row).map(str::to_owned),
            reason_code: code,
            reason,
            payload: Some(
                serde_json::json!({
                    "template_id": template.get(row),
                    "template_version": version.get(row),
                    "experiment_id": experiment.get(row),
                    "variant": variant.get(row),
                    "lines_generated": generated.is_valid(row).then(|| generated.value(row)),
                    "lines_removed": removed.is_valid(row).then(|| removed.value(row)),
                    "diff_score": diff_score.is_valid(row).then(|| diff_score.value(row).to_string()),
                })
                .to_string()
                .into_bytes(),
            ),
        };
        let generated_at = match at.get(row) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                out.quarantined.push(quarantine("bad_generated_at", format!("`generated_at` {e}")));
                continue;
            }
            None => {
                out.quarantined.push(quarantine("missing_key", "`generated_at` is null".into()));
                continue;
            }
        };
        let (Some(project_id), Some(template_id), Some(template_version)) = (project.get(row), template.get(row), version.get(row)) else {
            out.quarantined.push(quarantine(
                "missing_key",
                "`project_id`, `template_id` or `template_version` is null".into(),
            ));
            continue;
        };
        if generated.is_null(row) || removed.is_null(row) {
            out.quarantined.push(quarantine(
                "impossible_line_counts",
                "`lines_generated` or `lines_removed` is null".into(),
            ));
            continue;
        }
        let (lines_generated, lines_removed) = (generated.value(row), removed.value(row));
        if lines_generated < 0 || lines_removed < 0 || lines_removed > lines_generated {
            out.quarantined.push(quarantine(
                "impossible_line_counts",
                format!("`lines_removed` {lines_removed} must be between 0 and `lines_generated` {lines_generated}"),
            ));
            continue;
        }
        let diff = diff_score.is_valid(row).then(|| diff_score.value(row));
        if let Some(d) = diff.filter(|d| !d.is_finite()) {
            out.quarantined.push(quarantine("non_finite_score", format!("`diff_score` is {d}")));
            continue;
        }
        let generation = Generation {
            event_id: event.as_ref().and_then(|e| e.get(row)).map(str::to_owned),
            project_id: project_id.to_owned(),
            template_id: template_id.to_owned(),
            template_version: template_version.to_owned(),
            experiment_id: experiment.get(row).map(str::to_owned),
            variant: variant.get(row).map(str::to_owned),
            generated_at,
            lines_generated,
            lines_removed,
            diff_score: diff,
            rewritten: rewritten.is_valid(row).then(|| rewritten.value(row)),
        };
        if keep(&generation) {
            out.generations.push(generation);
        }
    }
    Ok(())
}

/// One quality-gate evaluation of a project, from `gate_results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOutcome {
    pub project_id: String,
    /// `pass`; `warn`, `fail` and `missing` (no report) do not pass.
    pub passed: bool,
}

/// Reads `project_id` and `status` of every committed `gate_results` partition from
/// `first` through `last` (days without one are skipped: gates run when projects do).
pub fn load_gates(root: &Path, first: PartitionDate, last: PartitionDate) -> Result<Vec<GateOutcome>, CoreError> {
    use hive_core::schema::gates::{GATE_RESULTS, GateStatus};
    let mut out = Vec::new();
    for date in first.through(last) {
        if !partition_dir(root, GATE_RESULTS, date).exists() {
            continue;
        }
        for path in committed_parts(root, GATE_RESULTS, date)? {
            let file = std::fs::File::open(&path).map_err(|e| CoreError::io(&path, e))?;
            let parquet = |source| CoreError::Parquet {
                path: path.clone(),
                source,
            };
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
            check_columns(
                &path,
                builder.schema(),
                &[("project_id", ColumnKind::Text), ("status", ColumnKind::Text)],
            )?;
            for batch in builder.build().map_err(parquet)? {
                let batch = batch.map_err(|source| CoreError::Arrow {
                    path: path.clone(),
                    source,
                })?;
                let text = |name: &str| typed(&batch, &path, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
                let (project, status) = (text("project_id")?, text("status")?);
                for row in 0..batch.num_rows() {
                    let (Some(project), Some(status)) = (project.get(row), status.get(row)) else {
                        return Err(CoreError::BadValue {
                            path: path.clone(),
                            row: row as u64 + 1,
                            column: "project_id / status".into(),
                            message: "is null".into(),
                        });
                    };
                    out.push(GateOutcome {
                        project_id: project.to_owned(),
                        passed: GateStatus::parse(status) == Some(GateStatus::Pass),
                    });
                }
            }
        }
    }
    Ok(out)
}
