//! The lake: where a table's partition lives and how files become visible in it.
//!
//! Layout: `<root>/<table>/dt=YYYY-MM-DD/part-<k>-of-<n>.parquet` plus a `_SUCCESS`
//! manifest. A part is written to a hidden temp file in the same directory (readers such
//! as pyarrow, DuckDB and Spark skip names starting with `.` or `_`), flushed, then
//! renamed over the final name, so a killed job leaves the previous part intact and no
//! partial file visible. `_SUCCESS` is written last, by whichever shard finds all `n`
//! parts present, and lists the parts with their row counts; readers of our own tables
//! read exactly the listed parts. Parts of an earlier run with another shard count are
//! removed only after the new `_SUCCESS` is in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use fs_err as fs;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::{Deserialize, Serialize};

use crate::schema::{SCHEMA_VERSION_KEY, TABLE_NAME_KEY, TableSpec};
use crate::{CoreError, PartitionDate, Shard};

/// Name of the completion marker, written last.
pub const SUCCESS_MARKER: &str = "_SUCCESS";

/// Rows per Parquet row group written by the jobs.
pub const ROW_GROUP_ROWS: usize = 8192;

/// Upper bound on a row group's encoded size, so content-heavy tables stay bounded in
/// memory while writing and reading.
pub const ROW_GROUP_MAX_BYTES: usize = 64 << 20;

/// The directory of one partition: `<root>/<table>/dt=<date>`.
pub fn partition_dir(root: &Path, table: &str, date: PartitionDate) -> PathBuf {
    root.join(table).join(date.dir_name())
}

/// Where the quality reports of date `date` land: `<root>/raw/quality-reports/dt=<date>/`,
/// one directory per project.
pub const QUALITY_REPORTS: &str = "raw/quality-reports";

/// Where a job's human-readable reports go: `<root>/reports/<job>/dt=<date>/`.
pub const REPORTS: &str = "reports";

/// One run's place in the lake: the data root (known to exist), the partition date and
/// the shard. Every path a job reads or writes is built here, so the binaries, the
/// MLflow mirror and the DAGs (which take paths from the jobs' summaries instead of
/// rebuilding them) agree on one layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    root: PathBuf,
    date: PartitionDate,
    shard: Shard,
}

impl Target {
    /// A target under `root`, which must be an existing directory: a wrong data root is
    /// a misconfiguration (exit 2 naming the path), never a night with nothing to do.
    pub fn open(root: &Path, date: PartitionDate, shard: Shard) -> Result<Self, CoreError> {
        CoreError::require_dir("data root", root)?;
        Ok(Self::unchecked(root, date, shard))
    }

    /// A target whose root is not checked (for writers that create the lake).
    pub fn unchecked(root: &Path, date: PartitionDate, shard: Shard) -> Self {
        Self {
            root: root.to_owned(),
            date,
            shard,
        }
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The partition date.
    pub fn date(&self) -> PartitionDate {
        self.date
    }

    /// The shard this run processes.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// `<root>/<table>/dt=<date>`.
    pub fn partition(&self, table: &str) -> PathBuf {
        partition_dir(&self.root, table, self.date)
    }

    /// `<root>/<table>/dt=<day>` for another day of the same table.
    pub fn partition_on(&self, table: &str, day: PartitionDate) -> PathBuf {
        partition_dir(&self.root, table, day)
    }

    /// Checks that the input table `table` exists under the root: a table that was never
    /// written is a misconfiguration or a missing upstream (exit 2), not an empty night.
    pub fn require_table(&self, table: &str) -> Result<PathBuf, CoreError> {
        let dir = self.root.join(table);
        CoreError::require_dir("input table", &dir)?;
        Ok(dir)
    }

    /// `<root>/reports/<job>/dt=<date>`: Markdown, HTML and charts of a job.
    pub fn report_dir(&self, job: &str) -> PathBuf {
        self.root.join(REPORTS).join(job).join(self.date.dir_name())
    }

    /// `<root>/raw/quality-reports/dt=<date>`: one directory of reports per project.
    pub fn quality_reports(&self) -> PathBuf {
        self.root.join(QUALITY_REPORTS).join(self.date.dir_name())
    }

    /// `<root>/finetune/dt=<date>/manifest.json`: the fine-tuning dataset's manifest.
    pub fn finetune_manifest(&self) -> PathBuf {
        self.partition(crate::schema::FINETUNE).join("manifest.json")
    }
}

/// What `_SUCCESS` says about a committed partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionManifest {
    pub table: String,
    pub dt: String,
    pub schema_version: u32,
    pub shards: u32,
    pub parts: Vec<PartEntry>,
    pub rows: u64,
}

