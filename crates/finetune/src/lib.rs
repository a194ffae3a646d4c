//! `build-finetune`: leak-free SFT and preference datasets from what users kept.
//!
//! It reads committed `edits` and `diff_scores` partitions for a range of days, joins
//! them on (`event_id`, `path`), and turns every kept text file into a supervised
//! example (the request in, the kept file out) and every edited file into a preference
//! pair (kept = chosen, generated = rejected). Each input row either becomes an example
//! or is excluded with one counted reason, so the manifest reconciles. Secrets are
//! scrubbed before anything else looks at the text, duplicates are removed before the
//! split, and the split is by project so no project is in two splits. The outputs are
//! written to a staging directory and swapped in whole; their bytes are deterministic.
#![cfg_attr(test, allow(clippy::float_cmp, clippy::format_collect, clippy::many_single_char_names))]

mod cache;
pub mod config;
pub mod dedup;
pub mod format;
pub mod output;
pub mod quality;
mod record;
pub mod token_count;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;
use serde::Serialize;

use hive_core::columns::{ColumnKind, TextColumn, TimestampColumn, check_columns, typed};
use hive_core::lake::{committed_parts, partition_dir};
use hive_core::quarantine::{QuarantineRecord, QuarantineWriter};
use hive_core::schema::{DIFF_SCORES, EDITS};
use hive_core::spill::{Decoder, Encoder, RecordStore};
use hive_core::{CoreError, PartitionDate};

use crate::config::{Encoding, FinetuneConfig, SecretAction};
use crate::dedup::{Deduplicator, Document, Fingerprint, Kept, MinHasher, Verdict};
use crate::format::Message;
use hive_secrets::Scanner;

/// Secrets and PII found, per rule id.
pub type SecretCounts = BTreeMap<String, u64>;

/// The job's name.
pub const JOB: &str = "build-finetune";
/// The table directory the datasets are written under.
pub const TABLE: &str = "finetune";
/// Version of the dataset layout (file names, record formats, manifest keys).
pub const FORMAT_VERSION: u32 = 1;

/// Options of one run.
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// Worker threads for the per-row work (filters, secret scanning, token counts,
    /// MinHash); 0 uses one per core. The output does not depend on it.
    pub threads: usize,
    /// Bytes held in memory: half for candidate records (texts, shingle sets, lineage),
    /// half for the kept files' shingle sets; the rest waits in temporary files in
    /// `spill_dir`. The output does not depend on it.
    pub memory_budget: u64,
    /// Directory of the temporary spill file.
    pub spill_dir: PathBuf,
    pub data_root: PathBuf,
    /// Last day of the range, and the output partition.
    pub date: PartitionDate,
    /// Days read, ending with `date`.
    pub days: u32,
    pub config: FinetuneConfig,
    /// No progress bar (logs keep their periodic line).
    pub quiet: bool,
    /// Directory of the outcome cache (see [`cache`]); `None` recomputes every part.
    /// The output does not depend on it.
    pub cache_dir: Option<PathBuf>,
}

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("invalid config `{path}`: {reason}")]
    InvalidConfig { path: PathBuf, reason: String },
    #[error("a {kind} record failed validation before writing: {reason}")]
    InvalidRecord { kind: &'static str, reason: String },
    #[error("tokenizer `{encoding}` could not be loaded: {reason}")]
    Tokenizer { encoding: String, reason: String },
    #[error("internal error (a bug, please report it): {0}")]
    Internal(String),
}

impl hive_core::exit::Classify for FinetuneError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        use hive_core::exit::ErrorKind;
        match self {
            Self::Core(e) => e.kind(),
            Self::InvalidConfig { .. } => ErrorKind::BadInput,
            Self::InvalidRecord { .. } | Self::Tokenizer { .. } | Self::Internal(_) => ErrorKind::Runtime,
        }
    }
}

/// Loads a YAML config file (unknown keys are errors), or the defaults.
pub fn load_config(path: Option<&Path>) -> Result<FinetuneConfig, FinetuneError> {
    let Some(path) = path else {
        return Ok(FinetuneConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
    FinetuneConfig::from_yaml(&text).map_err(|reason| FinetuneError::InvalidConfig {
        path: path.to_owned(),
        reason,
    })
}

pub use hive_core::summary::RunStatus;

/// The JSON summary line.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneSummary {
    pub job: &'static str,
    pub date: String,
    pub days: u32,
    pub status: RunStatus,
    /// `edits` rows read.
    pub input_rows: u64,
    /// SFT examples written, all splits.
    pub sft_examples: u64,
    /// Of those, examples in the train split: what a fine-tuning job would learn from.
    pub sft_train_examples: u64,
    /// Preference pairs written, all splits.
    pub preference_pairs: u64,
    /// Input rows left out, by reason.
    pub excluded: BTreeMap<&'static str, u64>,
    /// Of those, rows that could not be processed (`malformed`, `missing_diff_score`),
    /// also written to `quarantine/build-finetune/dt=D/`.
    pub rows_quarantined: u64,
    /// `input_rows == sft_examples + sum(excluded)`.
    pub reconciled: bool,
    /// Secrets and PII found (redacted, or their rows dropped), by rule.
    pub secrets: SecretCounts,
    pub output: Option<PathBuf>,
}

impl hive_core::summary::JobSummary for FinetuneSummary {
    fn exit_status(&self) -> hive_core::ExitStatus {
        self.status.exit_status()
    }

    fn reconciliation_error(&self) -> Option<String> {
        (!self.reconciled).then(|| {
            format!(
                "read {} != examples {} + excluded {}",
                self.input_rows,
                self.sft_examples,
                self.excluded.values().sum::<u64>()
            )
        })
    }
}

/// Where an example or an exclusion came from: the `edits` row and its keys. Text
/// fields that could carry a secret (path, template) are scrubbed.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The `edits` part, relative to the data root.
    pub file: String,
    /// 1-based row in `source_file`.
    pub row: u64,
    pub event_id: Option<String>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub template_version: Option<String>,
    pub path: Option<String>,
    pub language: Option<String>,
    pub change: Option<String>,
}

/// An input row left out, with its reason.
#[derive(Debug, Clone)]
pub(crate) struct Excluded {
    pub source: Source,
    pub reason: String,
}

