//! The dataset on disk: the split by project, JSONL and Parquet files per split,
//! `manifest.json` and the dataset card `README.md`.
//!
//! Everything is rendered into a hidden staging directory (each file through
//! `write_atomically`), then the staging directory replaces `finetune/dt=D/` by renames,
//! so readers see the previous dataset or the new one, never a mix. Records, files and
//! manifest keys are in a fixed order, so reruns give identical bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
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

use crate::config::FinetuneConfig;
use crate::format::{ChatRecord, Message, PreferenceRecord, validate_chat_line, validate_preference_line};
use crate::{Candidate, Counts, Excluded, FORMAT_VERSION, FinetuneError, FinetuneOptions, InputFile, Source, TABLE, TokenCounter};

/// The splits, in file order.
pub const SPLITS: [&str; 3] = ["train", "validation", "test"];
/// Index of the train split in [`SPLITS`].
const TRAIN: usize = 0;

/// One split's records.
#[derive(Debug, Default)]
struct Split {
    /// SFT conversations: system, user, assistant.
    sft: Vec<Vec<Message>>,
    sft_tokens: Vec<usize>,
    /// Preference pairs: prompt, chosen, rejected.
    pairs: Vec<(Vec<Message>, Message, Message)>,
    pair_tokens: Vec<usize>,
    /// Where each SFT example came from, in `sft` order.
    sources: Vec<ExampleSource>,
}

/// One row of `sources-<split>.parquet`.
#[derive(Debug)]
struct ExampleSource {
    source: Source,
    sft_tokens: usize,
    /// 0-based line of the pair in `preference-<split>.jsonl`, if there is one.
    preference_row: Option<usize>,
    preference_tokens: Option<usize>,
}

/// The records of every split, ready to render.
pub struct Dataset {
    splits: [Split; 3],
    /// Kept examples without a pair, by reason.
    no_pair: BTreeMap<&'static str, u64>,
    projects: [usize; 3],
}

impl Dataset {
    pub fn sft_examples(&self) -> u64 {
        self.splits.iter().map(|s| s.sft.len() as u64).sum()
    }

    /// SFT examples in the train split.
    pub fn sft_train_examples(&self) -> u64 {
        self.splits[TRAIN].sft.len() as u64
    }

    pub fn preference_pairs(&self) -> u64 {
        self.splits.iter().map(|s| s.pairs.len() as u64).sum()
    }
}

