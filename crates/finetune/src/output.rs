//! The dataset on disk: the split by project, JSONL and Parquet files per split,
//! `manifest.json` and the dataset card `README.md`.
//!
//! Every file is streamed into a hidden staging directory as the kept examples are read
//! back from the record store, hashed as it is written, then synced. The work is a
//! pipeline: a chunk is rendered and validated in parallel while the chunk before it is
//! written by four file groups at once (JSONL, SFT Parquet, preference Parquet,
//! lineage), each in example order, and `excluded.parquet` is written alongside. The
//! staging directory replaces `finetune/dt=D/` by renames, so readers see the previous
//! dataset or the new one, never a mix. Records, files and manifest keys are in a fixed
//! order, so reruns give identical bytes whatever the threads or the memory budget.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, ListArray, RecordBatch, StringArray, StructArray, UInt64Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use sha2::{Digest, Sha256};

use hive_core::CoreError;
use hive_core::lake::write_atomically;
use hive_core::spill::RecordStore;

use crate::config::FinetuneConfig;
use crate::format::{ChatRecord, Message, PreferenceRecord, validate_chat_line, validate_preference_line};
use crate::{Candidate, Counts, FORMAT_VERSION, FinetuneError, FinetuneOptions, InputFile, Source, TABLE, TokenCounter};

/// The splits, in file order.
pub const SPLITS: [&str; 3] = ["train", "validation", "test"];
/// Index of the train split in [`SPLITS`].
const TRAIN: usize = 0;

/// One row of `sources-<split>.parquet`.
#[derive(Debug)]
struct ExampleSource {
    source: Source,
    sft_tokens: usize,
    /// 0-based line of the pair in `preference-<split>.jsonl`, if there is one.
    preference_row: Option<usize>,
    preference_tokens: Option<usize>,
}

/// What was written, for the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub sft_examples: u64,
    /// SFT examples in the train split.
    pub sft_train_examples: u64,
    pub preference_pairs: u64,
}

/// A writer that hashes and counts what goes through it.
struct Hashed<W> {
    inner: W,
    sha: Sha256,
    bytes: usize,
}

impl<W> Hashed<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<W: std::io::Write> std::io::Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One output file being written.
type Sink = Hashed<std::io::BufWriter<std::fs::File>>;

fn create(path: &Path) -> Result<Sink, CoreError> {
    let file = std::fs::File::create(path).map_err(|e| CoreError::io(path, e))?;
    Ok(Hashed::new(std::io::BufWriter::with_capacity(1 << 20, file)))
}

/// Flushes and syncs a finished file; its manifest entry.
fn close(path: &Path, sink: Sink, rows: usize) -> Result<FileEntry, CoreError> {
    let Hashed { inner, sha, bytes } = sink;
    let file = inner.into_inner().map_err(|e| CoreError::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| CoreError::io(path, e))?;
    let mut hex = String::with_capacity(64);
    for b in sha.finalize() {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(FileEntry { rows, bytes, sha256: hex })
}

fn parquet_error(e: &dyn std::fmt::Display) -> FinetuneError {
    FinetuneError::InvalidRecord {
        kind: "parquet",
        reason: e.to_string(),
    }
}

/// A Parquet file of `list<struct<role, content>>` columns, in row groups of 1 024 rows.
struct MessagesParquet {
    path: PathBuf,
    schema: Arc<Schema>,
    writer: ArrowWriter<Sink>,
    /// Rows waiting for the next row group: per row, one message list per column.
    pending: Vec<Vec<Vec<Message>>>,
    rows: usize,
}

const MESSAGE_ROW_GROUP: usize = 1024;

/// A Parquet writer of the dataset's files: zstd level 3, row groups of `rows` rows.
fn parquet_writer(path: &Path, schema: &Arc<Schema>, rows: usize) -> Result<ArrowWriter<Sink>, FinetuneError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(rows))
        .build();
    ArrowWriter::try_new(create(path)?, Arc::clone(schema), Some(props)).map_err(|e| parquet_error(&e))
}

impl MessagesParquet {
    fn create(path: PathBuf, columns: &[&str]) -> Result<Self, FinetuneError> {
        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| Field::new(*c, messages_type(), false)).collect::<Vec<_>>(),
        ));
        let writer = parquet_writer(&path, &schema, MESSAGE_ROW_GROUP)?;
        Ok(Self {
            path,
            schema,
            writer,
            pending: Vec::new(),
            rows: 0,
        })
    }

    fn push(&mut self, row: Vec<Vec<Message>>) -> Result<(), FinetuneError> {
        self.pending.push(row);
        self.rows += 1;
        if self.pending.len() == MESSAGE_ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), FinetuneError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let arrays = (0..self.schema.fields().len())
            .map(|c| messages_column(self.pending.iter().map(|r| r[c].iter().collect())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| parquet_error(&e))?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(|e| parquet_error(&e))?;
        self.writer.write(&batch).map_err(|e| parquet_error(&e))?;
        self.pending.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<FileEntry, FinetuneError> {
        self.flush()?;
        let sink = self.writer.into_inner().map_err(|e| parquet_error(&e))?;
        Ok(close(&self.path, sink, self.rows)?)
    }
}

/// Rows per row group of the lineage files.
const FLAT_ROW_GROUP: usize = 8192;

