//! What the LSH bands ([`super::band_index`]) and the exact digests
//! ([`super::digest_set`]) share: most entries in one sorted array found through a
//! directory of their top bits, the entries added since the last merge in a small hash
//! table, merged in place once they reach an eighth of the array (so each entry is
//! copied a constant number of times on average), and the directory rebuilt.

/// Entries the recent part holds at least before it is merged into the sorted array.
pub(super) const MIN_RECENT: usize = 1 << 14;

/// The recent part is merged once it holds this fraction of the sorted array's entries.
const RECENT_FRACTION: usize = 8;

/// Whether `recent` entries are due to be merged into a sorted array of `sorted`.
pub(super) fn merge_due(recent: usize, sorted: usize) -> bool {
    recent >= MIN_RECENT.max(sorted / RECENT_FRACTION)
}

/// Where each run of sorted, uniformly distributed keys starts, by the keys' top bits:
/// a lookup reads one slot and searches the few entries it spans.
#[derive(Debug, Default)]
pub(super) struct Directory {
    /// `starts[p]` is the first entry whose top `bits` bits are at least `p`; it has
    /// `2^bits + 1` slots.
    starts: Vec<u32>,
    bits: u32,
}

impl Directory {
    /// Entries per slot, on average, that the directory's size aims at.
    const ENTRIES_PER_SLOT: usize = 4;

    /// Rebuilds the directory of `len` sorted entries whose top 32 bits are `top(i)`.
    pub(super) fn rebuild(&mut self, len: usize, top: impl Fn(usize) -> u32) {
        self.bits = (len / Self::ENTRIES_PER_SLOT).max(1).ilog2().min(24);
        let slots = 1usize << self.bits;
        self.starts.clear();
        self.starts.reserve_exact(slots + 1);
        let mut entry = 0usize;
        for p in 0..slots {
            while entry < len && self.slot_of(top(entry)) < p {
                entry += 1;
            }
            self.starts.push(u32::try_from(entry).unwrap_or(u32::MAX));
        }
        self.starts.push(u32::try_from(len).unwrap_or(u32::MAX));
    }

    /// The entries whose top 32 bits may be `top` (empty before the first rebuild).
    pub(super) fn span(&self, top: u32) -> std::ops::Range<usize> {
        let slot = self.slot_of(top);
        match (self.starts.get(slot), self.starts.get(slot + 1)) {
            (Some(&lo), Some(&hi)) => lo as usize..hi as usize,
            _ => 0..0,
        }
    }

    fn slot_of(&self, top: u32) -> usize {
        if self.bits == 0 { 0 } else { (top >> (32 - self.bits)) as usize }
    }
}

/// Merges the sorted `new` into the sorted `sorted`, in place from the back: the array
/// grows by exactly `new.len()` (the allocator can extend a large allocation where it
/// lies) and no second array of the old size exists during the merge.
pub(super) fn merge_into<T: Copy + Ord + Default>(sorted: &mut Vec<T>, new: &[T]) {
    let old_len = sorted.len();
    sorted.reserve_exact(new.len());
    sorted.resize(old_len + new.len(), T::default());
    let (mut old, mut from_new) = (old_len, new.len());
    let mut write = sorted.len();
    while from_new > 0 {
        write -= 1;
        if old > 0 && sorted[old - 1] > new[from_new - 1] {
            old -= 1;
            sorted[write] = sorted[old];
        } else {
            from_new -= 1;
            sorted[write] = new[from_new];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_in_place_equals_sorting_the_concatenation() {
        let cases: [(&[u64], &[u64]); 6] = [
            (&[], &[]),
            (&[], &[1, 2]),
            (&[1, 2], &[]),
            (&[1, 3, 5, 7], &[0, 2, 4, 8, 9]),
            (&[5, 5, 6], &[5, 6, 6]),
            (&[10, 20], &[1, 2, 3]),
        ];
        for (sorted, new) in cases {
            let mut merged = sorted.to_vec();
            merge_into(&mut merged, new);
            let mut expected = [sorted, new].concat();
            expected.sort_unstable();
            assert_eq!(merged, expected, "{sorted:?} + {new:?}");
        }
    }
}
