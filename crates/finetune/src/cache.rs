//! A cache of each `edits` part's row outcomes, so a night recomputes only its new day.
//!
//! `build-finetune --days 7` reads seven days every night, six of which the night before
//! read with the same recipe. What a row becomes (a candidate record, or an exclusion or
//! a quarantine, with the secrets found) is a pure function of the part's bytes, the
//! day's `diff_scores` bytes, the recipe and the program: filters, secret scanning and
//! MinHash, most of the read pass, need not run again. Each part's outcomes are stored
//! under a key that digests all four ([`OutcomeCache::entry`]); a run that finds the
//! entry replays it instead of recomputing. A candidate record holds no shingle set
//! (dedup recomputes it from the kept text, see [`crate::record`]), so an entry is about
//! the size of the part's text compressed, and a record replayed is byte for byte the
//! record computed.
//!
//! An entry is an optimisation, never an input. It is written through a temp file, an
//! fsync and a rename, so a killed run leaves no torn entry; before any of its rows is
//! used its SHA-256 is checked end to end, and it must hold exactly the part's row count.
//! An entry that does not verify (a full disk, a bit flip, a stray file) is removed and
//! the part recomputed, with a warning. Whoever can write the lake can forge an entry
//! that verifies, as they can forge the dataset itself: the cache lives where the
//! datasets live and has their trust, no more (docs/build-finetune.md, "The outcome
//! cache").

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hive_core::spill::{Decoder, Encoder};
use hive_core::{CoreError, PartitionDate};
use sha2::{Digest, Sha256};

use crate::config::FinetuneConfig;
use crate::{Reject, RowOutcome, record};

/// Version of the entry layout; part of every key, so a new layout never reads an old one.
const LAYOUT: &[u8] = b"hive build-finetune outcomes 2\n";
/// File name suffix of an entry.
const SUFFIX: &str = ".outcomes";
/// Largest encoded outcome accepted when replaying (a row's texts and lineage).
const MAX_OUTCOME_BYTES: u64 = 1 << 32;
/// Marks the end of the outcomes; the row count follows.
const END: u64 = u64::MAX;
/// zstd level: fast to write, and text compresses several times over.
const ZSTD_LEVEL: i32 = 1;

/// The reasons a row outcome can carry, so a replayed reason is the program's own
/// `&'static str` (the counts are keyed by them).
pub(crate) const REASONS: &[&str] = &[
    "binary",
    "deleted",
    "empty",
    "wholesale_rewrite",
    "max_line_length",
    "mean_line_length",
    "alphanum_fraction",
    "secret",
    "too_many_tokens",
    "malformed",
    "missing_diff_score",
];

fn reason(text: &str) -> Option<&'static str> {
    REASONS.iter().find(|r| **r == text).copied()
}

/// Where entries live, and the part of every key that does not depend on the part: the
/// layout, the program's own bytes and the recipe.
pub(crate) struct OutcomeCache {
    dir: PathBuf,
    program_and_recipe: [u8; 32],
}

/// One part's entry: where it is, what it was made from.
pub(crate) struct Entry {
    path: PathBuf,
    key: [u8; 32],
}

impl OutcomeCache {
    /// The cache in `dir` for `config`, or `None` (with a warning: the run recomputes
    /// every part) when the running program cannot be read to key it.
    pub(crate) fn new(dir: PathBuf, config: &FinetuneConfig) -> Option<Self> {
        let recipe = serde_json::to_vec(config).ok()?;
        let program = match program_digest() {
            Ok(digest) => digest,
            Err(why) => {
                tracing::warn!(error = %why, "cannot read the running program to key the outcome cache: every part is recomputed");
                return None;
            }
        };
        let mut key = Sha256::new();
        key.update(LAYOUT);
        key.update(program);
        key.update((recipe.len() as u64).to_le_bytes());
        key.update(&recipe);
        Some(Self {
            dir,
            program_and_recipe: key.finalize().into(),
        })
    }

