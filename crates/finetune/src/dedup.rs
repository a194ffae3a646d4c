//! Exact and near-duplicate removal of the kept code, before the split.
//!
//! Exact: SHA-256 of the normalised text (line endings unified, trailing spaces and
//! blank lines dropped). Near: MinHash over token shingles, LSH banding to find
//! candidate pairs, then the true Jaccard similarity of the two shingle sets decides, so
//! a chance band collision never removes a distinct file. Documents are offered in a
//! caller-given deterministic order and the first of a group is kept.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64;

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

/// The Mersenne prime 2^61 - 1, modulus of the MinHash hash functions.
const MERSENNE_61: u64 = (1 << 61) - 1;

/// `x mod (2^61 - 1)` for `x < 2^123`, without a division.
fn mod_mersenne_61(x: u128) -> u64 {
    let p = u128::from(MERSENNE_61);
    let folded = (x & p) + (x >> 61);
    let folded = (folded & p) + (folded >> 61);
    let r = folded as u64;
    if r >= MERSENNE_61 { r - MERSENNE_61 } else { r }
}

/// The deduplicator: feed documents in order with [`Deduplicator::offer`].
pub struct Deduplicator {
    config: DedupConfig,
    /// One hash function `(a * x + b) mod (2^61 - 1)` per permutation.
    perms: Vec<(u64, u64)>,
    exact: HashSet<[u8; 32]>,
    /// (band, band hash) -> kept documents in that bucket.
    buckets: HashMap<(usize, u64), Vec<usize>>,
    /// Shingle sets of kept documents, by kept index.
    kept: Vec<HashSet<u64>>,
    stats: DedupStats,
}

impl Deduplicator {
    pub fn new(config: &DedupConfig) -> Self {
        // The coefficients come from a SplitMix64 stream of the configured seed.
        let mut state = config.seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let perms = (0..config.permutations)
            .map(|_| (1 + next() % (MERSENNE_61 - 1), next() % MERSENNE_61))
            .collect();
        Self {
            config: config.clone(),
            perms,
            exact: HashSet::new(),
            buckets: HashMap::new(),
            kept: Vec::new(),
            stats: DedupStats::default(),
        }
    }

    /// MinHash signature of a shingle set: for each of the `permutations` hash
    /// functions, the smallest hash of any shingle. Two sets agree on one component with
    /// probability (close to) their Jaccard similarity. The functions are
    /// `(a * x + b) mod (2^61 - 1)` with random `a`, `b`, the family datasketch and
    /// BigCode's near-deduplication use; one multiply-add per shingle and permutation.
    pub fn signature(&self, set: &HashSet<u64>) -> Vec<u64> {
        let mut mins = vec![u64::MAX; self.perms.len()];
        for &h in set {
            let x = u128::from(h % MERSENNE_61);
            for (min, &(a, b)) in mins.iter_mut().zip(&self.perms) {
                let v = mod_mersenne_61(u128::from(a) * x + u128::from(b));
                if v < *min {
                    *min = v;
                }
            }
        }
        mins
    }

    /// The LSH bucket keys of a signature: `bands` runs of `rows` components, each hashed.
    /// Two documents are candidates when they share at least one key.
    pub fn band_keys(&self, signature: &[u64]) -> Vec<(usize, u64)> {
        signature
            .chunks(self.config.rows())
            .enumerate()
            .map(|(band, chunk)| {
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                (band, xxh3_64(&bytes))
            })
            .collect()
    }

    /// Decides on `text` given every document kept so far, and remembers it if kept.
    ///
    /// A new document is compared only with documents that were kept, never with ones
    /// already removed: a chain A ~ B ~ C where A and C are not alike keeps A and C.
    pub fn offer(&mut self, text: &str) -> Verdict {
        let normalised = normalise(text);
        let digest: [u8; 32] = Sha256::digest(normalised.as_bytes()).into();
        if !self.exact.insert(digest) {
            self.stats.exact_duplicates += 1;
            return Verdict::ExactDuplicate;
        }
        let set = shingles(&normalised, self.config.shingle_size);
        if set.is_empty() {
            return Verdict::Keep;
        }
        let keys = self.band_keys(&self.signature(&set));
        // Candidates in the order they were kept, so the verdict and the counts do not
        // depend on hash-map iteration order.
        let mut candidates: Vec<usize> = keys.iter().filter_map(|key| self.buckets.get(key)).flatten().copied().collect();
        candidates.sort_unstable();
        candidates.dedup();
        for other in candidates {
            self.stats.candidate_pairs += 1;
            if jaccard(&set, &self.kept[other]) >= self.config.threshold {
                self.stats.near_duplicates += 1;
                return Verdict::NearDuplicate;
            }
            self.stats.candidates_below_threshold += 1;
        }
        let index = self.kept.len();
        self.kept.push(set);
        for key in keys {
            self.buckets.entry(key).or_default().push(index);
        }
        Verdict::Keep
    }

