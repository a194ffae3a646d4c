//! Character retention: `1 - distance / max(chars)`, a finer view than line counts (a
//! one-character fix on a long line is not a rewritten line). Distances are Levenshtein
//! distances in Unicode scalar values.
//!
//! Two computations, chosen by [`Distance`]:
//!
//! - **Hunks** (the default): the sum over the line diff's hunks of
//!   `Levenshtein(old hunk text, new hunk text)`. The line diff is computed anyway (it is
//!   git's histogram diff, for the line metrics), so this costs only the hunks' own
//!   text, not the whole file: it runs at about the speed of the line diff. Putting the
//!   hunks' edit scripts end to end, with the kept lines matched to themselves, is one
//!   valid edit script for the whole file, so the sum is an upper bound on the
//!   whole-file distance and the retention a lower bound on the whole-file retention.
//!   With at most one hunk the two are equal (a common prefix and suffix never change a
//!   Levenshtein distance), and the retention is flagged `exact`; with two or more it
//!   is flagged `hunks`.
//! - **Whole file**: the exact whole-file distance, found as follows.
//!
//! The whole-file distance is exact whenever its cost fits a per-pair budget, which
//! covers ordinary files of any size with ordinary edits:
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
//!
//! The hunk sum uses the same machinery for each hunk, with one budget shared by all
//! the hunks of a pair: a hunk it cannot afford counts as its longer side, and the
//! retention is flagged `line_bound`. Worst case per pair: one budget.

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

/// How the retention was computed: the value of `char_retention_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The exact whole-file distance: measured on the whole file, or the sum over at most
    /// one hunk (which equals it).
    Exact,
    /// The sum of the exact distances of two or more hunks: an upper bound on the
    /// whole-file distance (the retention is a lower bound on the whole-file retention).
    Hunks,
    /// A bound that counts at least one hunk as its longer side (over budget, or
    /// `--char-budget 0`): a lower bound on both other retentions.
    LineBound,
}

impl Method {
    /// The value stored in `char_retention_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Hunks => "hunks",
            Self::LineBound => "line_bound",
        }
    }
}

/// Which distance the retention is computed from (`score-diffs --char-distance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Distance {
    /// The sum of the hunks' distances: about the cost of the line diff.
    #[default]
    Hunks,
    /// The exact whole-file distance, within the budget: several times slower.
    WholeFile,
}