    /// The entry of `part` (at `source_file` relative to the data root) of `date`, read
    /// with the `diff_scores` files `rates`: its key digests the part's and the rates'
    /// bytes.
    pub(crate) fn entry(&self, date: PartitionDate, source_file: &str, part: &Path, rates: &[PathBuf]) -> Result<Entry, CoreError> {
        let mut key = Sha256::new();
        key.update(self.program_and_recipe);
        key.update((source_file.len() as u64).to_le_bytes());
        key.update(source_file.as_bytes());
        for file in std::iter::once(part).chain(rates.iter().map(PathBuf::as_path)) {
            key.update(file_digest(file)?);
        }
        let key: [u8; 32] = key.finalize().into();
        let stem = part.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let path = self.dir.join(format!("dt={date}")).join(format!("{stem}.{}{SUFFIX}", hex(&key)));
        Ok(Entry { path, key })
    }
}

impl Entry {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The entry's outcomes, if it exists and verifies: a regular file (not a symlink)
    /// whose header names this key and whose SHA-256 trailer matches every byte before
    /// it. One that does not verify is removed (and a warning logged): the caller
    /// recomputes the part.
    pub(crate) fn open(&self, rows: u64) -> Option<EntryReader> {
        let meta = std::fs::symlink_metadata(&self.path).ok()?;
        match self.verify(&meta) {
            Ok(reader) => Some(EntryReader {
                path: self.path.clone(),
                zstd: reader,
                expected_rows: rows,
                rows: 0,
                done: false,
            }),
            Err(why) => {
                tracing::warn!(entry = %self.path.display(), why, "outcome cache entry does not verify: removed, the part is recomputed");
                let _ = std::fs::remove_file(&self.path);
                None
            }
        }
    }

    fn verify(&self, meta: &std::fs::Metadata) -> Result<zstd::stream::read::Decoder<'static, BufReader<std::io::Take<File>>>, String> {
        if !meta.file_type().is_file() {
            return Err("not a regular file".to_owned());
        }
        let header = (LAYOUT.len() + 32) as u64;
        let len = meta.len();
        if len < header + 32 {
            return Err(format!("{len} bytes: shorter than a header and a trailer"));
        }
        let mut file = File::open(&self.path).map_err(|e| e.to_string())?;
        let mut head = vec![0u8; header as usize];
        file.read_exact(&mut head).map_err(|e| e.to_string())?;
        if &head[..LAYOUT.len()] != LAYOUT || head[LAYOUT.len()..] != self.key {
            return Err("its header names another layout or key".to_owned());
        }
        let mut digest = Sha256::new();
        digest.update(&head);
        let body = len - header - 32;
        let copied = std::io::copy(&mut (&mut file).take(body), &mut DigestWriter(&mut digest)).map_err(|e| e.to_string())?;
        let mut trailer = [0u8; 32];
        file.read_exact(&mut trailer).map_err(|e| e.to_string())?;
        if copied != body || <[u8; 32]>::from(digest.finalize()) != trailer {
            return Err("its SHA-256 does not match its bytes".to_owned());
        }
        file.seek(SeekFrom::Start(header)).map_err(|e| e.to_string())?;
        zstd::stream::read::Decoder::with_buffer(BufReader::new(file.take(body))).map_err(|e| e.to_string())
    }

    /// A writer of this entry, or `None` (with a warning) when the cache directory
    /// cannot take it: the run goes on without caching this part.
    pub(crate) fn create(&self) -> Option<EntryWriter> {
        match EntryWriter::create(&self.path, &self.key) {
            Ok(writer) => Some(writer),
            Err(e) => {
                tracing::warn!(entry = %self.path.display(), error = %e, "cannot write an outcome cache entry: the part is not cached");
                None
            }
        }
    }
}

/// Replays an entry's outcomes, batch by batch.
pub(crate) struct EntryReader {
    path: PathBuf,
    zstd: zstd::stream::read::Decoder<'static, BufReader<std::io::Take<File>>>,
    expected_rows: u64,
    rows: u64,
    /// The end marker and the row count were read.
    done: bool,
}

impl EntryReader {
    /// Up to `max` encoded outcomes; empty when the entry is done. The entry verified, so
    /// a bad frame or a row count other than the part's is a forged entry or a bug: an
    /// error naming it (and the entry is removed, so a retry recomputes).
    pub(crate) fn next_batch(&mut self, max: usize) -> Result<Vec<Vec<u8>>, CoreError> {
        let mut batch = Vec::new();
        while !self.done && batch.len() < max {
            let len = self.u64()?;
            if len == END {
                let rows = self.u64()?;
                if rows != self.rows || rows != self.expected_rows {
                    return Err(self.corrupt(&format!(
                        "it holds {} rows (it says {rows}) for a part of {}",
                        self.rows, self.expected_rows
                    )));
                }
                self.done = true;
                return Ok(batch);
            }
            if len > MAX_OUTCOME_BYTES || self.rows >= self.expected_rows {
                return Err(self.corrupt("it holds more than the part's rows"));
            }
            let mut bytes = vec![0u8; len as usize];
            self.zstd.read_exact(&mut bytes).map_err(|e| self.corrupt(&e.to_string()))?;
            self.rows += 1;
            batch.push(bytes);
        }
        Ok(batch)
    }