/// A flat Parquet file (lineage tables), in row groups of 8 192 rows.
struct FlatParquet {
    path: PathBuf,
    schema: Arc<Schema>,
    writer: ArrowWriter<Sink>,
    rows: usize,
}

impl FlatParquet {
    /// The schema comes from the columns of an empty batch.
    fn create(path: PathBuf, empty: &[(&'static str, ArrayRef)]) -> Result<Self, FinetuneError> {
        let schema = Arc::new(Schema::new(
            empty
                .iter()
                .map(|(name, array)| Field::new(*name, array.data_type().clone(), !REQUIRED.contains(name)))
                .collect::<Vec<_>>(),
        ));
        let writer = parquet_writer(&path, &schema, FLAT_ROW_GROUP)?;
        Ok(Self {
            path,
            schema,
            writer,
            rows: 0,
        })
    }

    fn write(&mut self, columns: Vec<(&'static str, ArrayRef)>) -> Result<(), FinetuneError> {
        let batch =
            RecordBatch::try_new(Arc::clone(&self.schema), columns.into_iter().map(|(_, a)| a).collect()).map_err(|e| parquet_error(&e))?;
        self.rows += batch.num_rows();
        self.writer.write(&batch).map_err(|e| parquet_error(&e))
    }

    fn finish(self) -> Result<FileEntry, FinetuneError> {
        let sink = self.writer.into_inner().map_err(|e| parquet_error(&e))?;
        Ok(close(&self.path, sink, self.rows)?)
    }
}

/// The two JSONL files of one split.
struct SplitJsonl {
    name: &'static str,
    sft: Sink,
    preference: Sink,
}

impl SplitJsonl {
    fn write(&mut self, staging: &Path, sft_line: &str, preference_line: Option<&str>) -> Result<(), CoreError> {
        let io = |name: String| {
            let path = staging.join(name);
            move |e: std::io::Error| CoreError::io(path, e)
        };
        self.sft
            .write_all(sft_line.as_bytes())
            .map_err(io(format!("sft-{}.jsonl", self.name)))?;
        if let Some(line) = preference_line {
            self.preference
                .write_all(line.as_bytes())
                .map_err(io(format!("preference-{}.jsonl", self.name)))?;
        }
        Ok(())
    }
}

/// The lineage file of one split and its token counts.
struct SplitSources {
    file: FlatParquet,
    /// Sources waiting for the next row group.
    pending: Vec<ExampleSource>,
    sft_tokens: Vec<usize>,
    pair_tokens: Vec<usize>,
}

impl SplitSources {
    fn push(&mut self, source: ExampleSource) -> Result<(), FinetuneError> {
        self.sft_tokens.push(source.sft_tokens);
        if let Some(tokens) = source.preference_tokens {
            self.pair_tokens.push(tokens);
        }
        self.pending.push(source);
        if self.pending.len() == FLAT_ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), FinetuneError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let first = self.file.rows;
        self.file.write(sources_columns(first, &self.pending))?;
        self.pending.clear();
        Ok(())
    }
}

/// One chunk of rendered examples, taken apart by the file group that writes it; each
/// row names its split.
#[derive(Default)]
struct Chunk {
    /// The SFT line and the preference line, if there is a pair.
    jsonl: Vec<(usize, String, Option<String>)>,
    sft: Vec<(usize, Vec<Vec<Message>>)>,
    preference: Vec<(usize, Vec<Vec<Message>>)>,
    sources: Vec<(usize, ExampleSource)>,
}

/// The fifteen files of the three splits, being written, in four groups (JSONL, SFT
/// Parquet, preference Parquet, lineage) that take each chunk in parallel. Each group
/// writes its files in example order, so the bytes do not depend on the threads.
struct DatasetFiles {
    jsonl: [SplitJsonl; 3],
    sft_parquet: [MessagesParquet; 3],
    preference_parquet: [MessagesParquet; 3],
    sources: [SplitSources; 3],
    sft_rows: [usize; 3],
    pair_rows: [usize; 3],
}

impl DatasetFiles {
    fn create(staging: &Path) -> Result<Self, FinetuneError> {
        let jsonl = |name: &'static str| -> Result<SplitJsonl, CoreError> {
            Ok(SplitJsonl {
                name,
                sft: create(&staging.join(format!("sft-{name}.jsonl")))?,
                preference: create(&staging.join(format!("preference-{name}.jsonl")))?,
            })
        };
        let sft = |name: &str| MessagesParquet::create(staging.join(format!("sft-{name}.parquet")), &["messages"]);
        let preference = |name: &str| {
            MessagesParquet::create(
                staging.join(format!("preference-{name}.parquet")),
                &["prompt", "chosen", "rejected"],
            )
        };
        let sources = |name: &str| -> Result<SplitSources, FinetuneError> {
            Ok(SplitSources {
                file: FlatParquet::create(staging.join(format!("sources-{name}.parquet")), &sources_columns(0, &[]))?,
                pending: Vec::new(),
                sft_tokens: Vec::new(),
                pair_tokens: Vec::new(),
            })
        };
        let [a, b, c] = SPLITS;
        Ok(Self {
            jsonl: [jsonl(a)?, jsonl(b)?, jsonl(c)?],
            sft_parquet: [sft(a)?, sft(b)?, sft(c)?],
            preference_parquet: [preference(a)?, preference(b)?, preference(c)?],
            sources: [sources(a)?, sources(b)?, sources(c)?],
            sft_rows: [0; 3],
            pair_rows: [0; 3],
        })
    }

    /// Takes the rendered examples apart for the file groups, numbering each split's
    /// preference rows.
    fn take_apart(&mut self, rendered: Vec<Rendered>) -> Chunk {
        let mut chunk = Chunk::default();
        for example in rendered {
            let split = example.split;
            let [system, user, answer] = example.messages;
            let (preference_line, preference_row) = match example.pair {
                Some((line, rejected, tokens)) => {
                    chunk.preference.push((
                        split,
                        vec![vec![system.clone(), user.clone()], vec![answer.clone()], vec![rejected]],
                    ));
                    self.pair_rows[split] += 1;
                    (Some(line), Some((self.pair_rows[split] - 1, tokens)))
                }
                None => (None, None),
            };
            chunk.jsonl.push((split, example.sft_line, preference_line));
            chunk.sft.push((split, vec![vec![system, user, answer]]));
            self.sft_rows[split] += 1;
            chunk.sources.push((
                split,
                ExampleSource {
                    source: example.source,
                    sft_tokens: example.sft_tokens,
                    preference_row: preference_row.map(|(r, _)| r),
                    preference_tokens: preference_row.map(|(_, t)| t),
                },
            ));
        }
        chunk
    }

    /// Writes one chunk, the four groups in parallel; the first error in group order.
    fn write(&mut self, staging: &Path, chunk: Chunk) -> Result<(), FinetuneError> {
        let Self {
            jsonl,
            sft_parquet,
            preference_parquet,
            sources,
            ..
        } = self;
        let Chunk {
            jsonl: lines,
            sft,
            preference,
            sources: rows,
        } = chunk;
        let push_messages = |files: &mut [MessagesParquet; 3], rows: Vec<(usize, Vec<Vec<Message>>)>| {
            rows.into_iter().try_for_each(|(split, row)| files[split].push(row))
        };
        let (lines, (sft, (preference, rows))) = rayon::join(
            || {
                lines
                    .iter()
                    .try_for_each(|(split, sft, pair)| jsonl[*split].write(staging, sft, pair.as_deref()))
            },
            || {
                rayon::join(
                    || push_messages(sft_parquet, sft),
                    || {
                        rayon::join(
                            || push_messages(preference_parquet, preference),
                            || rows.into_iter().try_for_each(|(split, row)| sources[split].push(row)),
                        )
                    },
                )
            },
        );
        lines?;
        sft?;
        preference?;
        rows
    }

    /// Closes the files: their manifest entries, and the token statistics.
    fn finish(
        self,
        staging: &Path,
        files: &mut BTreeMap<String, FileEntry>,
        tokens: &mut BTreeMap<String, TokenStats>,
    ) -> Result<(), FinetuneError> {
        let parts = self
            .jsonl
            .into_iter()
            .zip(self.sft_parquet)
            .zip(self.preference_parquet)
            .zip(self.sources);
        for (split, (((jsonl, sft), preference), mut sources)) in parts.enumerate() {
            let name = jsonl.name;
            sources.flush()?;
            files.insert(
                format!("sft-{name}.jsonl"),
                close(&staging.join(format!("sft-{name}.jsonl")), jsonl.sft, self.sft_rows[split])?,
            );
            files.insert(format!("sft-{name}.parquet"), sft.finish()?);
            files.insert(
                format!("preference-{name}.jsonl"),
                close(
                    &staging.join(format!("preference-{name}.jsonl")),
                    jsonl.preference,
                    self.pair_rows[split],
                )?,
            );
            files.insert(format!("preference-{name}.parquet"), preference.finish()?);
            files.insert(format!("sources-{name}.parquet"), sources.file.finish()?);
            tokens.insert(format!("sft-{name}"), token_stats(&sources.sft_tokens));
            tokens.insert(format!("preference-{name}"), token_stats(&sources.pair_tokens));
        }
        Ok(())
    }
}

/// One kept example, rendered and validated (on any thread).
struct Rendered {
    split: usize,
    project_id: String,
    source: Source,
    /// System, user, assistant.
    messages: [Message; 3],
    sft_tokens: usize,
    /// The SFT JSONL line, with its newline.
    sft_line: String,
    /// The preference JSONL line, the rejected message and the pair's tokens.
    pair: Option<(String, Message, usize)>,
    /// Why there is no pair, when there is none.
    no_pair: Option<&'static str>,
}

/// Renders one JSONL line (with its newline), validating it.
fn jsonl_line<T: Serialize>(record: &T, kind: &'static str, validate: fn(&str) -> Result<(), String>) -> Result<String, FinetuneError> {
    let mut line = serde_json::to_string(record).map_err(|e| FinetuneError::InvalidRecord {
        kind,
        reason: e.to_string(),
    })?;
    // The reason names the rule broken, never the content.
    validate(&line).map_err(|reason| FinetuneError::InvalidRecord { kind, reason })?;
    line.push('\n');
    Ok(line)
}

/// Assigns a kept candidate to its split by project and renders its records. Token
/// counts left for later (an example within the limit by the byte bound, and every
/// rejected side) are counted here, only for the examples dedup kept.
fn render(config: &FinetuneConfig, tokens: &TokenCounter, c: Candidate) -> Result<Rendered, FinetuneError> {
    let weights = [config.split.train, config.split.validation, config.split.test];
    let split = hive_core::routing::assign(&config.split.salt, &c.project_id, &weights)?;
    let system = Message {
        role: "system",
        content: config.system_prompt.clone(),
    };
    let user = Message {
        role: "user",
        content: c.user,
    };
    let answer = Message {
        role: "assistant",
        content: c.kept,
    };
    let messages = [system, user, answer];
    // The prompt is counted once for both answers, and only if a count is missing.
    let mut prompt_tokens = None;
    let mut prompt = || *prompt_tokens.get_or_insert_with(|| tokens.messages(&messages[..2]));
    let sft_tokens = c.sft_tokens.unwrap_or_else(|| prompt() + tokens.answer(&messages[2].content));
    let sft_line = jsonl_line(&ChatRecord { messages: &messages }, "sft", validate_chat_line)?;
    let (pair, no_pair) = match c.rejected {
        Some(rejected) => {
            let n = c.pair_tokens.unwrap_or_else(|| prompt() + tokens.answer(&rejected));
            if n > config.tokens.max_tokens {
                (None, Some("too_many_tokens"))
            } else {
                let rejected = Message {
                    role: "assistant",
                    content: rejected,
                };
                let line = jsonl_line(
                    &PreferenceRecord {
                        input: ChatRecord { messages: &messages[..2] },
                        preferred_output: [&messages[2]],
                        non_preferred_output: [&rejected],
                    },
                    "preference",
                    validate_preference_line,
                )?;
                (Some((line, rejected, n.max(sft_tokens))), None)
            }
        }
        None => (None, Some(c.no_pair.unwrap_or("unchanged"))),
    };
    Ok(Rendered {
        split,
        project_id: c.project_id,
        source: c.source,
        messages,
        sft_tokens,
        sft_line,
        pair,
        no_pair,
    })
}

/// Kept examples read back and rendered at a time.
const RENDER_CHUNK: usize = 1024;

/// Token statistics of one file.
#[derive(Debug, Serialize)]
struct TokenStats {
    examples: usize,
    total: usize,
    min: Option<usize>,
    max: Option<usize>,
    mean: Option<f64>,
    p50: Option<usize>,
    p95: Option<usize>,
}

fn token_stats(values: &[usize]) -> TokenStats {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let total: usize = sorted.iter().sum();
    let pct = |p: f64| (!sorted.is_empty()).then(|| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]);
    TokenStats {
        examples: sorted.len(),
        total,
        min: sorted.first().copied(),
        max: sorted.last().copied(),
        mean: (!sorted.is_empty()).then(|| total as f64 / sorted.len() as f64),
        p50: pct(0.5),
        p95: pct(0.95),
    }
}

