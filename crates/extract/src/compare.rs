//! Comparing a generation's files with a snapshot and writing the `edits` rows.
//!
//! A generation is all or nothing: if any of its files is unusable (bad entry, too
//! large, not UTF-8 text) the whole generation is quarantined, because generation-level
//! scores computed over a subset of its files would be silently wrong.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, LargeStringBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Duration, Utc};

use hive_core::lake::{CommittedPart, PartWriter};
use hive_core::schema::edits_spec;
use hive_core::{CoreError, PartitionDate, Shard};

use crate::language::language_of;
use crate::records::{GenerationRow, RawFile, RowProblem, SnapshotRow};

/// Bytes git inspects for a NUL to call a file binary.
pub const BINARY_SNIFF_BYTES: usize = 8000;

/// git's rule: a NUL byte in the first 8000 bytes.
pub fn is_binary(content: &[u8]) -> bool {
    content.iter().take(BINARY_SNIFF_BYTES).any(|&b| b == 0)
}

/// Removes leading `./` segments: exporters differ on whether they write them.
pub fn normalize_path(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}

/// Why a path cannot be used, if it cannot. A usable path is relative, `/`-separated,
/// with no empty, `.` or `..` segment, and no character that would make it read
/// differently than it is stored: control characters (a newline forges a second line in
/// a log or a listing), bidirectional overrides (U+202E shows `gpj.exe` as `exe.jpg`),
/// backslashes and drive letters (a Windows path names another file on every system).
fn path_problem(path: &str) -> Option<&'static str> {
    let is_bidi_control = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if path.is_empty() {
        Some("is empty")
    } else if path.contains('\0') {
        Some("contains a NUL byte")
    } else if path.chars().any(char::is_control) {
        Some("contains a control character (a newline, a tab, an escape)")
    } else if path.chars().any(is_bidi_control) {
        Some("contains a bidirectional text control (U+202E and the like)")
    } else if path.contains('\\') {
        Some("contains a backslash (a Windows path? write `/`)")
    } else if path.starts_with('/') {
        Some("is absolute")
    } else if path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic() {
        Some("starts with a drive letter")
    } else if path.split('/').any(|seg| seg == "..") {
        Some("leaves the project (`..`)")
    } else if path.split('/').any(|seg| seg.is_empty() || seg == ".") {
        Some("has an empty or `.` segment")
    } else {
        None
    }
}

/// Checks one entry of a `files` list (1-based `entry`): decodable, a usable path, a
/// content. Returns the normalised path and the content.
pub fn check_file_entry(entry: usize, f: &RawFile) -> Result<(&str, &[u8]), RowProblem> {
    if let Some(problem) = &f.problem {
        return Err(RowProblem::new("malformed_file_entry", format!("`files[{entry}]`: {problem}")));
    }
    let Some(raw_path) = f.path.as_deref() else {
        return Err(RowProblem::new(
            "malformed_file_entry",
            format!("`files[{entry}].path` is missing or null"),
        ));
    };
    let path = normalize_path(raw_path);
    if let Some(why) = path_problem(path) {
        return Err(RowProblem::new(
            "malformed_file_entry",
            // Quoted escaped: the path may hold a newline or a U+202E.
            format!("`files[{entry}].path` {raw_path:?} {why}"),
        ));
    }
    let Some(content) = f.content.as_deref() else {
        return Err(RowProblem::new(
            "malformed_file_entry",
            format!("`files[{entry}].content` of `{path}` is missing or null"),
        ));
    };
    Ok((path, content))
}

/// The checks every generation's `files` must pass, whatever the run's options: at least
/// one entry, each usable ([`check_file_entry`]), each path once, text that is UTF-8
/// unless binary by git's rule. Returns (normalised path, content, binary) per entry.
pub fn check_generated_entries(files: &[RawFile]) -> Result<Vec<CheckedFile<'_>>, RowProblem> {
    if files.is_empty() {
        return Err(RowProblem::new("malformed_record", "field `files` is an empty list"));
    }
    let mut seen = BTreeSet::new();
    let mut generated: Vec<CheckedFile<'_>> = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let entry = i + 1;
        let (path, content) = check_file_entry(entry, f)?;
        if !seen.insert(path) {
            return Err(RowProblem::new(
                "malformed_file_entry",
                format!("`files[{entry}].path` `{path}` appears twice"),
            ));
        }
        let binary = is_binary(content);
        if !binary && std::str::from_utf8(content).is_err() {
            return Err(RowProblem::new(
                "invalid_utf8",
                format!("`files[{entry}].content`: generated `{path}` is not valid UTF-8 and has no NUL byte (not binary by git's rule)"),
            ));
        }
        generated.push((path, content, binary));
    }
    Ok(generated)
}