/// One committed part file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartEntry {
    pub file: String,
    pub rows: u64,
}

/// What committing a part did.
#[derive(Debug, Clone, Serialize)]
pub struct CommittedPart {
    /// The part file now visible.
    pub path: PathBuf,
    /// Rows in this part.
    pub rows: u64,
    /// Whether this commit completed the partition (wrote `_SUCCESS`).
    pub partition_complete: bool,
}

/// Writer properties shared by every table: zstd, fixed row-group size, the table's name
/// and schema version in the key-value metadata. No timestamps, so bytes are
/// reproducible.
pub fn writer_properties(spec: &TableSpec) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_MAX_BYTES))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(SCHEMA_VERSION_KEY.to_owned(), spec.version.to_string()),
            KeyValue::new(TABLE_NAME_KEY.to_owned(), spec.name.clone()),
        ]))
        .build()
}

/// Writes one shard's part of a partition atomically.
pub struct PartWriter {
    spec: TableSpec,
    dir: PathBuf,
    date: PartitionDate,
    shard: Shard,
    final_path: PathBuf,
    temp: Option<tempfile::TempPath>,
    writer: Option<ArrowWriter<std::fs::File>>,
    rows: u64,
    /// The part's write lock, held until the writer is dropped.
    _lock: std::fs::File,
}