/// One output file in the manifest.
#[derive(Debug, Serialize)]
struct FileEntry {
    rows: usize,
    bytes: usize,
    sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Serialize)]
struct Manifest<'a> {
    dataset: &'static str,
    format_version: u32,
    /// sha256 over the sorted `name sha256` lines of every data file: one value that
    /// changes when any record does (MLflow's dataset digest).
    digest: String,
    date: String,
    days: u32,
    partitions_read: &'a [String],
    /// Every input part read, with its rows (lineage; `edits` rows sum to `input_rows`).
    inputs: &'a [InputFile],
    input_rows: u64,
    sft_examples: BTreeMap<&'static str, usize>,
    preference_pairs: BTreeMap<&'static str, usize>,
    projects: BTreeMap<&'static str, usize>,
    excluded: &'a BTreeMap<&'static str, u64>,
    /// Excluded rows that could not be processed, and the quarantine part that lists them.
    quarantine: QuarantineEntry<'a>,
    /// SFT examples without a preference pair, by reason.
    no_preference_pair: &'a BTreeMap<&'static str, u64>,
    reconciled: bool,
    dedup: DedupEntry,
    secrets: SecretsEntry<'a>,
    tokens: BTreeMap<String, TokenStats>,
    files: BTreeMap<String, FileEntry>,
    config: &'a FinetuneConfig,
}