/// Assigns each candidate to a split by its project and builds the records.
pub(crate) fn build(config: &FinetuneConfig, tokens: &TokenCounter, kept: Vec<Candidate>) -> Result<Dataset, FinetuneError> {
    let weights = [config.split.train, config.split.validation, config.split.test];
    let mut dataset = Dataset {
        splits: Default::default(),
        no_pair: BTreeMap::new(),
        projects: [0; 3],
    };
    let mut seen_projects: BTreeMap<String, usize> = BTreeMap::new();
    for c in kept {
        let split = hive_core::routing::assign(&config.split.salt, &c.project_id, &weights)?;
        seen_projects.insert(c.project_id.clone(), split);
        let target = &mut dataset.splits[split];
        let answer = Message {
            role: "assistant",
            content: c.kept,
        };
        let mut conversation = c.prompt.clone();
        conversation.push(answer.clone());
        let sft_tokens = tokens.messages(&conversation);
        target.sft_tokens.push(sft_tokens);
        target.sft.push(conversation);
        let pairs_before = target.pairs.len();
        match (c.rejected, c.no_pair) {
            (Some(rejected), _) => {
                let rejected = Message {
                    role: "assistant",
                    content: rejected,
                };
                let n = tokens.messages(c.prompt.iter().chain([&rejected]));
                if n > config.tokens.max_tokens {
                    *dataset.no_pair.entry("too_many_tokens").or_default() += 1;
                } else {
                    target.pair_tokens.push(n.max(tokens.messages(c.prompt.iter().chain([&answer]))));
                    target.pairs.push((c.prompt, answer, rejected));
                }
            }
            (None, reason) => *dataset.no_pair.entry(reason.unwrap_or("unchanged")).or_default() += 1,
        }
        let paired = target.pairs.len() > pairs_before;
        target.sources.push(ExampleSource {
            source: c.source,
            sft_tokens,
            preference_row: paired.then_some(pairs_before),
            preference_tokens: paired.then(|| target.pair_tokens.last().copied()).flatten(),
        });
    }
    for split in seen_projects.values() {
        dataset.projects[*split] += 1;
    }
    Ok(dataset)
}

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
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Renders JSONL, validating each line.
fn jsonl<T: Serialize>(
    records: impl Iterator<Item = T>,
    kind: &'static str,
    validate: fn(&str) -> Result<(), String>,
) -> Result<Vec<u8>, FinetuneError> {
    let mut out = Vec::new();
    for record in records {
        let line = serde_json::to_string(&record).map_err(|e| FinetuneError::InvalidRecord {
            kind,
            reason: e.to_string(),
        })?;
        // The reason names the rule broken, never the content.
        validate(&line).map_err(|reason| FinetuneError::InvalidRecord { kind, reason })?;
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
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

/// Renders a Parquet file of `list<struct<role, content>>` columns, in row groups of
/// 1 024 rows.
fn parquet_file(columns: &[&str], rows: &[Vec<Vec<&Message>>]) -> Result<Vec<u8>, FinetuneError> {
    let fail = |e: &dyn std::fmt::Display| FinetuneError::InvalidRecord {
        kind: "parquet",
        reason: e.to_string(),
    };
    let schema = Arc::new(Schema::new(
        columns.iter().map(|c| Field::new(*c, messages_type(), false)).collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(1024))
        .build();
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, Arc::clone(&schema), Some(props)).map_err(|e| fail(&e))?;
    for chunk in rows.chunks(1024) {
        let arrays = (0..columns.len())
            .map(|c| messages_column(chunk.iter().map(|r| r[c].clone())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(&e))?;
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|e| fail(&e))?;
        writer.write(&batch).map_err(|e| fail(&e))?;
    }
    writer.close().map_err(|e| fail(&e))?;
    Ok(buffer)
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

/// Renders a flat Parquet file (lineage tables) in one row group per 8 192 rows.
fn flat_parquet(columns: Vec<(&'static str, ArrayRef)>) -> Result<Vec<u8>, FinetuneError> {
    let fail = |e: &dyn std::fmt::Display| FinetuneError::InvalidRecord {
        kind: "parquet",
        reason: e.to_string(),
    };
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), !REQUIRED.contains(name)))
            .collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(8192))
        .build();
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns.into_iter().map(|(_, a)| a).collect()).map_err(|e| fail(&e))?;
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, schema, Some(props)).map_err(|e| fail(&e))?;
    writer.write(&batch).map_err(|e| fail(&e))?;
    writer.close().map_err(|e| fail(&e))?;
    Ok(buffer)
}

fn sources_file(split: &Split) -> Result<Vec<u8>, FinetuneError> {
    let mut columns = vec![(
        "sft_row",
        Arc::new((0..split.sources.len() as u64).map(Some).collect::<UInt64Array>()) as ArrayRef,
    )];
    columns.extend(source_columns(&split.sources.iter().map(|s| &s.source)));
    columns.push(("sft_tokens", optional_u64(split.sources.iter().map(|s| Some(s.sft_tokens)))));
    columns.push(("preference_row", optional_u64(split.sources.iter().map(|s| s.preference_row))));
    columns.push(("preference_tokens", optional_u64(split.sources.iter().map(|s| s.preference_tokens))));
    flat_parquet(columns)
}

