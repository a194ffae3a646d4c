//! `score-diffs`: line and character metrics for every generated file, and their sums
//! per generation.
//!
//! It reads a committed `edits` partition (only the parts `_SUCCESS` lists), scores each
//! file in parallel within a record batch (row groups are bounded, so memory is too), and
//! writes `diff_scores` (one row per file, in the order of `edits`) and
//! `generation_scores` (one row per generation, in order of first appearance). Line
//! counts equal git's histogram numstat (see [`lines`]); character retention is the sum of
//! the hunks' Levenshtein distances by default, or the exact whole-file distance on
//! request, each within a per-pair budget and a documented bound beyond it (see [`chars`]).

pub mod chars;
pub mod histogram;
pub mod lines;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;

use hive_core::columns::{ColumnKind, TextColumn, TimestampColumn, check_columns, typed};
use hive_core::lake::{CommittedPart, PartWriter, committed_parts, partition_dir};
use hive_core::quarantine::{QuarantineRecord, QuarantineTally, QuarantineWriter};
use hive_core::schema::{EDITS, diff_scores_spec, generation_scores_spec};
use hive_core::{CoreError, PartitionDate, Shard};

/// The job's name: quarantine directory and summary field.
pub const JOB: &str = "score-diffs";

/// Options of one run.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    pub data_root: PathBuf,
    pub date: PartitionDate,
    pub shard: Shard,
    /// A generation is `rewritten` when its rewrite rate exceeds this.
    pub rewritten_threshold: f64,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Word operations an exact character distance may cost per phase
    /// ([`chars::DEFAULT_BUDGET`]); 0 gives the line-hunk bound only.
    pub char_budget: u64,
    /// The hunk sum (default) or the whole-file distance.
    pub char_distance: chars::Distance,
    /// Largest share of the partition's `edits` rows that may be quarantined before the
    /// run ends as [`RunStatus::TooManyQuarantined`] (outputs are still written).
    pub max_quarantine_ratio: f64,
}

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl hive_core::exit::Classify for ScoreError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        match self {
            Self::Core(e) => e.kind(),
        }
    }
}

pub use hive_core::summary::RunStatus;

/// The JSON summary line.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreSummary {
    pub job: &'static str,
    pub date: String,
    pub shard: String,
    pub status: RunStatus,
    /// `edits` rows read.
    pub rows_read: u64,
    pub rows_for_other_shards: u64,
    /// `diff_scores` rows written.
    pub diff_rows_out: u64,
    /// `edits` rows quarantined.
    pub rows_quarantined: u64,
    /// `rows_read == rows_for_other_shards + diff_rows_out + rows_quarantined`.
    pub reconciled: bool,
    /// Rows scored or quarantined by every shard of the partition, and of them
    /// quarantined: set by the shard whose commit completed the partition, which judges
    /// `max_quarantine_ratio` on them (null on the other shards).
    pub partition_rows_handled: Option<u64>,
    pub partition_rows_quarantined: Option<u64>,
    pub generations_out: u64,
    /// Generations left out of `generation_scores` because one of their files was
    /// quarantined (a partial sum would misstate their rewrite rate).
    pub generations_incomplete: u64,
    pub binary_files: u64,
    /// `--char-distance`: `hunks` or `whole-file`.
    pub char_distance: &'static str,
    /// Pairs whose character retention is the line-hunk bound (`line_bound`).
    pub char_retention_bounded: u64,
    /// Pairs whose character retention is the sum of two or more hunks' exact distances
    /// (`hunks`): a lower bound on the whole-file retention.
    pub char_retention_hunks: u64,
    /// Lines of the scored text files, generated and removed (deleted files included).
    pub lines_generated: u64,
    pub lines_removed: u64,
    /// `lines_removed / lines_generated` over every scored file: the day's line-weighted
    /// rewrite rate, for a glance (null without text lines).
    pub rewrite_rate: Option<f64>,
    pub outputs: BTreeMap<&'static str, PathBuf>,
}

impl hive_core::summary::JobSummary for ScoreSummary {
    fn exit_status(&self) -> hive_core::ExitStatus {
        self.status.exit_status()
    }

    fn reconciliation_error(&self) -> Option<String> {
        (!self.reconciled).then(|| {
            format!(
                "read {} != other shards {} + out {} + quarantined {}",
                self.rows_read, self.rows_for_other_shards, self.diff_rows_out, self.rows_quarantined
            )
        })
    }
}