/// An input file read, for the manifest's lineage.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InputFile {
    pub table: &'static str,
    /// Relative to the data root.
    pub file: String,
    pub rows: u64,
}

/// An example that passed every per-row filter, waiting for dedup and the split. It is
/// stored as a [`record`] (in memory or spilled) from the moment it is made.
pub(crate) struct Candidate {
    pub project_id: String,
    pub source: Source,
    /// The user turn (the system turn is the recipe's `system_prompt`).
    pub user: String,
    pub kept: String,
    /// The generated file when it differs from the kept one (a preference pair).
    pub rejected: Option<String>,
    /// Why there is no pair, when there is none.
    pub no_pair: Option<&'static str>,
    /// Tokens of the SFT conversation (system, user, kept), when counted before dedup;
    /// `None` when [`TokenCounter::messages_at_most`] already put it within the limit,
    /// so it is counted only if the example is kept (see [`output`]).
    pub sft_tokens: Option<usize>,
    /// Tokens of the rejected conversation (system, user, generated), when counted
    /// before dedup (with the outcome cache on, so a replayed day is never counted
    /// again); `None`: counted when written, if kept.
    pub pair_tokens: Option<usize>,
}

/// The order candidates are deduplicated in: earliest generation first.
type SortKey = (i64, Box<str>, Box<str>);

/// The `edits` columns read.
const EDITS_COLUMNS: &[(&str, ColumnKind)] = &[
    ("event_id", ColumnKind::Text),
    ("project_id", ColumnKind::Text),
    ("template_id", ColumnKind::Text),
    ("template_version", ColumnKind::Text),
    ("generated_at", ColumnKind::Timestamp),
    ("path", ColumnKind::Text),
    ("language", ColumnKind::Text),
    ("change", ColumnKind::Text),
    ("generated_content", ColumnKind::Text),
    ("final_content", ColumnKind::Text),
];

const DIFF_COLUMNS: &[(&str, ColumnKind)] = &[("event_id", ColumnKind::Text), ("path", ColumnKind::Text)];

/// Token counting as OpenAI counts chat messages.
///
/// Counting is the costliest per-example step, so the counter splits text on a DFA
/// ([`token_count`], tiktoken's counts without its backtracking regex), remembers the
/// count of the one text every example repeats, the system prompt, and offers a bound
/// that needs no tokenizer.
pub struct TokenCounter {
    counter: &'static token_count::FastCounter,
    /// The recipe's system prompt and its count.
    system_prompt: (String, usize),
}

impl TokenCounter {
    pub fn new(encoding: Encoding, system_prompt: &str) -> Self {
        let counter = token_count::FastCounter::get(encoding);
        let system_prompt = (system_prompt.to_owned(), counter.count(system_prompt));
        Self { counter, system_prompt }
    }

    /// Tokens of one text.
    pub fn text(&self, text: &str) -> usize {
        if text == self.system_prompt.0 {
            return self.system_prompt.1;
        }
        self.counter.count(text)
    }

    /// An upper bound on [`TokenCounter::messages`] that tokenizes only the roles and
    /// the system prompt: both encodings are byte-level BPE, where every token stands
    /// for at least one byte of the text, so a text has at most as many tokens as
    /// bytes.
    pub fn messages_at_most<'a>(&self, messages: impl IntoIterator<Item = &'a Message>) -> usize {
        3 + messages
            .into_iter()
            .map(|m| {
                let content = if m.content == self.system_prompt.0 {
                    self.system_prompt.1
                } else {
                    m.content.len()
                };
                3 + self.text(m.role) + content
            })
            .sum::<usize>()
    }

    /// What an assistant message of `content` adds to a conversation's count: a
    /// conversation's tokens are the prompt's plus this, so a prompt shared by two
    /// answers (the kept and the generated file) is counted once.
    pub fn answer(&self, content: &str) -> usize {
        3 + self.text("assistant") + self.text(content)
    }

    /// Tokens of a conversation: 3 per message of framing, its role and content, and 3
    /// priming the reply (OpenAI cookbook's `num_tokens_from_messages`).
    pub fn messages<'a>(&self, messages: impl IntoIterator<Item = &'a Message>) -> usize {
        3 + messages
            .into_iter()
            .map(|m| 3 + self.text(m.role) + self.text(&m.content))
            .sum::<usize>()
    }
}

/// Everything the run counts.
#[derive(Debug, Default)]
struct Counts {
    input_rows: u64,
    excluded: BTreeMap<&'static str, u64>,
    /// Every excluded row, in input order then dedup order: its [`Excluded`]
    /// in the record store.
    excluded_rows: Vec<usize>,
    secrets: SecretCounts,
    rows_with_secrets: u64,
    partitions: Vec<String>,
    inputs: Vec<InputFile>,
    dedup: dedup::DedupStats,
    quarantined: u64,
    /// The quarantine part, relative to the data root.
    quarantine_file: Option<String>,
}

impl Counts {
    fn exclude(&mut self, store: &mut RecordStore, source: &Source, reason: &'static str) -> Result<(), CoreError> {
        *self.excluded.entry(reason).or_default() += 1;
        self.excluded_rows.push(store.push(&record::encode_excluded(source, reason))?);
        Ok(())
    }
}

/// Relative to the data root when possible (manifests must not depend on where the
/// lake is mounted).
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

