//! Records kept in memory up to a byte budget, the rest in an unnamed temporary file.
//!
//! Jobs that must hold a night's worth of content until a later pass (extract-edits'
//! snapshots, build-finetune's candidates) keep what fits their `--...-memory` budget in
//! memory and append the rest to one spill file, read back by offset when needed: peak
//! memory no longer grows with the input. The file has no name (it disappears when the
//! run ends, even when killed) and lives in the spill directory (`--spill-dir`, else the
//! system's temporary directory). [`Encoder`] and [`Decoder`] are the length-prefixed
//! byte layout the records use.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::CoreError;

/// Where a record is in the spill file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
}

/// An append-only temporary file, opened on the first write. Reads take `&self`, so
/// threads can share it, and may interleave with writes: the bytes not yet written to
/// the file are read from the write buffer.
pub struct SpillFile {
    dir: PathBuf,
    /// Names the file in errors and the log line, e.g. `build-finetune`.
    owner: &'static str,
    file: Option<File>,
    /// Appended bytes not yet in the file; they start at `flushed`.
    buffer: Vec<u8>,
    flushed: u64,
}

/// Bytes buffered before they are written to the file.
const WRITE_BUFFER: usize = 1 << 20;

/// [`RecordStore::get_many`] reads two spilled records with one read when at most this
/// many bytes lie between them: reading them costs less than a second seek.
pub const READ_GAP: u64 = 64 << 10;

/// The most bytes [`RecordStore::get_many`] reads at once (a longer record is read
/// alone).
pub const READ_SPAN: u64 = 8 << 20;

impl SpillFile {
    /// A spill file in `dir`, not created until something is appended.
    pub fn new(dir: &Path, owner: &'static str) -> Self {
        Self {
            dir: dir.to_owned(),
            owner,
            file: None,
            buffer: Vec::new(),
            flushed: 0,
        }
    }

    /// Appends `bytes`; returns where they are.
    pub fn append(&mut self, bytes: &[u8]) -> Result<Span, CoreError> {
        if self.file.is_none() {
            let file = tempfile::tempfile_in(&self.dir).map_err(|e| self.io_error(e))?;
            tracing::info!(dir = %self.dir.display(), owner = self.owner, "over the memory budget: spilling to a temporary file");
            self.file = Some(file);
        }
        let span = Span {
            offset: self.bytes(),
            len: bytes.len() as u64,
        };
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= WRITE_BUFFER {
            let written = match self.file.as_mut() {
                Some(file) => file.write_all(&self.buffer),
                None => Err(std::io::Error::other("spill file not open")),
            };
            written.map_err(|e| self.io_error(e))?;
            self.flushed += self.buffer.len() as u64;
            self.buffer.clear();
        }
        Ok(span)
    }

    /// Reads back what [`SpillFile::append`] wrote at `span`.
    pub fn read(&self, span: Span) -> Result<Vec<u8>, CoreError> {
        let mut bytes = Vec::new();
        self.read_into(span, &mut bytes)?;
        Ok(bytes)
    }

    /// Reads back what [`SpillFile::append`] wrote at `span` into `bytes` (replacing
    /// what it held): a caller reading many records reuses one allocation.
    pub fn read_into(&self, span: Span, bytes: &mut Vec<u8>) -> Result<(), CoreError> {
        let corrupt = |what: &str| self.io_error(std::io::Error::other(what.to_owned()));
        let len = usize::try_from(span.len).map_err(|_| corrupt("spilled record too large"))?;
        let end = span.offset.checked_add(span.len).ok_or_else(|| corrupt("bad span"))?;
        if end > self.bytes() {
            return Err(corrupt("read past the end of the spill file"));
        }
        bytes.clear();
        bytes.resize(len, 0);
        // The part already in the file, then the part still in the buffer.
        let in_file = usize::try_from(self.flushed.saturating_sub(span.offset).min(span.len)).unwrap_or(len);
        if in_file > 0 {
            let file = self.file.as_ref().ok_or_else(|| corrupt("spill file read before any write"))?;
            file.read_exact_at(&mut bytes[..in_file], span.offset)
                .map_err(|e| self.io_error(e))?;
        }
        if in_file < len {
            let from = usize::try_from(span.offset + in_file as u64 - self.flushed).map_err(|_| corrupt("bad span"))?;
            bytes[in_file..].copy_from_slice(&self.buffer[from..from + (len - in_file)]);
        }
        Ok(())
    }

