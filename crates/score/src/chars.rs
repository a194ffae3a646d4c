//! Character retention: `1 - Levenshtein(generated, final) / max(chars)`, a finer view
//! than line counts (a one-character fix on a long line is not a rewritten line).
//!
//! Distances are in Unicode scalar values and exact whenever their cost fits a per-pair
//! budget, which covers ordinary files of any size with ordinary edits:
//!
//! 1. The common prefix and suffix are removed (they cost nothing).
//! 2. The line diff gives an upper bound `B` for free: each hunk rewritten on its own,
//!    kept lines untouched, costs at most the longer side of the hunk.
//! 3. rapidfuzz's bit-parallel Levenshtein (Hyyrö 2003) is run inside the Ukkonen band
//!    of width `2B + 1` (the distance cannot exceed `B`), growing the band from 31 by
//!    doubling, so the cost is about `d / 32` word operations per character of the
//!    longer text, where `d` is the true distance.
//! 4. If even the band for `B` is over budget, `B` is tightened by measuring each hunk
//!    exactly (again within the budget, shared by all hunks) and step 3 is retried.
//!
//! Each search uses the widest band its budget affords; when the distance lies beyond
//! it (two large, mostly unrelated files), or a text is longer than
//! [`MAX_EXACT_CHARS`] after the common prefix and suffix are removed, the tightened
//! bound itself is used: the retention is flagged `line_bound` and never overstates
//! what was kept. Worst case per pair: three budgets of word operations (under a second
//! on one core: the first band search, the hunks, the second band search) plus linear
//! passes over the text, and at most 32 MiB of pattern table.

use crate::lines::LineDiff;
use rapidfuzz::distance::levenshtein;

/// Default word operations (64 matrix cells each) one phase of a distance may cost:
/// about a tenth of a second on one core, and enough for an unbanded distance between
/// two texts of 65 536 characters, so every ordinary source file is exact.
pub const DEFAULT_BUDGET: u64 = 1 << 26;

/// Longest text (after removing the common prefix and suffix) given to the exact
/// distance: its bit-parallel pattern table takes about 32 bytes per character, so this
/// caps it at 32 MiB per worker.
pub const MAX_EXACT_CHARS: usize = 1 << 20;

/// The smallest band rapidfuzz starts from.
const FIRST_BAND: usize = 31;

/// How the retention was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    LineBound,
}

impl Method {
    /// The value stored in `char_retention_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::LineBound => "line_bound",
        }
    }
}

/// Word operations of an unbanded distance between `n` and `m` characters.
fn full_cost(n: usize, m: usize) -> u64 {
    let (short, long) = if n < m { (n, m) } else { (m, n) };
    (short as u64).div_ceil(64).max(1) * long as u64
}

/// Word operations of a distance known to be at most `bound`, searched by doubling the
/// band up to it (rapidfuzz's strategy): never more than the unbanded cost.
fn banded_cost(n: usize, m: usize, bound: usize) -> u64 {
    let long = n.max(m) as u64;
    let mut band = FIRST_BAND.min(bound.max(1));
    let mut cost = 0u64;
    loop {
        let words = ((2 * band + 1) as u64).div_ceil(64) + 1;
        cost = cost.saturating_add(words.saturating_mul(long));
        if band >= bound {
            break;
        }
        band = band.saturating_mul(2).min(bound);
    }
    cost.min(full_cost(n, m).saturating_mul(2))
}

/// Removes the common prefix and suffix, on character boundaries.
fn strip_common_affix<'t>(a: &'t str, b: &'t str) -> (&'t str, &'t str) {
    let prefix = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let prefix = (0..=prefix)
        .rev()
        .find(|&i| a.is_char_boundary(i) && b.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.bytes().rev().zip(b.bytes().rev()).take_while(|(x, y)| x == y).count();
    let suffix = (0..=suffix)
        .rev()
        .find(|&i| a.is_char_boundary(a.len() - i) && b.is_char_boundary(b.len() - i))
        .unwrap_or(0);
    (&a[..a.len() - suffix], &b[..b.len() - suffix])
}

