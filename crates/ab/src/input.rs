//! Reads `generation_scores` for the analysis: the committed partitions of a date range,
//! reduced to what the statistics need (one small struct per generation).
//!
//! `generation_scores` is one row per generation with sums already taken, so even a long
//! experiment is a few million small rows: it is read whole, then grouped by project.

use std::path::Path;

use arrow::array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch};
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use hive_core::columns::{ColumnKind, TextColumn, TimestampColumn, check_columns, typed};
use hive_core::lake::{committed_parts, partition_dir};
use hive_core::schema::GENERATION_SCORES;
use hive_core::{CoreError, PartitionDate};

/// One generation, as the analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
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
            read_part(&part, keep, &mut loaded.generations)?;
        }
        loaded.partitions_read += 1;
    }
    Ok(loaded)
}

fn read_part(path: &Path, keep: &dyn Fn(&Generation) -> bool, out: &mut Vec<Generation>) -> Result<(), CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let parquet = |source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    check_columns(path, builder.schema(), COLUMNS)?;
    for batch in builder.build().map_err(parquet)? {
        let batch = batch.map_err(|source| CoreError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        read_batch(path, &batch, keep, out)?;
    }
    Ok(())
}

/// A numeric or boolean column of the expected physical type.
fn column<'a, T: 'static>(batch: &'a RecordBatch, path: &Path, name: &str, kind: &str) -> Result<&'a T, CoreError> {
    let column = batch.column_by_name(name).ok_or_else(|| CoreError::MissingColumn {
        path: path.to_owned(),
        column: name.to_owned(),
        found: batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    column.as_any().downcast_ref::<T>().ok_or_else(|| CoreError::WrongColumnType {
        path: path.to_owned(),
        column: name.to_owned(),
        expected: kind.to_owned(),
        found: column.data_type().to_string(),
    })
}

fn read_batch(path: &Path, batch: &RecordBatch, keep: &dyn Fn(&Generation) -> bool, out: &mut Vec<Generation>) -> Result<(), CoreError> {
    let text = |name: &str| typed(batch, path, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
    let (project, template, version, experiment, variant) = (
        text("project_id")?,
        text("template_id")?,
        text("template_version")?,
        text("experiment_id")?,
        text("variant")?,
    );
    let at = typed(batch, path, "generated_at", ColumnKind::Timestamp, |a| {
        TimestampColumn::new(a.as_ref())
    })?;
    let generated: &Int64Array = column(batch, path, "lines_generated", "int64")?;
    let removed: &Int64Array = column(batch, path, "lines_removed", "int64")?;
    let diff_score: &Float64Array = column(batch, path, "diff_score", "double")?;
    let rewritten: &BooleanArray = column(batch, path, "rewritten", "bool")?;
    for row in 0..batch.num_rows() {
        let bad = |column: &str, what: &str| CoreError::BadValue {
            path: path.to_owned(),
            row: row as u64 + 1,
            column: column.to_owned(),
            message: what.to_owned(),
        };
        let required = |c: &TextColumn, name: &str| c.get(row).map(str::to_owned).ok_or_else(|| bad(name, "is null"));
        let generated_at = match at.get(row) {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(bad("generated_at", &e)),
            None => return Err(bad("generated_at", "is null")),
        };
        if generated.is_null(row) || removed.is_null(row) {
            return Err(bad("lines_generated", "line sums are null"));
        }
        let generation = Generation {
            project_id: required(&project, "project_id")?,
            template_id: required(&template, "template_id")?,
            template_version: required(&version, "template_version")?,
            experiment_id: experiment.get(row).map(str::to_owned),
            variant: variant.get(row).map(str::to_owned),
            generated_at,
            lines_generated: generated.value(row),
            lines_removed: removed.value(row),
            diff_score: diff_score.is_valid(row).then(|| diff_score.value(row)),
            rewritten: rewritten.is_valid(row).then(|| rewritten.value(row)),
        };
        if generation.lines_removed < 0 || generation.lines_removed > generation.lines_generated {
            return Err(bad("lines_removed", "must be between 0 and lines_generated"));
        }
        if keep(&generation) {
            out.push(generation);
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