    /// Bytes appended so far.
    pub fn bytes(&self) -> u64 {
        self.flushed + self.buffer.len() as u64
    }

    fn io_error(&self, source: std::io::Error) -> CoreError {
        CoreError::io(self.dir.join(format!("<{} spill file>", self.owner)), source)
    }
}

/// What a store did, for logs and summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpillStats {
    pub records: u64,
    /// Records that went to disk.
    pub records_spilled: u64,
    /// Bytes written to the spill file.
    pub bytes_spilled: u64,
}

/// Byte records numbered in insertion order: the first ones, up to `budget_bytes`, stay
/// in memory; from the first that does not fit on, they go to a [`SpillFile`].
///
/// Both kinds lie back to back (the in-memory ones in one growing buffer, the spilled
/// ones in the file), so the index is one end offset per record: 8 bytes each, where a
/// boxed slice or a span per record took 24 (and the allocator's header for each
/// in-memory one). build-finetune holds millions of records (4.8 million at 100,000
/// generations a night over 7 days); the index is what grows with them.
pub struct RecordStore {
    budget_bytes: u64,
    /// The in-memory records, back to back. It grows by doubling; once large, the
    /// allocator maps it and grows it by remapping pages (no copy), and the pages past
    /// its end are not touched, so it costs what it holds.
    memory: Vec<u8>,
    /// Where each record ends: in `memory` for the first `in_memory` records, in the
    /// spill file for the rest. A record starts where the one before ends, except the
    /// first of each kind, which starts at 0.
    ends: Vec<u64>,
    in_memory: usize,
    file: SpillFile,
    stats: SpillStats,
}

/// Where [`RecordStore`] keeps a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Bytes `start..end` of the in-memory buffer.
    InMemory(usize, usize),
    OnDisk(Span),
}

impl RecordStore {
    /// A store holding up to `budget_bytes` of records in memory, the rest in `dir`.
    pub fn new(budget_bytes: u64, dir: &Path, owner: &'static str) -> Self {
        Self {
            budget_bytes,
            memory: Vec::new(),
            ends: Vec::new(),
            in_memory: 0,
            file: SpillFile::new(dir, owner),
            stats: SpillStats::default(),
        }
    }

    /// Stores a copy of `bytes`; returns its number (0, 1, ...).
    pub fn push(&mut self, bytes: &[u8]) -> Result<usize, CoreError> {
        let size = bytes.len() as u64;
        let spilling = self.in_memory < self.ends.len();
        if !spilling && self.memory.len() as u64 + size <= self.budget_bytes {
            self.reserve_within_budget(bytes.len());
            self.memory.extend_from_slice(bytes);
            self.ends.push(self.memory.len() as u64);
            self.in_memory += 1;
        } else {
            // Spilled records lie back to back from the file's start: the index finds a
            // record's start at the end of the one before, so check it rather than assume
            // it (an append that failed part way, e.g. on a full disk, leaves the file out
            // of step, and a later record would be read from the wrong offset).
            let expected = if spilling { self.ends.last().copied().unwrap_or(0) } else { 0 };
            let span = self.file.append(bytes)?;
            if span.offset != expected {
                return Err(self.file.io_error(std::io::Error::other(format!(
                    "spill file out of step: record {} would start at byte {} but was written at {}",
                    self.ends.len(),
                    expected,
                    span.offset
                ))));
            }
            self.stats.records_spilled += 1;
            self.stats.bytes_spilled += span.len;
            self.ends.push(span.offset + span.len);
        }
        self.stats.records += 1;
        Ok(self.ends.len() - 1)
    }