/// The widest band, up to `bound`, whose search fits `budget` (0 when none does).
fn affordable_cutoff(n: usize, m: usize, bound: usize, budget: u64) -> usize {
    if banded_cost(n, m, bound) <= budget {
        return bound;
    }
    let mut cutoff = FIRST_BAND.min(bound);
    if banded_cost(n, m, cutoff) > budget {
        return 0;
    }
    while cutoff * 2 < bound && banded_cost(n, m, cutoff * 2) <= budget {
        cutoff *= 2;
    }
    cutoff
}

/// Levenshtein distance in Unicode scalar values, or `None` when finding it would cost
/// more than `budget` word operations or more than [`MAX_EXACT_CHARS`] of memory. The
/// true distance must not exceed `bound` (callers pass a proven upper bound or the
/// longer length). When the band up to `bound` is over budget, `speculate` still
/// searches the widest affordable band, in case the distance is that small. Returns
/// the distance and the cost charged.
fn bounded_distance(a: &str, b: &str, bound: usize, budget: u64, speculate: bool) -> Option<(usize, u64)> {
    let (a, b) = strip_common_affix(a, b);
    let (n, m) = (a.chars().count(), b.chars().count());
    if n == 0 || m == 0 {
        return Some((n.max(m), 0));
    }
    if n.max(m) > MAX_EXACT_CHARS {
        return None;
    }
    let bound = bound.min(n.max(m));
    let cutoff = affordable_cutoff(n, m, bound, budget);
    if cutoff == 0 || (cutoff < bound && !speculate) {
        return None;
    }
    let cost = banded_cost(n, m, cutoff);
    let args = levenshtein::Args::default().score_cutoff(cutoff).score_hint(FIRST_BAND);
    match levenshtein::distance_with_args(a.chars(), b.chars(), &args) {
        Some(distance) => Some((distance, cost)),
        // Over the affordable band: the distance is larger than the budget allows.
        None if cutoff < bound => None,
        // Cannot happen with a proven bound; the bound is still an upper bound.
        None => Some((bound, cost)),
    }
}

/// Upper bound from the hunks: each hunk's own distance, exact while the shared budget
/// lasts, else the longer side of the hunk.
fn hunk_bound(diff: &LineDiff, generated_lines: &[&str], kept_lines: &[&str], mut budget: u64) -> usize {
    let mut bound = 0usize;
    for hunk in &diff.hunks {
        let old: String = generated_lines[hunk.old.clone()].concat();
        let new: String = kept_lines[hunk.new.clone()].concat();
        let longest = old.chars().count().max(new.chars().count());
        let measured = if budget > 0 {
            bounded_distance(&old, &new, longest, budget, false)
        } else {
            None
        };
        bound += match measured {
            Some((distance, cost)) => {
                budget -= cost;
                distance
            }
            None => longest,
        };
    }
    bound
}

/// The retention of `generated` in `kept`, with the method used. `diff` is the line
/// diff of the same pair, and `generated_lines` / `kept_lines` its records. `budget`
/// is the word operations each phase may cost ([`DEFAULT_BUDGET`]); 0 computes only
/// the free line-hunk bound.
pub fn retention(
    generated: &str,
    kept: &str,
    diff: &LineDiff,
    generated_lines: &[&str],
    kept_lines: &[&str],
    budget: u64,
) -> (f64, Method) {
    let longest = generated.chars().count().max(kept.chars().count());
    if longest == 0 {
        return (1.0, Method::Exact);
    }
    let as_retention = |distance: usize| 1.0 - distance.min(longest) as f64 / longest as f64;
    let quick_bound = hunk_bound(diff, generated_lines, kept_lines, 0);
    if quick_bound == 0 {
        // No hunk: the texts are identical.
        return (1.0, Method::Exact);
    }
    if budget == 0 {
        return (as_retention(quick_bound), Method::LineBound);
    }
    if let Some((distance, _)) = bounded_distance(generated, kept, quick_bound, budget, false) {
        return (as_retention(distance), Method::Exact);
    }
    let tight_bound = hunk_bound(diff, generated_lines, kept_lines, budget);
    if let Some((distance, _)) = bounded_distance(generated, kept, tight_bound, budget, true) {
        return (as_retention(distance), Method::Exact);
    }
    (as_retention(tight_bound), Method::LineBound)
}