/// Takes the write lock of one part of a partition: `<table>/.locks/dt=D.<part>.lock`,
/// beside the partitions rather than in one (the partition holds only its parts and
/// `_SUCCESS`; readers skip the hidden directory). Shards lock different parts, so they
/// still run in parallel; a second run of the same part fails at once with
/// [`CoreError::Locked`] (exit 3: retried once the first has finished) instead of
/// deleting the first run's temp files. The lock is the kernel's (`flock`), released
/// when the process ends, however it ends.
pub fn lock_part(dir: &Path, part: &str) -> Result<std::fs::File, CoreError> {
    let (Some(table_dir), Some(partition)) = (dir.parent(), dir.file_name()) else {
        return Err(CoreError::MissingInput {
            what: "partition directory",
            path: dir.to_owned(),
            problem: "has no parent table directory",
        });
    };
    let locks = table_dir.join(".locks");
    fs::create_dir_all(&locks).map_err(|e| CoreError::io(&locks, e))?;
    let path = locks.join(format!("{}.{part}.lock", partition.to_string_lossy()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CoreError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CoreError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => Err(CoreError::io(&path, e)),
    }
}

impl PartWriter {
    /// Opens a temp file for shard `shard` of `spec`'s partition `date` under `root`.
    pub fn create(root: &Path, spec: TableSpec, date: PartitionDate, shard: Shard) -> Result<Self, CoreError> {
        let dir = partition_dir(root, &spec.name, date);
        fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        let final_name = shard.part_file_name();
        let lock = lock_part(&dir, &final_name)?;
        // Only the lock holder may remove a killed run's temp files of this part.
        remove_stale_temps(&dir, &final_name);
        let (file, temp) = crate::temp::create_temp(&dir, &final_name)
            .map_err(|e| CoreError::io(dir.join(crate::temp::temp_prefix(&final_name)), e))?
            .into_parts();
        let writer = ArrowWriter::try_new(file, Arc::clone(&spec.schema), Some(writer_properties(&spec))).map_err(|source| {
            CoreError::WriteParquet {
                path: temp.to_path_buf(),
                source,
            }
        })?;
        Ok(Self {
            final_path: dir.join(final_name),
            spec,
            dir,
            date,
            shard,
            temp: Some(temp),
            writer: Some(writer),
            rows: 0,
            _lock: lock,
        })
    }

    /// The schema batches must have.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.spec.schema)
    }

    /// Appends a batch. Its schema must be the table's.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), CoreError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        writer.write(batch).map_err(|source| CoreError::WriteParquet {
            path: self.final_path.clone(),
            source,
        })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the file, makes it visible under its final name, and writes `_SUCCESS`
    /// if every shard's part of the partition is now present.
    pub fn commit(mut self) -> Result<CommittedPart, CoreError> {
        let (Some(writer), Some(temp)) = (self.writer.take(), self.temp.take()) else {
            return Err(CoreError::BadManifest {
                path: self.final_path.clone(),
                message: "part committed twice".into(),
            });
        };
        let file = writer.into_inner().map_err(|source| CoreError::WriteParquet {
            path: temp.to_path_buf(),
            source,
        })?;
        file.sync_all().map_err(|e| CoreError::io(&temp, e))?;
        drop(file);
        // A rerun replaces a part of a committed partition: withdraw `_SUCCESS` first, so
        // that a crash between here and the new `_SUCCESS` leaves an incomplete partition
        // (which readers refuse) rather than a torn one.
        let marker = self.dir.join(SUCCESS_MARKER);
        match std::fs::remove_file(&marker) {
            Ok(()) => sync_dir(&self.dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CoreError::io(&marker, e)),
        }
        temp.persist(&self.final_path)
            .map_err(|e| CoreError::io(&self.final_path, e.error))?;
        sync_dir(&self.dir)?;
        let partition_complete = self.complete_partition_if_ready()?;
        Ok(CommittedPart {
            path: self.final_path.clone(),
            rows: self.rows,
            partition_complete,
        })
    }

    fn complete_partition_if_ready(&self) -> Result<bool, CoreError> {
        let count = self.shard.count();
        let mut parts = Vec::with_capacity(count as usize);
        for index in 0..count {
            let name = Shard::new(index, count)?.part_file_name();
            let path = self.dir.join(&name);
            if !path.exists() {
                return Ok(false);
            }
            parts.push(PartEntry {
                rows: parquet_row_count(&path)?,
                file: name,
            });
        }
        let manifest = PartitionManifest {
            table: self.spec.name.clone(),
            dt: self.date.to_string(),
            schema_version: self.spec.version,
            shards: count,
            rows: parts.iter().map(|p| p.rows).sum(),
            parts,
        };
        let mut text = serde_json::to_string_pretty(&manifest).map_err(|e| CoreError::BadManifest {
            path: self.dir.join(SUCCESS_MARKER),
            message: e.to_string(),
        })?;
        text.push('\n');
        write_atomically(&self.dir.join(SUCCESS_MARKER), text.as_bytes())?;
        self.remove_parts_of_other_shard_counts(count);
        Ok(true)
    }

    fn remove_parts_of_other_shard_counts(&self, count: u32) {
        let suffix = format!("-of-{count}.parquet");
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("part-") && name.ends_with(".parquet") && !name.ends_with(&suffix) {
                tracing::info!(file = %entry.path().display(), "removing part of an earlier run with another shard count");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Removes temp files a killed earlier run of the same part left behind.
fn remove_stale_temps(dir: &Path, final_name: &str) {
    let prefix = crate::temp::temp_prefix(final_name);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` through a hidden temp file of its own (see
/// [`crate::temp`]), an fsync and a rename, then fsyncs the directory so the rename
/// itself survives a crash. Writers of the same file at once (the shards of a partition
/// completing it together) each publish whole bytes.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut temp = crate::temp::create_temp(dir, &name).map_err(|e| CoreError::io(dir.join(crate::temp::temp_prefix(&name)), e))?;
    temp.write_all(bytes).map_err(|e| CoreError::io(temp.path(), e))?;
    temp.as_file().sync_all().map_err(|e| CoreError::io(temp.path(), e))?;
    temp.persist(path).map_err(|e| CoreError::io(path, e.error))?;
    crate::temp::remove_abandoned_temps(dir, &name);
    sync_dir(dir)
}

/// Makes the entries of `dir` (a rename, a removal) durable.
pub fn sync_dir(dir: &Path) -> Result<(), CoreError> {
    #[cfg(unix)]
    {
        let handle = std::fs::File::open(dir).map_err(|e| CoreError::io(dir, e))?;
        handle.sync_all().map_err(|e| CoreError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Number of rows in a Parquet file, from its footer.
pub fn parquet_row_count(path: &Path) -> Result<u64, CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    })?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

/// The parts of a committed partition of one of our tables, as listed by `_SUCCESS`.
pub fn committed_parts(root: &Path, table: &str, date: PartitionDate) -> Result<Vec<PathBuf>, CoreError> {
    let dir = partition_dir(root, table, date);
    let marker = dir.join(SUCCESS_MARKER);
    if !marker.exists() {
        return Err(CoreError::IncompletePartition { path: dir });
    }
    let text = fs::read_to_string(&marker).map_err(|e| CoreError::io(&marker, e))?;
    let manifest: PartitionManifest = serde_json::from_str(&text).map_err(|e| CoreError::BadManifest {
        path: marker.clone(),
        message: e.to_string(),
    })?;
    verify_manifest(&dir, &marker, table, &manifest)
}

/// Checks what `_SUCCESS` claims before anything is read: each part listed once, by a
/// plain `part-<k>-of-<n>.parquet` name inside the partition, a regular file (no symlink)
/// whose footer has the row count listed, and the counts adding up. A forged or torn
/// manifest is bad input naming the partition, never rows read twice or from elsewhere.
fn verify_manifest(dir: &Path, marker: &Path, table: &str, manifest: &PartitionManifest) -> Result<Vec<PathBuf>, CoreError> {
    let bad = |message: String| CoreError::BadManifest {
        path: marker.to_owned(),
        message,
    };
    if manifest.table != table {
        return Err(bad(format!("lists table `{}`, not `{table}`", manifest.table)));
    }
    if manifest.parts.len() != manifest.shards as usize {
        return Err(bad(format!("lists {} parts for {} shards", manifest.parts.len(), manifest.shards)));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut paths = Vec::with_capacity(manifest.parts.len());
    let mut total = 0u64;
    for part in &manifest.parts {
        let expected = (0..manifest.shards).any(|k| part.file == format!("part-{k}-of-{}.parquet", manifest.shards));
        if !expected {
            return Err(bad(format!(
                "part `{}` is not a part name of a {}-shard partition (`part-<k>-of-<n>.parquet`)",
                part.file.escape_debug(),
                manifest.shards
            )));
        }
        if !seen.insert(part.file.as_str()) {
            return Err(bad(format!("lists part `{}` twice", part.file)));
        }
        let path = dir.join(&part.file);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| CoreError::io(&path, e))?;
        if !meta.file_type().is_file() {
            return Err(bad(format!("part `{}` is not a regular file", part.file)));
        }
        let rows = parquet_row_count(&path)?;
        if rows != part.rows {
            return Err(bad(format!(
                "part `{}` has {rows} rows, the manifest says {} (a torn or foreign partition)",
                part.file, part.rows
            )));
        }
        total += rows;
        paths.push(path);
    }
    if total != manifest.rows {
        return Err(bad(format!("parts hold {total} rows, the manifest says {}", manifest.rows)));
    }
    Ok(paths)
}

/// Input file formats the jobs accept for raw exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    Parquet,
    Ndjson,
}

/// A raw input file found in a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: InputFormat,
    pub partition: PartitionDate,
}

/// The data files of raw partitions `first..=last` of `table`, in a deterministic order
/// (by partition, then file name). Raw exports need no `_SUCCESS`; hidden files (`.`,
/// `_`) are skipped. Missing partitions are simply absent.
pub fn raw_input_files(root: &Path, table: &str, first: PartitionDate, last: PartitionDate) -> Result<Vec<InputFile>, CoreError> {
    let mut files = Vec::new();
    for date in first.through(last) {
        let dir = partition_dir(root, table, date);
        if !dir.is_dir() {
            continue;
        }
        let mut names: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| CoreError::io(&dir, e))? {
            let entry = entry.map_err(|e| CoreError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            // A symlink could point anywhere (`/proc/self/environ`): raw inputs must be
            // regular files inside the partition. Refused by name, never read.
            let kind = entry.file_type().map_err(|e| CoreError::io(entry.path(), e))?;
            if !kind.is_file() {
                return Err(CoreError::MissingInput {
                    what: "raw input",
                    path: entry.path(),
                    problem: "is not a regular file (symlinks and directories are refused)",
                });
            }
            names.push((name, entry.path()));
        }
        names.sort();
        for (name, path) in names {
            let extension = Path::new(&name)
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let format = if extension == "parquet" {
                InputFormat::Parquet
            } else if extension == "ndjson" || extension == "jsonl" {
                InputFormat::Ndjson
            } else {
                tracing::warn!(file = %path.display(), "ignoring a file that is neither .parquet nor .ndjson/.jsonl");
                continue;
            };
            files.push(InputFile {
                path,
                format,
                partition: date,
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_atomically_neither_truncates_nor_publishes_another_writers_temp() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // What another pod's process with this process's PID is writing right now, under
        // the name earlier versions gave it.
        let theirs = dir.path().join(format!("._SUCCESS.tmp-{}", std::process::id()));
        std::fs::write(&theirs, "half of another writer's bytes").unwrap_or_else(|e| panic!("{e}"));
        let dead = dir
            .path()
            .join(format!("._SUCCESS.tmp-4000000000-aB3dE5gH.{}", crate::temp::writer_space()));
        std::fs::write(&dead, "x").unwrap_or_else(|e| panic!("{e}"));
        let marker = dir.path().join("_SUCCESS");
        super::write_atomically(&marker, b"{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&marker).unwrap_or_default(), b"{}");
        assert_eq!(
            std::fs::read_to_string(&theirs).unwrap_or_default(),
            "half of another writer's bytes"
        );
        // A temp of this PID namespace whose process is gone is removed.
        assert!(!dead.exists());
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        assert_eq!(left.len(), 2, "no temp of this write is left: {left:?}");
    }

    use super::*;
    use crate::schema::quarantine_spec;

    fn spec() -> TableSpec {
        quarantine_spec("test-job")
    }

    fn date() -> PartitionDate {
        "2026-03-01".parse().expect("valid")
    }

    #[test]
    fn success_is_written_only_when_every_shard_committed() {
        let root = tempfile::tempdir().expect("tempdir");
        let spec = spec();
        let s0 = PartWriter::create(root.path(), spec.clone(), date(), "0/2".parse().expect("shard")).expect("create");
        let c0 = s0.commit().expect("commit 0");
        assert!(!c0.partition_complete);
        assert!(committed_parts(root.path(), &spec.name, date()).is_err());
        let s1 = PartWriter::create(root.path(), spec.clone(), date(), "1/2".parse().expect("shard")).expect("create");
        assert!(s1.commit().expect("commit 1").partition_complete);
        let parts = committed_parts(root.path(), &spec.name, date()).expect("complete");
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn rerun_with_fewer_shards_replaces_old_parts_after_success() {
        let root = tempfile::tempdir().expect("tempdir");
        let spec = spec();
        for k in 0..2 {
            let w = PartWriter::create(root.path(), spec.clone(), date(), Shard::new(k, 2).expect("shard")).expect("create");
            w.commit().expect("commit");
        }
        let w = PartWriter::create(root.path(), spec.clone(), date(), Shard::ALL).expect("create");
        assert!(w.commit().expect("commit").partition_complete);
        let dir = partition_dir(root.path(), &spec.name, date());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["_SUCCESS", "part-0-of-1.parquet"]);
    }

    #[test]
    fn forged_or_torn_manifests_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let spec = spec();
        PartWriter::create(root.path(), spec.clone(), date(), Shard::ALL)
            .expect("create")
            .commit()
            .expect("commit");
        let marker = partition_dir(root.path(), &spec.name, date()).join(SUCCESS_MARKER);
        let good = std::fs::read_to_string(&marker).expect("marker");
        let cases = [
            (good.replace("\"shards\": 1", "\"shards\": 2"), "parts for 2 shards"),
            (
                good.replace("part-0-of-1.parquet", "../../../../x/foreign.parquet"),
                "not a part name",
            ),
            (good.replace("part-0-of-1.parquet", "/etc/passwd"), "not a part name"),
            (good.replace("\"rows\": 0", "\"rows\": 5"), "rows"),
        ];
        for (text, needle) in cases {
            std::fs::write(&marker, &text).expect("write");
            let err = committed_parts(root.path(), &spec.name, date()).expect_err(needle);
            assert!(
                err.to_string().contains(needle) || format!("{err:?}").contains(needle),
                "{needle}: {err:?}"
            );
        }
        let twice = good.replace(
            "\"parts\": [",
            "\"parts\": [\n    {\"file\": \"part-0-of-1.parquet\", \"rows\": 0},",
        );
        std::fs::write(&marker, twice.replace("\"shards\": 1", "\"shards\": 2")).expect("write");
        assert!(committed_parts(root.path(), &spec.name, date()).is_err());
        std::fs::write(&marker, &good).expect("write");
        assert_eq!(committed_parts(root.path(), &spec.name, date()).expect("good").len(), 1);
    }

    #[test]
    fn a_second_writer_of_the_same_part_is_refused_while_other_shards_proceed() {
        let root = tempfile::tempdir().expect("tempdir");
        let spec = spec();
        let first = PartWriter::create(root.path(), spec.clone(), date(), "0/2".parse().expect("shard")).expect("first");
        let second = PartWriter::create(root.path(), spec.clone(), date(), "0/2".parse().expect("shard"));
        assert!(matches!(second, Err(CoreError::Locked { .. })), "{:?}", second.err());
        let other_shard = PartWriter::create(root.path(), spec.clone(), date(), "1/2".parse().expect("shard")).expect("other");
        assert!(!first.commit().expect("commit").partition_complete);
        assert!(other_shard.commit().expect("commit").partition_complete);
        // Once the first run is done, the part can be written again.
        PartWriter::create(root.path(), spec, date(), "0/2".parse().expect("shard")).expect("again");
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_raw_inputs_are_refused_by_name() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = partition_dir(root.path(), crate::schema::RAW_GENERATIONS, date());
        std::fs::create_dir_all(&dir).expect("dir");
        std::os::unix::fs::symlink("/etc/passwd", dir.join("part-0.ndjson")).expect("symlink");
        let err = raw_input_files(root.path(), crate::schema::RAW_GENERATIONS, date(), date()).expect_err("refused");
        assert!(
            err.to_string().contains("part-0.ndjson") && err.to_string().contains("not a regular file"),
            "{err}"
        );
        assert!(!err.to_string().contains("root:"), "no content is echoed");
    }

    #[test]
    fn dropped_writer_leaves_no_visible_file() {
        let root = tempfile::tempdir().expect("tempdir");
        let spec = spec();
        let w = PartWriter::create(root.path(), spec.clone(), date(), Shard::ALL).expect("create");
        drop(w);
        let dir = partition_dir(root.path(), &spec.name, date());
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
    }
}
