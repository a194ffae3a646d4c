//! Reading raw generation and snapshot records from NDJSON or Parquet exports.
//!
//! Each input is read twice: a light pass that decodes only keys and timestamps (for
//! Parquet, a column projection; the content columns are never decoded) to decide which
//! rows this run owns, and a full pass over just those rows (for Parquet, a row
//! selection). A row that cannot be decoded becomes a [`RowProblem`] carrying the raw
//! record, never an error that aborts the batch; a file that cannot be read at all (not
//! Parquet, a missing or mistyped column) is an error naming the file and column.
//!
//! Memory is bounded before anything is decoded ([`ReadLimits`]): an NDJSON line longer
//! than the limit is read past, keeping only its head; a Parquet row group any of whose
//! column chunks the pass reads would decode to more than the limit (its
//! uncompressed size in the file's footer) is not decoded at all. Both become
//! `oversized_record` rows for the quarantine, so a compression bomb costs a
//! quarantine line, not the night.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use hive_core::CoreError;
use hive_core::columns::{ColumnKind, FilesColumn, TextColumn, TimestampColumn, check_columns, parse_instant, typed};
use hive_core::lake::{InputFile, InputFormat};
use hive_core::ndjson::{Line, NdjsonLines};
use hive_core::schema::{RAW_EXPORT_VERSION, RAW_VERSION_FIELD, SCHEMA_VERSION_KEY};

/// Why a row could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub code: &'static str,
    pub message: String,
}

impl RowProblem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Why a record's contract version (`schema_version`, docs/contracts.md) cannot be read,
/// if it cannot: `None` for versions `1..=RAW_EXPORT_VERSION`, and for a record without
/// one (version 1, from before the field existed).
pub fn version_problem(version: Option<&Value>) -> Option<RowProblem> {
    match version? {
        Value::Null => None,
        Value::Number(n) => match n.as_u64() {
            Some(v) if (1..=u64::from(RAW_EXPORT_VERSION)).contains(&v) => None,
            _ => Some(unsupported_version(&n.to_string())),
        },
        other => Some(RowProblem::new(
            "malformed_record",
            format!("field `{RAW_VERSION_FIELD}` is not an integer: `{other}`"),
        )),
    }
}

fn unsupported_version(version: &str) -> RowProblem {
    RowProblem::new(
        "unsupported_schema_version",
        format!(
            "field `{RAW_VERSION_FIELD}` is {version}: this reader reads raw export contract versions 1 to {RAW_EXPORT_VERSION} (docs/contracts.md)"
        ),
    )
}

/// Keys of a row, from the light pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKeys {
    /// `event_id` or `snapshot_id`.
    pub id: String,
    pub project_id: String,
    /// `generated_at` or `captured_at`.
    pub at: DateTime<Utc>,
}

/// A row of the light pass: keys, or the problem plus whatever keys could be read.
#[derive(Debug, Clone)]
pub struct LightRow {
    /// 1-based row or line number.
    pub row: u64,
    pub keys: Result<RowKeys, (RowProblem, Option<String>, Option<String>)>,
    /// Paths of the files (generations only; null entries left out).
    pub paths: Vec<String>,
}

/// A raw file entry: path and content as exported (either may be missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    pub path: Option<String>,
    pub content: Option<Vec<u8>>,
    /// Why the entry is unusable when decoding itself failed (e.g. bad base64).
    pub problem: Option<String>,
}

/// A fully decoded generation.
#[derive(Debug, Clone)]
pub struct GenerationRow {
    pub event_id: String,
    pub project_id: String,
    pub generated_at: DateTime<Utc>,
    pub template_id: String,
    pub template_version: String,
    pub experiment_id: Option<String>,
    pub variant: Option<String>,
    pub request: Option<String>,
    pub files: Vec<RawFile>,
}

/// A fully decoded snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotRow {
    pub snapshot_id: String,
    pub project_id: String,
    pub captured_at: DateTime<Utc>,
    pub files: Vec<RawFile>,
}

/// A row of the full pass with its raw payload (kept for the quarantine).
pub struct FullRow<T> {
    pub row: u64,
    pub payload: Vec<u8>,
    pub decoded: Result<T, RowProblem>,
}

/// Which raw table a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawTable {
    Generations,
    Snapshots,
}

