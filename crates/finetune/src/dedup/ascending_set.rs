//! A set of document numbers that gives them back ascending, without sorting: how a
//! new document's candidates are gathered from its LSH buckets.
//!
//! Each band's bucket lists its documents ascending, but the candidates of a document
//! are the union of 32 such lists, and they must be verified in the order they were
//! kept (the first similar one decides, and the counts stop there). Sorting the
//! gathered list and dropping its repeats was about 16% of deduplication's CPU at
//! 100,000 generations a night (perf, docs/benchmarks.md). Here each number sets a bit,
//! and a bit per word of the level below marks the words in use, up to one word: the
//! numbers are read back by walking only the words in use, in order, clearing them as
//! it goes, so the set is empty again for the next document. It costs one bit per
//! number that may be inserted (about 120 KiB per thread for a million kept files).

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct AscendingSet {
    /// `levels[0]` has a bit per number; `levels[i + 1]` a bit per word of `levels[i]`;
    /// the last level is one word. Every word is 0 between uses.
    levels: Vec<Vec<u64>>,
    /// Numbers below this can be inserted.
    capacity: usize,
}

impl AscendingSet {
    /// Makes room for numbers below `len`. Only called on an empty set.
    pub(super) fn reserve(&mut self, len: usize) {
        debug_assert!(
            self.levels.last().is_none_or(|top| top.iter().all(|w| *w == 0)),
            "reserve on a set still holding numbers"
        );
        if len <= self.capacity {
            return;
        }
        // Doubling keeps the cost of growing with the index constant per number.
        let capacity = len.max(self.capacity * 2).max(64);
        self.levels.clear();
        let mut words = capacity.div_ceil(64);
        loop {
            self.levels.push(vec![0; words]);
            if words == 1 {
                break;
            }
            words = words.div_ceil(64);
        }
        self.capacity = capacity;
    }

    /// Adds `number`, which must be below the reserved length (the deduplicator reserves
    /// the number of indexed files, and its buckets hold only those).
    #[inline]
    pub(super) fn insert(&mut self, number: u32) {
        debug_assert!(
            (number as usize) < self.capacity,
            "candidate {number} past the reserved {}",
            self.capacity
        );
        let mut index = number as usize;
        for level in &mut self.levels {
            let (word, bit) = (index / 64, 1u64 << (index % 64));
            let Some(slot) = level.get_mut(word) else {
                return;
            };
            if *slot & bit != 0 {
                // Set before, so the levels above mark it already.
                return;
            }
            *slot |= bit;
            index = word;
        }
    }

    /// Appends the numbers ascending to `out` and empties the set.
    pub(super) fn drain_into(&mut self, out: &mut Vec<u32>) {
        if let Some(top) = self.levels.len().checked_sub(1) {
            Self::drain_word(&mut self.levels, top, 0, out);
        }
    }

    fn drain_word(levels: &mut [Vec<u64>], level: usize, word: usize, out: &mut Vec<u32>) {
        let Some(slot) = levels.get_mut(level).and_then(|l| l.get_mut(word)) else {
            return;
        };
        let mut bits = std::mem::take(slot);
        while bits != 0 {
            let child = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            match level.checked_sub(1) {
                None => out.push(u32::try_from(child).unwrap_or(u32::MAX)),
                Some(below) => Self::drain_word(levels, below, child, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::tests::xorshift;

    #[test]
    fn numbers_come_back_ascending_without_repeats_and_the_set_empties() {
        let mut next = xorshift(0x5EED_CAFE);
        let mut set = AscendingSet::default();
        let mut out = Vec::new();
        // Growing from a small capacity to a few levels, with dense and sparse draws
        // and the extremes of each size.
        for (len, draws) in [(1usize, 3usize), (64, 200), (65, 5), (5_000, 40), (300_000, 20_000), (300_000, 3)] {
            set.reserve(len);
            let mut expected: Vec<u32> = (0..draws).map(|_| (next() % len as u64) as u32).collect();
            expected.extend([0, (len - 1) as u32]);
            for n in &expected {
                set.insert(*n);
            }
            expected.sort_unstable();
            expected.dedup();
            out.clear();
            set.drain_into(&mut out);
            assert_eq!(out, expected, "capacity for {len}");
            // Empty again: a second drain gives nothing, and every word is clear.
            set.drain_into(&mut out);
            assert_eq!(out, expected);
            assert!(set.levels.iter().flatten().all(|w| *w == 0));
        }
    }

    #[test]
    fn an_empty_set_gives_nothing() {
        let mut out = vec![7];
        AscendingSet::default().drain_into(&mut out);
        assert_eq!(out, [7]);
        let mut set = AscendingSet::default();
        set.reserve(1_000);
        set.drain_into(&mut out);
        assert_eq!(out, [7]);
    }
}