    /// Makes room for `more` bytes in memory (which the caller checked fit the budget),
    /// doubling as `Vec` does but never reserving past the budget: a `Vec` left to
    /// double would reserve up to twice the budget, address space that a host with
    /// strict overcommit counts as used.
    fn reserve_within_budget(&mut self, more: usize) {
        let (len, capacity) = (self.memory.len(), self.memory.capacity());
        if len + more <= capacity {
            return;
        }
        let budget = usize::try_from(self.budget_bytes).unwrap_or(usize::MAX);
        let target = capacity.saturating_mul(2).max(4096).min(budget).max(len + more);
        self.memory.reserve_exact(target - len);
    }

    /// Where record `id` is.
    #[inline]
    fn place(&self, id: usize) -> Result<Place, CoreError> {
        let end = *self
            .ends
            .get(id)
            .ok_or_else(|| self.file.io_error(std::io::Error::other(format!("no record {id}"))))?;
        let start = match id.checked_sub(1) {
            Some(before) if id != self.in_memory => self.ends[before],
            _ => 0,
        };
        if id < self.in_memory {
            // Both within the buffer's length, which is a `usize`.
            Ok(Place::InMemory(start as usize, end as usize))
        } else {
            Ok(Place::OnDisk(Span {
                offset: start,
                len: end - start,
            }))
        }
    }

    /// Record `id`: borrowed when in memory, read back when spilled.
    pub fn get(&self, id: usize) -> Result<Cow<'_, [u8]>, CoreError> {
        match self.place(id)? {
            Place::InMemory(start, end) => Ok(Cow::Borrowed(&self.memory[start..end])),
            Place::OnDisk(span) => self.file.read(span).map(Cow::Owned),
        }
    }

    /// Record `id`, borrowed when in memory, read into `buffer` when spilled: for a
    /// caller reading many records one at a time, without an allocation for each.
    pub fn get_in<'a>(&'a self, id: usize, buffer: &'a mut Vec<u8>) -> Result<&'a [u8], CoreError> {
        match self.place(id)? {
            Place::InMemory(start, end) => Ok(&self.memory[start..end]),
            Place::OnDisk(span) => {
                self.file.read_into(span, buffer)?;
                Ok(buffer)
            }
        }
    }

    /// Records `ids`, in that order. The spilled ones are read in file order, and
    /// records lying close together in the file (at most [`READ_GAP`] bytes apart,
    /// [`READ_SPAN`] bytes at most in all) with one read: a pass reading records in
    /// another order than they were stored (by date, not by input file) then reads the
    /// file in long runs instead of seeking for each record, which is what bounds it once
    /// the file is larger than the page cache.
    pub fn get_many(&self, ids: &[usize]) -> Result<Vec<Cow<'_, [u8]>>, CoreError> {
        let mut records: Vec<Cow<'_, [u8]>> = Vec::with_capacity(ids.len());
        // Where each spilled record is, and its place in `ids`.
        let mut spilled: Vec<(Span, usize)> = Vec::new();
        for (place, &id) in ids.iter().enumerate() {
            match self.place(id)? {
                Place::InMemory(start, end) => records.push(Cow::Borrowed(&self.memory[start..end])),
                Place::OnDisk(span) => {
                    spilled.push((span, place));
                    records.push(Cow::Borrowed(&[]));
                }
            }
        }
        spilled.sort_unstable_by_key(|(span, place)| (span.offset, *place));
        // The runs: records that start within the gap of the run's end, while the run
        // stays within the span limit; each with the bytes it covers.
        let mut runs: Vec<(Span, &[(Span, usize)])> = Vec::new();
        let mut rest = spilled.as_slice();
        while let Some(((first, _), _)) = rest.split_first() {
            let mut end = first.offset.saturating_add(first.len);
            let mut taken = 1;
            for (span, _) in &rest[1..] {
                let span_end = span.offset.saturating_add(span.len).max(end);
                if span.offset > end.saturating_add(READ_GAP) || span_end - first.offset > READ_SPAN {
                    break;
                }
                end = span_end;
                taken += 1;
            }
            let (run, later) = rest.split_at(taken);
            let covered = Span {
                offset: first.offset,
                len: end - first.offset,
            };
            runs.push((covered, run));
            rest = later;
        }
        // The runs are read on the pool's threads: where they are not in the page cache,
        // the disk gets as many reads at once as there are threads.
        let read: Vec<Vec<(usize, Vec<u8>)>> = runs
            .par_iter()
            .map(|(covered, run)| self.read_run(*covered, run))
            .collect::<Result<_, CoreError>>()?;
        for (place, record) in read.into_iter().flatten() {
            records[place] = Cow::Owned(record);
        }
        Ok(records)
    }

    /// The records of one run of [`RecordStore::get_many`] (sorted by offset, each
    /// starting at most [`READ_GAP`] after the end of those before), with one read of
    /// `covered`, the bytes from the first record's start to the last end; each with
    /// its place in the caller's list.
    fn read_run(&self, covered: Span, run: &[(Span, usize)]) -> Result<Vec<(usize, Vec<u8>)>, CoreError> {
        let bytes = self.file.read(covered)?;
        run.iter()
            .map(|(span, place)| {
                let from = usize::try_from(span.offset - covered.offset).unwrap_or(usize::MAX);
                let to = from.saturating_add(usize::try_from(span.len).unwrap_or(usize::MAX));
                let record = bytes
                    .get(from..to)
                    .ok_or_else(|| self.file.io_error(std::io::Error::other("bad span")))?;
                Ok((*place, record.to_vec()))
            })
            .collect()
    }

    /// Records stored.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn stats(&self) -> SpillStats {
        self.stats
    }
}