#[derive(Debug, Serialize)]
struct SecretsEntry<'a> {
    action: crate::config::SecretAction,
    /// Findings per rule (values are never recorded).
    found: &'a BTreeMap<String, u64>,
    /// Input rows in which at least one secret was found.
    rows_with_secrets: u64,
    /// The rule set: gitleaks' commit, how many of its rules ran, and the project's own.
    rules: RulesEntry,
}

#[derive(Debug, Serialize)]
struct RulesEntry {
    gitleaks_commit: String,
    gitleaks_rules: usize,
    /// gitleaks rules the `regex` crate could not compile (none at the vendored commit).
    gitleaks_rules_skipped: Vec<String>,
    builtin_rules: &'static [&'static str],
    min_entropy: f64,
}

impl RulesEntry {
    fn new(min_entropy: f64) -> Self {
        let scanner = hive_secrets::Scanner::shared();
        Self {
            gitleaks_commit: hive_secrets::GITLEAKS_COMMIT
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
            gitleaks_rules: scanner.gitleaks_rule_ids().count(),
            gitleaks_rules_skipped: scanner.skipped_rules().iter().map(|r| r.id.clone()).collect(),
            builtin_rules: hive_secrets::BUILTIN_RULES,
            min_entropy,
        }
    }
}

#[derive(Debug, Serialize)]
struct QuarantineEntry<'a> {
    rows: u64,
    file: Option<&'a str>,
}

