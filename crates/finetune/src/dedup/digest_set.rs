//! The exact digests seen so far, in about 16 bytes per document offered.
//!
//! Every offered document's digest is remembered, removed or kept, so this set grows
//! with the run's input (about 2.6 million candidates at 100,000 generations a night
//! over 7 days). A hash set of 16-byte keys costs 19 to 39 bytes each (17-byte slots at
//! hashbrown's load between 44% and 88%, and more while it doubles). Here most digests
//! sit in one sorted array found through a directory of their top bits, like
//! [`super::band_index`], and the ones added since the last merge in a small hash set
//! (what both share is in [`super::sorted_array`]).

use std::collections::HashSet;

use super::PrehashedBuild;
use super::sorted_array::{Directory, merge_due, merge_into};

/// A set of uniformly distributed 128-bit digests.
#[derive(Debug, Default)]
pub(super) struct DigestSet {
    sorted: Vec<u128>,
    directory: Directory,
    /// The digests added since `sorted` was last rebuilt.
    recent: HashSet<u128, PrehashedBuild>,
}

impl DigestSet {
    /// Adds `digest`; whether it was new.
    pub(super) fn insert(&mut self, digest: u128) -> bool {
        if self.contains_sorted(digest) || !self.recent.insert(digest) {
            return false;
        }
        if merge_due(self.recent.len(), self.sorted.len()) {
            self.merge_recent();
        }
        true
    }

    /// Digests held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    fn contains_sorted(&self, digest: u128) -> bool {
        self.sorted
            .get(self.directory.span(top(digest)))
            .is_some_and(|slot| slot.binary_search(&digest).is_ok())
    }

    /// Moves the recent digests into the sorted array and rebuilds the directory.
    fn merge_recent(&mut self) {
        let mut recent: Vec<u128> = self.recent.drain().collect();
        recent.sort_unstable();
        merge_into(&mut self.sorted, &recent);
        let sorted = &self.sorted;
        self.directory.rebuild(sorted.len(), |i| top(sorted[i]));
    }
}

/// The top 32 bits of a digest, by which the directory finds it.
fn top(digest: u128) -> u32 {
    (digest >> 96) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digests drawn from a small pool repeat often, across merges; every insert says
    /// what a plain hash set says.
    #[test]
    fn inserts_answer_as_a_hash_set_through_merges() {
        let mut next = crate::dedup::tests::xorshift(0x9E37_79B9_7F4A_7C15u64);
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
        assert!(
            set.sorted.len() >= 2 * super::super::sorted_array::MIN_RECENT,
            "the recent digests were merged"
        );
        for digest in [0, u128::MAX, pool[7]] {
            assert!(!set.insert(digest) || !model.contains(&digest));
        }
    }
}