    fn u64(&mut self) -> Result<u64, CoreError> {
        let mut bytes = [0u8; 8];
        self.zstd.read_exact(&mut bytes).map_err(|e| self.corrupt(&e.to_string()))?;
        Ok(u64::from_le_bytes(bytes))
    }

    pub(crate) fn corrupt(&self, why: &str) -> CoreError {
        let _ = std::fs::remove_file(&self.path);
        CoreError::io(
            &self.path,
            std::io::Error::other(format!(
                "outcome cache entry verified but does not decode ({why}): removed; rerun to recompute the part"
            )),
        )
    }
}

/// Writes an entry to a hidden temp file beside it; [`EntryWriter::finish`] renames it
/// into place. Dropped unfinished, it removes the temp file.
pub(crate) struct EntryWriter {
    temp: hive_core::temp::TempPath,
    path: PathBuf,
    zstd: Option<zstd::stream::write::Encoder<'static, HashingWriter<BufWriter<File>>>>,
    rows: u64,
}

impl EntryWriter {
    fn create(path: &Path, key: &[u8; 32]) -> std::io::Result<Self> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        // A day's directory is the cache's own: one that is a symlink was planted, and
        // nothing is written through it.
        if std::fs::symlink_metadata(dir)?.file_type().is_symlink() {
            return Err(std::io::Error::other(format!("`{}` is a symlink", dir.display())));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (file, temp) = hive_core::temp::create_temp(dir, &name)?.into_parts();
        let mut writer = Self {
            temp,
            path: path.to_owned(),
            zstd: None,
            rows: 0,
        };
        let mut out = HashingWriter {
            inner: BufWriter::new(file),
            digest: Sha256::new(),
        };
        out.write_all(LAYOUT)?;
        out.write_all(key)?;
        writer.zstd = Some(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?);
        Ok(writer)
    }

    /// Appends one encoded outcome.
    pub(crate) fn append(&mut self, outcome: &[u8]) -> std::io::Result<()> {
        let zstd = self.zstd.as_mut().ok_or_else(|| std::io::Error::other("entry already finished"))?;
        zstd.write_all(&(outcome.len() as u64).to_le_bytes())?;
        zstd.write_all(outcome)?;
        self.rows += 1;
        Ok(())
    }

    /// Ends the entry: the row count, the SHA-256 trailer, an fsync, the rename, and
    /// the removal of entries of the same part under other keys (stale).
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        let mut zstd = self.zstd.take().ok_or_else(|| std::io::Error::other("entry already finished"))?;
        zstd.write_all(&END.to_le_bytes())?;
        zstd.write_all(&self.rows.to_le_bytes())?;
        let HashingWriter { mut inner, digest } = zstd.finish()?;
        inner.write_all(&digest.finalize())?;
        let file = inner.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        remove_stale_siblings(&self.path);
        if let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name().and_then(|n| n.to_str())) {
            hive_core::temp::remove_abandoned_temps(dir, name);
        }
        if let Some(dir) = self.path.parent() {
            hive_core::lake::sync_dir(dir).map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}

/// Removes the entries of the same part under other keys (its input, the recipe or the
/// program changed), so a day's directory holds one entry per part. (Temp files of runs
/// that died writing this entry go through [`hive_core::temp::remove_abandoned_temps`];
/// those of other keys go with their day, see [`remove_days_before`].)
fn remove_stale_siblings(entry: &Path) {
    let (Some(dir), Some(name)) = (entry.parent(), entry.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let Some(stem) = name.split('.').next() else { return };
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    for other in listing.flatten() {
        let other_name = other.file_name().to_string_lossy().into_owned();
        let same_part = other_name.starts_with(&format!("{stem}.")) && other_name.ends_with(SUFFIX);
        if same_part && other_name != name {
            tracing::info!(file = %other.path().display(), "removing a stale outcome cache entry");
            let _ = std::fs::remove_file(other.path());
        }
    }
}

/// Removes the cache's day directories before `first`: days no window ending on or
/// after this run's date reads again.
pub(crate) fn remove_days_before(dir: &Path, first: PartitionDate) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    for day in listing.flatten() {
        let name = day.file_name().to_string_lossy().into_owned();
        let Some(date) = name.strip_prefix("dt=").and_then(|d| d.parse::<PartitionDate>().ok()) else {
            continue;
        };
        if date < first && day.file_type().is_ok_and(|t| t.is_dir()) {
            tracing::info!(dir = %day.path().display(), "removing outcome cache entries of a day before the range");
            let _ = std::fs::remove_dir_all(day.path());
        }
    }
}