/// What deduplication did, and the LSH S-curve at the configured threshold.
#[derive(Debug, Serialize)]
struct DedupEntry {
    #[serde(flatten)]
    stats: crate::dedup::DedupStats,
    rows_per_band: usize,
    /// `1 - (1 - t^rows)^bands` at the threshold t: the chance a pair exactly at the
    /// threshold is even compared (pairs above it are compared more often).
    candidate_probability_at_threshold: f64,
    /// Sketch bytes (of `permutations`) a candidate pair must agree on to have its
    /// Jaccard similarity computed.
    sketch_min_agreements: usize,
    /// At least the chance a pair exactly at the threshold is found: it must be a
    /// candidate and pass the sketch. The two events only help each other, so the
    /// product of their probabilities is a lower bound.
    detection_probability_at_threshold: f64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn message_fields() -> Fields {
    Fields::from(vec![
        Field::new("role", DataType::Utf8, false),
        Field::new("content", DataType::Utf8, false),
    ])
}

fn messages_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Struct(message_fields()), false)))
}

/// A `list<struct<role, content>>` column, one list per row.
fn messages_column<'a>(rows: impl Iterator<Item = Vec<&'a Message>>) -> Result<ArrayRef, arrow::error::ArrowError> {
    let (mut roles, mut contents, mut lengths) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        lengths.push(row.len());
        for m in row {
            roles.push(m.role);
            contents.push(m.content.as_str());
        }
    }
    let values = StructArray::try_new(
        message_fields(),
        vec![Arc::new(StringArray::from(roles)), Arc::new(StringArray::from(contents))],
        None,
    )?;
    let DataType::List(item) = messages_type() else {
        unreachable!("messages_type is a list")
    };
    Ok(Arc::new(ListArray::try_new(
        item,
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values),
        None,
    )?))
}

/// The lineage columns every `sources-*` and `excluded` row has.
fn source_columns<'a, I: Iterator<Item = &'a Source> + Clone>(sources: &I) -> Vec<(&'static str, ArrayRef)> {
    let text = |f: fn(&Source) -> Option<&str>| -> ArrayRef { Arc::new(sources.clone().map(f).collect::<StringArray>()) };
    vec![
        ("source_file", text(|s| Some(s.file.as_str()))),
        (
            "source_row",
            Arc::new(sources.clone().map(|s| Some(s.row)).collect::<UInt64Array>()),
        ),
        ("event_id", text(|s| s.event_id.as_deref())),
        ("project_id", text(|s| s.project_id.as_deref())),
        ("template_id", text(|s| s.template_id.as_deref())),
        ("template_version", text(|s| s.template_version.as_deref())),
        ("path", text(|s| s.path.as_deref())),
        ("language", text(|s| s.language.as_deref())),
        ("change", text(|s| s.change.as_deref())),
    ]
}

fn optional_u64(values: impl Iterator<Item = Option<usize>>) -> ArrayRef {
    Arc::new(values.map(|v| v.map(|v| v as u64)).collect::<UInt64Array>())
}

/// Lineage columns that always have a value (declared non-null in the schema).
const REQUIRED: &[&str] = &["sft_row", "source_file", "source_row", "sft_tokens", "reason"];

/// The columns of `sources-<split>.parquet` for `rows`, the first being SFT row `first`.
fn sources_columns(first: usize, rows: &[ExampleSource]) -> Vec<(&'static str, ArrayRef)> {
    let mut columns = vec![(
        "sft_row",
        Arc::new((first as u64..(first + rows.len()) as u64).map(Some).collect::<UInt64Array>()) as ArrayRef,
    )];
    columns.extend(source_columns(&rows.iter().map(|s| &s.source)));
    columns.push(("sft_tokens", optional_u64(rows.iter().map(|s| Some(s.sft_tokens)))));
    columns.push(("preference_row", optional_u64(rows.iter().map(|s| s.preference_row))));
    columns.push(("preference_tokens", optional_u64(rows.iter().map(|s| s.preference_tokens))));
    columns
}

/// The columns of `excluded.parquet` for `rows`.
fn excluded_columns(rows: &[crate::Excluded]) -> Vec<(&'static str, ArrayRef)> {
    let mut columns = source_columns(&rows.iter().map(|r| &r.source));
    columns.push((
        "reason",
        Arc::new(rows.iter().map(|r| Some(r.reason.as_str())).collect::<StringArray>()),
    ));
    columns
}

/// Writes `excluded.parquet` from the exclusion records, a row group at a time.
fn excluded_file(staging: &Path, store: &RecordStore, ids: &[usize]) -> Result<FileEntry, FinetuneError> {
    let mut file = FlatParquet::create(staging.join("excluded.parquet"), &excluded_columns(&[]))?;
    for chunk in ids.chunks(FLAT_ROW_GROUP) {
        let mut rows = Vec::with_capacity(chunk.len());
        for bytes in store.get_many(chunk)? {
            rows.push(
                crate::record::decode_excluded(&bytes)
                    .ok_or_else(|| CoreError::io(staging, std::io::Error::other("a spilled exclusion does not decode")))?,
            );
        }
        file.write(excluded_columns(&rows))?;
    }
    file.finish()
}
/// Lineage files: `sources-{split}.parquet` and `excluded.parquet`.
fn is_lineage_file(name: &str) -> bool {
    name.starts_with("sources-") || name == "excluded.parquet"
}

