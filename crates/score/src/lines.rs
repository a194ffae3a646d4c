//! Line metrics identical to `git diff --no-index --numstat --diff-algorithm=histogram`.
//!
//! git's xdiff splits a file into records at `\n`, each record including its
//! terminator, so `foo\r\n`, `foo\n` and a last `foo` without newline are three
//! different lines, and compares records byte for byte. numstat's columns are the
//! numbers of inserted and deleted records of the diff, so kept = generated - removed.
//! The diff itself must be git's histogram algorithm: it is not minimal, so another
//! algorithm (even an optimal one) would count differently on some pairs.

use std::ops::Range;

use gix_imara_diff::InternedInput;

use crate::histogram;

/// A changed region: lines `old` of the generated file became lines `new` of the kept
/// file (0-based, half-open; either may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old: Range<usize>,
    pub new: Range<usize>,
}

/// The line diff of one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDiff {
    /// G: lines of the generated file.
    pub generated: u64,
    /// F: lines of the kept file.
    pub kept_total: u64,
    /// K: lines kept.
    pub kept: u64,
    /// A: lines added (numstat's first column).
    pub added: u64,
    /// R: lines removed (numstat's second column).
    pub removed: u64,
    pub hunks: Vec<Hunk>,
}

/// Splits text into git's records: each line with its `\n`, plus a last line without.
pub fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Number of git records in `text`.
#[allow(
    clippy::naive_bytecount,
    reason = "one pass per file, far from the hot loop; not worth a dependency"
)]
pub fn count_lines(text: &[u8]) -> u64 {
    let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(text.last().is_some_and(|&b| b != b'\n'))
}

/// Diffs two texts line by line, exactly as `git diff --diff-algorithm=histogram`
/// counts: the common tail is trimmed as git trims it, then the rest goes through the
/// port of git's histogram diff.
pub fn diff_lines(generated: &str, kept: &str) -> LineDiff {
    let (old, new) = (generated.as_bytes(), kept.as_bytes());
    let generated_lines = count_lines(old);
    let kept_lines = count_lines(new);
    let (old_len, new_len) = histogram::trim_common_tail(old, new);
    let input = InternedInput::new(&old[..old_len], &new[..new_len]);
    let changes = histogram::diff(&input.before, &input.after, input.interner.num_tokens());
    let removed = changes.removed.iter().filter(|&&x| x).count() as u64;
    let added = changes.added.iter().filter(|&&x| x).count() as u64;
    LineDiff {
        generated: generated_lines,
        kept_total: kept_lines,
        kept: generated_lines - removed,
        added,
        removed,
        hunks: hunks(&changes),
    }
}

/// Groups changed lines into hunks: maximal runs between lines kept on both sides.
fn hunks(changes: &histogram::Changes) -> Vec<Hunk> {
    let (removed, added) = (&changes.removed, &changes.added);
    let (n, m) = (removed.len(), added.len());
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && !removed[i] && !added[j] {
            i += 1;
            j += 1;
            continue;
        }
        let (old_start, new_start) = (i, j);
        while i < n && removed[i] {
            i += 1;
        }
        while j < m && added[j] {
            j += 1;
        }
        if (i, j) == (old_start, new_start) {
            // Unequal numbers of kept lines on the two sides: not a diff. Cannot happen
            // with `histogram::diff`; stop rather than loop.
            debug_assert!(false, "kept lines do not pair up");
            break;
        }
        out.push(Hunk {
            old: old_start..i,
            new: new_start..j,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_their_terminators() {
        assert_eq!(split_lines("a\r\nb\nc"), ["a\r\n", "b\n", "c"]);
        assert!(split_lines("").is_empty());
    }

    #[test]
    fn counts_follow_git_semantics() {
        // A missing final newline changes the last line.
        let d = diff_lines("a\nb\n", "a\nb");
        assert_eq!((d.added, d.removed, d.kept), (1, 1, 1));
        // CRLF against LF: every line differs.
        let d = diff_lines("a\nb\n", "a\r\nb\r\n");
        assert_eq!((d.added, d.removed, d.kept), (2, 2, 0));
        // Empty sides.
        let d = diff_lines("", "x\ny\n");
        assert_eq!((d.generated, d.kept_total, d.added, d.removed), (0, 2, 2, 0));
        let d = diff_lines("x\ny\n", "");
        assert_eq!((d.generated, d.kept_total, d.added, d.removed, d.kept), (2, 0, 0, 2, 0));
    }

    #[test]
    fn hunks_cover_exactly_the_changed_lines() {
        let d = diff_lines("a\nb\nc\nd\ne\n", "a\nB\nc\nd\nE\nF\n");
        assert_eq!(d.hunks, [Hunk { old: 1..2, new: 1..2 }, Hunk { old: 4..5, new: 4..6 }]);
        assert_eq!((d.added, d.removed, d.kept), (3, 2, 3));
    }

    #[test]
    fn trimmed_tail_still_counts_its_lines() {
        let tail = "same\n".repeat(2000);
        let d = diff_lines(&format!("old\n{tail}"), &format!("new\n{tail}"));
        assert_eq!((d.generated, d.kept_total, d.added, d.removed, d.kept), (2001, 2001, 1, 1, 2000));
    }
}