impl Distance {
    /// The option's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hunks => "hunks",
            Self::WholeFile => "whole-file",
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
/// the distance and the cost of the searches run (charged whether they found it or not).
fn bounded_distance(a: &str, b: &str, bound: usize, budget: u64, speculate: bool) -> (Option<usize>, u64) {
    let (a, b) = strip_common_affix(a, b);
    let (n, m) = (a.chars().count(), b.chars().count());
    if n == 0 || m == 0 {
        return (Some(n.max(m)), 0);
    }
    if n.max(m) > MAX_EXACT_CHARS {
        return (None, 0);
    }
    let bound = bound.min(n.max(m));
    let cutoff = affordable_cutoff(n, m, bound, budget);
    if cutoff == 0 || (cutoff < bound && !speculate) {
        return (None, 0);
    }
    let cost = banded_cost(n, m, cutoff);
    // The first band is never narrower than the length difference (a lower bound on the
    // distance): rapidfuzz 0.5's narrow-band kernel (band <= 64) returns a wrong, too
    // small distance when the lengths differ by more than the band (on the benchmark's real
    // releases, 46 of 13 006 whole-file distances were understated before this guard).
    let hint = FIRST_BAND.max(n.abs_diff(m));
    let args = levenshtein::Args::default().score_cutoff(cutoff).score_hint(hint);
    match levenshtein::distance_with_args(a.chars(), b.chars(), &args) {
        Some(distance) => (Some(distance), cost),
        // Over the affordable band: the distance is larger than the budget allows.
        None if cutoff < bound => (None, cost),
        // Cannot happen with a proven bound; the bound is still an upper bound.
        None => (Some(bound), cost),
    }
}

/// The text of lines `range` of a file split into `lines` (a slice of `text`: the lines
/// are contiguous).
fn span<'t>(text: &'t str, lines: &[&'t str], range: &std::ops::Range<usize>) -> &'t str {
    let offset = |i: usize| {
        lines
            .get(i)
            .map_or(text.len(), |line| line.as_ptr() as usize - text.as_ptr() as usize)
    };
    text.get(offset(range.start)..offset(range.end)).unwrap_or("")
}

/// The sum over the hunks of their distances, and whether every one was measured: a
/// hunk is measured exactly while the budget (shared by all hunks) lasts, else counted
/// as its longer side. `speculate` lets a hunk too large for an unbanded search try the
/// widest band the remaining budget affords.
fn hunk_sum(
    generated: &str,
    kept: &str,
    diff: &LineDiff,
    generated_lines: &[&str],
    kept_lines: &[&str],
    mut budget: u64,
    speculate: bool,
) -> (usize, bool) {
    let mut sum = 0usize;
    let mut all_measured = true;
    for hunk in &diff.hunks {
        let old = span(generated, generated_lines, &hunk.old);
        let new = span(kept, kept_lines, &hunk.new);
        let longest = old.chars().count().max(new.chars().count());
        let (measured, cost) = if budget > 0 {
            bounded_distance(old, new, longest, budget, speculate)
        } else {
            (None, 0)
        };
        budget = budget.saturating_sub(cost);
        all_measured &= measured.is_some();
        sum += measured.unwrap_or(longest);
    }
    (sum, all_measured)
}

/// The retention of `generated` in `kept`, with the method used. `diff` is the line
/// diff of the same pair, and `generated_lines` / `kept_lines` its records. `budget`
/// is the word operations each phase may cost ([`DEFAULT_BUDGET`]); 0 computes only
/// the free line-hunk bound. `distance` chooses the hunk sum or the whole-file distance.
pub fn retention(
    generated: &str,
    kept: &str,
    diff: &LineDiff,
    generated_lines: &[&str],
    kept_lines: &[&str],
    budget: u64,
    distance: Distance,
) -> (f64, Method) {
    let longest = generated.chars().count().max(kept.chars().count());
    if longest == 0 || diff.hunks.is_empty() {
        // No hunk: the texts are identical.
        return (1.0, Method::Exact);
    }
    let as_retention = |distance: usize| 1.0 - distance.min(longest) as f64 / longest as f64;
    if budget == 0 {
        let (bound, _) = hunk_sum(generated, kept, diff, generated_lines, kept_lines, 0, false);
        return (as_retention(bound), Method::LineBound);
    }
    match distance {
        Distance::Hunks => {
            let (sum, all_measured) = hunk_sum(generated, kept, diff, generated_lines, kept_lines, budget, true);
            let method = match (all_measured, diff.hunks.len()) {
                (false, _) => Method::LineBound,
                (true, 1) => Method::Exact,
                (true, _) => Method::Hunks,
            };
            (as_retention(sum), method)
        }
        Distance::WholeFile => {
            let (quick_bound, _) = hunk_sum(generated, kept, diff, generated_lines, kept_lines, 0, false);
            if let (Some(distance), _) = bounded_distance(generated, kept, quick_bound, budget, false) {
                return (as_retention(distance), Method::Exact);
            }
            let (tight_bound, _) = hunk_sum(generated, kept, diff, generated_lines, kept_lines, budget, false);
            if let (Some(distance), _) = bounded_distance(generated, kept, tight_bound, budget, true) {
                return (as_retention(distance), Method::Exact);
            }
            (as_retention(tight_bound), Method::LineBound)
        }
    }
}

#[cfg(test)]
#[allow(clippy::format_collect, reason = "fixtures are built line by line")]
mod tests {
    use super::*;
    use crate::lines::{diff_lines, split_lines};

    fn exact(a: &str, b: &str) -> Option<usize> {
        bounded_distance(a, b, usize::MAX, u64::MAX, false).0
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

    /// A hunk seen in a real release (requests 2.28 -> 2.32, words changed): a block moved
    /// under a `try:`. Without the guard on the first band, rapidfuzz returned 31 for it.
    const INDENTED: (&str, &str) = (
        "# netlib sets MissingTlsNotice to only fire once,\n# while this suite needs it to always fire\n# so that it happens during test_client.test_tls_notices\nnotices.simplefilter(\"always\", MissingTlsNotice)\n",
        "    # netlib 1.x sets MissingTlsNotice to only fire once,\n    # while this suite needs it to always fire\n    # so that it happens during test_client.test_tls_notices\n    notices.simplefilter(\"always\", MissingTlsNotice)\nexcept ImportError:\n    # netlib 2.0 dropped that notice and raises instead\n    MissingTlsNotice = None\n",
    );

    /// Pairs whose lengths differ by more than the first band (31), the shorter over 64
    /// characters: where rapidfuzz's narrow-band kernel goes wrong without our guard.
    #[test]
    fn lengths_differing_by_more_than_the_first_band_are_exact() {
        let mut next = lcg(7);
        for round in 0..200 {
            let short = 65 + next() % 200;
            let long = short + 32 + next() % 150;
            let text = |len: usize, next: &mut dyn FnMut() -> usize| -> String {
                (0..len).map(|_| [' ', 'a', 'b', '\n', 'é'][next() % 5]).collect()
            };
            let a = text(short, &mut next);
            // Half the pairs share most of their text (small distance), half do not.
            let b = if round % 2 == 0 {
                let mut b: Vec<char> = a.chars().collect();
                while b.len() < long {
                    let at = next() % (b.len() + 1);
                    b.insert(at, 'Z');
                }
                b.into_iter().collect()
            } else {
                text(long, &mut next)
            };
            assert_eq!(exact(&a, &b), Some(reference(&a, &b)), "round {round}: {a:?} -> {b:?}");
            // The same text with text appended, different first and last characters:
            // every character of the shorter side matches on the diagonal.
            let extra = text(long - short, &mut next);
            // Indented lines with lines appended, as when a block moves under a `try:`.
            let block: String = (0..4).map(|i| format!("# line {i} of {}\n", text(40, &mut next))).collect();
            let indented: String = split_lines(&block).iter().map(|l| format!("    {l}")).collect();
            let grown = format!("{indented}except ImportError:\n    # {}\n    name = None\n", text(30, &mut next));
            let pairs = [
                (INDENTED.0.to_owned(), INDENTED.1.to_owned()),
                (format!("<{a}>"), format!("[{a}{extra}]")),
                (format!("<{a}>"), format!("[{extra}{a}]")),
                (block, grown),
            ];
            for (a, b) in pairs {
                assert_eq!(exact(&a, &b), Some(reference(&a, &b)), "round {round}: {a:?} -> {b:?}");
            }
        }
    }

    #[test]
    fn over_budget_is_refused() {
        let a = "x".repeat(10_000) + "a";
        let b = "y".repeat(10_000) + "b";
        assert_eq!(bounded_distance(&a, &b, usize::MAX, 1_000, true).0, None);
        assert_eq!(exact(&a, &b), Some(10_001));
    }

    /// Deterministic pseudo-random numbers (a 64-bit LCG), so failures reproduce.
    fn lcg(seed: u64) -> impl FnMut() -> usize {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        }
    }

    /// `count` random character edits (substitutions, insertions of a non-ASCII
    /// character, deletions, some of them newlines) of `base`.
    fn edit(base: &str, count: usize, next: &mut impl FnMut() -> usize) -> String {
        let mut edited: Vec<char> = base.chars().collect();
        for _ in 0..count {
            if edited.is_empty() {
                edited.push('a');
            }
            let at = next() % edited.len();
            match next() % 5 {
                0 => edited[at] = 'Z',
                1 => edited.insert(at, 'é'),
                2 => edited.insert(at, '\n'),
                3 => edited[at] = '\n',
                _ => {
                    edited.remove(at);
                }
            }
        }
        edited.into_iter().collect()
    }

    fn score(a: &str, b: &str, budget: u64, distance: Distance) -> (f64, Method) {
        retention(a, b, &diff_lines(a, b), &split_lines(a), &split_lines(b), budget, distance)
    }

    fn base_text(lines: usize) -> String {
        (0..lines)
            .map(|i| format!("let value_{i} = compute({i}, \"{}\");\n", i * 7919 % 1000))
            .collect()
    }

    #[test]
    fn banded_search_finds_the_exact_distance_under_the_hunk_bound() {
        // Deterministic pseudo-random edits of a multi-line text: the whole-file
        // retention must be exact and agree with the textbook distance.
        let base = base_text(80);
        let mut next = lcg(12345);
        for round in 0..10 {
            let edited = edit(&base, round * 7 + 1, &mut next);
            let (value, method) = score(&base, &edited, DEFAULT_BUDGET, Distance::WholeFile);
            let longest = base.chars().count().max(edited.chars().count());
            let expected = 1.0 - reference(&base, &edited) as f64 / longest as f64;
            assert_eq!(method, Method::Exact);
            assert!((value - expected).abs() < 1e-12, "round {round}: {value} != {expected}");
        }
    }

    /// The property behind the default: on random edits, the hunk sum is at least the
    /// exact whole-file distance (textbook DP) and at most the line bound (each hunk's
    /// longer side); it is the sum of the textbook distances of the hunks; it equals the
    /// whole-file distance when there is at most one hunk, and the method says which.
    #[test]
    fn hunk_sum_lies_between_the_whole_file_distance_and_the_line_bound() {
        let mut next = lcg(2026);
        let mut strictly_above = 0;
        for round in 0..300 {
            let base = base_text(1 + next() % 40);
            let mut edited = edit(&base, 1 + next() % (2 + round % 30), &mut next);
            if round % 3 == 0 {
                // Move a line elsewhere: the hunk sum may then exceed the whole-file distance.
                let mut lines: Vec<&str> = split_lines(&edited);
                let line = lines.remove(next() % lines.len());
                lines.insert(next() % (lines.len() + 1), line);
                edited = lines.concat();
            }
            let (generated_lines, kept_lines) = (split_lines(&base), split_lines(&edited));
            let diff = diff_lines(&base, &edited);
            let (sum, all_measured) = hunk_sum(&base, &edited, &diff, &generated_lines, &kept_lines, DEFAULT_BUDGET, true);
            assert!(all_measured, "round {round}: small hunks are within the budget");
            let (line_bound, _) = hunk_sum(&base, &edited, &diff, &generated_lines, &kept_lines, 0, false);
            let whole = reference(&base, &edited);
            let per_hunk: usize = diff
                .hunks
                .iter()
                .map(|h| {
                    let old: String = generated_lines[h.old.clone()].concat();
                    let new: String = kept_lines[h.new.clone()].concat();
                    reference(&old, &new)
                })
                .sum();
            assert_eq!(sum, per_hunk, "round {round}: the sum of the hunks' distances");
            assert!(whole <= sum, "round {round}: whole file {whole} > hunks {sum}");
            assert!(sum <= line_bound, "round {round}: hunks {sum} > line bound {line_bound}");
            if diff.hunks.len() <= 1 {
                assert_eq!(sum, whole, "round {round}: one hunk is the whole-file distance");
            }
            strictly_above += usize::from(sum > whole);

            let longest = base.chars().count().max(edited.chars().count());
            let (value, method) = score(&base, &edited, DEFAULT_BUDGET, Distance::Hunks);
            let expected_method = match diff.hunks.len() {
                0 | 1 => Method::Exact,
                _ => Method::Hunks,
            };
            assert_eq!(method, expected_method, "round {round}");
            assert!((value - (1.0 - sum as f64 / longest as f64)).abs() < 1e-12, "round {round}");
            let (whole_value, whole_method) = score(&base, &edited, DEFAULT_BUDGET, Distance::WholeFile);
            assert_eq!(whole_method, Method::Exact);
            assert!(value <= whole_value + 1e-12, "round {round}: hunk retention is a lower bound");
        }
        // The bound is not always tight, so the test exercises the inequality.
        assert!(strictly_above > 0, "no pair where the hunk sum exceeds the whole-file distance");
    }

    #[test]
    fn a_line_moved_past_a_kept_line_costs_more_in_hunks() {
        // "X" moves after "K": git's diff keeps "K" and has two hunks (X removed, X
        // added), 2 + 2 characters; the whole file needs two substitutions.
        let (a, b) = ("X\nK\n", "K\nX\n");
        assert_eq!(reference(a, b), 2);
        let (hunks, method) = score(a, b, DEFAULT_BUDGET, Distance::Hunks);
        assert_eq!(method, Method::Hunks);
        assert!((hunks - 0.0).abs() < 1e-12, "4 edits on 4 characters: {hunks}");
        let (whole, method) = score(a, b, DEFAULT_BUDGET, Distance::WholeFile);
        assert_eq!(method, Method::Exact);
        assert!((whole - 0.5).abs() < 1e-12);
        // Without a budget both give the line bound.
        assert_eq!(score(a, b, 0, Distance::Hunks).1, Method::LineBound);
        assert_eq!(score(a, b, 0, Distance::WholeFile).1, Method::LineBound);
    }

    #[test]
    fn hunks_over_the_shared_budget_fall_back_to_their_longer_side() {
        // Two hunks of 3 000 unrelated characters each, with a budget of 10 000 word
        // operations: the first hunk's narrowest band (2 words x 3 000 characters) is
        // searched in vain, which leaves too little for the second. Both count as their
        // longer side (3 001 characters with the newline) and the method is `line_bound`.
        let old = format!("{}\nkept\n{}\n", "a".repeat(3_000), "b".repeat(3_000));
        let new = format!("{}\nkept\n{}\n", "c".repeat(3_000), "d".repeat(3_000));
        let (value, method) = score(&old, &new, 10_000, Distance::Hunks);
        assert_eq!(method, Method::LineBound);
        assert!((value - (1.0 - 6_002.0 / 6_007.0)).abs() < 1e-12, "{value}");
        // With the default budget they are measured: 3 000 substitutions each.
        let (value, method) = score(&old, &new, DEFAULT_BUDGET, Distance::Hunks);
        assert_eq!(method, Method::Hunks);
        assert!((value - (1.0 - 6_000.0 / 6_007.0)).abs() < 1e-12, "{value}");
    }

    #[test]
    fn identical_and_empty_texts_are_exact() {
        for distance in [Distance::Hunks, Distance::WholeFile] {
            assert_eq!(score("", "", DEFAULT_BUDGET, distance), (1.0, Method::Exact));
            assert_eq!(score("a\nb\n", "a\nb\n", DEFAULT_BUDGET, distance), (1.0, Method::Exact));
            assert_eq!(score("a\nb\n", "", DEFAULT_BUDGET, distance), (0.0, Method::Exact));
        }
    }

    #[test]
    fn unrelated_large_files_are_bounded_and_never_overstate() {
        let a: String = (0..40_000).map(|i| format!("{}\n", i * 31 % 9973)).collect();
        let b: String = (0..40_000).map(|i| format!("x{}\n", i * 17 % 8887)).collect();
        for distance in [Distance::Hunks, Distance::WholeFile] {
            let (value, method) = score(&a, &b, DEFAULT_BUDGET, distance);
            assert_eq!(method, Method::LineBound, "{distance:?}");
            assert!((0.0..=1.0).contains(&value));
        }
    }

    #[test]
    fn a_huge_single_line_is_exact_when_the_edit_is_local_and_bounded_otherwise() {
        let line = "abcdefghij".repeat(300_000);
        let mut local = line.clone();
        local.replace_range(1_500_000..1_500_001, "Z");
        // Edits at both ends leave 3M characters between them: over the memory cap.
        let spread = format!("Z{}Z", &line[1..line.len() - 1]);
        for distance in [Distance::Hunks, Distance::WholeFile] {
            let (value, method) = score(&line, &local, DEFAULT_BUDGET, distance);
            assert_eq!(method, Method::Exact);
            assert!((value - (1.0 - 1.0 / 3_000_000.0)).abs() < 1e-12);
            let (value, method) = score(&line, &spread, DEFAULT_BUDGET, distance);
            assert_eq!(method, Method::LineBound);
            assert!(
                value.abs() < f64::EPSILON,
                "one hunk of the whole line bounds the distance by its length"
            );
        }
    }
}