#[cfg(test)]
#[allow(clippy::format_collect, reason = "fixtures are built line by line")]
mod tests {
    use super::*;
    use crate::lines::{diff_lines, split_lines};

    fn exact(a: &str, b: &str) -> Option<usize> {
        bounded_distance(a, b, usize::MAX, u64::MAX, false).map(|(d, _)| d)
    }

    /// Textbook dynamic programming, for checking.
    fn reference(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let next = (diagonal + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
                diagonal = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    }

    #[test]
    fn exact_distance_matches_textbook_values() {
        assert_eq!(exact("kitten", "sitting"), Some(3));
        assert_eq!(exact("", "abc"), Some(3));
        assert_eq!(exact("flaw", "lawn"), Some(2));
        // Characters, not bytes: é is one edit.
        assert_eq!(exact("café", "cafe"), Some(1));
        assert_eq!(exact("a\u{e9}b", "a\u{e8}b"), Some(1));
    }

    #[test]
    fn over_budget_is_refused() {
        let a = "x".repeat(10_000) + "a";
        let b = "y".repeat(10_000) + "b";
        assert_eq!(bounded_distance(&a, &b, usize::MAX, 1_000, true), None);
        assert_eq!(exact(&a, &b), Some(10_001));
    }

    #[test]
    fn banded_search_finds_the_exact_distance_under_the_hunk_bound() {
        // Deterministic pseudo-random edits of a multi-line text: the retention must be
        // exact and agree with the textbook distance.
        let base: String = (0..80)
            .map(|i| format!("let value_{i} = compute({i}, \"{}\");\n", i * 7919 % 1000))
            .collect();
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        for round in 0..10 {
            let mut edited: Vec<char> = base.chars().collect();
            for _ in 0..=(round * 7) {
                let at = next() % edited.len();
                match next() % 3 {
                    0 => edited[at] = 'Z',
                    1 => edited.insert(at, 'é'),
                    _ => {
                        edited.remove(at);
                    }
                }
            }
            let edited: String = edited.into_iter().collect();
            let diff = diff_lines(&base, &edited);
            let (value, method) = retention(&base, &edited, &diff, &split_lines(&base), &split_lines(&edited), DEFAULT_BUDGET);
            let longest = base.chars().count().max(edited.chars().count());
            let expected = 1.0 - reference(&base, &edited) as f64 / longest as f64;
            assert_eq!(method, Method::Exact);
            assert!((value - expected).abs() < 1e-12, "round {round}: {value} != {expected}");
        }
    }

    #[test]
    fn unrelated_large_files_are_bounded_and_never_overstate() {
        let a: String = (0..40_000).map(|i| format!("{}\n", i * 31 % 9973)).collect();
        let b: String = (0..40_000).map(|i| format!("x{}\n", i * 17 % 8887)).collect();
        let diff = diff_lines(&a, &b);
        let (value, method) = retention(&a, &b, &diff, &split_lines(&a), &split_lines(&b), DEFAULT_BUDGET);
        assert_eq!(method, Method::LineBound);
        assert!((0.0..=1.0).contains(&value));
    }

    #[test]
    fn a_huge_single_line_is_exact_when_the_edit_is_local_and_bounded_otherwise() {
        let line = "abcdefghij".repeat(300_000);
        let mut local = line.clone();
        local.replace_range(1_500_000..1_500_001, "Z");
        let score = |a: &str, b: &str| retention(a, b, &diff_lines(a, b), &split_lines(a), &split_lines(b), DEFAULT_BUDGET);
        let (value, method) = score(&line, &local);
        assert_eq!(method, Method::Exact);
        assert!((value - (1.0 - 1.0 / 3_000_000.0)).abs() < 1e-12);
        // Edits at both ends leave 3M characters between them: over the memory cap.
        let spread = format!("Z{}Z", &line[1..line.len() - 1]);
        let (value, method) = score(&line, &spread);
        assert_eq!(method, Method::LineBound);
        assert!(
            value.abs() < f64::EPSILON,
            "one hunk of the whole line bounds the distance by its length"
        );
    }
}