/// Runs build-finetune for one date range.
pub fn run(options: &FinetuneOptions) -> Result<FinetuneSummary, FinetuneError> {
    options
        .config
        .validate()
        .map_err(|reason| CoreError::InvalidOption { name: "config", reason })?;
    if options.days == 0 {
        return Err(CoreError::InvalidOption {
            name: "--days",
            reason: "must be at least 1".to_owned(),
        }
        .into());
    }
    let root = options.data_root.as_path();
    let first = options.date.minus_days(options.days - 1);
    let mut summary = FinetuneSummary {
        job: JOB,
        date: options.date.to_string(),
        days: options.days,
        status: RunStatus::NothingToProcess,
        input_rows: 0,
        sft_examples: 0,
        sft_train_examples: 0,
        preference_pairs: 0,
        excluded: BTreeMap::new(),
        rows_quarantined: 0,
        reconciled: true,
        secrets: BTreeMap::new(),
        output: None,
    };
    let dates: Vec<PartitionDate> = first
        .through(options.date)
        .filter(|d| partition_dir(root, EDITS, *d).exists())
        .collect();
    if dates.is_empty() {
        tracing::warn!(first = %first, last = %options.date, "no `edits` partition in range: nothing to process");
        return Ok(summary);
    }

    let (counts, written, dir) = hive_core::cli::thread_pool(options.threads)?.install(|| build(options, dates))?;

    summary.input_rows = counts.input_rows;
    summary.sft_examples = written.sft_examples;
    summary.sft_train_examples = written.sft_train_examples;
    summary.preference_pairs = written.preference_pairs;
    summary.reconciled = counts.input_rows == summary.sft_examples + counts.excluded.values().sum::<u64>();
    summary.excluded = counts.excluded;
    summary.secrets = counts.secrets;
    summary.rows_quarantined = counts.quarantined;
    summary.output = Some(dir);
    summary.status = written_status(&summary);
    Ok(summary)
}

/// Reads, filters, deduplicates and writes, on the current thread pool: per-row work
/// runs in parallel over each batch, with results taken in input order; dedup and the
/// split run in one deterministic order, so the bytes do not depend on the threads.
fn build(options: &FinetuneOptions, dates: Vec<PartitionDate>) -> Result<(Counts, output::Written, PathBuf), FinetuneError> {
    let root = options.data_root.as_path();
    let tokens = TokenCounter::new(options.config.tokens.encoding, &options.config.system_prompt);
    let own_scanner = own_scanner(&options.config)?;
    let scanner = own_scanner.as_ref().unwrap_or_else(|| Scanner::shared());
    let hasher = MinHasher::new(&options.config.dedup);
    // A one-day range shares no day with the next night's: caching it would only cost.
    let cache = options
        .cache_dir
        .as_ref()
        .filter(|_| options.days > 1)
        .and_then(|dir| cache::OutcomeCache::new(dir.clone(), &options.config));
    let work = RowWork {
        config: &options.config,
        scanner,
        tokens: &tokens,
        hasher: &hasher,
        count_tokens_now: cache.is_some(),
    };
    let mut counts = Counts::default();
    // Candidates and exclusions as byte records: the first half of the budget in memory,
    // the rest in a temporary file; the other half holds the kept files' shingle sets
    // that deduplication reads over and over. Only the sort keys stay in memory.
    let kept_budget = options.memory_budget / 2;
    let mut store = RecordStore::new(options.memory_budget - kept_budget, &options.spill_dir, JOB);
    let mut keys: Vec<(SortKey, usize)> = Vec::new();
    // Rows that cannot be processed also go to `quarantine/build-finetune/dt=D/`, the
    // lake's convention, with the field at fault and the row, scrubbed, as payload.
    let mut quarantine = QuarantineWriter::create(root, JOB, options.date, hive_core::Shard::ALL)?;
    let mut progress = hive_core::progress::Progress::new("edits read", None, options.quiet);
    let started = std::time::Instant::now();
    let mut replayed = 0u64;
    for date in dates {
        counts.partitions.push(date.to_string());
        let (rates, rate_files) = read_rewrite_rates(root, date, &mut counts.inputs)?;
        for part in committed_parts(root, EDITS, date)? {
            let entry = match &cache {
                Some(cache) => Some(cache.entry(date, &relative(root, &part), &part, &rate_files)?),
                None => None,
            };
            let before = counts.input_rows;
            let mut sink = Sink {
                counts: &mut counts,
                store: &mut store,
                keys: &mut keys,
                quarantine: &mut quarantine,
            };
            let replay = entry.as_ref().and_then(|e| e.open(hive_core::lake::parquet_row_count(&part).ok()?));
            match replay {
                Some(reader) => {
                    replay_edits(root, &part, reader, &mut sink, &mut progress)?;
                    replayed += 1;
                }
                None => read_edits(root, &part, &rates, &work, &mut sink, &mut progress, entry.as_ref())?,
            }
            counts.inputs.push(InputFile {
                table: EDITS,
                file: relative(root, &part),
                rows: counts.input_rows - before,
            });
        }
    }
    progress.finish();
    if let (Some(dir), Some(_)) = (&options.cache_dir, &cache) {
        cache::remove_days_before(dir, options.date.minus_days(options.days - 1));
    }
    tracing::info!(
        rows = counts.input_rows,
        candidates = keys.len(),
        parts_replayed_from_cache = replayed,
        seconds = started.elapsed().as_secs_f64(),
        threads = rayon::current_num_threads(),
        "rows read, filtered and fingerprinted"
    );
    let started = std::time::Instant::now();

    // Dedup in a fixed order (earliest generation first, then event and path, whatever
    // the input order), before the split, so no duplicate can straddle two splits.
    let order = dedup_order(keys);
    let kept = deduplicate(options, &hasher, &mut store, kept_budget, &order, &mut counts)?;
    drop(order);
    tracing::info!(kept = kept.len(), seconds = started.elapsed().as_secs_f64(), "deduplicated");
    let started = std::time::Instant::now();

    counts.quarantined = quarantine.total();
    let quarantine_part = quarantine.commit()?;
    counts.quarantine_file = Some(relative(root, &quarantine_part.path));
    let spill = store.stats();
    if spill.records_spilled > 0 {
        tracing::info!(
            records = spill.records,
            records_spilled = spill.records_spilled,
            bytes_spilled = spill.bytes_spilled,
            "candidate records over the memory budget were spilled to disk"
        );
    }
    let (dir, written) = output::write(root, options, &store, &kept, &counts)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "dataset written");
    Ok((counts, written, dir))
}

/// The candidates' record ids, sorted by their keys.
///
/// `collect` reuses the keys' buffer (48 bytes a candidate) for the 8-byte ids and keeps
/// its capacity, which deduplication would then hold to its end: shrunk, the rest goes
/// back first (about 105 MB at 100,000 generations a night over 7 days: 2.6 million
/// candidates).
fn dedup_order(mut keys: Vec<(SortKey, usize)>) -> Vec<usize> {
    keys.sort_unstable();
    let mut order: Vec<usize> = keys.into_iter().map(|(_, id)| id).collect();
    order.shrink_to_fit();
    order
}

