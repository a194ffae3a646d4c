//! The exact digests seen so far, in about 16 bytes per document offered.
//!
//! Every offered document's digest is remembered, removed or kept, so this set grows
//! with the run's input (about 2.6 million candidates at 100,000 generations a night
//! over 7 days). A hash set of 16-byte keys costs 18 to 37 bytes each (hashbrown's load
//! between 44% and 88%, and twice that while it doubles). Here most digests sit in one
//! sorted array found through a directory of their top bits, like [`super::band_index`],
//! and the ones added since the last merge in a small hash set.

use std::collections::HashSet;

use super::PrehashedBuild;

/// Digests the recent set holds at least before it is merged into the sorted array.
const MIN_RECENT: usize = 1 << 14;

/// The recent set is merged once it holds this fraction of the sorted array's digests.
const RECENT_FRACTION: usize = 8;

/// Digests per directory slot, on average, that the directory's size aims at.
const ENTRIES_PER_SLOT: usize = 4;

/// A set of uniformly distributed 128-bit digests.
#[derive(Debug, Default)]
pub(super) struct DigestSet {
    sorted: Vec<u128>,
    /// `directory[p]` is the first digest of `sorted` whose top `bits` bits are at least
    /// `p`; it has `2^bits + 1` slots.
    directory: Vec<u32>,
    bits: u32,
    recent: HashSet<u128, PrehashedBuild>,
}

impl DigestSet {
    /// Adds `digest`; whether it was new.
    pub(super) fn insert(&mut self, digest: u128) -> bool {
        if self.contains_sorted(digest) || !self.recent.insert(digest) {
            return false;
        }
        if self.recent.len() >= MIN_RECENT.max(self.sorted.len() / RECENT_FRACTION) {
            self.merge_recent();
        }
        true
    }

    /// Digests held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    fn prefix(&self, digest: u128) -> usize {
        if self.bits == 0 {
            0
        } else {
            (digest >> (128 - self.bits)) as usize
        }
    }

    fn contains_sorted(&self, digest: u128) -> bool {
        if self.sorted.is_empty() {
            return false;
        }
        let prefix = self.prefix(digest);
        let slot = &self.sorted[self.directory[prefix] as usize..self.directory[prefix + 1] as usize];
        slot.binary_search(&digest).is_ok()
    }

    /// Moves the recent digests into the sorted array and rebuilds the directory.
    fn merge_recent(&mut self) {
        let mut recent: Vec<u128> = self.recent.drain().collect();
        recent.sort_unstable();
        let mut merged = Vec::with_capacity(self.sorted.len() + recent.len());
        let (mut old, mut new) = (self.sorted.iter().peekable(), recent.iter().peekable());
        while let (Some(a), Some(b)) = (old.peek(), new.peek()) {
            if a <= b {
                merged.push(**a);
                old.next();
            } else {
                merged.push(**b);
                new.next();
            }
        }
        merged.extend(old);
        merged.extend(new);
        self.sorted = merged;
        let slots_wanted = (self.sorted.len() / ENTRIES_PER_SLOT).max(1);
        self.bits = slots_wanted.ilog2().min(24);
        let slots = 1usize << self.bits;
        self.directory.clear();
        self.directory.reserve_exact(slots + 1);
        let mut at = 0usize;
        for p in 0..slots {
            while at < self.sorted.len() && self.prefix(self.sorted[at]) < p {
                at += 1;
            }
            self.directory.push(u32::try_from(at).unwrap_or(u32::MAX));
        }
        self.directory.push(u32::try_from(self.sorted.len()).unwrap_or(u32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digests drawn from a small pool repeat often, across merges; every insert says
    /// what a plain hash set says.
    #[test]
    fn inserts_answer_as_a_hash_set_through_merges() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pool: Vec<u128> = (0..50_000)
            .map(|i| match i {
                0 => 0,
                1 => u128::MAX,
                _ => (u128::from(next()) << 64) | u128::from(next()),
            })
            .collect();
        let mut set = DigestSet::default();
        let mut model = HashSet::new();
        for n in 0..120_000u64 {
            let digest = pool[(next() % pool.len() as u64) as usize];
            assert_eq!(set.insert(digest), model.insert(digest), "insert {n}");
        }
        assert_eq!(set.len(), model.len());
        assert!(set.sorted.len() >= 2 * MIN_RECENT, "the recent digests were merged");
        for digest in [0, u128::MAX, pool[7]] {
            assert!(!set.insert(digest) || !model.contains(&digest));
        }
    }
}
