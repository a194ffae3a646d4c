//! Reads a date's partition of any lake table as plain cells, whatever its exact schema.
//!
//! mlflow-sync mirrors tables written by other jobs, some of which are still evolving
//! (`gate_results` lives in hive-gates until it moves to hive-core). Reading columns by
//! kind (text, number, flag, instant) instead of by a fixed schema keeps the sync working
//! when a job adds a column: a new number simply becomes a new metric.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use hive_core::lake::{SUCCESS_MARKER, committed_parts, partition_dir};
use hive_core::{CoreError, PartitionDate};

use crate::error::MlflowError;

/// One value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Number(f64),
    Flag(bool),
    /// Milliseconds since the epoch (UTC).
    Instant(i64),
}

/// A row: column name to value. Columns of types the sync does not map are absent.
pub type Row = BTreeMap<String, Cell>;

/// A committed partition.
#[derive(Debug)]
pub struct Table {
    pub dir: PathBuf,
    pub rows: Vec<Row>,
    /// The batches as read, for re-writing subsets as Parquet artifacts.
    pub batches: Vec<RecordBatch>,
}

/// Whether a partition is there, and if so whether it is complete.
#[derive(Debug)]
pub enum Partition {
    Absent,
    Incomplete(PathBuf),
    Present(Table),
}

/// Text of `column`, if a non-null text.
pub fn text<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    match row.get(column) {
        Some(Cell::Text(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Reads `<root>/<table>/dt=<date>/` through its `_SUCCESS` manifest.
pub fn read(root: &Path, table: &str, date: PartitionDate) -> Result<Partition, MlflowError> {
    let dir = partition_dir(root, table, date);
    if !dir.is_dir() {
        return Ok(Partition::Absent);
    }
    if !dir.join(SUCCESS_MARKER).exists() {
        return Ok(Partition::Incomplete(dir));
    }
    let mut rows = Vec::new();
    let mut batches = Vec::new();
    for path in committed_parts(root, table, date)? {
        let file = std::fs::File::open(&path).map_err(|e| CoreError::io(&path, e))?;
        let parquet_err = |source| CoreError::Parquet {
            path: path.clone(),
            source,
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(parquet_err)?
            .build()
            .map_err(parquet_err)?;
        for batch in reader {
            let batch = batch.map_err(|source| CoreError::Arrow {
                path: path.clone(),
                source,
            })?;
            rows.extend(batch_rows(&path, &batch)?);
            batches.push(batch);
        }
    }
    Ok(Partition::Present(Table { dir, rows, batches }))
}

fn arrow_err(path: &Path) -> impl Fn(arrow::error::ArrowError) -> CoreError + '_ {
    move |source| CoreError::Arrow {
        path: path.to_owned(),
        source,
    }
}

fn batch_rows(path: &Path, batch: &RecordBatch) -> Result<Vec<Row>, CoreError> {
    let mut rows = vec![Row::new(); batch.num_rows()];
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let name = field.name();
        let put = |rows: &mut Vec<Row>, i: usize, cell: Cell| {
            rows[i].insert(name.clone(), cell);
        };
        match column.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let strings = cast(column, &DataType::Utf8).map_err(arrow_err(path))?;
                let strings = strings.as_string::<i32>();
                for i in 0..strings.len() {
                    put(
                        &mut rows,
                        i,
                        if strings.is_null(i) {
                            Cell::Null
                        } else {
                            Cell::Text(strings.value(i).to_owned())
                        },
                    );
                }
            }
            DataType::Boolean => {
                let flags = column.as_boolean();
                for i in 0..flags.len() {
                    put(&mut rows, i, if flags.is_null(i) { Cell::Null } else { Cell::Flag(flags.value(i)) });
                }
            }
            t if t.is_numeric() => {
                let numbers = cast(column, &DataType::Float64).map_err(arrow_err(path))?;
                let numbers = numbers.as_primitive::<Float64Type>();
                for i in 0..numbers.len() {
                    put(
                        &mut rows,
                        i,
                        if numbers.is_null(i) {
                            Cell::Null
                        } else {
                            Cell::Number(numbers.value(i))
                        },
                    );
                }
            }
            DataType::Timestamp(_, tz) => {
                let millis = cast(column, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone())).map_err(arrow_err(path))?;
                let millis = cast(&millis, &DataType::Int64).map_err(arrow_err(path))?;
                let millis = millis.as_primitive::<Int64Type>();
                for i in 0..millis.len() {
                    put(
                        &mut rows,
                        i,
                        if millis.is_null(i) {
                            Cell::Null
                        } else {
                            Cell::Instant(millis.value(i))
                        },
                    );
                }
            }
            // Lists, binaries and structs have no MLflow counterpart; skipped.
            _ => {}
        }
    }
    Ok(rows)
}