/// Cleans up after a killed earlier run of this partition (the caller holds the
/// partition's lock, so no other run is writing). When the dataset itself is missing
/// because the fallback swap was killed between its two renames, the previous dataset
/// moved aside (`.dt=D.old-PID`) is put back first; then staging and swap directories
/// are removed.
fn remove_stale(table: &Path, name: &str) -> Result<(), CoreError> {
    let Ok(entries) = std::fs::read_dir(table) else { return Ok(()) };
    let mut leftovers: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(file, _)| file.starts_with(&format!(".{name}.tmp-")) || file.starts_with(&format!(".{name}.old-")))
        .collect();
    leftovers.sort();
    let dir = table.join(name);
    if !dir.exists()
        && let Some((_, old)) = leftovers.iter().find(|(file, _)| file.starts_with(&format!(".{name}.old-")))
    {
        tracing::warn!(dir = %old.display(), "restoring the dataset a killed run had moved aside");
        std::fs::rename(old, &dir).map_err(|e| CoreError::io(old, e))?;
        hive_core::lake::sync_dir(table)?;
    }
    for (_, path) in leftovers.iter().filter(|(_, path)| path.exists()) {
        tracing::info!(dir = %path.display(), "removing what a killed earlier run left");
        std::fs::remove_dir_all(path).map_err(|e| CoreError::io(path, e))?;
    }
    Ok(())
}

/// Puts `staging` in `dir`'s place. With an existing dataset the two directories are
/// exchanged in one `renameat2(RENAME_EXCHANGE)`, so the date always has a complete
/// dataset, old or new, whenever the process dies; the old one, now under the staging
/// name, is then removed. Where the file system cannot exchange, the old dataset is
/// moved aside first and put back by the next run if this one dies in between
/// ([`remove_stale`]).
fn swap_in(table: &Path, name: &str, staging: &Path, dir: &Path) -> Result<(), CoreError> {
    if dir.exists() {
        match rustix::fs::renameat_with(rustix::fs::CWD, staging, rustix::fs::CWD, dir, rustix::fs::RenameFlags::EXCHANGE) {
            Ok(()) => {
                hive_core::lake::sync_dir(table)?;
                return std::fs::remove_dir_all(staging).map_err(|e| CoreError::io(staging, e));
            }
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::NOTSUP => {
                tracing::debug!(error = %e, "no RENAME_EXCHANGE here: swapping in two renames");
            }
            Err(e) => return Err(CoreError::io(dir, e.into())),
        }
        let old = table.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(dir, &old).map_err(|e| CoreError::io(dir, e))?;
        if let Err(e) = std::fs::rename(staging, dir) {
            // Put the previous dataset back rather than leave the partition empty.
            let _ = std::fs::rename(&old, dir);
            return Err(CoreError::io(dir, e));
        }
        hive_core::lake::sync_dir(table)?;
        return std::fs::remove_dir_all(&old).map_err(|e| CoreError::io(&old, e));
    }
    std::fs::rename(staging, dir).map_err(|e| CoreError::io(dir, e))?;
    hive_core::lake::sync_dir(table)
}

/// Reads the kept examples back in order, renders them in parallel a chunk at a time
/// and writes them to their split's files; returns the examples without a pair by
/// reason, and the projects per split.
fn stream_examples(
    options: &FinetuneOptions,
    store: &RecordStore,
    kept: &[usize],
    staging: &Path,
    files: &mut DatasetFiles,
) -> Result<(BTreeMap<&'static str, u64>, [usize; 3]), FinetuneError> {
    use rayon::prelude::*;
    let mut no_pair: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut seen_projects: BTreeMap<String, usize> = BTreeMap::new();
    let tokens = TokenCounter::new(options.config.tokens.encoding, &options.config.system_prompt);
    // The chunk's records are read in the spill file's order, then rendered in parallel.
    let render_chunk = |chunk: &[usize]| {
        store
            .get_many(chunk)?
            .par_iter()
            .map(|bytes| {
                let candidate = crate::record::decode_candidate(bytes).ok_or_else(|| crate::corrupt(options))?;
                render(&options.config, &tokens, candidate)
            })
            .collect::<Result<Vec<_>, FinetuneError>>()
    };
    // A pipeline of two stages: the next chunk is rendered while this one is written.
    let mut chunks = kept.chunks(RENDER_CHUNK);
    let mut current = chunks.next().map(render_chunk).transpose()?;
    while let Some(rendered) = current.take() {
        for example in &rendered {
            if let Some(reason) = example.no_pair {
                *no_pair.entry(reason).or_default() += 1;
            }
            if !seen_projects.contains_key(&example.project_id) {
                seen_projects.insert(example.project_id.clone(), example.split);
            }
        }
        let chunk = files.take_apart(rendered);
        let next = chunks.next();
        let (next, written) = rayon::join(|| next.map(render_chunk).transpose(), || files.write(staging, chunk));
        written?;
        current = next?;
    }
    let mut projects = [0usize; 3];
    for split in seen_projects.values() {
        projects[*split] += 1;
    }
    Ok((no_pair, projects))
}

