//! Quarantine: where rows a job cannot use go, with the reason and the raw record.
//!
//! "Nothing is lost" is checked by reconciliation: every input row is either in the
//! output, in the quarantine, or counted as belonging to another run or shard. The
//! quarantine part is always written (empty when nothing was quarantined), so a rerun
//! replaces an earlier run's quarantine instead of leaving it behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, LargeBinaryBuilder, StringBuilder, UInt64Builder};
use arrow::record_batch::RecordBatch;

use crate::lake::{CommittedPart, PartWriter};
use crate::schema::quarantine_spec;
use crate::{CoreError, PartitionDate, Shard};

/// One quarantined row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRecord {
    /// Input file, relative to the data root.
    pub source_file: String,
    /// 1-based row or line number in `source_file`.
    pub source_row: u64,
    /// Record key when it could be read.
    pub record_key: Option<String>,
    /// Project when it could be read.
    pub project_id: Option<String>,
    /// Stable machine-readable reason.
    pub reason_code: &'static str,
    /// Human-readable reason naming the field at fault.
    pub reason: String,
    /// The raw record.
    pub payload: Option<Vec<u8>>,
}

/// Buffers quarantined rows and writes them as the job's quarantine part.
pub struct QuarantineWriter {
    job: String,
    part: PartWriter,
    pending: Vec<QuarantineRecord>,
    counts: BTreeMap<&'static str, u64>,
}

/// Rows buffered before a batch is written.
const BATCH_ROWS: usize = 1024;

impl QuarantineWriter {
    /// Opens the quarantine part of `job` for `date` and `shard`.
    pub fn create(root: &Path, job: &str, date: PartitionDate, shard: Shard) -> Result<Self, CoreError> {
        Ok(Self {
            job: job.to_owned(),
            part: PartWriter::create(root, quarantine_spec(job), date, shard)?,
            pending: Vec::new(),
            counts: BTreeMap::new(),
        })
    }

    /// Quarantines one row.
    pub fn push(&mut self, record: QuarantineRecord) -> Result<(), CoreError> {
        tracing::debug!(file = %record.source_file, row = record.source_row, reason = record.reason_code, "quarantined: {}", record.reason);
        *self.counts.entry(record.reason_code).or_default() += 1;
        self.pending.push(record);
        if self.pending.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Rows quarantined so far, by reason code.
    pub fn counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.counts
    }

    /// Total rows quarantined so far.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    fn flush(&mut self) -> Result<(), CoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut job = StringBuilder::new();
        let mut file = StringBuilder::new();
        let mut row = UInt64Builder::new();
        let mut key = StringBuilder::new();
        let mut project = StringBuilder::new();
        let mut code = StringBuilder::new();
        let mut reason = StringBuilder::new();
        let mut payload = LargeBinaryBuilder::new();
        for r in self.pending.drain(..) {
            job.append_value(&self.job);
            file.append_value(&r.source_file);
            row.append_value(r.source_row);
            key.append_option(r.record_key.as_deref());
            project.append_option(r.project_id.as_deref());
            code.append_value(r.reason_code);
            reason.append_value(&r.reason);
            payload.append_option(r.payload.as_deref());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(job.finish()),
            Arc::new(file.finish()),
            Arc::new(row.finish()),
            Arc::new(key.finish()),
            Arc::new(project.finish()),
            Arc::new(code.finish()),
            Arc::new(reason.finish()),
            Arc::new(payload.finish()),
        ];
        let batch = RecordBatch::try_new(self.part.schema(), columns).map_err(|source| CoreError::Arrow {
            path: Path::new(&self.job).to_owned(),
            source,
        })?;
        self.part.write(&batch)
    }

    /// Writes what is buffered and commits the part.
    pub fn commit(mut self) -> Result<CommittedPart, CoreError> {
        self.flush()?;
        self.part.commit()
    }
}