/// The files of a chosen snapshot that some generation needs.
#[derive(Debug)]
pub enum SnapshotFiles {
    Usable {
        snapshot_id: String,
        captured_at: DateTime<Utc>,
        /// Needed path -> content (`Err` when that entry is unusable).
        files: HashMap<String, Result<Vec<u8>, String>>,
    },
    Unusable(RowProblem),
}

impl SnapshotFiles {
    /// Keeps the entries of `decoded` whose normalised path is in `needed`; the first
    /// entry of a path wins.
    pub fn from_row(decoded: Result<SnapshotRow, RowProblem>, needed: &BTreeSet<String>) -> Self {
        let row = match decoded {
            Ok(row) => row,
            Err(problem) => return Self::Unusable(problem),
        };
        let mut files = HashMap::new();
        for f in row.files {
            let Some(path) = f.path.as_deref().map(normalize_path) else {
                continue;
            };
            if !needed.contains(path) || files.contains_key(path) {
                continue;
            }
            let content = match (f.content, f.problem) {
                (Some(c), None) => Ok(c),
                (_, Some(problem)) => Err(problem),
                (None, None) => Err("has no content".to_owned()),
            };
            files.insert(path.to_owned(), content);
        }
        Self::Usable {
            snapshot_id: row.snapshot_id,
            captured_at: row.captured_at,
            files,
        }
    }
}

/// A validated generated file: normalised path, content, binary.
pub type CheckedFile<'g> = (&'g str, &'g [u8], bool);

/// One `edits` row.
struct EditRow {
    path: String,
    change: &'static str,
    binary: bool,
    generated_bytes: i64,
    final_bytes: Option<i64>,
    generated_content: Option<String>,
    final_content: Option<String>,
}

/// Columns shared by every file of a generation.
struct GenerationColumns {
    event_id: String,
    project_id: String,
    template_id: String,
    template_version: String,
    experiment_id: Option<String>,
    variant: Option<String>,
    generated_at: i64,
    window_end: i64,
    snapshot_id: String,
    snapshot_captured_at: i64,
    request: Option<String>,
}

/// Rows or content bytes buffered before a batch is written.
const BATCH_ROWS: usize = 512;
const BATCH_BYTES: usize = 32 << 20;

/// Buffers `edits` rows and writes them to this shard's part.
pub struct EditsWriter {
    part: PartWriter,
    max_file_bytes: u64,
    pending: Vec<(Arc<GenerationColumns>, EditRow)>,
    pending_bytes: usize,
    changes: BTreeMap<&'static str, u64>,
}

impl EditsWriter {
    /// Opens the `edits` part for `date` and `shard`.
    pub fn create(root: &std::path::Path, date: PartitionDate, shard: Shard, max_file_bytes: u64) -> Result<Self, CoreError> {
        Ok(Self {
            part: PartWriter::create(root, edits_spec(), date, shard)?,
            max_file_bytes,
            pending: Vec::new(),
            pending_bytes: 0,
            changes: BTreeMap::new(),
        })
    }