/// Writes the length-prefixed layout [`Decoder`] reads.
#[derive(Debug, Default)]
pub struct Encoder {
    pub bytes: Vec<u8>,
}

impl Encoder {
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A length, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u64(b.len() as u64);
        self.bytes.extend_from_slice(b);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// 0 for `None`, else 1 and the text.
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            None => self.bytes.push(0),
            Some(s) => {
                self.bytes.push(1);
                self.str(s);
            }
        }
        self
    }

    /// A count, then each value.
    pub fn u64s(&mut self, values: &[u64]) -> &mut Self {
        self.u64(values.len() as u64);
        for v in values {
            self.u64(*v);
        }
        self
    }
}

/// Reads what [`Encoder`] wrote; every read is `None` on truncated or foreign bytes.
#[derive(Debug)]
pub struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        let (v, rest) = self.rest.split_first_chunk::<8>()?;
        self.rest = rest;
        Some(u64::from_le_bytes(*v))
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        if self.rest.len() < len {
            return None;
        }
        let (value, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(value)
    }

    pub fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    pub fn opt_str(&mut self) -> Option<Option<&'a str>> {
        let (tag, rest) = self.rest.split_first()?;
        self.rest = rest;
        match tag {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }

    /// Values written by [`Encoder::u64s`], without copying them out.
    #[inline]
    pub fn u64s(&mut self) -> Option<U64s<'a>> {
        let n = usize::try_from(self.u64()?).ok()?;
        let len = n.checked_mul(8)?;
        if self.rest.len() < len {
            return None;
        }
        let (value, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(U64s(value))
    }
}

/// Little-endian `u64`s in place.
///
/// Its accessors are `#[inline]`: near-duplicate verification in build-finetune reads a
/// stored set one value per merge step, and a call per value (another crate's functions
/// are not inlined without it) was a tenth of its time.
#[derive(Debug, Clone, Copy)]
pub struct U64s<'a>(&'a [u8]);

