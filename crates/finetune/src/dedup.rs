//! Exact and near-duplicate removal of the kept code, before the split.
//!
//! Exact: SHA-256 of the normalised text (line endings unified, trailing spaces and
//! blank lines dropped). Near: MinHash over token shingles, LSH banding to find
//! candidate pairs, then the true Jaccard similarity of the two shingle sets decides, so
//! a chance band collision never removes a distinct file. Documents are offered in a
//! caller-given deterministic order and the first of a group is kept.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::config::DedupConfig;

/// The outcome for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    ExactDuplicate,
    NearDuplicate,
}

/// The text exact deduplication compares: LF line ends, no trailing whitespace, no
/// blank lines.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_end();
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Tokens: maximal runs of alphanumerics and `_`, and every other non-space character.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if word {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
        if !c.is_whitespace() {
            out.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// The set of shingle hashes of `text` (a text shorter than one shingle is one shingle).
pub fn shingles(text: &str, size: usize) -> HashSet<u64> {
    let toks = tokens(text);
    let mut set = HashSet::new();
    if toks.is_empty() {
        return set;
    }
    let size = size.min(toks.len());
    for window in toks.windows(size) {
        set.insert(xxh3_64(window.join("\u{1f}").as_bytes()));
    }
    set
}

/// Jaccard similarity of two sets.
pub fn jaccard<S: std::hash::BuildHasher>(a: &HashSet<u64, S>, b: &HashSet<u64, S>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let inter = small.iter().filter(|h| large.contains(h)).count();
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// The deduplicator: feed documents in order with [`Deduplicator::offer`].
pub struct Deduplicator {
    config: DedupConfig,
    seeds: Vec<u64>,
    exact: HashSet<[u8; 32]>,
    /// (band, band hash) -> kept documents in that bucket.
    buckets: HashMap<(usize, u64), Vec<usize>>,
    /// Shingle sets of kept documents, by kept index.
    kept: Vec<HashSet<u64>>,
}

impl Deduplicator {
    pub fn new(config: &DedupConfig) -> Self {
        // One seed per permutation, from a SplitMix64 stream of the configured seed.
        let mut state = config.seed;
        let seeds = (0..config.permutations)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            })
            .collect();
        Self {
            config: config.clone(),
            seeds,
            exact: HashSet::new(),
            buckets: HashMap::new(),
            kept: Vec::new(),
        }
    }

    /// Decides on `text` given every document kept so far, and remembers it if kept.
    pub fn offer(&mut self, text: &str) -> Verdict {
        let normalised = normalise(text);
        let digest: [u8; 32] = Sha256::digest(normalised.as_bytes()).into();
        if !self.exact.insert(digest) {
            return Verdict::ExactDuplicate;
        }
        let set = shingles(&normalised, self.config.shingle_size);
        if set.is_empty() {
            return Verdict::Keep;
        }
        let signature: Vec<u64> = self
            .seeds
            .iter()
            .map(|&seed| {
                set.iter()
                    .map(|&h| xxh3_64_with_seed(&h.to_le_bytes(), seed))
                    .min()
                    .unwrap_or(u64::MAX)
            })
            .collect();
        let rows = self.config.permutations / self.config.bands;
        let keys: Vec<(usize, u64)> = signature
            .chunks(rows)
            .enumerate()
            .map(|(band, chunk)| {
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                (band, xxh3_64(&bytes))
            })
            .collect();
        let mut checked = HashSet::new();
        for key in &keys {
            for &other in self.buckets.get(key).map_or(&[][..], Vec::as_slice) {
                if checked.insert(other) && jaccard(&set, &self.kept[other]) >= self.config.threshold {
                    return Verdict::NearDuplicate;
                }
            }
        }
        let index = self.kept.len();
        self.kept.push(set);
        for key in keys {
            self.buckets.entry(key).or_default().push(index);
        }
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(seed: usize, lines: usize) -> String {
        (0..lines)
            .map(|i| {
                format!(
                    "fn handler_{seed}_{i}(request: Request) -> Response {{ route_{i}(request, {}) }}\n",
                    seed * 31 + i
                )
            })
            .collect()
    }

    #[test]
    fn exact_near_and_distinct_are_told_apart() {
        let mut d = Deduplicator::new(&DedupConfig::default());
        let a = file(1, 40);
        assert_eq!(d.offer(&a), Verdict::Keep);
        // Same code with CRLF and trailing spaces: an exact duplicate after normalising.
        assert_eq!(d.offer(&a.replace('\n', "  \r\n")), Verdict::ExactDuplicate);
        // Two lines changed out of forty.
        let near = a.replacen("route_3(", "dispatch_3(", 1).replacen("route_9(", "other_9(", 1);
        assert_eq!(d.offer(&near), Verdict::NearDuplicate);
        // A different file sharing a licence header is kept.
        let header = "// Copyright 2026 Example Corp.\n// Licensed under the Apache License, Version 2.0.\n// You may not use this file except in compliance with the License.\n";
        assert_eq!(d.offer(&format!("{header}{}", file(2, 20))), Verdict::Keep);
        assert_eq!(d.offer(&format!("{header}{}", file(3, 20))), Verdict::Keep);
    }
}