thread_local! {
    /// Where a thread reads a spilled kept set to verify a pair: one allocation per
    /// thread instead of one per verified pair (hundreds of millions at 100,000
    /// generations a night).
    static SET_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Offers the candidates (record ids, in dedup order) to the deduplicator, a batch at a
/// time; counts the duplicates as exclusions. Returns the kept ones, in order.
///
/// Almost all the work is verifying LSH candidate pairs against files kept earlier, so
/// the kept files' shingle sets get a store of their own (`kept_budget` bytes in
/// memory, the rest spilled): a verification reads one compact set, not a whole
/// candidate record, and a pair whose sizes cannot reach the threshold reads nothing.
fn deduplicate(
    options: &FinetuneOptions,
    hasher: &MinHasher,
    store: &mut RecordStore,
    kept_budget: u64,
    order: &[usize],
    counts: &mut Counts,
) -> Result<Vec<usize>, FinetuneError> {
    let mut dedup = Deduplicator::new(&options.config.dedup);
    let mut kept = Vec::new();
    let mut kept_sets = RecordStore::new(kept_budget, &options.spill_dir, JOB);
    let decode = |store: &RecordStore, batch: &[usize]| -> Result<(Vec<Fingerprint>, Vec<Source>), CoreError> {
        let decoded = store
            .get_many(batch)?
            .par_iter()
            .map(|bytes| record::fingerprint(bytes, hasher).ok_or_else(|| corrupt(options)))
            .collect::<Result<Vec<_>, CoreError>>()?;
        Ok(decoded.into_iter().unzip())
    };
    // A pipeline: the next batch's fingerprints are decoded while this batch's
    // sequential part (each file against those kept earlier in the batch) runs.
    let threshold = options.config.dedup.threshold;
    let mut batches = order.chunks(DEDUP_BATCH);
    // Dedup is the longest phase of a large range and reads nothing new: without this,
    // minutes pass between two log lines. The count's pace also shows its cost growing
    // with the files kept before (the later files of the range have more candidates).
    let mut progress = hive_core::progress::Progress::new("candidates deduplicated", Some(order.len() as u64), options.quiet);
    let mut current = match batches.next() {
        Some(batch) => Some((batch, decode(store, batch)?)),
        None => None,
    };
    while let Some((batch, (fingerprints, sources))) = current.take() {
        let in_batch: HashMap<usize, usize> = batch.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let docs: Vec<Document<'_>> = batch
            .iter()
            .zip(&fingerprints)
            .map(|(id, fingerprint)| Document { id: *id, fingerprint })
            .collect();
        // `kept_sets` holds the indexed files' sets in the order indexed: a file kept
        // before this batch is found by its number, one kept earlier in it by its id.
        let stored = &kept_sets;
        let near = |kept, mine: &[u64]| match kept {
            Kept::Stored(number) => SET_BUFFER.with_borrow_mut(|buffer| {
                let bytes = stored.get_in(number as usize, buffer)?;
                let theirs = Decoder::new(bytes).u64s().ok_or_else(|| corrupt(options))?;
                Ok::<_, CoreError>(dedup::at_least(mine, &theirs, threshold))
            }),
            Kept::InBatch(id) => {
                let i = *in_batch.get(&id).ok_or_else(|| corrupt(options))?;
                Ok(dedup::at_least(mine, fingerprints[i].shingles.as_slice(), threshold))
            }
        };
        let screened = dedup.screen(&docs, &near)?;
        let next = batches.next();
        let reader: &RecordStore = store;
        let (next, verdicts) = rayon::join(
            || next.map(|b| decode(reader, b).map(|decoded| (b, decoded))).transpose(),
            || dedup.settle(&docs, screened, &near),
        );
        let verdicts = verdicts?;
        // One verdict per file, or the zip below would drop files without a word.
        if verdicts.len() != batch.len() {
            return Err(FinetuneError::Internal(format!(
                "deduplication gave {} verdicts for a batch of {} files",
                verdicts.len(),
                batch.len()
            )));
        }
        for (((id, verdict), fingerprint), source) in batch.iter().zip(verdicts).zip(&fingerprints).zip(&sources) {
            let reason = match verdict {
                Verdict::Keep => {
                    kept.push(*id);
                    if !fingerprint.shingles.is_empty() {
                        let mut set = Encoder::default();
                        set.u64s(&fingerprint.shingles);
                        kept_sets.push(&set.bytes)?;
                    }
                    continue;
                }
                Verdict::ExactDuplicate => "exact_duplicate",
                Verdict::NearDuplicate => "near_duplicate",
            };
            counts.exclude(store, source, reason)?;
        }
        // The LSH index numbers kept files in 31 bits (its buckets use the top bit), and
        // `Kept::Stored` names a set by that number: past it, a set would be another's.
        if kept_sets.len() != dedup.indexed() || dedup.indexed() >= 1 << 31 {
            return Err(FinetuneError::Internal(format!(
                "deduplication indexed {} files and stored {} kept shingle sets; they must be equal and under 2^31, or a set would be verified against another's",
                dedup.indexed(),
                kept_sets.len()
            )));
        }
        progress.inc(batch.len() as u64);
        current = next?;
    }
    progress.finish();
    counts.dedup = dedup.stats();
    Ok(kept)
}

/// A record the store gave back does not decode: the spill file changed under the run.
fn corrupt(options: &FinetuneOptions) -> CoreError {
    CoreError::io(
        options.spill_dir.join("<build-finetune spill file>"),
        std::io::Error::other("a spilled record does not decode"),
    )
}

/// A scanner of its own when the recipe sets another entropy threshold than the shared
/// scanner's (compiling the rule set again costs a fraction of a second).
fn own_scanner(config: &FinetuneConfig) -> Result<Option<Scanner>, FinetuneError> {
    if (config.secrets.min_entropy - hive_secrets::DEFAULT_MIN_ENTROPY).abs() < f64::EPSILON {
        return Ok(None);
    }
    Scanner::new(config.secrets.min_entropy).map(Some).map_err(|e| {
        FinetuneError::Core(CoreError::InvalidOption {
            name: "config",
            reason: e.to_string(),
        })
    })
}

/// The status of a run that wrote its dataset. Partitions that exist but hold no rows,
/// or rows of which none reaches the train split (all excluded, or all in projects drawn
/// for validation and test): the dataset is still written, so a rerun replaces an earlier
/// one and the exclusions can be read, but there is nothing to train on, and exit 99 lets
/// Airflow skip the submit task downstream.
fn written_status(summary: &FinetuneSummary) -> RunStatus {
    if summary.input_rows == 0 {
        tracing::warn!("the `edits` partitions in range hold no rows: empty dataset written");
        RunStatus::NothingToProcess
    } else if summary.sft_train_examples == 0 {
        tracing::warn!(
            input_rows = summary.input_rows,
            sft_examples = summary.sft_examples,
            excluded = ?summary.excluded,
            "no example reached the train split: dataset written, nothing to train on"
        );
        RunStatus::NothingToProcess
    } else {
        RunStatus::Success
    }
}

fn open(path: &Path, required: &[(&str, ColumnKind)], batch_size: usize) -> Result<ParquetRecordBatchReader, CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    })?;
    check_columns(path, builder.schema(), required)?;
    builder.with_batch_size(batch_size).build().map_err(|source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    })
}