fn excluded_file(rows: &[Excluded]) -> Result<Vec<u8>, FinetuneError> {
    let mut columns = source_columns(&rows.iter().map(|r| &r.source));
    columns.push(("reason", Arc::new(rows.iter().map(|r| Some(r.reason)).collect::<StringArray>())));
    flat_parquet(columns)
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

/// Every data file's name, rows and bytes, and token statistics per file.
#[allow(clippy::type_complexity)]
fn render_files(
    dataset: &Dataset,
    counts: &Counts,
) -> Result<(Vec<(String, usize, Vec<u8>)>, BTreeMap<String, TokenStats>), FinetuneError> {
    let mut files: Vec<(String, usize, Vec<u8>)> = Vec::new();
    let mut tokens = BTreeMap::new();
    for (split_name, split) in SPLITS.iter().zip(&dataset.splits) {
        files.push((
            format!("sft-{split_name}.jsonl"),
            split.sft.len(),
            jsonl(split.sft.iter().map(|m| ChatRecord { messages: m }), "sft", validate_chat_line)?,
        ));
        let sft_rows: Vec<Vec<Vec<&Message>>> = split.sft.iter().map(|m| vec![m.iter().collect()]).collect();
        files.push((
            format!("sft-{split_name}.parquet"),
            split.sft.len(),
            parquet_file(&["messages"], &sft_rows)?,
        ));
        files.push((
            format!("preference-{split_name}.jsonl"),
            split.pairs.len(),
            jsonl(
                split.pairs.iter().map(|(prompt, chosen, rejected)| PreferenceRecord {
                    input: ChatRecord { messages: prompt },
                    preferred_output: [chosen],
                    non_preferred_output: [rejected],
                }),
                "preference",
                validate_preference_line,
            )?,
        ));
        let pair_rows: Vec<Vec<Vec<&Message>>> = split
            .pairs
            .iter()
            .map(|(prompt, chosen, rejected)| vec![prompt.iter().collect(), vec![chosen], vec![rejected]])
            .collect();
        files.push((
            format!("preference-{split_name}.parquet"),
            split.pairs.len(),
            parquet_file(&["prompt", "chosen", "rejected"], &pair_rows)?,
        ));
        files.push((format!("sources-{split_name}.parquet"), split.sources.len(), sources_file(split)?));
        tokens.insert(format!("sft-{split_name}"), token_stats(&split.sft_tokens));
        tokens.insert(format!("preference-{split_name}"), token_stats(&split.pair_tokens));
    }

    files.push((
        "excluded.parquet".to_owned(),
        counts.excluded_rows.len(),
        excluded_file(&counts.excluded_rows)?,
    ));
    Ok((files, tokens))
}

/// Writes the dataset and its manifest; returns the output directory.
pub(crate) fn write(root: &Path, options: &FinetuneOptions, dataset: &Dataset, counts: &Counts) -> Result<PathBuf, FinetuneError> {
    let table = root.join(TABLE);
    let name = options.date.dir_name();
    let dir = table.join(&name);
    let staging = table.join(format!(".{name}.tmp-{}", std::process::id()));
    // One writer per date: a second run exits 3 (retried) instead of removing this
    // run's staging directory.
    let _lock = hive_core::lake::lock_part(&dir, "dataset")?;
    remove_stale(&table, &name)?;
    let (files, tokens) = render_files(dataset, counts)?;
    let sft_examples = dataset.sft_examples();
    let by_split = |f: &dyn Fn(&Split) -> usize| {
        SPLITS
            .iter()
            .zip(&dataset.splits)
            .map(|(n, s)| (*n, f(s)))
            .collect::<BTreeMap<_, _>>()
    };
    let mut manifest = Manifest {
        dataset: TABLE,
        format_version: FORMAT_VERSION,
        digest: String::new(),
        date: options.date.to_string(),
        days: options.days,
        partitions_read: &counts.partitions,
        inputs: &counts.inputs,
        input_rows: counts.input_rows,
        sft_examples: by_split(&|s| s.sft.len()),
        preference_pairs: by_split(&|s| s.pairs.len()),
        projects: SPLITS.iter().copied().zip(dataset.projects).collect(),
        excluded: &counts.excluded,
        quarantine: QuarantineEntry {
            rows: counts.quarantined,
            file: counts.quarantine_file.as_deref(),
        },
        no_preference_pair: &dataset.no_pair,
        reconciled: counts.input_rows == sft_examples + counts.excluded.values().sum::<u64>()
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
            candidate_probability_at_threshold: crate::dedup::candidate_probability(
                options.config.dedup.threshold,
                options.config.dedup.bands,
                options.config.dedup.rows(),
            ),
        },
        secrets: SecretsEntry {
            action: options.config.secrets.action,
            found: &counts.secrets,
            rows_with_secrets: counts.rows_with_secrets,
            rules: RulesEntry::new(options.config.secrets.min_entropy),
        },
        tokens,
        files: BTreeMap::new(),
        config: &options.config,
    };
    for (file, rows, bytes) in &files {
        manifest.files.insert(
            file.clone(),
            FileEntry {
                rows: *rows,
                bytes: bytes.len(),
                sha256: sha256_hex(bytes),
            },
        );
        write_atomically(&staging.join(file), bytes)?;
    }
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

    swap_in(&table, &name, &staging, &dir)?;
    Ok(dir)
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
    let _ = writeln!(
        s,
        "- Deduplicated before the split: exact (normalised text; {} removed) and MinHash LSH ({} permutations, \
         {} bands of {} rows, {}-token shingles; a pair at Jaccard {} becomes a candidate with probability {:.5}), \
         every candidate verified on its true Jaccard ({} near duplicates removed, {} candidates below the \
         threshold kept).",
        m.dedup.stats.exact_duplicates,
        m.config.dedup.permutations,
        m.config.dedup.bands,
        m.dedup.rows_per_band,
        m.config.dedup.shingle_size,
        m.config.dedup.threshold,
        m.dedup.candidate_probability_at_threshold,
        m.dedup.stats.near_duplicates,
        m.dedup.stats.candidates_below_threshold,
    );
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