    /// What the deduplicator did so far.
    pub fn stats(&self) -> DedupStats {
        self.stats
    }
}

/// Counts of one deduplication run, for the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DedupStats {
    pub exact_duplicates: u64,
    pub near_duplicates: u64,
    /// Pairs LSH proposed whose true Jaccard was computed.
    pub candidate_pairs: u64,
    /// Proposed pairs whose true Jaccard was below the threshold: kept, not removed.
    pub candidates_below_threshold: u64,
}

/// Probability that two documents of Jaccard similarity `s` share at least one LSH band
/// (become a candidate pair): `1 - (1 - s^rows)^bands`. One minus this is the chance a
/// true near-duplicate at similarity `s` is missed.
pub fn candidate_probability(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
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

    /// Two sets of `n` elements sharing `shared`: Jaccard `shared / (2n - shared)`.
    fn pair(n: u64, shared: u64, salt: u64) -> (HashSet<u64>, HashSet<u64>, f64) {
        let h = |i: u64| xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), salt);
        let a: HashSet<u64> = (0..n).map(h).collect();
        let b: HashSet<u64> = (n - shared..2 * n - shared).map(h).collect();
        let j = shared as f64 / (2 * n - shared) as f64;
        assert!((jaccard(&a, &b) - j).abs() < 1e-12);
        (a, b, j)
    }

    #[test]
    fn minhash_agreement_estimates_jaccard_and_banding_follows_the_s_curve() {
        // Over many seeds (independent hash families), the share of equal signature
        // components estimates the Jaccard similarity without bias, and the share of
        // pairs sharing a band is 1 - (1 - s^r)^b. Tolerances are 4 standard errors.
        let config = DedupConfig::default();
        let (b, r) = (config.bands, config.rows());
        let seeds = 400u64;
        for shared in [40u64, 70, 100, 130] {
            let (x, y, s) = pair(150, shared, shared);
            let (mut agree, mut candidates) = (0u64, 0u64);
            for seed in 0..seeds {
                let d = Deduplicator::new(&DedupConfig { seed, ..config.clone() });
                let (sx, sy) = (d.signature(&x), d.signature(&y));
                agree += sx.iter().zip(&sy).filter(|(p, q)| p == q).count() as u64;
                let (kx, ky) = (d.band_keys(&sx), d.band_keys(&sy));
                candidates += u64::from(kx.iter().zip(&ky).any(|(p, q)| p == q));
            }
            let n = (seeds * config.permutations as u64) as f64;
            let estimate = agree as f64 / n;
            assert!(
                (estimate - s).abs() < 4.0 * (s * (1.0 - s) / n).sqrt() + 1e-3,
                "s={s}: estimate {estimate}"
            );
            let p = candidate_probability(s, b, r);
            let rate = candidates as f64 / seeds as f64;
            assert!(
                (rate - p).abs() < 4.0 * (p * (1.0 - p) / seeds as f64).sqrt() + 0.01,
                "s={s}: rate {rate} vs {p}"
            );
        }
    }

    #[test]
    fn the_default_s_curve_rarely_misses_a_pair_at_the_threshold() {
        let c = DedupConfig::default();
        let p = candidate_probability(c.threshold, c.bands, c.rows());
        // 1 - (1 - 0.7^4)^32, the figure docs/build-finetune.md quotes.
        assert!((1.0 - p - 1.5e-4).abs() < 0.1e-4, "miss probability {}", 1.0 - p);
    }

    #[test]
    fn a_chain_of_near_duplicates_is_not_over_removed() {
        // A ~ B and B ~ C but A !~ C: with A kept and B removed, C is compared with A
        // only, so it is kept.
        let config = DedupConfig {
            threshold: 0.5,
            ..DedupConfig::default()
        };
        let words = |range: std::ops::Range<usize>| range.map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let (a, b, c) = (words(0..100), words(30..130), words(60..160));
        let set = |t: &str| shingles(&normalise(t), config.shingle_size);
        assert!(jaccard(&set(&a), &set(&b)) >= 0.5 && jaccard(&set(&b), &set(&c)) >= 0.5);
        assert!(jaccard(&set(&a), &set(&c)) < 0.5);
        let mut d = Deduplicator::new(&config);
        assert_eq!(d.offer(&a), Verdict::Keep);
        assert_eq!(d.offer(&b), Verdict::NearDuplicate);
        assert_eq!(d.offer(&c), Verdict::Keep);
    }

    #[test]
    fn mersenne_reduction_equals_the_remainder() {
        let p = u128::from(MERSENNE_61);
        let mut x: u128 = 0x1234_5678_9abc_def0;
        for i in 0..10_000u128 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407 + i)
                >> 5;
            for v in [x, x % (p * p), p - 1, p, p + 1, 2 * p, p * p - 1] {
                let v = v % (1 << 123);
                assert_eq!(u128::from(mod_mersenne_61(v)), v % p, "{v}");
            }
        }
    }
}