fn next_batch(path: &Path, batch: Result<RecordBatch, arrow::error::ArrowError>) -> Result<RecordBatch, CoreError> {
    batch.map_err(|source| CoreError::Arrow {
        path: path.to_owned(),
        source,
    })
}

/// `(event_id, path) -> rewrite_rate` of one `diff_scores` partition.
type RewriteRates = HashMap<(String, String), Option<f64>>;

/// [`RewriteRates`] of one `diff_scores` partition, and its parts. The join is by
/// key, not by row position, so it holds whatever the order of either table; only the
/// keys and one number per file are held.
fn read_rewrite_rates(root: &Path, date: PartitionDate, inputs: &mut Vec<InputFile>) -> Result<(RewriteRates, Vec<PathBuf>), CoreError> {
    let mut rates = HashMap::new();
    let parts = committed_parts(root, DIFF_SCORES, date)?;
    for part in &parts {
        let reader = open(part, DIFF_COLUMNS, 8192)?;
        let mut rows = 0u64;
        for batch in reader {
            let batch = next_batch(part, batch)?;
            rows += batch.num_rows() as u64;
            let text = |name: &str| typed(&batch, part, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
            let (event_id, path) = (text("event_id")?, text("path")?);
            // Required: without it no wholesale rewrite could be told apart.
            let column = hive_core::columns::column(&batch, part, "rewrite_rate")?;
            let rate = match column.data_type() {
                DataType::Float64 | DataType::Float32 => arrow::compute::cast(column, &DataType::Float64).ok(),
                _ => None,
            }
            .ok_or_else(|| CoreError::WrongColumnType {
                path: part.clone(),
                column: "rewrite_rate".to_owned(),
                expected: "double or float".to_owned(),
                found: column.data_type().to_string(),
            })?;
            let rate = rate.as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..batch.num_rows() {
                if let (Some(e), Some(p)) = (event_id.get(i), path.get(i)) {
                    let r = rate.is_valid(i).then(|| rate.value(i));
                    rates.insert((e.to_owned(), p.to_owned()), r);
                }
            }
        }
        inputs.push(InputFile {
            table: DIFF_SCORES,
            file: relative(root, part),
            rows,
        });
    }
    Ok((rates, parts))
}

/// What the per-row work reads: shared, read-only, by every thread.
struct RowWork<'a> {
    config: &'a FinetuneConfig,
    scanner: &'a Scanner,
    tokens: &'a TokenCounter,
    hasher: &'a MinHasher,
    /// Count every candidate's tokens now, not only those the byte bound cannot clear:
    /// with the outcome cache on, a count made now is made once for all the nights
    /// that replay the day; without it, only kept examples are counted, when written.
    count_tokens_now: bool,
}

/// Where the rows' outcomes go, in input order.
struct Sink<'a> {
    counts: &'a mut Counts,
    store: &'a mut RecordStore,
    keys: &'a mut Vec<(SortKey, usize)>,
    quarantine: &'a mut QuarantineWriter,
}

/// What became of one input row, computed on any thread.
struct RowOutcome {
    source: Source,
    /// Secrets and PII found in the row, by rule.
    found: SecretCounts,
    result: Result<(SortKey, Vec<u8>), Reject>,
    /// The scrubbed row, for the quarantine (only when quarantined).
    payload: Option<Vec<u8>>,
}

/// Rows per batch read: enough work per batch to keep every thread busy.
const BATCH_ROWS: usize = 1024;
/// Candidates deduplicated per batch (verified in parallel against those kept before).
const DEDUP_BATCH: usize = 1024;