impl RawTable {
    fn id_column(self) -> &'static str {
        match self {
            Self::Generations => "event_id",
            Self::Snapshots => "snapshot_id",
        }
    }

    fn at_column(self) -> &'static str {
        match self {
            Self::Generations => "generated_at",
            Self::Snapshots => "captured_at",
        }
    }

    pub fn required(self) -> Vec<(&'static str, ColumnKind)> {
        let mut cols = vec![
            (self.id_column(), ColumnKind::Text),
            ("project_id", ColumnKind::Text),
            (self.at_column(), ColumnKind::Timestamp),
            ("files", ColumnKind::Files),
        ];
        if self == Self::Generations {
            cols.extend([("template_id", ColumnKind::Text), ("template_version", ColumnKind::Text)]);
        }
        cols
    }
}

fn parquet_err(path: &Path, source: parquet::errors::ParquetError) -> CoreError {
    CoreError::Parquet {
        path: path.to_owned(),
        source,
    }
}

/// How much one read may decode at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest NDJSON line, and largest decoded size of one column chunk of a Parquet
    /// row group, in bytes.
    pub max_read_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_read_bytes: DEFAULT_MAX_READ_BYTES,
        }
    }
}

/// Default [`ReadLimits::max_read_bytes`]: 256 MiB.
pub const DEFAULT_MAX_READ_BYTES: u64 = 256 << 20;

/// An open file read at explicit offsets (`pread`), so that readers of one file can
/// decode row groups on several threads at once: `File`'s own `ChunkReader` seeks
/// clones that share one file offset. Reads past the file's length are refused before
/// any buffer is allocated (a forged footer cannot ask for more than the file holds).
#[derive(Clone)]
struct PositionalFile {
    file: Arc<File>,
    len: u64,
}

impl PositionalFile {
    fn open(path: &Path) -> Result<Self, CoreError> {
        let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| CoreError::io(path, e))?.len();
        Ok(Self { file: Arc::new(file), len })
    }
}

impl Length for PositionalFile {
    fn len(&self) -> u64 {
        self.len
    }
}

/// A reader of a [`PositionalFile`] from its own position.
struct PositionalRead {
    file: Arc<File>,
    position: u64,
}

impl Read for PositionalRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl ChunkReader for PositionalFile {
    type T = BufReader<PositionalRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(BufReader::new(PositionalRead {
            file: Arc::clone(&self.file),
            position: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let end = start.checked_add(length as u64).filter(|&end| end <= self.len).ok_or_else(|| {
            ParquetError::EOF(format!(
                "{length} bytes at offset {start} were asked for, past the end of the {}-byte file",
                self.len
            ))
        })?;
        let mut buffer = vec![0; length];
        self.file
            .read_exact_at(&mut buffer, start)
            .map_err(|e| ParquetError::EOF(format!("reading bytes {start}..{end}: {e}")))?;
        Ok(buffer.into())
    }
}

/// A Parquet file opened once: its footer, checked for the table's columns.
struct ParquetInput {
    file: PositionalFile,
    metadata: ArrowReaderMetadata,
}

impl ParquetInput {
    fn open(path: &Path, table: RawTable) -> Result<Self, CoreError> {
        let file = PositionalFile::open(path)?;
        let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| parquet_err(path, e))?;
        check_columns(path, metadata.schema(), &table.required())?;
        Ok(Self { file, metadata })
    }

    /// A reader builder over the same file and footer (no second footer read); builders
    /// may be used on different threads at once.
    fn builder(&self) -> ParquetRecordBatchReaderBuilder<PositionalFile> {
        ParquetRecordBatchReaderBuilder::new_with_metadata(self.file.clone(), self.metadata.clone())
    }

    /// Why the file's contract version (key-value metadata `hive.schema_version`) cannot
    /// be read, if it cannot; every row of the file is then quarantined with it.
    fn version_problem(&self) -> Option<RowProblem> {
        let text = self
            .metadata
            .metadata()
            .file_metadata()
            .key_value_metadata()?
            .iter()
            .find(|kv| kv.key == SCHEMA_VERSION_KEY)?
            .value
            .clone()?;
        match text.trim().parse::<u64>() {
            Ok(v) if (1..=u64::from(RAW_EXPORT_VERSION)).contains(&v) => None,
            Ok(v) => Some(unsupported_version(&v.to_string())),
            Err(_) => Some(unsupported_version(&format!("`{text}`"))),
        }
    }

    /// Row groups as `(first 1-based row, rows)`.
    fn row_groups(&self) -> Vec<(u64, u64)> {
        let mut first = 1u64;
        self.metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|g| {
                let rows = g.num_rows().max(0) as u64;
                let group = (first, rows);
                first += rows;
                group
            })
            .collect()
    }