/// An outcome as bytes (a candidate record is stored as it is).
pub(crate) fn encode(outcome: &RowOutcome) -> Option<Vec<u8>> {
    let mut e = Encoder::default();
    record::put_source(&mut e, &outcome.source);
    e.u64(outcome.found.len() as u64);
    for (rule, n) in &outcome.found {
        e.str(rule).u64(*n);
    }
    match &outcome.result {
        Ok(((generated_at, event_id, path), candidate)) => {
            e.u64(0).u64(*generated_at as u64).str(event_id).str(path);
            e.bytes(candidate);
        }
        Err(Reject::Exclude(why)) => {
            reason(why)?;
            e.u64(1).str(why);
        }
        Err(Reject::Quarantine { reason: why, message }) => {
            reason(why)?;
            e.u64(2).str(why).str(message);
        }
    }
    match &outcome.payload {
        None => e.u64(0),
        Some(p) => e.u64(1).bytes(p),
    };
    Some(e.bytes)
}

/// The outcome [`encode`] wrote.
pub(crate) fn decode(bytes: &[u8]) -> Option<RowOutcome> {
    let mut d = Decoder::new(bytes);
    let source = record::take_source(&mut d)?;
    let mut found = crate::SecretCounts::new();
    for _ in 0..d.u64()? {
        let rule = d.str()?.to_owned();
        found.insert(rule, d.u64()?);
    }
    let result = match d.u64()? {
        0 => {
            let generated_at = d.u64()? as i64;
            let event_id = d.str()?.into();
            let path = d.str()?.into();
            let candidate = d.bytes()?.to_vec();
            Ok(((generated_at, event_id, path), candidate))
        }
        1 => Err(Reject::Exclude(reason(d.str()?)?)),
        2 => Err(Reject::Quarantine {
            reason: reason(d.str()?)?,
            message: d.str()?.to_owned(),
        }),
        _ => return None,
    };
    let payload = match d.u64()? {
        0 => None,
        1 => Some(d.bytes()?.to_vec()),
        _ => return None,
    };
    d.is_empty().then_some(RowOutcome {
        source,
        found,
        result,
        payload,
    })
}

/// SHA-256 of the running program's file, once per process: a rebuilt binary (new
/// filters, rules, tokenizer tables) never replays an older one's outcomes.
fn program_digest() -> Result<[u8; 32], String> {
    static DIGEST: OnceLock<Result<[u8; 32], String>> = OnceLock::new();
    DIGEST
        .get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| format!("the running program's path: {e}"))?;
            file_digest(&exe).map_err(|e| {
                format!(
                    "{e}: {}",
                    std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default()
                )
            })
        })
        .clone()
}

fn file_digest(path: &Path) -> Result<[u8; 32], CoreError> {
    let mut file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    let mut digest = Sha256::new();
    std::io::copy(&mut file, &mut DigestWriter(&mut digest)).map_err(|e| CoreError::io(path, e))?;
    Ok(digest.finalize().into())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Feeds what is written to a digest.
struct DigestWriter<'a>(&'a mut Sha256);

impl Write for DigestWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes through, digesting what passes.
struct HashingWriter<W> {
    inner: W,
    digest: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::DedupConfig;
    use crate::dedup::MinHasher;
    use crate::{Candidate, Source};

    fn source(row: u64) -> Source {
        Source {
            file: "edits/dt=2026-10-09/part-0-of-1.parquet".to_owned(),
            row,
            event_id: Some(format!("ev{row}")),
            project_id: Some("p".to_owned()),
            template_id: Some("service".to_owned()),
            template_version: None,
            path: Some("src/ünï.rs".to_owned()),
            language: Some("rust".to_owned()),
            change: Some("modified".to_owned()),
        }
    }