/// Reads one `edits` part batch by batch and turns its rows into candidates or
/// exclusions: each batch's rows in parallel, the outcomes taken in row order. With a
/// cache `entry`, the outcomes are also written there for the nights after.
fn read_edits(
    root: &Path,
    part: &Path,
    rates: &HashMap<(String, String), Option<f64>>,
    work: &RowWork<'_>,
    sink: &mut Sink<'_>,
    progress: &mut hive_core::progress::Progress,
    entry: Option<&cache::Entry>,
) -> Result<(), CoreError> {
    let reader = open(part, EDITS_COLUMNS, BATCH_ROWS)?;
    let source_file = relative(root, part);
    let mut writer = entry.and_then(cache::Entry::create);
    let mut source_row = 0u64;
    for batch in reader {
        let batch = next_batch(part, batch)?;
        let text = |name: &str| typed(&batch, part, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
        let row = EditRow {
            event_id: text("event_id")?,
            project_id: text("project_id")?,
            template_id: text("template_id")?,
            template_version: text("template_version")?,
            path: text("path")?,
            language: text("language")?,
            change: text("change")?,
            generated: text("generated_content")?,
            kept: text("final_content")?,
            request: batch.column_by_name("request").and_then(|a| TextColumn::new(a.as_ref())),
            generated_at: typed(&batch, part, "generated_at", ColumnKind::Timestamp, |a| {
                TimestampColumn::new(a.as_ref())
            })?,
            binary: match hive_core::schema::binary_column(&batch) {
                None => None,
                Some(c) => Some(c.as_boolean_opt().cloned().ok_or_else(|| CoreError::WrongColumnType {
                    path: part.to_owned(),
                    column: hive_core::schema::IS_BINARY.to_owned(),
                    expected: "boolean".to_owned(),
                    found: c.data_type().to_string(),
                })?),
            },
        };
        let first_row = source_row;
        let outcomes: Vec<RowOutcome> = (0..batch.num_rows())
            .into_par_iter()
            .map(|i| row.outcome(i, &source_file, first_row + i as u64 + 1, rates, work))
            .collect();
        if let Some(w) = writer.as_mut() {
            let encoded: Option<Vec<Vec<u8>>> = outcomes.par_iter().map(cache::encode).collect();
            let appended = match encoded {
                Some(encoded) => encoded.iter().try_for_each(|bytes| w.append(bytes)),
                None => Err(std::io::Error::other("an outcome the cache cannot encode")),
            };
            if let Err(e) = appended {
                tracing::warn!(part = %part.display(), error = %e, "cannot write the part's outcome cache entry: the part is not cached");
                writer = None;
            }
        }
        source_row += outcomes.len() as u64;
        take_outcomes(sink, &source_file, first_row, outcomes)?;
        progress.inc(batch.num_rows() as u64);
    }
    if let Some(w) = writer {
        let path = entry.map(|e| e.path().to_owned()).unwrap_or_default();
        if let Err(e) = w.finish() {
            tracing::warn!(entry = %path.display(), error = %e, "cannot commit the part's outcome cache entry: the part is not cached");
        }
    }
    Ok(())
}

/// Replays one part's outcomes from its cache entry, batch by batch: what
/// [`read_edits`] would compute, decoded in parallel.
fn replay_edits(
    root: &Path,
    part: &Path,
    mut reader: cache::EntryReader,
    sink: &mut Sink<'_>,
    progress: &mut hive_core::progress::Progress,
) -> Result<(), CoreError> {
    let source_file = relative(root, part);
    let mut source_row = 0u64;
    loop {
        let batch = reader.next_batch(BATCH_ROWS)?;
        if batch.is_empty() {
            return Ok(());
        }
        let outcomes: Vec<RowOutcome> = batch
            .par_iter()
            .map(|bytes| cache::decode(bytes))
            .collect::<Option<_>>()
            .ok_or_else(|| reader.corrupt("an outcome does not decode"))?;
        let first_row = source_row;
        source_row += outcomes.len() as u64;
        let rows = outcomes.len() as u64;
        take_outcomes(sink, &source_file, first_row, outcomes)?;
        progress.inc(rows);
    }
}

/// Takes one batch's outcomes, in row order: counts, candidate records and their sort
/// keys, exclusions, quarantined rows. `first_row` is the rows of the part before the
/// batch.
fn take_outcomes(sink: &mut Sink<'_>, source_file: &str, first_row: u64, outcomes: Vec<RowOutcome>) -> Result<(), CoreError> {
    for (source_row, outcome) in (first_row + 1..).zip(outcomes) {
        sink.counts.input_rows += 1;
        let RowOutcome {
            source,
            found,
            result,
            payload,
        } = outcome;
        if !found.is_empty() {
            sink.counts.rows_with_secrets += 1;
            for (rule, n) in found {
                *sink.counts.secrets.entry(rule).or_default() += n;
            }
        }
        match result {
            Ok((key, record)) => {
                let id = sink.store.push(&record)?;
                sink.keys.push((key, id));
            }
            Err(Reject::Exclude(reason)) => sink.counts.exclude(sink.store, &source, reason)?,
            Err(Reject::Quarantine { reason, message }) => {
                sink.quarantine.push(QuarantineRecord {
                    source_file: source_file.to_owned(),
                    source_row,
                    record_key: source.event_id.clone(),
                    project_id: source.project_id.clone(),
                    reason_code: reason,
                    reason: message,
                    payload,
                })?;
                sink.counts.exclude(sink.store, &source, reason)?;
            }
        }
    }
    Ok(())
}

/// The key columns of one `edits` row.
struct Keys<'a> {
    event_id: &'a str,
    project_id: &'a str,
    template_id: &'a str,
    template_version: &'a str,
    path: &'a str,
    /// Microseconds since the epoch (UTC).
    generated_at: i64,
}

/// Why a row is not a candidate.
enum Reject {
    /// Left out by the recipe (deleted, binary, a filter, the token limit...).
    Exclude(&'static str),
    /// Cannot be processed: also quarantined, with a message naming the field. The
    /// message quotes input only through `hive_secrets::scrub_for_log`; the quarantine
    /// payload is the row, scrubbed.
    Quarantine { reason: &'static str, message: String },
}

impl Reject {
    fn quarantine(reason: &'static str, message: String) -> Self {
        Self::Quarantine { reason, message }
    }
}

/// The columns of one `edits` batch.
struct EditRow<'b> {
    event_id: TextColumn<'b>,
    project_id: TextColumn<'b>,
    template_id: TextColumn<'b>,
    template_version: TextColumn<'b>,
    path: TextColumn<'b>,
    language: TextColumn<'b>,
    change: TextColumn<'b>,
    generated: TextColumn<'b>,
    kept: TextColumn<'b>,
    request: Option<TextColumn<'b>>,
    generated_at: TimestampColumn<'b>,
    binary: Option<arrow::array::BooleanArray>,
}

impl EditRow<'_> {
    /// Everything about row `i` that does not depend on other rows.
    fn outcome(
        &self,
        i: usize,
        source_file: &str,
        source_row: u64,
        rates: &HashMap<(String, String), Option<f64>>,
        work: &RowWork<'_>,
    ) -> RowOutcome {
        let source = self.source(i, source_file, source_row, work.scanner);
        let mut found = SecretCounts::new();
        let result = self.candidate(i, source.clone(), rates, work, &mut found).map(|(key, candidate)| {
            let fp = work.hasher.fingerprint(&candidate.kept);
            (key, record::encode_candidate(&fp, &candidate))
        });
        let payload = matches!(result, Err(Reject::Quarantine { .. })).then(|| self.scrubbed_payload(i, work.scanner));
        RowOutcome {
            source,
            found,
            result,
            payload,
        }
    }