    /// Why row group `g` must not be decoded with `mask`: the first column chunk it
    /// would decode whose uncompressed size is over the limit.
    fn oversized(&self, g: usize, mask: &ProjectionMask, limits: ReadLimits) -> Option<RowProblem> {
        let group = self.metadata.metadata().row_group(g);
        group.columns().iter().enumerate().find_map(|(leaf, column)| {
            let size = u64::try_from(column.uncompressed_size()).unwrap_or(u64::MAX);
            (mask.leaf_included(leaf) && size > limits.max_read_bytes).then(|| {
                RowProblem::new(
                    "oversized_record",
                    format!(
                        "row group {g} ({} rows) was not decoded: its column `{}` decodes to {size} bytes, over the {} bytes one read may decode (--max-read-bytes; exporters: write smaller row groups)",
                        group.num_rows(),
                        column.column_path().string(),
                        limits.max_read_bytes
                    ),
                )
            })
        })
    }
}

/// Leaves of the top-level columns `names`, plus the `path` leaf of `files` when
/// `with_paths`: the content leaves are never decoded.
fn light_projection(input: &ParquetInput, names: &[&str], with_paths: bool) -> ProjectionMask {
    let schema = input.metadata.metadata().file_metadata().schema_descr();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| {
            let parts = schema.column(i).path().parts().to_vec();
            match parts.first().map(String::as_str) {
                Some("files") => with_paths && parts.last().is_some_and(|p| p == "path"),
                Some(top) => names.contains(&top),
                None => false,
            }
        })
        .collect();
    ProjectionMask::leaves(schema, leaves)
}

/// The light pass over one file.
pub fn read_light(input: &InputFile, table: RawTable, limits: ReadLimits) -> Result<Vec<LightRow>, CoreError> {
    match input.format {
        InputFormat::Parquet => read_light_parquet(&input.path, table, limits),
        InputFormat::Ndjson => read_light_ndjson(&input.path, table, limits),
    }
}

fn read_light_parquet(path: &Path, table: RawTable, limits: ReadLimits) -> Result<Vec<LightRow>, CoreError> {
    let input = ParquetInput::open(path, table)?;
    let version = input.version_problem();
    let mask = light_projection(
        &input,
        &[table.id_column(), "project_id", table.at_column()],
        table == RawTable::Generations,
    );
    let mut rows = Vec::new();
    for (g, (first_row, group_rows)) in input.row_groups().into_iter().enumerate() {
        if let Some(problem) = input.oversized(g, &mask, limits) {
            rows.extend((first_row..first_row + group_rows).map(|row| LightRow {
                row,
                keys: Err((problem.clone(), None, None)),
                paths: Vec::new(),
            }));
            continue;
        }
        let reader = input
            .builder()
            .with_projection(mask.clone())
            .with_row_groups(vec![g])
            .with_batch_size(4096)
            .build()
            .map_err(|e| parquet_err(path, e))?;
        let mut next_row = first_row;
        for batch in reader {
            let batch = batch.map_err(|e| CoreError::Arrow {
                path: path.to_owned(),
                source: e,
            })?;
            light_rows_of_batch(&batch, path, table, version.as_ref(), &mut next_row, &mut rows)?;
        }
    }
    Ok(rows)
}

fn light_rows_of_batch(
    batch: &RecordBatch,
    path: &Path,
    table: RawTable,
    version: Option<&RowProblem>,
    next_row: &mut u64,
    rows: &mut Vec<LightRow>,
) -> Result<(), CoreError> {
    let ids = typed(batch, path, table.id_column(), ColumnKind::Text, |a| TextColumn::new(a.as_ref()))?;
    let projects = typed(batch, path, "project_id", ColumnKind::Text, |a| TextColumn::new(a.as_ref()))?;
    let ats = typed(batch, path, table.at_column(), ColumnKind::Timestamp, |a| {
        TimestampColumn::new(a.as_ref())
    })?;
    let files = match table {
        RawTable::Generations => Some(typed(batch, path, "files", ColumnKind::Files, FilesColumn::new)?),
        RawTable::Snapshots => None,
    };
    for i in 0..batch.num_rows() {
        let id = ids.get(i).map(str::to_owned);
        let project = projects.get(i).map(str::to_owned);
        let at = ats.get(i);
        let paths = files
            .as_ref()
            .and_then(|f| f.paths(i))
            .map(|ps| ps.into_iter().flatten().map(str::to_owned).collect())
            .unwrap_or_default();
        let keys = match version {
            Some(problem) => Err((problem.clone(), id, project)),
            None => light_keys(table, id, project, at),
        };
        rows.push(LightRow {
            row: *next_row,
            keys,
            paths,
        });
        *next_row += 1;
    }
    Ok(())
}