/// The metrics of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileScore {
    pub lines_generated: Option<i64>,
    pub lines_final: Option<i64>,
    pub lines_kept: Option<i64>,
    pub lines_added: Option<i64>,
    pub lines_removed: Option<i64>,
    pub rewrite_rate: Option<f64>,
    pub similarity: Option<f64>,
    pub diff_score: Option<f64>,
    pub char_retention: Option<f64>,
    pub char_retention_method: Option<&'static str>,
}

/// Scores one file. `kept` is `None` when the file was deleted; binary files get no
/// line or character metrics.
pub fn score_file(generated: &str, kept: Option<&str>, binary: bool, char_budget: u64, char_distance: chars::Distance) -> FileScore {
    if binary {
        return FileScore::default();
    }
    let kept_text = kept.unwrap_or("");
    let generated_lines = lines::split_lines(generated);
    let kept_lines = lines::split_lines(kept_text);
    let diff = lines::diff_lines(generated, kept_text);
    let (g, f, k) = (diff.generated as i64, diff.kept_total as i64, diff.kept as i64);
    let similarity = if g + f == 0 { 1.0 } else { 2.0 * k as f64 / (g + f) as f64 };
    let (retention, method) = chars::retention(
        generated,
        kept_text,
        &diff,
        &generated_lines,
        &kept_lines,
        char_budget,
        char_distance,
    );
    FileScore {
        lines_generated: Some(g),
        lines_final: Some(f),
        lines_kept: Some(k),
        lines_added: Some(diff.added as i64),
        lines_removed: Some(diff.removed as i64),
        rewrite_rate: (g > 0).then(|| diff.removed as f64 / g as f64),
        similarity: Some(similarity),
        diff_score: Some(1.0 - similarity),
        char_retention: Some(retention),
        char_retention_method: Some(method.as_str()),
    }
}

/// The `edits` columns of one batch that scoring reads.
struct EditColumns<'b> {
    event_id: &'b TextColumn<'b>,
    project_id: &'b TextColumn<'b>,
    template_id: &'b TextColumn<'b>,
    template_version: &'b TextColumn<'b>,
    generated_at: &'b TimestampColumn<'b>,
    change: &'b TextColumn<'b>,
    generated_content: &'b TextColumn<'b>,
    final_content: &'b TextColumn<'b>,
    binary: Option<&'b arrow::array::BooleanArray>,
    /// The nulls of every column `diff_scores` carries and requires (a null there
    /// cannot be written): a row with one is quarantined, not the run failed.
    required_nulls: &'b [(&'static str, arrow::buffer::NullBuffer)],
    char_budget: u64,
    char_distance: chars::Distance,
}

impl EditColumns<'_> {
    /// Scores row `i`, or says why it cannot be scored.
    fn score_row(&self, i: usize) -> Result<FileScore, String> {
        if let Some((name, _)) = self.required_nulls.iter().find(|(_, nulls)| nulls.is_null(i)) {
            return Err(format!("`{name}` is null"));
        }
        for (name, column) in [
            ("event_id", self.event_id),
            ("project_id", self.project_id),
            ("template_id", self.template_id),
            ("template_version", self.template_version),
        ] {
            if column.get(i).is_none() {
                return Err(format!("`{name}` is null"));
            }
        }
        match self.generated_at.get(i) {
            None => return Err("`generated_at` is null".to_owned()),
            Some(Err(e)) => return Err(format!("`generated_at` is invalid: {e}")),
            Some(Ok(_)) => {}
        }
        let change = self.change.get(i).unwrap_or("");
        if !matches!(change, "unchanged" | "modified" | "deleted") {
            return Err(format!("unknown `change` value `{change}`"));
        }
        if self.binary.is_some_and(|b| b.is_valid(i) && b.value(i)) {
            return Ok(FileScore::default());
        }
        let Some(generated) = self.generated_content.get(i) else {
            return Err("`generated_content` is null for a text file".to_owned());
        };
        match (change, self.final_content.get(i)) {
            ("deleted", _) => Ok(score_file(generated, None, false, self.char_budget, self.char_distance)),
            (_, Some(kept)) => Ok(score_file(generated, Some(kept), false, self.char_budget, self.char_distance)),
            (_, None) => Err(format!("`final_content` is null but `change` is `{change}`")),
        }
    }
}