/// Writes the dataset and its manifest from the kept candidates (record ids in the
/// order they were kept); returns the output directory and what was written.
pub(crate) fn write(
    root: &Path,
    options: &FinetuneOptions,
    store: &RecordStore,
    kept: &[usize],
    counts: &Counts,
) -> Result<(PathBuf, Written), FinetuneError> {
    let table = root.join(TABLE);
    let name = options.date.dir_name();
    let dir = table.join(&name);
    let staging = table.join(format!(".{name}.tmp-{}", std::process::id()));
    // One writer per date: a second run exits 3 (retried) instead of removing this
    // run's staging directory.
    let _lock = hive_core::lake::lock_part(&dir, "dataset")?;
    remove_stale(&table, &name)?;
    std::fs::create_dir_all(&staging).map_err(|e| CoreError::io(&staging, e))?;

    let mut dataset = DatasetFiles::create(&staging)?;
    // The exclusions' file is independent of the examples': written alongside.
    let (excluded, streamed) = rayon::join(
        || excluded_file(&staging, store, &counts.excluded_rows),
        || stream_examples(options, store, kept, &staging, &mut dataset),
    );
    let (no_pair, projects) = streamed?;
    let excluded = excluded?;
    let (sft_rows, pair_rows) = (dataset.sft_rows, dataset.pair_rows);
    let mut files = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    dataset.finish(&staging, &mut files, &mut tokens)?;
    files.insert("excluded.parquet".to_owned(), excluded);

    let written = Written {
        sft_examples: sft_rows.iter().sum::<usize>() as u64,
        sft_train_examples: sft_rows[TRAIN] as u64,
        preference_pairs: pair_rows.iter().sum::<usize>() as u64,
    };
    let by_split = |rows: &[usize; 3]| SPLITS.iter().copied().zip(rows.iter().copied()).collect::<BTreeMap<_, _>>();
    let dedup = &options.config.dedup;
    let candidate = crate::dedup::candidate_probability(dedup.threshold, dedup.bands, dedup.rows(), dedup.min_shared_bands);
    let sketch_min_agreements = crate::dedup::sketch_min_agreements(dedup.permutations, dedup.threshold);
    let mut manifest = Manifest {
        dataset: TABLE,
        format_version: FORMAT_VERSION,
        digest: String::new(),
        date: options.date.to_string(),
        days: options.days,
        partitions_read: &counts.partitions,
        inputs: &counts.inputs,
        input_rows: counts.input_rows,
        sft_examples: by_split(&sft_rows),
        preference_pairs: by_split(&pair_rows),
        projects: SPLITS.iter().copied().zip(projects).collect(),
        excluded: &counts.excluded,
        quarantine: QuarantineEntry {
            rows: counts.quarantined,
            file: counts.quarantine_file.as_deref(),
        },
        no_preference_pair: &no_pair,
        reconciled: counts.input_rows == written.sft_examples + counts.excluded.values().sum::<u64>()
            && counts
                .inputs
                .iter()
                .filter(|i| i.table == hive_core::schema::EDITS)
                .map(|i| i.rows)
                .sum::<u64>()
                == counts.input_rows,
        dedup: DedupEntry {
            stats: counts.dedup,
            rows_per_band: options.config.dedup.rows(),
            candidate_probability_at_threshold: candidate,
            sketch_min_agreements,
            detection_probability_at_threshold: candidate
                * (1.0 - crate::dedup::binomial_below(dedup.permutations, dedup.threshold, sketch_min_agreements)),
        },
        secrets: SecretsEntry {
            action: options.config.secrets.action,
            found: &counts.secrets,
            rows_with_secrets: counts.rows_with_secrets,
            rules: RulesEntry::new(options.config.secrets.min_entropy),
        },
        tokens,
        files,
        config: &options.config,
    };
    let mut listing = String::new();
    // The digest identifies the records, so lineage files (which name the input parts,
    // and so differ between a sharded and a one-shard night) are left out of it.
    for (name, f) in manifest.files.iter().filter(|(name, _)| !is_lineage_file(name)) {
        let _ = writeln!(listing, "{name} {}", f.sha256);
    }
    manifest.digest = sha256_hex(listing.as_bytes());
    let card = dataset_card(&manifest);
    write_atomically(&staging.join("README.md"), card.as_bytes())?;
    let mut json = serde_json::to_string_pretty(&manifest).map_err(|e| FinetuneError::InvalidRecord {
        kind: "manifest",
        reason: e.to_string(),
    })?;
    json.push('\n');
    write_atomically(&staging.join("manifest.json"), json.as_bytes())?;
    hive_core::lake::sync_dir(&staging)?;

    swap_in(&table, &name, &staging, &dir)?;
    Ok((dir, written))
}

/// The card's YAML front matter.
fn card_front_matter(s: &mut String, m: &Manifest<'_>) {
    // Hugging Face dataset-card metadata: `load_dataset(<folder>, "sft")` (or
    // "preference") finds the splits without further arguments. Empty splits are left out.
    let _ = writeln!(s, "---\nconfigs:");
    for kind in ["sft", "preference"] {
        let _ = writeln!(s, "- config_name: {kind}\n  data_files:");
        for split in SPLITS {
            let file = format!("{kind}-{split}.parquet");
            if m.files.get(&file).is_some_and(|f| f.rows > 0) {
                let _ = writeln!(s, "  - split: {split}\n    path: {file}");
            }
        }
    }
    let _ = writeln!(s, "---\n");
}

