//! One LSH band's index, from band key to the kept documents in that bucket, in about
//! 9 bytes per kept document.
//!
//! A hash table per band held a 9-byte slot per distinct key at a load between 44% and
//! 88% (hashbrown's), plus a `Vec` per bucket of several documents, and doubled (both
//! tables alive) as it grew; it grows with the files a run keeps (about 960,000 at
//! 100,000 generations a night over 7 days). Here most entries sit in one sorted array
//! of `key << 32 | document` (a bucket's members are adjacent, in the order they were
//! kept), found through a directory of the keys' top bits; the entries added since the
//! array was last rebuilt sit in a small hash table and are merged in once they reach
//! an eighth of it, so rebuilding costs a constant number of copies per entry. Lookups
//! see the same members in the same order either way. Measured (docs/benchmarks.md):
//! 73 MiB less at the peak of a 100,000-a-night `--days 7` run, about 55 bytes less
//! per input row with nothing else held.

use std::collections::HashMap;

use super::PrehashedBuild;
use super::sorted_array::{Directory, merge_due, merge_into};

/// The kept documents (indexes, ascending) that share one band key, in 4 bytes: most
/// band keys belong to one document, held inline; a bucket of several has the top bit
/// set and points into [`BandIndex::lists`], where its members lie contiguously.
#[derive(Debug, Clone, Copy)]
struct Bucket(u32);

impl Bucket {
    const LIST: u32 = 1 << 31;
}

/// The index of one band. Documents are numbered from 0 in the order they are kept and
/// must be added in that order, below 2^31.
#[derive(Debug, Default)]
pub(super) struct BandIndex {
    /// `key << 32 | document`, sorted: the documents of a key ascending and adjacent.
    sorted: Vec<u64>,
    directory: Directory,
    /// The entries added since `sorted` was last rebuilt.
    recent: HashMap<u32, Bucket, PrehashedBuild>,
    /// The members of the recent buckets of more than one document.
    lists: Vec<Vec<u32>>,
    recent_entries: usize,
}

impl BandIndex {
    /// Gives `found` the documents of bucket `key` numbered `from` or more, in the order
    /// they were kept.
    #[inline]
    pub(super) fn lookup(&self, key: u32, from: u32, mut found: impl FnMut(u32)) {
        if let Some(slot) = self.sorted.get(self.directory.span(key)) {
            let first = (u64::from(key) << 32) | u64::from(from);
            let start = slot.partition_point(|entry| *entry < first);
            for entry in &slot[start..] {
                if (entry >> 32) as u32 != key {
                    break;
                }
                found(*entry as u32);
            }
        }
        match self.recent.get(&key) {
            Some(Bucket(doc)) if doc & Bucket::LIST == 0 && *doc >= from => found(*doc),
            None => {}
            Some(Bucket(doc)) if doc & Bucket::LIST == 0 => {}
            Some(Bucket(list)) => {
                let members = &self.lists[(list & !Bucket::LIST) as usize];
                let start = members.partition_point(|doc| *doc < from);
                members[start..].iter().for_each(|doc| found(*doc));
            }
        }
    }

    /// Adds kept document `doc` (numbered after every document added before) to bucket
    /// `key`.
    pub(super) fn insert(&mut self, key: u32, doc: u32) {
        let doc = doc & !Bucket::LIST;
        match self.recent.get_mut(&key) {
            None => {
                self.recent.insert(key, Bucket(doc));
            }
            Some(bucket) if bucket.0 & Bucket::LIST != 0 => {
                self.lists[(bucket.0 & !Bucket::LIST) as usize].push(doc);
            }
            Some(bucket) => {
                let list = u32::try_from(self.lists.len()).unwrap_or(u32::MAX) & !Bucket::LIST;
                self.lists.push(vec![bucket.0, doc]);
                *bucket = Bucket(list | Bucket::LIST);
            }
        }
        self.recent_entries += 1;
        if merge_due(self.recent_entries, self.sorted.len()) {
            self.merge_recent();
        }
    }

    /// Entries held: one per document added.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sorted.len() + self.recent_entries
    }

    /// Moves the recent entries into the sorted array and rebuilds the directory. The
    /// recent documents are numbered after every sorted one, so a merge by key keeps
    /// each bucket's members ascending.
    fn merge_recent(&mut self) {
        let mut recent = Vec::with_capacity(self.recent_entries);
        for (&key, &Bucket(bucket)) in &self.recent {
            let high = u64::from(key) << 32;
            if bucket & Bucket::LIST == 0 {
                recent.push(high | u64::from(bucket));
            } else {
                recent.extend(
                    self.lists[(bucket & !Bucket::LIST) as usize]
                        .iter()
                        .map(|doc| high | u64::from(*doc)),
                );
            }
        }
        recent.sort_unstable();
        merge_into(&mut self.sorted, &recent);
        self.recent.clear();
        self.lists.clear();
        self.recent_entries = 0;
        let sorted = &self.sorted;
        self.directory.rebuild(sorted.len(), |i| (sorted[i] >> 32) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A small key space makes buckets of many documents; a large one mostly single
    /// ones. Either way every lookup, before and after merges, returns what a plain map
    /// of vectors returns.
    #[test]
    fn lookups_equal_a_map_of_vectors_through_merges() {
        for key_space in [7u32, 5_000, u32::MAX] {
            let mut index = BandIndex::default();
            let mut model: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            let mut next = crate::dedup::tests::xorshift(0x2545_F491_4F6C_DD1Du64 ^ u64::from(key_space));
            let mut out = Vec::new();
            for doc in 0..60_000u32 {
                let key = (next() % u64::from(key_space)) as u32;
                // Keys at both ends of the range land in the first and last slots.
                let key = match doc % 1_000 {
                    0 => 0,
                    1 => u32::MAX,
                    _ => key,
                };
                index.insert(key, doc);
                model.entry(key).or_default().push(doc);
                if doc % 97 == 0 {
                    let probe = (next() % u64::from(key_space)) as u32;
                    for key in [probe, key, 0, u32::MAX] {
                        let from = (next() % u64::from(doc + 1)) as u32;
                        out.clear();
                        index.lookup(key, from, |doc| out.push(doc));
                        let expected: Vec<u32> = model
                            .get(&key)
                            .map(|docs| docs.iter().copied().filter(|d| *d >= from).collect())
                            .unwrap_or_default();
                        assert_eq!(out, expected, "key {key} from {from} after {doc} documents");
                    }
                }
            }
            assert_eq!(index.len(), 60_000);
            assert!(
                index.sorted.len() >= 3 * super::super::sorted_array::MIN_RECENT,
                "the recent entries were merged three times"
            );
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index = BandIndex::default();
        let mut out = vec![3];
        index.lookup(42, 0, |doc| out.push(doc));
        assert_eq!(out, [3]);
    }
}