/// What `generation_scores` is built from.
#[derive(Debug, Default)]
struct Generations {
    /// Event ids in order of first appearance.
    order: Vec<String>,
    sums: HashMap<String, GenerationSums>,
    /// Generations with a quarantined file: their sums would be partial.
    incomplete: HashSet<String>,
}

/// Sums of one generation.
#[derive(Debug, Clone)]
struct GenerationSums {
    keys: GenerationKeys,
    files: i64,
    binary_files: i64,
    deleted_files: i64,
    generated: i64,
    kept: i64,
    removed: i64,
    added: i64,
    final_lines: i64,
}

impl GenerationSums {
    fn new(keys: GenerationKeys) -> Self {
        Self {
            keys,
            files: 0,
            binary_files: 0,
            deleted_files: 0,
            generated: 0,
            kept: 0,
            removed: 0,
            added: 0,
            final_lines: 0,
        }
    }

    fn add(&mut self, score: &FileScore, deleted: bool) {
        self.files += 1;
        self.binary_files += i64::from(score.lines_generated.is_none());
        self.deleted_files += i64::from(deleted);
        self.generated += score.lines_generated.unwrap_or(0);
        self.kept += score.lines_kept.unwrap_or(0);
        self.removed += score.lines_removed.unwrap_or(0);
        self.added += score.lines_added.unwrap_or(0);
        self.final_lines += score.lines_final.unwrap_or(0);
    }
}

#[derive(Debug, Clone)]
struct GenerationKeys {
    event_id: String,
    project_id: String,
    template_id: String,
    template_version: String,
    experiment_id: Option<String>,
    variant: Option<String>,
    generated_at: i64,
}

/// The `edits` columns score-diffs needs.
const EDITS_COLUMNS: &[(&str, ColumnKind)] = &[
    ("event_id", ColumnKind::Text),
    ("project_id", ColumnKind::Text),
    ("template_id", ColumnKind::Text),
    ("template_version", ColumnKind::Text),
    ("experiment_id", ColumnKind::Text),
    ("variant", ColumnKind::Text),
    ("generated_at", ColumnKind::Timestamp),
    ("snapshot_id", ColumnKind::Text),
    ("path", ColumnKind::Text),
    ("language", ColumnKind::Text),
    ("change", ColumnKind::Text),
    ("generated_content", ColumnKind::Text),
    ("final_content", ColumnKind::Text),
];

/// Runs score-diffs for one date and shard.
pub fn run(options: &ScoreOptions) -> Result<ScoreSummary, ScoreError> {
    if !(0.0..=1.0).contains(&options.rewritten_threshold) {
        return Err(CoreError::InvalidOption {
            name: "--rewritten-threshold",
            reason: "must be in [0, 1]".into(),
        }
        .into());
    }
    hive_core::quarantine::check_max_ratio(options.max_quarantine_ratio).map_err(|reason| CoreError::InvalidOption {
        name: "--max-quarantine-ratio",
        reason,
    })?;
    let root = options.data_root.as_path();
    let mut summary = ScoreSummary {
        job: JOB,
        date: options.date.to_string(),
        shard: options.shard.to_string(),
        status: RunStatus::NothingToProcess,
        rows_read: 0,
        rows_for_other_shards: 0,
        diff_rows_out: 0,
        rows_quarantined: 0,
        partition_rows_handled: None,
        partition_rows_quarantined: None,
        reconciled: true,
        generations_out: 0,
        generations_incomplete: 0,
        binary_files: 0,
        char_distance: options.char_distance.as_str(),
        char_retention_bounded: 0,
        char_retention_hunks: 0,
        lines_generated: 0,
        lines_removed: 0,
        rewrite_rate: None,
        outputs: BTreeMap::new(),
    };
    let edits_dir = partition_dir(root, EDITS, options.date);
    if !edits_dir.exists() {
        // extract-edits commits a partition on every run, an empty one too: a missing
        // partition means it has not run for this date, which is not a quiet night.
        return Err(CoreError::MissingInput {
            what: "`edits` partition",
            path: edits_dir,
            problem: "does not exist: run extract-edits for this date first",
        }
        .into());
    }
    let parts = committed_parts(root, EDITS, options.date)?;
    let pool = hive_core::cli::thread_pool(options.threads)?;

    let mut diff_part = PartWriter::create(root, diff_scores_spec(), options.date, options.shard)?;
    let mut quarantine = QuarantineWriter::create(root, JOB, options.date, options.shard)?;
    let mut generations = Generations::default();
    let mut progress = hive_core::progress::Progress::new("files scored", None, true);
    for part in &parts {
        score_part(
            part,
            root,
            options,
            &pool,
            &mut diff_part,
            &mut quarantine,
            &mut generations,
            &mut summary,
            &mut progress,
        )?;
    }
    progress.finish();
    summary.generations_incomplete = generations.incomplete.len() as u64;
    if !generations.incomplete.is_empty() {
        tracing::warn!(
            generations = generations.incomplete.len(),
            "generations with a quarantined file are left out of `generation_scores`"
        );
    }
    let generation_part = write_generations(root, options, &generations)?;
    summary.generations_out = generation_part.rows;
    summary.outputs.insert("diff_scores", diff_part.commit()?.path);
    summary.outputs.insert("generation_scores", generation_part.path);
    let own = QuarantineTally {
        rows_handled: summary.diff_rows_out + summary.rows_quarantined,
        rows_quarantined: summary.rows_quarantined,
    };
    let (quarantine_part, partition) = quarantine.commit_with_tally(own)?;
    summary.outputs.insert("quarantine", quarantine_part.path);
    summary.rewrite_rate = (summary.lines_generated > 0).then(|| summary.lines_removed as f64 / summary.lines_generated as f64);
    summary.reconciled = summary.rows_read == summary.rows_for_other_shards + summary.diff_rows_out + summary.rows_quarantined;
    summary.status = RunStatus::Success;
    if let Some(total) = partition {
        summary.partition_rows_handled = Some(total.rows_handled);
        summary.partition_rows_quarantined = Some(total.rows_quarantined);
        summary.status = total.judge(options.max_quarantine_ratio, "`edits` rows");
    }
    Ok(summary)
}

