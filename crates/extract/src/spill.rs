//! Where the chosen snapshots' files wait for pass 2: in memory up to a budget, then in
//! an unnamed temporary file.
//!
//! Pass 2 walks the generations in delivery order, and a generation's snapshot can come
//! from any snapshot file of the window, so every needed snapshot file must be at hand
//! until the last generation is compared. Held in memory, that is about one day's
//! `final_content` for the shard. Past `budget_bytes` of content, a snapshot's files are
//! appended to a temporary file instead and read back, one snapshot at a time, when a
//! generation needs them: peak memory no longer grows with the day's size. The file has
//! no name (it disappears when the run ends, even when killed) and lives in the spill
//! directory (`--spill-dir`, else the system's temporary directory).

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use hive_core::CoreError;
use hive_core::spill::{Span, SpillFile};

use crate::compare::SnapshotFiles;

/// Where a snapshot row is: (file index, 1-based row).
pub type SnapshotLoc = (usize, u64);

/// The stored form of a snapshot: in memory, or metadata here and files on disk.
#[derive(Debug)]
enum Entry {
    InMemory(SnapshotFiles),
    OnDisk {
        snapshot_id: String,
        captured_at: DateTime<Utc>,
        at: Span,
    },
}

/// What the store did, for the run's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpillStats {
    /// Snapshots whose files went to disk.
    pub snapshots_spilled: u64,
    /// Bytes written to the spill file.
    pub bytes_spilled: u64,
}

/// The chosen snapshots' needed files, keyed by where the snapshot row is.
pub struct SnapshotStore {
    budget_bytes: u64,
    in_memory_bytes: u64,
    entries: HashMap<SnapshotLoc, Entry>,
    /// hive-core's spill file: unnamed, opened on the first spilled snapshot.
    file: SpillFile,
    stats: SpillStats,
}

impl SnapshotStore {
    /// A store that keeps up to `budget_bytes` of file content in memory and spills the
    /// rest to an unnamed file in `dir`.
    pub fn new(budget_bytes: u64, dir: &Path) -> Self {
        Self {
            budget_bytes,
            in_memory_bytes: 0,
            entries: HashMap::new(),
            file: SpillFile::new(dir, "extract-edits"),
            stats: SpillStats::default(),
        }
    }

    /// Stores a snapshot's files. Snapshots that fit the budget stay in memory; once it
    /// is spent, the rest go to disk.
    pub fn insert(&mut self, loc: SnapshotLoc, files: SnapshotFiles) -> Result<(), CoreError> {
        let SnapshotFiles::Usable {
            snapshot_id,
            captured_at,
            files,
        } = files
        else {
            self.entries.insert(loc, Entry::InMemory(files));
            return Ok(());
        };
        let size: u64 = files.iter().map(|(path, c)| entry_size(path, c)).sum();
        if self.in_memory_bytes + size <= self.budget_bytes {
            self.in_memory_bytes += size;
            let files = SnapshotFiles::Usable {
                snapshot_id,
                captured_at,
                files,
            };
            self.entries.insert(loc, Entry::InMemory(files));
            return Ok(());
        }
        let at = self.append(&files)?;
        self.stats.snapshots_spilled += 1;
        self.stats.bytes_spilled += at.len;
        self.entries.insert(
            loc,
            Entry::OnDisk {
                snapshot_id,
                captured_at,
                at,
            },
        );
        Ok(())
    }

    /// Ends the writing phase. Reads work at any time (hive-core's spill file reads
    /// what it has not written yet from its buffer); kept so the passes stay explicit.
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    pub fn finish_writing(&mut self) -> Result<(), CoreError> {
        Ok(())
    }

    /// The snapshot's files: borrowed when in memory, read back when spilled.
    pub fn get(&self, loc: SnapshotLoc) -> Result<Option<Stored<'_>>, CoreError> {
        match self.entries.get(&loc) {
            None => Ok(None),
            Some(Entry::InMemory(files)) => Ok(Some(Stored::Borrowed(files))),
            Some(Entry::OnDisk {
                snapshot_id,
                captured_at,
                at,
            }) => {
                let bytes = self.file.read(*at)?;
                let files = decode(&bytes).ok_or_else(|| {
                    CoreError::io(
                        Path::new("<extract-edits spill file>"),
                        std::io::Error::other("spill file is corrupt"),
                    )
                })?;
                Ok(Some(Stored::Owned(SnapshotFiles::Usable {
                    snapshot_id: snapshot_id.clone(),
                    captured_at: *captured_at,
                    files,
                })))
            }
        }
    }

    /// What was spilled.
    pub fn stats(&self) -> SpillStats {
        self.stats
    }

    fn append(&mut self, files: &HashMap<String, Result<Vec<u8>, String>>) -> Result<Span, CoreError> {
        self.file.append(&encode(files))
    }
}

/// A snapshot handed out by the store.
pub enum Stored<'a> {
    Borrowed(&'a SnapshotFiles),
    Owned(SnapshotFiles),
}

impl Stored<'_> {
    pub fn files(&self) -> &SnapshotFiles {
        match self {
            Stored::Borrowed(files) => files,
            Stored::Owned(files) => files,
        }
    }
}

/// Bytes an entry takes in memory, near enough for a budget.
fn entry_size(path: &str, content: &Result<Vec<u8>, String>) -> u64 {
    let body = match content {
        Ok(bytes) => bytes.len(),
        Err(message) => message.len(),
    };
    (path.len() + body) as u64
}