#[allow(clippy::type_complexity)]
fn light_keys(
    table: RawTable,
    id: Option<String>,
    project: Option<String>,
    at: Option<Result<DateTime<Utc>, String>>,
) -> Result<RowKeys, (RowProblem, Option<String>, Option<String>)> {
    let missing = |field: &str| RowProblem::new("malformed_record", format!("field `{field}` is missing or null"));
    let (Some(id), Some(project)) = (id.clone().filter(|s| !s.is_empty()), project.clone().filter(|s| !s.is_empty())) else {
        let field = if id.as_deref().is_none_or(str::is_empty) {
            table.id_column()
        } else {
            "project_id"
        };
        return Err((missing(field), id, project));
    };
    match at {
        None => Err((missing(table.at_column()), Some(id), Some(project))),
        Some(Err(text)) => Err((
            RowProblem::new(
                "malformed_record",
                format!("field `{}` is not a timestamp: `{text}`", table.at_column()),
            ),
            Some(id),
            Some(project),
        )),
        Some(Ok(at)) => Ok(RowKeys {
            id,
            project_id: project,
            at,
        }),
    }
}

#[derive(Deserialize)]
struct LightLine {
    #[serde(alias = "snapshot_id")]
    event_id: Option<String>,
    project_id: Option<String>,
    #[serde(alias = "captured_at")]
    generated_at: Option<String>,
    files: Option<Vec<PathOnly>>,
    schema_version: Option<Value>,
}

/// A file entry of the light pass: the content is skipped, not decoded into memory.
#[derive(Deserialize)]
struct PathOnly {
    path: Option<String>,
}

/// Decodes an NDJSON line as JSON, naming invalid UTF-8 separately from bad JSON.
fn json_problem(line: &[u8], error: &serde_json::Error) -> RowProblem {
    if std::str::from_utf8(line).is_err() {
        RowProblem::new("invalid_utf8", "the line is not valid UTF-8")
    } else {
        RowProblem::new("malformed_record", format!("not a valid record: {error}"))
    }
}

/// Why an NDJSON line was not decoded: it is longer than a read may be.
fn oversized_line(length: u64, limits: ReadLimits) -> RowProblem {
    RowProblem::new(
        "oversized_record",
        format!(
            "the line is {length} bytes, over the {} bytes one read may decode (--max-read-bytes); its first {} bytes are kept as the payload",
            limits.max_read_bytes,
            hive_core::ndjson::OVERSIZED_HEAD_BYTES
        ),
    )
}

fn read_light_ndjson(path: &Path, table: RawTable, limits: ReadLimits) -> Result<Vec<LightRow>, CoreError> {
    let mut rows = Vec::new();
    for line in NdjsonLines::open_capped(path, limits.max_read_bytes)? {
        let Line {
            number: row,
            bytes,
            oversized,
        } = line?;
        if let Some(length) = oversized {
            rows.push(LightRow {
                row,
                keys: Err((oversized_line(length, limits), None, None)),
                paths: Vec::new(),
            });
            continue;
        }
        let keys = match serde_json::from_slice::<LightLine>(&bytes) {
            Err(e) => (Err((json_problem(&bytes, &e), None, None)), Vec::new()),
            Ok(l) => {
                let version = version_problem(l.schema_version.as_ref());
                let at = l.generated_at.map(|t| parse_instant(&t).ok_or(t));
                let paths = l.files.unwrap_or_default().into_iter().filter_map(|f| f.path).collect();
                match version {
                    Some(problem) => (Err((problem, l.event_id, l.project_id)), paths),
                    None => (light_keys(table, l.event_id, l.project_id, at), paths),
                }
            }
        };
        let (keys, paths) = keys;
        rows.push(LightRow { row, keys, paths });
    }
    Ok(rows)
}

