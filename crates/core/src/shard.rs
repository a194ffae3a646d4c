//! Scale-out by project: `--shard k/n` processes the projects with
//! `xxh3_64(project_id) % n == k`.
//!
//! Sharding by project keeps every generation and snapshot of a project in the same
//! shard, so a join never crosses shards and the union of n shards' outputs equals the
//! output of one. xxh3 is fixed by its specification, so the assignment is stable across
//! platforms and releases.

use std::fmt;
use std::str::FromStr;

use crate::CoreError;

/// Shard `index` of `count` (0-based): `0/1` is the whole data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// The single shard that owns everything.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; `index < count` and `count >= 1`.
    pub fn new(index: u32, count: u32) -> Result<Self, CoreError> {
        if count == 0 || index >= count {
            return Err(CoreError::InvalidShard {
                value: format!("{index}/{count}"),
                reason: "expected k/n with 0 <= k < n".into(),
            });
        }
        Ok(Self { index, count })
    }

    /// 0-based shard index.
    pub fn index(self) -> u32 {
        self.index
    }

    /// Number of shards.
    pub fn count(self) -> u32 {
        self.count
    }

    /// The shard a project belongs to among `count` shards.
    pub fn index_of(project_id: &str, count: u32) -> u32 {
        (xxhash_rust::xxh3::xxh3_64(project_id.as_bytes()) % u64::from(count)) as u32
    }

    /// Whether this shard owns the project.
    pub fn owns(self, project_id: &str) -> bool {
        Self::index_of(project_id, self.count) == self.index
    }

    /// The part file this shard writes: `part-<k>-of-<n>.parquet`.
    pub fn part_file_name(self) -> String {
        format!("part-{}-of-{}.parquet", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = CoreError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| CoreError::InvalidShard {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let (k, n) = value.split_once('/').ok_or_else(|| bad("expected k/n, e.g. 0/4"))?;
        let k: u32 = k.trim().parse().map_err(|_| bad("k is not a whole number"))?;
        let n: u32 = n.trim().parse().map_err(|_| bad("n is not a whole number"))?;
        Self::new(k, n).map_err(|_| bad("expected k/n with 0 <= k < n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_project_has_exactly_one_owner() {
        for n in 1..6 {
            for p in ["p-1", "p-2", "", "projet-é"] {
                let owners = (0..n).filter(|&k| Shard::new(k, n).expect("valid").owns(p)).count();
                assert_eq!(owners, 1, "project {p:?} with {n} shards");
            }
        }
    }

    #[test]
    fn parses_k_of_n() {
        let s: Shard = "2/4".parse().expect("valid");
        assert_eq!((s.index(), s.count()), (2, 4));
        assert_eq!(s.part_file_name(), "part-2-of-4.parquet");
        for bad in ["4/4", "1/0", "a/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn assignment_is_pinned() {
        // xxh3 is specified; these values must never change or shards would move.
        assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2D06_8005_38D3_94C2);
    }
}