    /// The keys of row `i`, with the free-text ones scrubbed (they are written to the
    /// lineage files; what is found there is not counted again).
    fn source(&self, i: usize, source_file: &str, source_row: u64, scanner: &Scanner) -> Source {
        let scrub = |t: Option<&str>| t.map(|t| scanner.redact(t, None).text);
        Source {
            file: source_file.to_owned(),
            row: source_row,
            event_id: scrub(self.event_id.get(i)),
            project_id: scrub(self.project_id.get(i)),
            template_id: scrub(self.template_id.get(i)),
            template_version: scrub(self.template_version.get(i)),
            path: scrub(self.path.get(i)),
            language: scrub(self.language.get(i)),
            change: scrub(self.change.get(i)),
        }
    }

    /// Row `i` as a JSON object for the quarantine's `payload`: every column read,
    /// each text scrubbed (the kept and generated files with their path's rules), so
    /// the record can be inspected without carrying a secret further.
    fn scrubbed_payload(&self, i: usize, scanner: &Scanner) -> Vec<u8> {
        let path = self.path.get(i);
        let scrub = |t: Option<&str>, file: Option<&str>| t.map(|t| scanner.redact(t, file).text);
        let record = serde_json::json!({
            "event_id": scrub(self.event_id.get(i), None),
            "project_id": scrub(self.project_id.get(i), None),
            "template_id": scrub(self.template_id.get(i), None),
            "template_version": scrub(self.template_version.get(i), None),
            "path": scrub(path, None),
            "language": scrub(self.language.get(i), None),
            "change": scrub(self.change.get(i), None),
            "request": scrub(self.request.as_ref().and_then(|r| r.get(i)), None),
            "generated_content": scrub(self.generated.get(i), path),
            "final_content": scrub(self.kept.get(i), path),
        });
        serde_json::to_vec(&record).unwrap_or_default()
    }

    /// The user turn: what the generator was asked, for which template, file and language.
    fn user_message(&self, i: usize, template_id: &str, template_version: &str, path: &str) -> String {
        let request = self
            .request
            .as_ref()
            .and_then(|r| r.get(i))
            .filter(|r| !r.trim().is_empty())
            .unwrap_or("(no request recorded)");
        let language = self.language.get(i).unwrap_or("other");
        format!("Template: {template_id} (version {template_version})\nFile: {path}\nLanguage: {language}\n\nRequest:\n{request}")
    }

    /// The key columns of row `i`, or why the row cannot be processed.
    fn keys(&self, i: usize) -> Result<Keys<'_>, Reject> {
        let (Some(event_id), Some(project_id), Some(template_id), Some(template_version), Some(path)) = (
            self.event_id.get(i),
            self.project_id.get(i),
            self.template_id.get(i),
            self.template_version.get(i),
            self.path.get(i),
        ) else {
            let null = [
                ("event_id", self.event_id.get(i).is_none()),
                ("project_id", self.project_id.get(i).is_none()),
                ("template_id", self.template_id.get(i).is_none()),
                ("template_version", self.template_version.get(i).is_none()),
                ("path", self.path.get(i).is_none()),
            ]
            .into_iter()
            .find_map(|(name, null)| null.then_some(name))
            .unwrap_or("a key column");
            return Err(Reject::quarantine("malformed", format!("`{null}` is null")));
        };
        let generated_at = match self.generated_at.get(i) {
            Some(Ok(t)) => t.timestamp_micros(),
            Some(Err(message)) => {
                return Err(Reject::quarantine(
                    "malformed",
                    format!(
                        "`generated_at`: {}",
                        hive_secrets::scrub_for_log(&message, hive_secrets::LOG_QUOTE_CHARS)
                    ),
                ));
            }
            None => return Err(Reject::quarantine("malformed", "`generated_at` is null".to_owned())),
        };
        Ok(Keys {
            event_id,
            project_id,
            template_id,
            template_version,
            path,
            generated_at,
        })
    }

    /// Row `i` as a candidate, or the reason it is excluded. Checks run cheapest first;
    /// secrets are scrubbed before the token count, so what is counted is what is
    /// written.
    fn candidate(
        &self,
        i: usize,
        source: Source,
        rates: &RewriteRates,
        work: &RowWork<'_>,
        found_secrets: &mut SecretCounts,
    ) -> Result<(SortKey, Candidate), Reject> {
        let RowWork { config, scanner, .. } = *work;
        let Keys {
            event_id,
            project_id,
            template_id,
            template_version,
            path,
            generated_at,
        } = self.keys(i)?;
        if self.binary.as_ref().is_some_and(|b| b.is_valid(i) && b.value(i)) {
            return Err(Reject::Exclude("binary"));
        }
        let change = self.change.get(i).unwrap_or("");
        match change {
            "deleted" => return Err(Reject::Exclude("deleted")),
            "unchanged" | "modified" => {}
            // Input quoted in a reason is scrubbed and cut short.
            other => {
                let shown = hive_secrets::scrub_for_log(other, 40);
                return Err(Reject::quarantine("malformed", format!("unknown `change` value `{shown}`")));
            }
        }
        let Some(rate) = rates.get(&(event_id.to_owned(), path.to_owned())) else {
            return Err(Reject::quarantine(
                "missing_diff_score",
                format!(
                    "no `diff_scores` row for event `{}` and this path",
                    hive_secrets::scrub_for_log(event_id, 80)
                ),
            ));
        };
        let (Some(kept), Some(generated)) = (self.kept.get(i), self.generated.get(i)) else {
            let column = if self.kept.get(i).is_none() {
                "final_content"
            } else {
                "generated_content"
            };
            return Err(Reject::quarantine(
                "malformed",
                format!("`{column}` is null but `change` is `{change}` and `binary` is false"),
            ));
        };
        if kept.trim().is_empty() {
            return Err(Reject::Exclude("empty"));
        }
        if rate.is_some_and(|r| r > config.max_rewrite_rate) {
            return Err(Reject::Exclude("wholesale_rewrite"));
        }
        quality::check(kept, &config.quality).map_err(Reject::Exclude)?;

        let user = self.user_message(i, template_id, template_version, path);
        // An `unchanged` file's generated side is the kept text: not written twice.
        let generated = (change == "modified").then_some(generated);
        let (user, kept, generated, found) = scrub_example(scanner, path, &user, kept, generated);
        if !found.is_empty() {
            *found_secrets = found;
            if config.secrets.action == SecretAction::Drop {
                return Err(Reject::Exclude("secret"));
            }
        }
        let prompt = [
            Message {
                role: "system",
                content: config.system_prompt.clone(),
            },
            Message {
                role: "user",
                content: user,
            },
        ];
        let answer = Message {
            role: "assistant",
            content: kept,
        };
        let (rejected, no_pair) = match generated {
            None => (None, Some("unchanged")),
            Some(g) if g.trim().is_empty() => (None, Some("empty_generated")),
            Some(g) if g == answer.content => (None, Some("identical_after_scrubbing")),
            Some(g) => (Some(g), None),
        };
        let (sft_tokens, pair_tokens) = early_token_counts(work, &prompt, &answer, rejected.as_deref())?;
        let [_, user] = prompt;
        let key = (generated_at, event_id.into(), path.into());
        Ok((
            key,
            Candidate {
                project_id: project_id.to_owned(),
                source,
                user: user.content,
                kept: answer.content,
                rejected,
                no_pair,
                sft_tokens,
                pair_tokens,
            },
        ))
    }
}