/// Token figures per file and how to load the dataset.
fn card_tokens_and_use(s: &mut String, m: &Manifest<'_>) {
    for (name, t) in &m.tokens {
        if let (Some(mean), Some(p50), Some(p95), Some(max)) = (t.mean, t.p50, t.p95, t.max) {
            let _ = writeln!(
                s,
                "- Tokens per record in `{name}`: mean {mean:.0}, median {p50}, p95 {p95}, max {max}."
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Use\n\n- OpenAI fine-tuning: upload `sft-train.jsonl` (and `sft-validation.jsonl`) with purpose \
         `fine-tune`; for preference fine-tuning (DPO), the `preference-*.jsonl` files.\n\
         - Hugging Face: `datasets.load_dataset(\"<this folder>\", \"sft\")` for TRL's SFTTrainer, \
         `\"preference\"` for DPOTrainer.\n\
         - Secret and PII detection is pattern-based: treat this dataset as internal data."
    );
    let _ = writeln!(
        s,
        "\nThe full recipe and counts are in `manifest.json`. Guide: docs/build-finetune.md."
    );
}

/// The dataset card's line on deduplication.
fn card_dedup(s: &mut String, m: &Manifest<'_>) {
    let _ = writeln!(
        *s,
        "- Deduplicated before the split: exact (normalised text; {} removed) and MinHash LSH ({} permutations, \
         {} bands of {} rows, {}-token shingles; a pair at Jaccard {} becomes a candidate with probability {:.5}), \
         every candidate whose signature sketch agrees on at least {} of {} bytes verified on its true Jaccard \
         (a pair at the threshold is found with probability at least {:.5}; {} near duplicates removed, {} \
         candidates below the threshold kept, {} of them ruled out by the sketch).",
        m.dedup.stats.exact_duplicates,
        m.config.dedup.permutations,
        m.config.dedup.bands,
        m.dedup.rows_per_band,
        m.config.dedup.shingle_size,
        m.config.dedup.threshold,
        m.dedup.candidate_probability_at_threshold,
        m.dedup.sketch_min_agreements,
        m.config.dedup.permutations,
        m.dedup.detection_probability_at_threshold,
        m.dedup.stats.near_duplicates,
        m.dedup.stats.candidates_below_threshold,
        m.dedup.stats.ruled_out_by_sketch,
    );
}

/// The dataset card, from the manifest's figures.
fn dataset_card(m: &Manifest<'_>) -> String {
    let mut s = String::new();
    card_front_matter(&mut s, m);
    let _ = writeln!(s, "# maestro-hive fine-tuning dataset, {}\n", m.date);
    let _ = writeln!(
        s,
        "Built by `build-finetune` (format version {}) from the `edits` and `diff_scores` partitions {} \
         ({} day(s) ending {}). What users kept of generated files, as supervised examples (the request \
         in, the kept file out) and preference pairs (kept = chosen, generated = rejected).\n",
        m.format_version,
        m.partitions_read.join(", "),
        m.days,
        m.date
    );
    let _ = writeln!(s, "## Files\n\n| file | rows | sha256 |\n|---|---|---|");
    for (name, f) in &m.files {
        let _ = writeln!(s, "| `{name}` | {} | `{}` |", f.rows, f.sha256);
    }
    let _ = writeln!(
        s,
        "\n`*.jsonl`: OpenAI chat fine-tuning (`sft-*`) and preference fine-tuning (`preference-*`) \
         formats. `sft-*.parquet`, `preference-*.parquet`: the Hugging Face TRL layout (`messages` for \
         SFTTrainer; `prompt`, `chosen`, `rejected` for DPOTrainer), each a list of `{{role, content}}`. \
         `sources-*.parquet`: the `edits` row each SFT example came from (row i = line i), with its token \
         count and its preference pair's line. `excluded.parquet`: every input row left out, with the reason.\n"
    );
    let _ = writeln!(s, "## How it was made\n");
    let _ = writeln!(
        s,
        "- Input rows: {}; SFT examples: {}; preference pairs: {}.",
        m.input_rows,
        m.sft_examples.values().sum::<usize>(),
        m.preference_pairs.values().sum::<usize>()
    );
    let excluded: Vec<String> = m.excluded.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        s,
        "- Excluded, by reason: {}.",
        if excluded.is_empty() {
            "none".to_owned()
        } else {
            excluded.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "- Split by project (salted hash, train/validation/test = {}/{}/{}): no project is in two splits. \
         Projects per split: {}.",
        m.config.split.train,
        m.config.split.validation,
        m.config.split.test,
        m.projects.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    card_dedup(&mut s, m);
    let _ = writeln!(
        s,
        "- Secrets and PII (gitleaks' default rules at `{}` and the project's own): action `{}`; findings per rule: {}.",
        m.secrets.rules.gitleaks_commit,
        match m.secrets.action {
            crate::config::SecretAction::Redact => "redact",
            crate::config::SecretAction::Drop => "drop",
        },
        if m.secrets.found.is_empty() {
            "none".to_owned()
        } else {
            m.secrets
                .found
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(
        s,
        "- Token limit {} (`{}`); longer examples are dropped, never truncated.",
        m.config.tokens.max_tokens,
        match m.config.tokens.encoding {
            crate::config::Encoding::O200kBase => "o200k_base",
            crate::config::Encoding::Cl100kBase => "cl100k_base",
        }
    );
    card_tokens_and_use(&mut s, m);
    s
}
