//! How simulated users edit generated text: small tweaks, identifier renames, heavy
//! rewrites, additions, line-ending conversions.
//!
//! The simulator is told a target share `r` of lines to rewrite and rewrites
//! `floor(r * G + u)` lines (`u` uniform): stochastic rounding keeps the expected
//! number of rewritten lines exactly `r * G`, so a planted effect on `r` is an effect on
//! the line-weighted rewrite rate that score-diffs measures.

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::templates::user_written_lines;

/// What kind of edit was applied (for the truth file and for realism checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EditKind {
    Untouched,
    Additions,
    Tweaks,
    Rename,
    Rewrite,
}

/// The result of editing one text.
#[derive(Debug, Clone)]
pub struct EditedText {
    pub text: String,
    pub kind: EditKind,
    /// Lines of the original the simulator replaced or removed.
    pub lines_rewritten: usize,
}

/// Rounds `x` up with probability equal to its fractional part.
pub fn stochastic_round(x: f64, rng: &mut ChaCha8Rng) -> usize {
    let floor = x.floor();
    let up = rng.random::<f64>() < x - floor;
    floor as usize + usize::from(up)
}

/// Splits text into lines without terminators, remembering whether it ended with a
/// newline and whether it used CRLF.
fn split_lines(text: &str) -> (Vec<String>, bool) {
    let ends_with_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() && ends_with_newline {
        return (vec![String::new()], true);
    }
    if text.is_empty() {
        return (Vec::new(), false);
    }
    (
        body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect(),
        ends_with_newline,
    )
}

fn join_lines(lines: &[String], final_newline: bool) -> String {
    let mut out = lines.join("\n");
    if final_newline && !lines.is_empty() {
        out.push('\n');
    }
    out
}

/// Edits `text` so that about `target * lines` lines are rewritten.
pub fn edit_text(text: &str, language: &str, target: f64, rng: &mut ChaCha8Rng) -> EditedText {
    let (mut lines, final_newline) = split_lines(text);
    let total = lines.len();
    let k = stochastic_round(target.clamp(0.0, 1.0) * total as f64, rng).min(total);
    let mut kind = EditKind::Untouched;
    if k > 0 {
        if k <= 4 && rng.random_bool(0.35) && try_rename(&mut lines, k, rng) {
            kind = EditKind::Rename;
        } else if target < 0.35 {
            tweak_lines(&mut lines, k, language, rng);
            kind = EditKind::Tweaks;
        } else {
            rewrite_blocks(&mut lines, k, language, rng);
            kind = EditKind::Rewrite;
        }
    }
    if rng.random_bool(if k > 0 { 0.25 } else { 0.1 }) {
        let extra = rng.random_range(1..=6);
        let at = rng.random_range(0..=lines.len());
        let new = user_written_lines(language, extra, rng);
        lines.splice(at..at, new);
        if kind == EditKind::Untouched {
            kind = EditKind::Additions;
        }
    }
    EditedText {
        text: join_lines(&lines, final_newline),
        kind,
        lines_rewritten: k,
    }
}

/// Replaces `k` distinct lines with modified versions.
fn tweak_lines(lines: &mut [String], k: usize, language: &str, rng: &mut ChaCha8Rng) {
    // Prefer lines with content (users rarely edit blank lines alone), in random order.
    let mut keyed: Vec<(bool, u32, usize)> = (0..lines.len())
        .map(|i| (lines[i].trim().is_empty(), rng.random::<u32>(), i))
        .collect();
    keyed.sort_unstable();
    for &(_, _, i) in keyed.iter().take(k) {
        let replacement = tweak(&lines[i], language, rng);
        lines[i] = replacement;
    }
}

/// A plausible small change to one line that is guaranteed to differ from it.
fn tweak(line: &str, language: &str, rng: &mut ChaCha8Rng) -> String {
    if let Some(pos) = line.find(|c: char| c.is_ascii_digit()) {
        let end = line[pos..].find(|c: char| !c.is_ascii_digit()).map_or(line.len(), |e| pos + e);
        let value: u64 = line[pos..end].parse().unwrap_or(0);
        let bumped = value + rng.random_range(1..50);
        return format!("{}{}{}", &line[..pos], bumped, &line[end..]);
    }
    if line.trim().is_empty() {
        return user_written_lines(language, 1, rng).pop().unwrap_or_else(|| "x".into());
    }
    let comment = match language {
        "python" | "yaml" | "dockerfile" | "toml" | "text" => "  # reviewed",
        "markdown" => " (updated)",
        "json" => " ",
        _ => " // reviewed",
    };
    format!("{line}{comment}")
}

