//! Quarantine: where rows a job cannot use go, with the reason and the raw record.
//!
//! "Nothing is lost" is checked by reconciliation: every input row is either in the
//! output, in the quarantine, or counted as belonging to another run or shard. The
//! quarantine part is always written (empty when nothing was quarantined), so a rerun
//! replaces an earlier run's quarantine instead of leaving it behind.
//!
//! A job with a `--max-quarantine-ratio` judges the ratio of the whole partition, not of
//! its shard: each shard leaves a [`QuarantineTally`] beside its quarantine part before
//! committing it, and the shard whose commit completes the partition sums them
//! ([`QuarantineWriter::commit_with_tally`]). A small shard is noisy, and a sharded night
//! must pass or fail exactly as the one-shard run of the same data does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, LargeBinaryBuilder, StringBuilder, UInt64Builder};
use arrow::record_batch::RecordBatch;

use crate::lake::{CommittedPart, PartWriter};
use crate::schema::quarantine_spec;
use crate::summary::RunStatus;
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

/// Rows a shard (or, summed, a partition) handled, and how many of them it quarantined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineTally {
    pub rows_handled: u64,
    pub rows_quarantined: u64,
}

impl QuarantineTally {
    /// Quarantined / handled; 0 when nothing was handled.
    pub fn ratio(&self) -> f64 {
        if self.rows_handled == 0 {
            0.0
        } else {
            self.rows_quarantined as f64 / self.rows_handled as f64
        }
    }

    /// The verdict on a partition's tally: [`RunStatus::TooManyQuarantined`] (logged as
    /// an error naming `rows`, what the job counts) when its ratio is over `max_ratio`,
    /// else success. A ratio exactly at the limit passes.
    pub fn judge(&self, max_ratio: f64, rows: &str) -> RunStatus {
        if self.ratio() <= max_ratio {
            return RunStatus::Success;
        }
        tracing::error!(
            quarantined = self.rows_quarantined,
            handled = self.rows_handled,
            ratio = self.ratio(),
            max = max_ratio,
            "too many {rows} quarantined in the partition"
        );
        RunStatus::TooManyQuarantined
    }
}

/// Checks a `--max-quarantine-ratio` value: a share in [0, 1].
pub fn check_max_ratio(max_ratio: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&max_ratio) {
        Ok(())
    } else {
        Err(format!("must be in [0, 1], got {max_ratio}"))
    }
}

/// Buffers quarantined rows and writes them as the job's quarantine part.
pub struct QuarantineWriter {
    job: String,
    root: PathBuf,
    date: PartitionDate,
    shard: Shard,
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
            root: root.to_owned(),
            date,
            shard,
            part: PartWriter::create(root, quarantine_spec(job), date, shard)?,
            pending: Vec::new(),
            counts: BTreeMap::new(),
        })
    }

    /// Quarantines one row.
    pub fn push(&mut self, mut record: QuarantineRecord) -> Result<(), CoreError> {
        // Input text leaves a job only scrubbed: a reason quotes at most a short, redacted
        // excerpt, and the payload keeps the record with its secrets redacted.
        record.reason = hive_secrets::scrub_for_log(&record.reason, 2 * hive_secrets::LOG_QUOTE_CHARS);
        record.payload = record.payload.map(|p| hive_secrets::scrub_bytes(&p));
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

    /// Leaves this shard's `tally` beside the quarantine part, then commits the part. When
    /// this commit completes the partition, also returns the sum of every shard's tally:
    /// the numbers the partition's quarantine ratio is judged on.
    pub fn commit_with_tally(self, tally: QuarantineTally) -> Result<(CommittedPart, Option<QuarantineTally>), CoreError> {
        let (root, job, date, shard) = (self.root.clone(), self.job.clone(), self.date, self.shard);
        let path = tally_path(&root, &job, date, shard);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        }
        let text = serde_json::to_vec(&tally).map_err(|e| CoreError::BadManifest {
            path: path.clone(),
            message: format!("tally not serialisable: {e}"),
        })?;
        crate::lake::write_atomically(&path, &text)?;
        let part = self.commit()?;
        if !part.partition_complete {
            return Ok((part, None));
        }
        let mut total = QuarantineTally::default();
        for k in 0..shard.count() {
            let path = tally_path(&root, &job, date, Shard::new(k, shard.count())?);
            let text = std::fs::read(&path).map_err(|e| CoreError::io(&path, e))?;
            let one: QuarantineTally = serde_json::from_slice(&text).map_err(|e| CoreError::BadManifest {
                path: path.clone(),
                message: format!("not a quarantine tally: {e}"),
            })?;
            total.rows_handled += one.rows_handled;
            total.rows_quarantined += one.rows_quarantined;
        }
        Ok((part, Some(total)))
    }
}

/// `quarantine/<job>/dt=D/_tally-<k>-of-<n>.json`.
fn tally_path(root: &Path, job: &str, date: PartitionDate, shard: Shard) -> PathBuf {
    crate::lake::partition_dir(root, &quarantine_spec(job).name, date).join(format!("_tally-{}-of-{}.json", shard.index(), shard.count()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn the_shard_completing_the_partition_gets_every_shards_tally() {
        let dir = tempfile::tempdir().unwrap();
        let date: PartitionDate = "2026-10-12".parse().unwrap();
        let commit = |k: u32, handled: u64, quarantined: u64| {
            let writer = QuarantineWriter::create(dir.path(), "job", date, Shard::new(k, 3).unwrap()).unwrap();
            writer
                .commit_with_tally(QuarantineTally {
                    rows_handled: handled,
                    rows_quarantined: quarantined,
                })
                .unwrap()
                .1
        };
        assert_eq!(commit(2, 10, 1), None);
        assert_eq!(commit(0, 0, 0), None);
        let total = commit(1, 30, 3).unwrap();
        assert_eq!(
            total,
            QuarantineTally {
                rows_handled: 40,
                rows_quarantined: 4
            }
        );
        assert!((total.ratio() - 0.1).abs() < 1e-15);
        assert!(QuarantineTally::default().ratio().abs() < f64::MIN_POSITIVE);
        assert_eq!(total.judge(0.1, "rows"), RunStatus::Success, "at the limit passes");
        assert_eq!(total.judge(0.099, "rows"), RunStatus::TooManyQuarantined);
        assert_eq!(QuarantineTally::default().judge(0.0, "rows"), RunStatus::Success);
        assert!(check_max_ratio(0.0).is_ok() && check_max_ratio(1.0).is_ok());
        assert!(check_max_ratio(1.5).is_err() && check_max_ratio(-0.1).is_err() && check_max_ratio(f64::NAN).is_err());
    }
}