    /// One outcome of each kind, the candidate's record computed as the job computes it.
    fn outcomes(hasher: &MinHasher) -> Vec<RowOutcome> {
        let kept: String = (0..60).map(|i| format!("    let value_{i} = compute({i}, \"kept\");\n")).collect();
        let candidate = Candidate {
            project_id: "p".to_owned(),
            source: source(1),
            user: "Template: service (version 3)".to_owned(),
            kept: kept.clone(),
            rejected: Some("fn main() {}\n".to_owned()),
            no_pair: None,
            sft_tokens: Some(57),
            pair_tokens: Some(31),
        };
        let record = record::encode_candidate(&hasher.fingerprint(&kept), &candidate);
        let mut found = crate::SecretCounts::new();
        found.insert("aws-access-token".to_owned(), 2);
        vec![
            RowOutcome {
                source: source(1),
                found: found.clone(),
                result: Ok(((-1_700_000_000_000_000, "ev1".into(), "src/ünï.rs".into()), record)),
                payload: None,
            },
            RowOutcome {
                source: source(2),
                found,
                result: Err(Reject::Exclude("secret")),
                payload: None,
            },
            RowOutcome {
                source: source(3),
                found: crate::SecretCounts::new(),
                result: Err(Reject::quarantine("malformed", "`generated_at` is null".to_owned())),
                payload: Some(b"{\"event_id\":\"ev3\"}".to_vec()),
            },
        ]
    }

    fn same(a: &RowOutcome, b: &RowOutcome) -> bool {
        let result = match (&a.result, &b.result) {
            (Ok(x), Ok(y)) => x == y,
            (Err(Reject::Exclude(x)), Err(Reject::Exclude(y))) => x == y,
            (Err(Reject::Quarantine { reason, message }), Err(Reject::Quarantine { reason: r2, message: m2 })) => {
                reason == r2 && message == m2
            }
            _ => false,
        };
        let mut sa = Encoder::default();
        record::put_source(&mut sa, &a.source);
        let mut sb = Encoder::default();
        record::put_source(&mut sb, &b.source);
        result && sa.bytes == sb.bytes && a.found == b.found && a.payload == b.payload
    }

    #[test]
    fn outcomes_replay_to_the_records_computed() {
        let hasher = MinHasher::new(&DedupConfig::default());
        for outcome in outcomes(&hasher) {
            let bytes = encode(&outcome).unwrap();
            let back = decode(&bytes).unwrap();
            assert!(same(&outcome, &back));
            assert!(decode(&bytes[..bytes.len() - 1]).is_none());
        }
        // A reason the program does not know is not cached (the part is recomputed).
        let unknown = RowOutcome {
            source: source(4),
            found: crate::SecretCounts::new(),
            result: Err(Reject::Exclude("a reason added without the cache")),
            payload: None,
        };
        assert!(encode(&unknown).is_none());
    }