/// Replaces contiguous blocks covering `k` lines with user-written lines.
fn rewrite_blocks(lines: &mut Vec<String>, k: usize, language: &str, rng: &mut ChaCha8Rng) {
    let mut remaining = k;
    let mut replaced = vec![false; lines.len()];
    let mut out: Vec<Option<Vec<String>>> = vec![None; lines.len()];
    while remaining > 0 {
        let len = remaining.min(rng.random_range(3..=12));
        let free: Vec<usize> = (0..lines.len()).filter(|&i| !replaced[i]).collect();
        let Some(&start) = free.choose(rng) else { break };
        let mut taken = 0;
        let mut i = start;
        while taken < len && i < lines.len() && !replaced[i] {
            replaced[i] = true;
            taken += 1;
            i += 1;
        }
        let new_len = (taken as f64 * rng.random_range(0.6..1.5)).round() as usize;
        out[start] = Some(user_written_lines(language, new_len, rng));
        remaining -= taken;
    }
    let old = std::mem::take(lines);
    for (i, line) in old.into_iter().enumerate() {
        if let Some(new) = out[i].take() {
            lines.extend(new);
        }
        if !replaced[i] {
            lines.push(line);
        }
    }
}

/// Renames an identifier that occurs on at most `k` lines (and at least one); returns
/// whether one was found.
fn try_rename(lines: &mut [String], k: usize, rng: &mut ChaCha8Rng) -> bool {
    let mut candidates: Vec<(String, usize)> = Vec::new();
    for line in lines.iter() {
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.len() >= 5 && word.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !candidates.iter().any(|(w, _)| w == word)
            {
                candidates.push((word.to_owned(), 0));
            }
        }
    }
    for (word, count) in &mut candidates {
        *count = lines.iter().filter(|l| contains_word(l, word)).count();
    }
    candidates.retain(|(_, c)| *c >= 1 && *c <= k);
    let Some((word, _)) = candidates.choose(rng).cloned() else {
        return false;
    };
    let suffixes = ["_v2", "Impl", "_new", "Ext", "_cfg", "Svc"];
    let new = format!("{word}{}", suffixes.choose(rng).copied().unwrap_or("_v2"));
    for line in lines.iter_mut() {
        if contains_word(line, &word) {
            *line = replace_word(line, &word, &new);
        }
    }
    true
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = line[i + word.len()..].chars().next().is_none_or(|c| !is_ident(c));
        before && after
    })
}

fn replace_word(line: &str, word: &str, new: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut last = 0;
    for (i, _) in line.match_indices(word) {
        let before = line[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = line[i + word.len()..].chars().next().is_none_or(|c| !is_ident(c));
        if before && after && i >= last {
            out.push_str(&line[last..i]);
            out.push_str(new);
            last = i + word.len();
        }
    }
    out.push_str(&line[last..]);
    out
}

/// Converts `\n` line endings to `\r\n`.
pub fn to_crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// Removes the final newline, if any.
pub fn strip_final_newline(text: &str) -> String {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::fmt::Write as _;

    fn sample() -> String {
        (0..40).fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "let value_{i} = compute_total({i});");
            s
        })
    }

    #[test]
    fn untouched_when_target_is_zero_and_no_additions() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut untouched = 0;
        for _ in 0..50 {
            let e = edit_text(&sample(), "rust", 0.0, &mut rng);
            assert_eq!(e.lines_rewritten, 0);
            if e.kind == EditKind::Untouched {
                assert_eq!(e.text, sample());
                untouched += 1;
            }
        }
        assert!(untouched > 25);
    }

    #[test]
    fn rewritten_lines_track_the_target_on_average() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 400;
        let total: usize = (0..n).map(|_| edit_text(&sample(), "rust", 0.3, &mut rng).lines_rewritten).sum();
        let mean = total as f64 / f64::from(n) / 40.0;
        assert!((mean - 0.3).abs() < 0.02, "mean share {mean}");
    }

    #[test]
    fn whole_word_rename_only() {
        assert_eq!(replace_word("foo(foobar, foo)", "foo", "baz"), "baz(foobar, baz)");
        assert!(!contains_word("foobar", "foo"));
    }

    #[test]
    fn line_ending_helpers() {
        assert_eq!(to_crlf("a\nb\n"), "a\r\nb\r\n");
        assert_eq!(to_crlf("a\r\nb"), "a\r\nb");
        assert_eq!(strip_final_newline("a\nb\n"), "a\nb");
    }
}