impl<'a> U64s<'a> {
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len() / 8
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Value `i`; panics past the end, like a slice.
    #[inline]
    pub fn get(&self, i: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[8 * i..8 * i + 8]);
        u64::from_le_bytes(b)
    }

    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + 'a {
        self.0.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_stored_in_memory_or_spilled() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 10 bytes of budget: the first two records (4 + 6) stay; from the first that
        // does not fit on, all spill, the empty one and the short one too (records keep
        // their order in each place, which is what lets the index be one offset each).
        let mut store = RecordStore::new(10, dir.path(), "test");
        let records: Vec<Vec<u8>> = vec![b"abcd".to_vec(), b"efghij".to_vec(), b"k".to_vec(), Vec::new(), b"lmnopq".to_vec()];
        for r in &records {
            store.push(r).expect("push");
        }
        // Reads interleaved with writes see what was written.
        assert_eq!(store.get(2).expect("get").as_ref(), b"k");
        store.push(b"late").expect("push");
        for (i, r) in records.iter().chain([&b"late".to_vec()]).enumerate() {
            let got = store.get(i).expect("get");
            assert_eq!(got.as_ref(), r.as_slice(), "record {i}");
            assert_eq!(matches!(got, Cow::Owned(_)), i >= 2, "record {i}");
        }
        assert_eq!(store.stats().records_spilled, 4);
        assert_eq!(store.stats().bytes_spilled, 11);
        assert_eq!(store.len(), 6);
        assert!(store.get(6).is_err());
        // Records past the write buffer are read from the file, later ones from the buffer.
        let big: Vec<u8> = (0..WRITE_BUFFER + 17).map(|i| (i % 251) as u8).collect();
        let a = store.push(&big).expect("push");
        let b = store.push(b"after").expect("push");
        assert_eq!(store.get(a).expect("get").as_ref(), big.as_slice());
        assert_eq!(store.get(b).expect("get").as_ref(), b"after");
        assert_eq!(store.get(4).expect("get").as_ref(), b"lmnopq");
        // Read through one reused buffer, larger and smaller records alike (a longer
        // one read before must not leave its tail).
        let mut buffer = Vec::new();
        for id in [a, 4, b, 0, 2, a, 3] {
            let expected = store.get(id).expect("get").into_owned();
            assert_eq!(store.get_in(id, &mut buffer).expect("get_in"), expected.as_slice(), "record {id}");
        }
        assert!(store.get_in(99, &mut buffer).is_err());
        // The file has no name: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 0);
    }

    #[test]
    fn many_records_read_at_once_are_the_records_read_one_by_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Sizes from empty to past the read span, so runs split on the gap, on the span
        // limit and on a record longer than the limit; the last records stay in the
        // write buffer.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut store = RecordStore::new(5_000, dir.path(), "test");
        let mut records = Vec::new();
        for i in 0..400u64 {
            let len = match i {
                100 => READ_SPAN as usize + 3,
                _ if i % 50 == 7 => usize::try_from(READ_GAP).expect("small") + 1 + usize::try_from(next(1000)).expect("small"),
                _ => usize::try_from(next(3_000)).expect("small"),
            };
            let record: Vec<u8> = (0..len).map(|j| (j as u64 ^ i) as u8).collect();
            store.push(&record).expect("push");
            records.push(record);
        }
        // Most spilled, the first few in memory.
        assert!((300..400).contains(&store.stats().records_spilled), "{:?}", store.stats());
        let ids: Vec<usize> = (0..2_000).map(|_| usize::try_from(next(400)).expect("small")).collect();
        for ids in [&ids[..], &ids[..1], &[], &[3, 3, 399, 0, 100, 101, 99][..]] {
            let got = store.get_many(ids).expect("get_many");
            assert_eq!(got.len(), ids.len());
            for (id, record) in ids.iter().zip(&got) {
                assert_eq!(record.as_ref(), records[*id].as_slice(), "record {id}");
                assert_eq!(store.get(*id).expect("get").as_ref(), record.as_ref());
            }
        }
        let sorted: Vec<usize> = (0..400).collect();
        let got = store.get_many(&sorted).expect("get_many");
        assert!(got.iter().zip(&records).all(|(a, b)| a.as_ref() == b.as_slice()));
        // An unknown id is an error naming it, not a short answer.
        let error = store.get_many(&[1, 400]).expect_err("no record 400");
        let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("no record 400"), "{error}: {cause}");
    }

    #[test]
    fn records_keep_their_bounds_on_both_sides_of_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Empty records first, last and where the store starts spilling, and a store
        // with no budget at all (every record spilled, the first at offset 0).
        for budget in [0, 1, 7, 8, 100] {
            let mut store = RecordStore::new(budget, dir.path(), "test");
            let records: Vec<Vec<u8>> = [0usize, 3, 0, 5, 0, 0, 2, 9, 0]
                .iter()
                .enumerate()
                .map(|(i, &len)| vec![i as u8 + 1; len])
                .collect();
            for (i, r) in records.iter().enumerate() {
                assert_eq!(store.push(r).expect("push"), i);
            }
            for (i, r) in records.iter().enumerate() {
                assert_eq!(store.get(i).expect("get").as_ref(), r.as_slice(), "budget {budget}, record {i}");
            }
            let all: Vec<usize> = (0..records.len()).rev().collect();
            let many = store.get_many(&all).expect("get_many");
            assert!(
                many.iter().zip(all.iter()).all(|(got, &i)| got.as_ref() == records[i].as_slice()),
                "budget {budget}"
            );
            // What stays in memory is a prefix, within the budget, ended by the first
            // record that does not fit.
            let borrowed: Vec<bool> = (0..records.len()).map(|i| matches!(store.get(i), Ok(Cow::Borrowed(_)))).collect();
            let prefix = borrowed.iter().take_while(|b| **b).count();
            assert!(borrowed[prefix..].iter().all(|b| !b), "budget {budget}: {borrowed:?}");
            let in_memory: u64 = records[..prefix].iter().map(|r| r.len() as u64).sum();
            assert!(in_memory <= budget, "budget {budget}: {in_memory} bytes in memory");
            if let Some(first_spilled) = records.get(prefix) {
                assert!(
                    in_memory + first_spilled.len() as u64 > budget,
                    "budget {budget}: record {prefix} would fit"
                );
            }
            assert_eq!(store.stats().records_spilled, (records.len() - prefix) as u64);
            assert_eq!(
                store.stats().bytes_spilled,
                records.iter().map(|r| r.len() as u64).sum::<u64>() - in_memory
            );
        }
    }

    #[test]
    fn memory_is_never_reserved_past_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        for budget in [0u64, 100, 5_000, 70_000, (1 << 20) + 3] {
            let mut store = RecordStore::new(budget, dir.path(), "test");
            let mut widest = 0;
            for i in 0..3_000usize {
                let record = vec![i as u8; 1 + i % 1_000];
                store.push(&record).expect("push");
                widest = widest.max(store.memory.capacity());
                assert!(widest as u64 <= budget, "budget {budget}: {widest} bytes reserved after record {i}");
            }
            assert!(store.stats().records_spilled > 0, "budget {budget}");
            // Growing still doubles: few reallocations, and the memory is used.
            assert!(store.memory.len() as u64 * 2 >= widest as u64 || widest <= 4096, "budget {budget}");
        }
    }

    #[test]
    fn the_encoding_round_trips_and_rejects_truncation() {
        let mut e = Encoder::default();
        e.u64(7)
            .str("ünï")
            .opt_str(None)
            .opt_str(Some("x"))
            .u64s(&[1, u64::MAX])
            .bytes(b"\0\xff");
        let bytes = e.bytes;
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.u64(), Some(7));
        assert_eq!(d.str(), Some("ünï"));
        assert_eq!(d.opt_str(), Some(None));
        assert_eq!(d.opt_str(), Some(Some("x")));
        assert_eq!(d.u64s().map(|v| v.iter().collect::<Vec<_>>()), Some(vec![1, u64::MAX]));
        assert_eq!(d.bytes(), Some(&b"\0\xff"[..]));
        assert!(d.is_empty());
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(&bytes[..cut]);
            let whole = (|| {
                d.u64()?;
                d.str()?;
                d.opt_str()?;
                d.opt_str()?;
                d.u64s()?;
                d.bytes()
            })();
            assert!(whole.is_none(), "cut at {cut}");
        }
    }
}