/// Opens an `edits` part after checking it has the columns scoring needs. Batches are
/// small: a batch's texts are all in memory while its rows are scored.
fn open_edits(path: &Path) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    })?;
    check_columns(path, builder.schema(), EDITS_COLUMNS)?;
    builder.with_batch_size(1024).build().map_err(|source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    })
}

/// The nulls of the columns `diff_scores` carries from `edits` and requires: a column
/// typed `null`, or nulls in a nullable input column, where the output needs values.
fn required_nulls(batch: &RecordBatch, output: &arrow::datatypes::Schema) -> Vec<(&'static str, arrow::buffer::NullBuffer)> {
    hive_core::schema::GENERATION_KEYS
        .iter()
        .chain(&hive_core::schema::FILE_KEYS)
        .filter(|&&name| output.field_with_name(name).is_ok_and(|f| !f.is_nullable()))
        .filter_map(|&name| {
            batch
                .column_by_name(name)
                .and_then(arrow::array::Array::logical_nulls)
                .map(|n| (name, n))
        })
        .collect()
}

/// Scores one `edits` part, batch by batch.
#[allow(clippy::too_many_arguments)]
fn score_part(
    path: &Path,
    root: &Path,
    options: &ScoreOptions,
    pool: &rayon::ThreadPool,
    diff_part: &mut PartWriter,
    quarantine: &mut QuarantineWriter,
    generations: &mut Generations,
    summary: &mut ScoreSummary,
    progress: &mut hive_core::progress::Progress,
) -> Result<(), ScoreError> {
    let reader = open_edits(path)?;
    let source_file = path.strip_prefix(root).unwrap_or(path).display().to_string();
    let mut row_number = 0u64;
    for batch in reader {
        let batch = batch.map_err(|source| CoreError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        let text = |name: &str| typed(&batch, path, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
        let (event_id, project_id, template_id, template_version) = (
            text("event_id")?,
            text("project_id")?,
            text("template_id")?,
            text("template_version")?,
        );
        let (experiment_id, variant, change, generated_content, final_content) = (
            text("experiment_id")?,
            text("variant")?,
            text("change")?,
            text("generated_content")?,
            text("final_content")?,
        );
        let generated_at = typed(&batch, path, "generated_at", ColumnKind::Timestamp, |a| {
            TimestampColumn::new(a.as_ref())
        })?;
        let binary =
            hive_core::schema::binary_column(&batch).and_then(|c| c.as_any().downcast_ref::<arrow::array::BooleanArray>().cloned());
        let n = batch.num_rows();
        summary.rows_read += n as u64;
        let owned: Vec<usize> = (0..n)
            // A row without a project belongs to no shard by hash: the first shard
            // takes it (and quarantines it), so no row is dropped by every shard.
            .filter(|&i| project_id.get(i).map_or(options.shard.index() == 0, |p| options.shard.owns(p)))
            .collect();
        summary.rows_for_other_shards += (n - owned.len()) as u64;

        let required_nulls = required_nulls(&batch, &diff_part.schema());
        // Score in parallel; a row that cannot be scored says why.
        let columns = EditColumns {
            required_nulls: &required_nulls,
            event_id: &event_id,
            project_id: &project_id,
            template_id: &template_id,
            template_version: &template_version,
            generated_at: &generated_at,
            change: &change,
            generated_content: &generated_content,
            final_content: &final_content,
            binary: binary.as_ref(),
            char_budget: options.char_budget,
            char_distance: options.char_distance,
        };
        let scored: Vec<Result<FileScore, String>> = pool.install(|| owned.par_iter().map(|&i| columns.score_row(i)).collect());

        let mut keep_rows: Vec<(usize, FileScore)> = Vec::with_capacity(owned.len());
        for (&i, result) in owned.iter().zip(scored) {
            let event = event_id.get(i).unwrap_or("").to_owned();
            match result {
                Ok(score) => keep_rows.push((i, score)),
                Err(reason) => {
                    summary.rows_quarantined += 1;
                    generations.incomplete.insert(event.clone());
                    quarantine.push(QuarantineRecord {
                        source_file: source_file.clone(),
                        source_row: row_number + i as u64 + 1,
                        record_key: Some(event),
                        project_id: project_id.get(i).map(str::to_owned),
                        reason_code: "malformed_edit",
                        reason,
                        payload: None,
                    })?;
                }
            }
        }
        row_number += n as u64;

        for (i, score) in &keep_rows {
            let i = *i;
            let event = event_id.get(i).unwrap_or("").to_owned();
            let entry = generations.sums.entry(event.clone()).or_insert_with(|| {
                generations.order.push(event.clone());
                GenerationSums::new(GenerationKeys {
                    event_id: event.clone(),
                    project_id: project_id.get(i).unwrap_or("").to_owned(),
                    template_id: template_id.get(i).unwrap_or("").to_owned(),
                    template_version: template_version.get(i).unwrap_or("").to_owned(),
                    experiment_id: experiment_id.get(i).map(str::to_owned),
                    variant: variant.get(i).map(str::to_owned),
                    generated_at: generated_at.get(i).and_then(Result::ok).map_or(0, |t| t.timestamp_micros()),
                })
            });
            entry.add(score, change.get(i) == Some("deleted"));
            summary.binary_files += u64::from(score.lines_generated.is_none());
            summary.char_retention_bounded += u64::from(score.char_retention_method == Some(chars::Method::LineBound.as_str()));
            summary.char_retention_hunks += u64::from(score.char_retention_method == Some(chars::Method::Hunks.as_str()));
            summary.lines_generated += score.lines_generated.unwrap_or(0) as u64;
            summary.lines_removed += score.lines_removed.unwrap_or(0) as u64;
        }
        let out = diff_scores_batch(&batch, &keep_rows, diff_part.schema())?;
        diff_part.write(&out)?;
        summary.diff_rows_out += keep_rows.len() as u64;
        progress.inc(n as u64);
    }
    Ok(())
}

/// The `diff_scores` batch for the kept rows of an `edits` batch.
fn diff_scores_batch(
    batch: &RecordBatch,
    rows: &[(usize, FileScore)],
    schema: arrow::datatypes::SchemaRef,
) -> Result<RecordBatch, CoreError> {
    let indices = arrow::array::UInt32Array::from(rows.iter().map(|(i, _)| *i as u32).collect::<Vec<_>>());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let carried = hive_core::schema::GENERATION_KEYS.iter().chain(&hive_core::schema::FILE_KEYS);
    for &name in carried {
        let found = if name == hive_core::schema::IS_BINARY {
            hive_core::schema::binary_column(batch)
        } else {
            batch.column_by_name(name)
        };
        let column = found.ok_or_else(|| CoreError::MissingColumn {
            path: EDITS.into(),
            column: name.to_owned(),
            found: String::new(),
        })?;
        let taken = arrow::compute::take(column.as_ref(), &indices, None).map_err(|source| CoreError::Arrow {
            path: EDITS.into(),
            source,
        })?;
        // Normalise the physical type to the schema's (e.g. a string view read back).
        let field = schema.field_with_name(name).map_err(|source| CoreError::Arrow {
            path: EDITS.into(),
            source,
        })?;
        let cast = arrow::compute::cast(&taken, field.data_type()).map_err(|source| CoreError::Arrow {
            path: EDITS.into(),
            source,
        })?;
        columns.push(cast);
    }
    let ints = |f: fn(&FileScore) -> Option<i64>| -> ArrayRef {
        let mut b = Int64Builder::with_capacity(rows.len());
        for (_, s) in rows {
            b.append_option(f(s));
        }
        Arc::new(b.finish())
    };
    let floats = |f: fn(&FileScore) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(rows.len());
        for (_, s) in rows {
            b.append_option(f(s));
        }
        Arc::new(b.finish())
    };
    columns.push(ints(|s| s.lines_generated));
    columns.push(ints(|s| s.lines_final));
    columns.push(ints(|s| s.lines_kept));
    columns.push(ints(|s| s.lines_added));
    columns.push(ints(|s| s.lines_removed));
    columns.push(floats(|s| s.rewrite_rate));
    columns.push(floats(|s| s.similarity));
    columns.push(floats(|s| s.diff_score));
    columns.push(floats(|s| s.char_retention));
    let mut method = StringBuilder::new();
    for (_, s) in rows {
        method.append_option(s.char_retention_method);
    }
    columns.push(Arc::new(method.finish()));
    RecordBatch::try_new(schema, columns).map_err(|source| CoreError::Arrow {
        path: "diff_scores".into(),
        source,
    })
}

/// Writes `generation_scores` in order of first appearance.
fn write_generations(root: &Path, options: &ScoreOptions, generations: &Generations) -> Result<CommittedPart, CoreError> {
    let spec = generation_scores_spec();
    let mut part = PartWriter::create(root, spec, options.date, options.shard)?;
    let complete: Vec<&GenerationSums> = generations
        .order
        .iter()
        .filter(|id| !generations.incomplete.contains(*id))
        .filter_map(|id| generations.sums.get(id))
        .collect();
    for chunk in complete.chunks(hive_core::lake::ROW_GROUP_ROWS) {
        let (mut event, mut project, mut template, mut version, mut experiment, mut variant) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut ints: Vec<Int64Builder> = (0..7).map(|_| Int64Builder::new()).collect();
        let (mut rate, mut score) = (Float64Builder::new(), Float64Builder::new());
        let mut rewritten = BooleanBuilder::new();
        for g in chunk {
            event.append_value(&g.keys.event_id);
            project.append_value(&g.keys.project_id);
            template.append_value(&g.keys.template_id);
            version.append_value(&g.keys.template_version);
            experiment.append_option(g.keys.experiment_id.as_deref());
            variant.append_option(g.keys.variant.as_deref());
            at.append_value(g.keys.generated_at);
            for (b, v) in ints
                .iter_mut()
                .zip([g.files, g.binary_files, g.deleted_files, g.generated, g.kept, g.removed, g.added])
            {
                b.append_value(v);
            }
            let rewrite_rate = (g.generated > 0).then(|| g.removed as f64 / g.generated as f64);
            rate.append_option(rewrite_rate);
            let total = g.generated + g.final_lines;
            score.append_option((total > 0).then(|| 1.0 - 2.0 * g.kept as f64 / total as f64));
            rewritten.append_option(rewrite_rate.map(|r| r > options.rewritten_threshold));
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(event.finish()),
            Arc::new(project.finish()),
            Arc::new(template.finish()),
            Arc::new(version.finish()),
            Arc::new(experiment.finish()),
            Arc::new(variant.finish()),
            Arc::new(at.finish()),
        ];
        columns.extend(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(rate.finish()));
        columns.push(Arc::new(score.finish()));
        columns.push(Arc::new(rewritten.finish()));
        let batch = RecordBatch::try_new(part.schema(), columns).map_err(|source| CoreError::Arrow {
            path: "generation_scores".into(),
            source,
        })?;
        part.write(&batch)?;
    }
    part.commit()
}