/// Files as length-prefixed records, in path order (so the file's bytes do not depend
/// on hashing): path, then 0 and the content, or 1 and the problem.
fn encode(files: &HashMap<String, Result<Vec<u8>, String>>) -> Vec<u8> {
    let mut paths: Vec<&String> = files.keys().collect();
    paths.sort();
    let mut out = Vec::new();
    let mut put = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    for path in paths {
        put(path.as_bytes());
        match &files[path] {
            Ok(content) => {
                put(&[0]);
                put(content);
            }
            Err(problem) => {
                put(&[1]);
                put(problem.as_bytes());
            }
        }
    }
    out
}

/// The inverse of [`encode`]; `None` if the bytes are not what it wrote.
fn decode(mut bytes: &[u8]) -> Option<HashMap<String, Result<Vec<u8>, String>>> {
    fn take<'b>(bytes: &mut &'b [u8]) -> Option<&'b [u8]> {
        let (len, rest) = bytes.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        *bytes = rest;
        Some(value)
    }
    let mut files = HashMap::new();
    while !bytes.is_empty() {
        let path = String::from_utf8(take(&mut bytes)?.to_vec()).ok()?;
        let tag = take(&mut bytes)?;
        let body = take(&mut bytes)?.to_vec();
        let content = match tag {
            [0] => Ok(body),
            [1] => Err(String::from_utf8(body).ok()?),
            _ => return None,
        };
        files.insert(path, content);
    }
    Some(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RowProblem;

    fn usable(id: &str, files: &[(&str, Result<&[u8], &str>)]) -> SnapshotFiles {
        SnapshotFiles::Usable {
            snapshot_id: id.to_owned(),
            captured_at: DateTime::from_timestamp(1_760_000_000, 123_000).expect("valid instant"),
            files: files
                .iter()
                .map(|(p, c)| ((*p).to_owned(), c.map(<[u8]>::to_vec).map_err(str::to_owned)))
                .collect(),
        }
    }

    fn same(a: &SnapshotFiles, b: &SnapshotFiles) -> bool {
        match (a, b) {
            (
                SnapshotFiles::Usable {
                    snapshot_id: ia,
                    captured_at: ta,
                    files: fa,
                },
                SnapshotFiles::Usable {
                    snapshot_id: ib,
                    captured_at: tb,
                    files: fb,
                },
            ) => ia == ib && ta == tb && fa == fb,
            (SnapshotFiles::Unusable(pa), SnapshotFiles::Unusable(pb)) => pa.code == pb.code && pa.message == pb.message,
            _ => false,
        }
    }

    #[test]
    fn spilled_snapshots_read_back_as_they_were_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snapshots = [
            usable("s1", &[("a.rs", Ok(b"fn main() {}\n")), ("b.bin", Ok(b"\0\xff\x00binary"))]),
            usable("s2", &[("empty.txt", Ok(b"")), ("bad.txt", Err("content is not base64"))]),
            usable("s3", &[]),
            SnapshotFiles::Unusable(RowProblem::new("malformed_snapshot", "files is not a list")),
            usable("s4", &[("dir/ünïcode path.md", Ok("é\n".as_bytes()))]),
        ];
        let expected: Vec<SnapshotFiles> = snapshots
            .iter()
            .map(|s| match s {
                SnapshotFiles::Usable {
                    snapshot_id,
                    captured_at,
                    files,
                } => SnapshotFiles::Usable {
                    snapshot_id: snapshot_id.clone(),
                    captured_at: *captured_at,
                    files: files.clone(),
                },
                SnapshotFiles::Unusable(p) => SnapshotFiles::Unusable(RowProblem::new(p.code, p.message.clone())),
            })
            .collect();
        // s1 takes 32 bytes (paths and contents): exactly the budget, so it stays in
        // memory; s2 (37) and s4 (24) do not fit after it; s3 (no files) and the unusable
        // row take nothing.
        let mut store = SnapshotStore::new(32, dir.path());
        for (i, s) in snapshots.into_iter().enumerate() {
            store.insert((0, i as u64 + 1), s).expect("insert");
        }
        store.finish_writing().expect("finish");
        assert_eq!(store.stats().snapshots_spilled, 2);
        assert!(store.stats().bytes_spilled > 0);
        for (i, want) in expected.iter().enumerate() {
            let got = store.get((0, i as u64 + 1)).expect("get").expect("stored");
            assert!(same(got.files(), want), "snapshot {i}: {:?} != {want:?}", got.files());
            let spilled = matches!(got, Stored::Owned(_));
            assert_eq!(spilled, i == 1 || i == 4, "snapshot {i}");
        }
        assert!(store.get((1, 1)).expect("get").is_none());
        // Nothing is left behind in the spill directory: the file has no name.
        assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 0);
    }

    #[test]
    fn a_budget_that_holds_everything_never_opens_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = SnapshotStore::new(u64::MAX, dir.path());
        store.insert((0, 1), usable("s1", &[("a", Ok(b"x"))])).expect("insert");
        store.finish_writing().expect("finish");
        assert_eq!(store.stats(), SpillStats::default());
        assert!(matches!(store.get((0, 1)).expect("get"), Some(Stored::Borrowed(_))));
    }

    #[test]
    fn truncated_or_foreign_bytes_do_not_decode() {
        let files: HashMap<String, Result<Vec<u8>, String>> = [("a".to_owned(), Ok(b"abc".to_vec()))].into();
        let bytes = encode(&files);
        assert_eq!(decode(&bytes), Some(files));
        for cut in 1..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut bad_tag = bytes.clone();
        bad_tag[8 + 1 + 8] = 7;
        assert_eq!(decode(&bad_tag), None);
    }
}