/// The token counts made before dedup: the SFT conversation's and, for a pair, the
/// rejected conversation's (the prompt counted once for both). Without the outcome
/// cache, most examples are far below the limit by the byte bound alone: those are
/// counted when written, and only if dedup keeps them. Over the limit: excluded.
fn early_token_counts(
    work: &RowWork<'_>,
    prompt: &[Message; 2],
    answer: &Message,
    rejected: Option<&str>,
) -> Result<(Option<usize>, Option<usize>), Reject> {
    let (tokens, limit) = (work.tokens, work.config.tokens.max_tokens);
    let prompt_tokens =
        (work.count_tokens_now || tokens.messages_at_most(prompt.iter().chain([answer])) > limit).then(|| tokens.messages(prompt));
    let sft_tokens = prompt_tokens.map(|p| p + tokens.answer(&answer.content));
    if sft_tokens.is_some_and(|n| n > limit) {
        return Err(Reject::Exclude("too_many_tokens"));
    }
    let pair_tokens = match (rejected, prompt_tokens) {
        (Some(g), Some(p)) if work.count_tokens_now => Some(p + tokens.answer(g)),
        _ => None,
    };
    Ok((sft_tokens, pair_tokens))
}

/// The user turn, the kept file and the generated file (when written) with every
/// finding redacted, and the findings per rule. Files are scanned with their path, so
/// gitleaks' path rules and allowlists apply.
fn scrub_example(
    scanner: &Scanner,
    path: &str,
    user: &str,
    kept: &str,
    generated: Option<&str>,
) -> (String, String, Option<String>, SecretCounts) {
    let mut found = SecretCounts::new();
    let mut scrub = |text: &str, file: Option<&str>| {
        let r = scanner.redact(text, file);
        for (rule, n) in r.found {
            *found.entry(rule).or_default() += n;
        }
        r.text
    };
    let user = scrub(user, None);
    let kept = scrub(kept, Some(path));
    let generated = generated.map(|g| scrub(g, Some(path)));
    (user, kept, generated, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte bound that lets most examples skip the tokenizer before dedup is never
    /// below the count, whatever the script, and is exact on the system prompt.
    #[test]
    fn the_byte_bound_is_never_below_the_token_count() {
        let system = "You write code for the platform's templates.";
        let texts = [
            String::new(),
            "fn main() {}\n".to_owned(),
            "    \n\n\t\t  trailing   \n".to_owned(),
            "日本語のコメント // ünïcödé ✓ 🦀🦀🦀 emoji\n".repeat(7),
            "0123456789".repeat(40),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            (0u32..2000).filter_map(char::from_u32).collect(),
            "<|endoftext|> <|im_start|>".to_owned(),
        ];
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let counter = TokenCounter::new(encoding, system);
            for text in &texts {
                let messages = [
                    Message {
                        role: "system",
                        content: system.to_owned(),
                    },
                    Message {
                        role: "user",
                        content: text.clone(),
                    },
                    Message {
                        role: "assistant",
                        content: text.repeat(2),
                    },
                ];
                let exact = counter.messages(&messages);
                let bound = counter.messages_at_most(&messages);
                assert!(exact <= bound, "{encoding:?}: {exact} tokens over the bound {bound} for {text:?}");
                assert!(counter.text(text) <= text.len());
            }
            let only_system = [Message {
                role: "system",
                content: system.to_owned(),
            }];
            assert_eq!(counter.messages(&only_system), counter.messages_at_most(&only_system));
            let tiktoken = match encoding {
                Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
                Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
            };
            assert_eq!(counter.text(system), tiktoken.count_ordinary(system));
        }
    }

    /// Earliest generation first, then event and path (not input order), and the ids'
    /// list holds only itself: deduplication keeps it to its end.
    #[test]
    fn the_dedup_order_sorts_by_key_and_keeps_no_spare_capacity() {
        let key = |at: i64, event: &str, path: &str| (at, Box::<str>::from(event), Box::<str>::from(path));
        let mut keys = vec![
            (key(5, "e1", "b.py"), 0),
            (key(5, "e1", "a.py"), 1),
            (key(3, "e9", "z.py"), 2),
            (key(5, "e0", "z.py"), 3),
            (key(-1, "e5", "a.py"), 4),
        ];
        keys.extend((0..10_000).map(|i| (key(100 + i, "e", "p"), 5 + i as usize)));
        let order = dedup_order(keys);
        assert_eq!(order[..5], [4, 2, 3, 1, 0]);
        assert!(order[5..].iter().zip(5..).all(|(id, expected)| *id == expected));
        assert_eq!(order.capacity(), order.len());
    }
}