    /// Every reason literal `lib.rs` and `quality.rs` can give a row is in [`REASONS`].
    #[test]
    fn every_reason_a_row_can_get_is_known_to_the_cache() {
        let mut found = Vec::new();
        for (text, openers) in [
            (include_str!("lib.rs"), &["Reject::Exclude(", "Reject::quarantine("][..]),
            (include_str!("quality.rs"), &["Err("][..]),
        ] {
            for opener in openers {
                for (at, _) in text.match_indices(opener) {
                    let rest = text[at + opener.len()..].trim_start();
                    if let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                        found.push(literal.to_owned());
                    }
                }
            }
        }
        assert!(found.len() >= 10, "{found:?}");
        for literal in found {
            assert!(REASONS.contains(&literal.as_str()), "`{literal}` is missing from cache::REASONS");
        }
    }

    fn entry(dir: &Path) -> Entry {
        let part = dir.join("part-0-of-1.parquet");
        std::fs::write(&part, b"the part's bytes").unwrap();
        let cache = OutcomeCache::new(dir.join("cache"), &FinetuneConfig::default()).unwrap();
        let date: PartitionDate = "2026-10-09".parse().unwrap();
        cache.entry(date, "edits/dt=2026-10-09/part-0-of-1.parquet", &part, &[]).unwrap()
    }

    fn write(entry: &Entry, outcomes: &[RowOutcome]) {
        let mut writer = entry.create().unwrap();
        for outcome in outcomes {
            writer.append(&encode(outcome).unwrap()).unwrap();
        }
        writer.finish().unwrap();
    }

    fn replay(entry: &Entry, rows: u64) -> Result<Vec<RowOutcome>, CoreError> {
        let mut reader = entry.open(rows).unwrap();
        let mut out = Vec::new();
        loop {
            let batch = reader.next_batch(2)?;
            if batch.is_empty() {
                return Ok(out);
            }
            out.extend(batch.iter().map(|b| decode(b).unwrap()));
        }
    }

    #[test]
    fn an_entry_replays_only_whole_verified_and_with_the_parts_row_count() {
        let dir = tempfile::tempdir().unwrap();
        let hasher = MinHasher::new(&DedupConfig::default());
        let entry = entry(dir.path());
        assert!(entry.open(3).is_none(), "no entry yet");
        let written = outcomes(&hasher);
        write(&entry, &written);
        let back = replay(&entry, 3).unwrap();
        assert_eq!(back.len(), 3);
        assert!(written.iter().zip(&back).all(|(a, b)| same(a, b)));
        // Nothing but the entry is left in the day's directory (no temp file).
        let day = entry.path().parent().unwrap();
        assert_eq!(std::fs::read_dir(day).unwrap().count(), 1);

        // An entry that verifies but holds another row count than the part's is an error
        // naming it, and it is removed so that a retry recomputes.
        for rows in [2, 4] {
            write(&entry, &written);
            let Err(e) = replay(&entry, rows) else {
                panic!("{rows} rows: replayed")
            };
            let e = format!(
                "{e}: {}",
                std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default()
            );
            assert!(e.contains(&entry.path().display().to_string()) && e.contains("rows"), "{e}");
            assert!(!entry.path().exists());
        }

        // One flipped byte anywhere: the entry does not verify, is removed, and is a miss.
        write(&entry, &written);
        let mut bytes = std::fs::read(entry.path()).unwrap();
        let len = bytes.len();
        for at in [0, LAYOUT.len() + 5, len / 2, len - 1] {
            bytes[at] ^= 1;
            std::fs::write(entry.path(), &bytes).unwrap();
            assert!(entry.open(3).is_none(), "flipped byte {at} of {len}");
            assert!(!entry.path().exists());
            bytes[at] ^= 1;
        }
        // Cut short: the same.
        std::fs::write(entry.path(), &bytes[..len - 40]).unwrap();
        assert!(entry.open(3).is_none());

        // A symlink in place of an entry is not followed, even to a valid entry.
        write(&entry, &written);
        let elsewhere = dir.path().join("elsewhere.outcomes");
        std::fs::rename(entry.path(), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, entry.path()).unwrap();
        assert!(entry.open(3).is_none());
        assert!(elsewhere.exists(), "the link's target is left alone");

        // A writer dropped unfinished (an error, a full disk) leaves no file.
        let mut writer = entry.create().unwrap();
        writer.append(b"half").unwrap();
        drop(writer);
        assert_eq!(std::fs::read_dir(day).unwrap().count(), 0);

        // A day's directory that is a symlink is not written through.
        let target = dir.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::remove_dir(day).unwrap();
        std::os::unix::fs::symlink(&target, day).unwrap();
        assert!(entry.create().is_none());
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    }

    #[test]
    fn the_key_changes_with_the_parts_bytes_the_rates_and_the_recipe() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("part-0-of-1.parquet");
        let rates = dir.path().join("rates.parquet");
        std::fs::write(&part, b"part").unwrap();
        std::fs::write(&rates, b"rates").unwrap();
        let date: PartitionDate = "2026-10-09".parse().unwrap();
        let key = |config: &FinetuneConfig| {
            let cache = OutcomeCache::new(dir.path().join("cache"), config).unwrap();
            cache.entry(date, "edits/p", &part, std::slice::from_ref(&rates)).unwrap().key
        };
        let config = FinetuneConfig::default();
        let first = key(&config);
        assert_eq!(first, key(&config), "the same inputs give the same key");
        let mut other = config.clone();
        other.tokens.max_tokens += 1;
        assert_ne!(first, key(&other), "recipe");
        std::fs::write(&rates, b"rates!").unwrap();
        let second = key(&config);
        assert_ne!(first, second, "rates");
        std::fs::write(&part, b"part!").unwrap();
        assert_ne!(second, key(&config), "part");
    }
}