/// The full pass over the rows `wanted` (1-based) of one file, in row order.
pub fn read_full_generations(
    input: &InputFile,
    wanted: &BTreeSet<u64>,
    limits: ReadLimits,
    mut each: impl FnMut(FullRow<GenerationRow>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    match input.format {
        InputFormat::Ndjson => read_selected_ndjson(&input.path, wanted, limits, decode_generation_line, each),
        InputFormat::Parquet => read_selected_parquet(
            &input.path,
            RawTable::Generations,
            wanted,
            limits,
            |batch, i| decode_generation_parquet(batch, &input.path, i),
            |row, selected| {
                let (payload, decoded) = match selected {
                    Selected::Row((decoded, payload)) => (payload, decoded),
                    Selected::Oversized(problem) => (Vec::new(), Err(problem)),
                };
                each(FullRow { row, payload, decoded })
            },
        ),
    }
}

/// The full pass over the snapshot rows `wanted` (1-based) of one file.
pub fn read_full_snapshots(
    input: &InputFile,
    wanted: &BTreeSet<u64>,
    limits: ReadLimits,
    mut each: impl FnMut(FullRow<SnapshotRow>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    match input.format {
        InputFormat::Ndjson => read_selected_ndjson(&input.path, wanted, limits, decode_snapshot_line, each),
        InputFormat::Parquet => read_selected_parquet(
            &input.path,
            RawTable::Snapshots,
            wanted,
            limits,
            |batch, i| decode_snapshot_parquet(batch, &input.path, i),
            |row, selected| {
                let decoded = match selected {
                    Selected::Row(decoded) => decoded,
                    Selected::Oversized(problem) => Err(problem),
                };
                each(FullRow {
                    row,
                    payload: Vec::new(),
                    decoded,
                })
            },
        ),
    }
}

/// The lines `wanted` of an NDJSON file, decoded; an oversized line is a problem row
/// whose payload is its head.
fn read_selected_ndjson<T>(
    path: &Path,
    wanted: &BTreeSet<u64>,
    limits: ReadLimits,
    decode: impl Fn(&[u8]) -> Result<T, RowProblem>,
    mut each: impl FnMut(FullRow<T>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    if wanted.is_empty() {
        return Ok(());
    }
    for line in NdjsonLines::open_capped(path, limits.max_read_bytes)? {
        let Line {
            number: row,
            bytes,
            oversized,
        } = line?;
        if wanted.contains(&row) {
            let decoded = match oversized {
                Some(length) => Err(oversized_line(length, limits)),
                None => decode(&bytes),
            };
            each(FullRow {
                row,
                payload: bytes,
                decoded,
            })?;
        }
    }
    Ok(())
}

/// A row the Parquet full pass hands on: decoded, or left undecoded.
enum Selected<D> {
    Row(D),
    Oversized(RowProblem),
}

/// Reads only the rows `wanted` (1-based) of a Parquet file with a row selection per
/// row group, and hands them on in row order; the rows of a row group too large to
/// decode are handed on as [`Selected::Oversized`] without reading its pages.
///
/// Row groups are decompressed and `decode`d a few at a time, one per worker thread of
/// the current rayon pool, then handed to `each` in file order on the calling thread:
/// the output is the same for any number of threads, and memory holds at most one row
/// group's selected rows per thread.
fn read_selected_parquet<D: Send>(
    path: &Path,
    table: RawTable,
    wanted: &BTreeSet<u64>,
    limits: ReadLimits,
    decode: impl Fn(&RecordBatch, usize) -> Result<D, CoreError> + Sync,
    mut each: impl FnMut(u64, Selected<D>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let input = ParquetInput::open(path, table)?;
    let groups: Vec<(usize, u64, Vec<u64>)> = input
        .row_groups()
        .into_iter()
        .enumerate()
        .map(|(g, (first_row, group_rows))| {
            (
                g,
                first_row,
                wanted.range(first_row..first_row + group_rows).copied().collect::<Vec<_>>(),
            )
        })
        .filter(|(_, _, rows)| !rows.is_empty())
        .collect();
    for chunk in groups.chunks(rayon::current_num_threads().max(1)) {
        let decoded: Vec<Result<Result<Vec<D>, RowProblem>, CoreError>> = chunk
            .par_iter()
            .map(|(g, first_row, rows)| decode_row_group(&input, path, *g, *first_row, rows, limits, &decode))
            .collect();
        for ((_, _, rows), group) in chunk.iter().zip(decoded) {
            match group? {
                Err(problem) => {
                    for &row in rows {
                        each(row, Selected::Oversized(problem.clone()))?;
                    }
                }
                Ok(values) => {
                    for (&row, value) in rows.iter().zip(values) {
                        each(row, Selected::Row(value))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The selected `rows` of row group `g` (whose first row is `first_row`), decoded in
/// order, or why the group is too large to decode.
fn decode_row_group<D>(
    input: &ParquetInput,
    path: &Path,
    g: usize,
    first_row: u64,
    rows: &[u64],
    limits: ReadLimits,
    decode: &(impl Fn(&RecordBatch, usize) -> Result<D, CoreError> + Sync),
) -> Result<Result<Vec<D>, RowProblem>, CoreError> {
    if let Some(problem) = input.oversized(g, &ProjectionMask::all(), limits) {
        return Ok(Err(problem));
    }
    let mut selectors = Vec::new();
    let mut cursor = first_row;
    for &row in rows {
        if row > cursor {
            selectors.push(RowSelector::skip((row - cursor) as usize));
        }
        selectors.push(RowSelector::select(1));
        cursor = row + 1;
    }
    let reader = input
        .builder()
        .with_row_groups(vec![g])
        .with_row_selection(RowSelection::from(selectors))
        .with_batch_size(256)
        .build()
        .map_err(|e| parquet_err(path, e))?;
    let mut values = Vec::with_capacity(rows.len());
    for batch in reader {
        let batch = batch.map_err(|e| CoreError::Arrow {
            path: path.to_owned(),
            source: e,
        })?;
        for i in 0..batch.num_rows() {
            values.push(decode(&batch, i)?);
        }
    }
    if values.len() != rows.len() {
        return Err(parquet_err(
            path,
            ParquetError::General(format!(
                "row group {g}: {} rows were selected but {} were read",
                rows.len(),
                values.len()
            )),
        ));
    }
    Ok(Ok(values))
}

fn text(batch: &RecordBatch, path: &Path, name: &str, i: usize) -> Result<Option<String>, CoreError> {
    Ok(typed(batch, path, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()))?
        .get(i)
        .map(str::to_owned))
}

fn optional_text(batch: &RecordBatch, path: &Path, name: &str, i: usize) -> Result<Option<String>, CoreError> {
    if batch.column_by_name(name).is_none() {
        return Ok(None);
    }
    text(batch, path, name, i)
}

fn files_at(batch: &RecordBatch, path: &Path, i: usize) -> Result<Option<Vec<RawFile>>, CoreError> {
    let files = typed(batch, path, "files", ColumnKind::Files, FilesColumn::new)?;
    Ok(files.get(i).map(|entries| {
        entries
            .into_iter()
            .map(|(p, c)| RawFile {
                path: p.map(str::to_owned),
                content: c.map(<[u8]>::to_vec),
                problem: None,
            })
            .collect()
    }))
}

fn required(value: Option<String>, field: &str) -> Result<String, RowProblem> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| RowProblem::new("malformed_record", format!("field `{field}` is missing, null or empty")))
}

fn decode_generation_parquet(
    batch: &RecordBatch,
    path: &Path,
    i: usize,
) -> Result<(Result<GenerationRow, RowProblem>, Vec<u8>), CoreError> {
    let at = typed(batch, path, "generated_at", ColumnKind::Timestamp, |a| {
        TimestampColumn::new(a.as_ref())
    })?
    .get(i);
    let request = optional_text(batch, path, "request", i)?;
    let files = files_at(batch, path, i)?;
    let event_id = text(batch, path, "event_id", i)?;
    let project_id = text(batch, path, "project_id", i)?;
    let template_id = text(batch, path, "template_id", i)?;
    let template_version = text(batch, path, "template_version", i)?;
    let experiment_id = optional_text(batch, path, "experiment_id", i)?;
    let variant = optional_text(batch, path, "variant", i)?;
    let payload = serde_json::json!({
        "event_id": event_id,
        "generated_at": at.clone().map(|r| r.map_or_else(|t| t, |t| t.to_rfc3339())),
        "project_id": project_id,
        "template_id": template_id,
        "template_version": template_version,
        "experiment_id": experiment_id,
        "variant": variant,
        "request": request,
        "files": files.as_ref().map(|fs| fs.iter().map(file_json).collect::<Vec<_>>()),
    })
    .to_string()
    .into_bytes();
    let decoded = (|| {
        let generated_at = match at {
            Some(Ok(t)) => t,
            Some(Err(t)) => {
                return Err(RowProblem::new(
                    "malformed_record",
                    format!("field `generated_at` is not a timestamp: `{t}`"),
                ));
            }
            None => return Err(RowProblem::new("malformed_record", "field `generated_at` is missing or null")),
        };
        Ok(GenerationRow {
            event_id: required(event_id, "event_id")?,
            project_id: required(project_id, "project_id")?,
            generated_at,
            template_id: required(template_id, "template_id")?,
            template_version: required(template_version, "template_version")?,
            experiment_id,
            variant,
            request,
            files: files.ok_or_else(|| RowProblem::new("malformed_record", "field `files` is null"))?,
        })
    })();
    Ok((decoded, payload))
}

fn file_json(f: &RawFile) -> Value {
    let mut entry = serde_json::Map::new();
    entry.insert("path".into(), f.path.clone().map_or(Value::Null, Value::String));
    match f.content.as_deref().map(std::str::from_utf8) {
        None => entry.insert("content".into(), Value::Null),
        Some(Ok(t)) => entry.insert("content".into(), Value::String(t.to_owned())),
        Some(Err(_)) => entry.insert(
            "content_base64".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(f.content.as_deref().unwrap_or_default())),
        ),
    };
    Value::Object(entry)
}

fn decode_snapshot_parquet(batch: &RecordBatch, path: &Path, i: usize) -> Result<Result<SnapshotRow, RowProblem>, CoreError> {
    let at = typed(batch, path, "captured_at", ColumnKind::Timestamp, |a| {
        TimestampColumn::new(a.as_ref())
    })?
    .get(i);
    let files = files_at(batch, path, i)?;
    let snapshot_id = text(batch, path, "snapshot_id", i)?;
    let project_id = text(batch, path, "project_id", i)?;
    Ok((|| {
        let Some(Ok(captured_at)) = at else {
            return Err(RowProblem::new(
                "malformed_snapshot",
                "field `captured_at` is missing or not a timestamp",
            ));
        };
        Ok(SnapshotRow {
            snapshot_id: required(snapshot_id, "snapshot_id")?,
            project_id: required(project_id, "project_id")?,
            captured_at,
            files: files.ok_or_else(|| RowProblem::new("malformed_snapshot", "field `files` is null"))?,
        })
    })())
}

/// An RFC 3339 instant with a zone offset, as the contract asks producers to write it
/// (the reader also tolerates a zone-less instant, taken as UTC).
pub const INSTANT_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$";
/// A usable file path (compare.rs `path_problem`, after leading `./` are removed): not
/// empty, relative, no drive letter, no backslash, no control or bidirectional-text
/// character, no empty, `.` or `..` segment.
pub const PATH_PATTERN: &str = r"^(\./)*(?![A-Za-z]:)(?!\.\.?(/|$))[^/\\\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+(/(?!\.\.?(/|$))[^/\\\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+)*$";
/// Padded standard base64 (RFC 4648 section 4).
pub const BASE64_PATTERN: &str = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

/// One `{path, content}` entry of `files`. Text goes in `content`; bytes that are not
/// UTF-8 (binary files) go in `content_base64`; exactly one of the two.
#[derive(Deserialize, JsonSchema)]
#[schemars(extend("oneOf" = [{"required": ["content"]}, {"required": ["content_base64"]}]))]
pub(crate) struct FileLine {
    /// Path of the file inside the project, relative (a leading `./` is removed).
    #[schemars(required, regex(pattern = PATH_PATTERN))]
    path: Option<String>,
    /// The file's text.
    #[schemars(extend("type" = "string"))]
    content: Option<String>,
    /// The file's bytes, base64 (standard alphabet, padded), for content that is not UTF-8.
    #[schemars(regex(pattern = BASE64_PATTERN), extend("type" = "string", "contentEncoding" = "base64"))]
    content_base64: Option<String>,
}

impl FileLine {
    fn into_raw(self) -> RawFile {
        let (content, problem) = match (self.content, self.content_base64) {
            (Some(text), None) => (Some(text.into_bytes()), None),
            (None, Some(encoded)) => match base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()) {
                Ok(bytes) => (Some(bytes), None),
                Err(e) => (None, Some(format!("`content_base64` is not valid base64: {e}"))),
            },
            (Some(_), Some(_)) => (None, Some("has both `content` and `content_base64`".to_owned())),
            (None, None) => (None, None),
        };
        RawFile {
            path: self.path,
            content,
            problem,
        }
    }
}

/// One generation as maestro-hive exports it to `raw/generations` in NDJSON: one JSON
/// object per line. Fields not listed here are ignored (docs/contracts.md).
#[derive(Deserialize, JsonSchema)]
#[schemars(title = "raw/generations record", extend("x-hive-schema-version" = RAW_EXPORT_VERSION))]
pub(crate) struct GenerationLine {
    /// Contract version the record follows; absent means 1. Readers quarantine a record
    /// of a version they do not know (`unsupported_schema_version`).
    #[schemars(with = "Option<u32>", range(min = 1, max = RAW_EXPORT_VERSION), extend("type" = "integer"))]
    schema_version: Option<Value>,
    /// Unique id of the generation event; a second delivery of the same id is a duplicate.
    #[schemars(required, length(min = 1))]
    event_id: Option<String>,
    /// When the files were generated: RFC 3339 with a zone offset.
    #[schemars(required, regex(pattern = INSTANT_PATTERN), extend("format" = "date-time"))]
    generated_at: Option<String>,
    /// Project the generation belongs to: the unit of randomisation, hashed exactly as given.
    #[schemars(required, length(min = 1))]
    project_id: Option<String>,
    /// Template that generated the files.
    #[schemars(required, length(min = 1))]
    template_id: Option<String>,
    /// Version of the template served.
    #[schemars(required, length(min = 1))]
    template_version: Option<String>,
    /// A/B experiment that routed the project, if any.
    experiment_id: Option<String>,
    /// Variant the project was routed to, if any.
    variant: Option<String>,
    /// What the generator was asked: free text, or any JSON (kept as its JSON text).
    request: Option<Value>,
    /// The generated files, at least one, each path once.
    #[schemars(required, length(min = 1))]
    files: Option<Vec<FileLine>>,
}

/// The JSON Schema of one raw generation record (NDJSON form), generated from the
/// reader's own type: `contracts/raw-generation.schema.json`.
pub fn generation_json_schema() -> String {
    pretty(&schemars::schema_for!(GenerationLine))
}

/// The JSON Schema of one raw snapshot record (NDJSON form):
/// `contracts/raw-snapshot.schema.json`.
pub fn snapshot_json_schema() -> String {
    pretty(&schemars::schema_for!(SnapshotLine))
}

fn pretty(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

fn decode_generation_line(bytes: &[u8]) -> Result<GenerationRow, RowProblem> {
    let line: GenerationLine = serde_json::from_slice(bytes).map_err(|e| json_problem(bytes, &e))?;
    if let Some(problem) = version_problem(line.schema_version.as_ref()) {
        return Err(problem);
    }
    let at_text = required(line.generated_at, "generated_at")?;
    let generated_at = parse_instant(&at_text)
        .ok_or_else(|| RowProblem::new("malformed_record", format!("field `generated_at` is not a timestamp: `{at_text}`")))?;
    let request = line.request.and_then(|r| match r {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    });
    Ok(GenerationRow {
        event_id: required(line.event_id, "event_id")?,
        project_id: required(line.project_id, "project_id")?,
        generated_at,
        template_id: required(line.template_id, "template_id")?,
        template_version: required(line.template_version, "template_version")?,
        experiment_id: line.experiment_id,
        variant: line.variant,
        request,
        files: line
            .files
            .ok_or_else(|| RowProblem::new("malformed_record", "field `files` is missing or null"))?
            .into_iter()
            .map(FileLine::into_raw)
            .collect(),
    })
}

/// One snapshot as maestro-hive exports it to `raw/snapshots` in NDJSON: the full tree of
/// a project at one moment. Fields not listed here are ignored (docs/contracts.md).
#[derive(Deserialize, JsonSchema)]
#[schemars(title = "raw/snapshots record", extend("x-hive-schema-version" = RAW_EXPORT_VERSION))]
pub(crate) struct SnapshotLine {
    /// Contract version the record follows; absent means 1. Readers quarantine a record
    /// of a version they do not know (`unsupported_schema_version`).
    #[schemars(with = "Option<u32>", range(min = 1, max = RAW_EXPORT_VERSION), extend("type" = "integer"))]
    schema_version: Option<Value>,
    /// Unique id of the snapshot.
    #[schemars(required, length(min = 1))]
    snapshot_id: Option<String>,
    /// Project captured, exactly as in its generations.
    #[schemars(required, length(min = 1))]
    project_id: Option<String>,
    /// When the tree was captured: RFC 3339 with a zone offset.
    #[schemars(required, regex(pattern = INSTANT_PATTERN), extend("format" = "date-time"))]
    captured_at: Option<String>,
    /// Every file of the project (an empty list: the project is empty).
    #[schemars(required)]
    files: Option<Vec<FileLine>>,
}

fn decode_snapshot_line(bytes: &[u8]) -> Result<SnapshotRow, RowProblem> {
    let line: SnapshotLine = serde_json::from_slice(bytes).map_err(|e| {
        let p = json_problem(bytes, &e);
        RowProblem::new("malformed_snapshot", p.message)
    })?;
    if let Some(problem) = version_problem(line.schema_version.as_ref()) {
        return Err(problem);
    }
    let at_text = required(line.captured_at, "captured_at").map_err(|p| RowProblem::new("malformed_snapshot", p.message))?;
    let captured_at = parse_instant(&at_text)
        .ok_or_else(|| RowProblem::new("malformed_snapshot", format!("field `captured_at` is not a timestamp: `{at_text}`")))?;
    Ok(SnapshotRow {
        snapshot_id: required(line.snapshot_id, "snapshot_id")?,
        project_id: required(line.project_id, "project_id")?,
        captured_at,
        files: line
            .files
            .ok_or_else(|| RowProblem::new("malformed_snapshot", "field `files` is missing or null"))?
            .into_iter()
            .map(FileLine::into_raw)
            .collect(),
    })
}

/// A path relative to the data root, for quarantine records and messages.
pub fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).map_or_else(|_| path.to_owned(), Path::to_path_buf)
}