    /// Rows written so far, by `change`.
    pub fn change_counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.changes
    }

    /// Compares `generation` with `snapshot` and buffers its rows. The inner result is
    /// the number of rows, or why the generation is quarantined.
    pub fn add_generation(
        &mut self,
        generation: &GenerationRow,
        snapshot: Option<&SnapshotFiles>,
        window: Duration,
    ) -> Result<Result<u64, RowProblem>, CoreError> {
        let rows = match self.compare(generation, snapshot, window) {
            Ok(rows) => rows,
            Err(problem) => return Ok(Err(problem)),
        };
        let (columns, rows) = rows;
        let columns = Arc::new(columns);
        let count = rows.len() as u64;
        for row in rows {
            *self.changes.entry(row.change).or_default() += 1;
            self.pending_bytes += row.generated_content.as_ref().map_or(0, String::len) + row.final_content.as_ref().map_or(0, String::len);
            self.pending.push((Arc::clone(&columns), row));
        }
        if self.pending.len() >= BATCH_ROWS || self.pending_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(Ok(count))
    }

    fn compare(
        &self,
        g: &GenerationRow,
        snapshot: Option<&SnapshotFiles>,
        window: Duration,
    ) -> Result<(GenerationColumns, Vec<EditRow>), RowProblem> {
        // The generation's own files first: a broken record is reported as such even
        // when there is also no snapshot.
        let generated = self.check_generated_files(g)?;
        let window_end = g.generated_at + window;
        let (snapshot_id, captured_at, rows) = self.compare_with_snapshot(g, &generated, snapshot, window_end)?;
        let columns = GenerationColumns {
            event_id: g.event_id.clone(),
            project_id: g.project_id.clone(),
            template_id: g.template_id.clone(),
            template_version: g.template_version.clone(),
            experiment_id: g.experiment_id.clone(),
            variant: g.variant.clone(),
            generated_at: g.generated_at.timestamp_micros(),
            window_end: window_end.timestamp_micros(),
            snapshot_id: snapshot_id.to_owned(),
            snapshot_captured_at: captured_at.timestamp_micros(),
            request: g.request.clone(),
        };
        Ok((columns, rows))
    }

    /// Validates the generation's file entries (normalised path, content, binary) and
    /// their sizes against `--max-file-bytes`.
    fn check_generated_files<'g>(&self, g: &'g GenerationRow) -> Result<Vec<CheckedFile<'g>>, RowProblem> {
        let generated = check_generated_entries(&g.files)?;
        for &(path, content, _) in &generated {
            if content.len() as u64 > self.max_file_bytes {
                return Err(RowProblem::new(
                    "oversized_content",
                    format!(
                        "generated `{path}` has {} bytes, over the limit of {} (--max-file-bytes)",
                        content.len(),
                        self.max_file_bytes
                    ),
                ));
            }
        }
        Ok(generated)
    }

    /// The rows of a checked generation against its snapshot, with the snapshot's id and
    /// capture time.
    fn compare_with_snapshot<'s>(
        &self,
        g: &GenerationRow,
        generated: &[CheckedFile<'_>],
        snapshot: Option<&'s SnapshotFiles>,
        window_end: DateTime<Utc>,
    ) -> Result<(&'s str, DateTime<Utc>, Vec<EditRow>), RowProblem> {
        let (snapshot_id, captured_at, files) = match snapshot {
            None => {
                return Err(RowProblem::new(
                    "no_snapshot",
                    format!(
                        "project `{}` has no snapshot captured in [{}, {}]",
                        g.project_id,
                        g.generated_at.to_rfc3339(),
                        window_end.to_rfc3339()
                    ),
                ));
            }
            Some(SnapshotFiles::Unusable(problem)) => {
                return Err(RowProblem::new(
                    "malformed_snapshot",
                    format!("the chosen snapshot is unusable: {}", problem.message),
                ));
            }
            Some(SnapshotFiles::Usable {
                snapshot_id,
                captured_at,
                files,
            }) => (snapshot_id, captured_at, files),
        };
        let mut rows = Vec::with_capacity(generated.len());
        for &(path, content, generated_binary) in generated {
            let kept = match files.get(path) {
                None => None,
                Some(Ok(bytes)) => Some(bytes.as_slice()),
                Some(Err(problem)) => {
                    return Err(RowProblem::new(
                        "malformed_snapshot",
                        format!("snapshot `{snapshot_id}` entry `{path}` {problem}"),
                    ));
                }
            };
            if let Some(k) = kept
                && k.len() as u64 > self.max_file_bytes
            {
                return Err(RowProblem::new(
                    "oversized_content",
                    format!(
                        "`{path}` in snapshot `{snapshot_id}` has {} bytes, over the limit of {} (--max-file-bytes)",
                        k.len(),
                        self.max_file_bytes
                    ),
                ));
            }
            let binary = generated_binary || kept.is_some_and(is_binary);
            let final_text = match kept {
                Some(k) if !binary => match std::str::from_utf8(k) {
                    Ok(t) => Some(t.to_owned()),
                    Err(_) => {
                        return Err(RowProblem::new(
                            "invalid_utf8",
                            format!(
                                "`{path}` in snapshot `{snapshot_id}` is not valid UTF-8 and has no NUL byte (not binary by git's rule)"
                            ),
                        ));
                    }
                },
                _ => None,
            };
            let change = match kept {
                None => "deleted",
                Some(k) if k == content => "unchanged",
                Some(_) => "modified",
            };
            rows.push(EditRow {
                path: path.to_owned(),
                change,
                binary,
                generated_bytes: content.len() as i64,
                final_bytes: kept.map(|k| k.len() as i64),
                generated_content: (!binary).then(|| String::from_utf8_lossy(content).into_owned()),
                final_content: final_text,
            });
        }
        Ok((snapshot_id, *captured_at, rows))
    }

    fn flush(&mut self) -> Result<(), CoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len();
        let s = || StringBuilder::with_capacity(n, n * 16);
        let (mut event_id, mut project_id, mut template_id, mut template_version, mut experiment_id, mut variant) =
            (s(), s(), s(), s(), s(), s());
        let ts = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let (mut generated_at, mut window_end, mut captured_at) = (ts(), ts(), ts());
        let mut snapshot_id = s();
        let mut request = LargeStringBuilder::new();
        let (mut path, mut language, mut change) = (s(), s(), s());
        let mut binary = BooleanBuilder::with_capacity(n);
        let (mut generated_bytes, mut final_bytes) = (Int64Builder::with_capacity(n), Int64Builder::with_capacity(n));
        let (mut generated_content, mut final_content) = (LargeStringBuilder::new(), LargeStringBuilder::new());
        for (g, row) in self.pending.drain(..) {
            event_id.append_value(&g.event_id);
            project_id.append_value(&g.project_id);
            template_id.append_value(&g.template_id);
            template_version.append_value(&g.template_version);
            experiment_id.append_option(g.experiment_id.as_deref());
            variant.append_option(g.variant.as_deref());
            generated_at.append_value(g.generated_at);
            window_end.append_value(g.window_end);
            snapshot_id.append_value(&g.snapshot_id);
            captured_at.append_value(g.snapshot_captured_at);
            request.append_option(g.request.as_deref());
            language.append_value(language_of(&row.path));
            path.append_value(&row.path);
            change.append_value(row.change);
            binary.append_value(row.binary);
            generated_bytes.append_value(row.generated_bytes);
            final_bytes.append_option(row.final_bytes);
            generated_content.append_option(row.generated_content.as_deref());
            final_content.append_option(row.final_content.as_deref());
        }
        self.pending_bytes = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(event_id.finish()),
            Arc::new(project_id.finish()),
            Arc::new(template_id.finish()),
            Arc::new(template_version.finish()),
            Arc::new(experiment_id.finish()),
            Arc::new(variant.finish()),
            Arc::new(generated_at.finish()),
            Arc::new(window_end.finish()),
            Arc::new(snapshot_id.finish()),
            Arc::new(captured_at.finish()),
            Arc::new(request.finish()),
            Arc::new(path.finish()),
            Arc::new(language.finish()),
            Arc::new(change.finish()),
            Arc::new(binary.finish()),
            Arc::new(generated_bytes.finish()),
            Arc::new(final_bytes.finish()),
            Arc::new(generated_content.finish()),
            Arc::new(final_content.finish()),
        ];
        let batch = RecordBatch::try_new(self.part.schema(), columns).map_err(|source| CoreError::Arrow {
            path: "edits".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_by_gits_rule() {
        assert!(is_binary(b"PNG\0data"));
        let mut late_nul = vec![b'a'; BINARY_SNIFF_BYTES];
        late_nul.push(0);
        assert!(!is_binary(&late_nul), "a NUL after the first 8000 bytes does not count");
        assert!(!is_binary("h\u{e9}llo".as_bytes()));
    }

    #[test]
    fn paths_are_normalised_and_checked() {
        assert_eq!(normalize_path("././src/a.rs"), "src/a.rs");
        assert!(path_problem("").is_some());
        assert!(path_problem("/etc/passwd").is_some());
        assert!(path_problem("src/../../x").is_some());
        assert!(path_problem("src/a..b.rs").is_none());
        for bad in [
            "src\\main.py",
            "C:/Users/x/a.py",
            "c:a.py",
            ".",
            "src/./a.py",
            "src//a.py",
            "src/",
            "a\nb.py",
            "a\u{1b}[2Jb.py",
            "invoice\u{202e}gpj.exe",
            "x\u{2067}y.py",
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?} accepted");
        }
        for good in [
            "a.py",
            "src/main.rs",
            "docs/.well-known/x",
            "caf\u{e9}/\u{65e5}\u{672c}.md",
            ".env",
            "a b/c d.txt",
        ] {
            assert_eq!(path_problem(good), None, "{good:?} refused");
        }
        assert_eq!(format!("{:?}", "invoice\u{202e}gpj.exe"), "\"invoice\\u{202e}gpj.exe\"");
    }
}
