//! Exact tiktoken token counts without tiktoken's regular-expression engine.
//!
//! Counting tokens was the costliest step of writing a dataset: tiktoken splits text with
//! a pattern holding a look-ahead (`\s+(?!\S)`), which only fancy-regex's backtracking VM
//! runs, and that VM took 70% of build-finetune's write phase (perf, 20,000 generations a
//! night). Here the same split runs on regex-automata's lazy DFA: the look-ahead
//! alternative becomes `\s+\s`, whose last character is handed back to the next piece,
//! and `\s+$` takes a run of spaces that ends the text (the rewrite bpe-openai uses, MIT
//! licence). Each piece is then counted by tiktoken-rs's own byte-pair merge over the
//! encoding's ranks, read back from tiktoken-rs's decoder, so the vocabulary and the
//! merge order are tiktoken's. Counts equal tiktoken-rs's `count_ordinary`: the tests
//! compare them on this repository's own sources and on random text built from the
//! characters the pattern treats specially.

use std::cell::RefCell;
use std::sync::OnceLock;

use regex_automata::meta::{Cache, Regex};
use regex_automata::{Anchored, Input};
use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

use crate::config::Encoding;

/// o200k_base's split: tiktoken's pattern in its order, with `\s+(?!\S)` as a
/// look-ahead pattern (the second) and `\s+$` before it.
const O200K_BASE: [&str; 3] = [
    concat!(
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"|\p{N}{1,3}",
        r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"|\s*[\r\n]+",
        r"|\s+$",
    ),
    r"\s+\s",
    r"\s+",
];

/// cl100k_base's split, from tiktoken-rs's pattern in its order: possessive
/// quantifiers dropped (none of them can give back a character that another branch
/// of its alternative would take), `\s+(?!\S)` as the look-ahead pattern.
const CL100K_BASE: [&str; 3] = [
    concat!(
        r"'(?i:[sdmt]|ll|ve|re)",
        r"|[^\r\n\p{L}\p{N}]?\p{L}+",
        r"|\p{N}{1,3}",
        r"| ?[^\s\p{L}\p{N}]+[\r\n]*",
        r"|\s+$",
        r"|\s*[\r\n]",
    ),
    r"\s+\s",
    r"\s",
];

/// Pieces this long or longer are counted by tiktoken-rs itself: its merge for short
/// pieces is quadratic, and it switches to a heap at the same length.
const LONG_PIECE: usize = 100;

/// One encoding's splitter and ranks.
pub struct FastCounter {
    bpe: &'static CoreBPE,
    split: Regex,
    /// Byte sequence to rank, every ordinary token of the encoding.
    ranks: FxHashMap<Vec<u8>, Rank>,
    /// Which thread-local search cache is this counter's.
    slot: usize,
}

thread_local! {
    /// One lazy-DFA cache per encoding and thread, kept warm across calls.
    static CACHES: RefCell<[Option<Cache>; 2]> = const { RefCell::new([None, None]) };
}

impl FastCounter {
    /// The counter of `encoding`, built once per process (the rank table is about
    /// 10 MiB for o200k_base).
    pub fn get(encoding: Encoding) -> &'static FastCounter {
        static O200K: OnceLock<FastCounter> = OnceLock::new();
        static CL100K: OnceLock<FastCounter> = OnceLock::new();
        match encoding {
            Encoding::O200kBase => O200K.get_or_init(|| Self::new(tiktoken_rs::o200k_base_singleton(), &O200K_BASE, 0)),
            Encoding::Cl100kBase => CL100K.get_or_init(|| Self::new(tiktoken_rs::cl100k_base_singleton(), &CL100K_BASE, 1)),
        }
    }

    fn new(bpe: &'static CoreBPE, patterns: &[&str; 3], slot: usize) -> Self {
        let split = Regex::new_many(patterns).expect("the split patterns are valid regular expressions");
        let specials: Vec<Vec<u8>> = bpe.special_tokens().iter().map(|s| s.as_bytes().to_vec()).collect();
        let mut ranks = FxHashMap::default();
        // Every ordinary token decodes to its bytes; the encodings' ranks are below
        // 2^18 (o200k_base: 199,998 ordinary tokens).
        for rank in 0..(1 << 18) {
            if let Ok(bytes) = bpe.decode_bytes(&[rank])
                && !specials.contains(&bytes)
            {
                ranks.insert(bytes, rank);
            }
        }
        Self { bpe, split, ranks, slot }
    }

    /// Tokens of `text`, as tiktoken-rs's `count_ordinary` counts them.
    pub fn count(&self, text: &str) -> usize {
        CACHES.with(|caches| {
            let mut caches = caches.borrow_mut();
            let cache = caches[self.slot].get_or_insert_with(|| self.split.create_cache());
            self.count_with(cache, text)
        })
    }

    fn count_with(&self, cache: &mut Cache, text: &str) -> usize {
        let mut total = 0;
        let mut at = 0;
        while at < text.len() {
            let input = Input::new(text).range(at..).anchored(Anchored::Yes);
            let end = match self.split.search_with(cache, &input) {
                Some(m) if m.pattern().as_usize() == 1 => {
                    // `\s+\s`: the last whitespace character stays for the next piece.
                    let matched = &text[at..m.end()];
                    m.end() - matched.chars().next_back().map_or(0, char::len_utf8)
                }
                Some(m) => m.end(),
                None => at,
            };
            if end == at {
                // Every character starts some piece; should one not, tiktoken-rs
                // counts the rest.
                return total + self.bpe.encode_ordinary(&text[at..]).len();
            }
            total += self.piece(&text[at..end]);
            at = end;
        }
        total
    }

    /// Tokens of one piece of the split.
    fn piece(&self, piece: &str) -> usize {
        let bytes = piece.as_bytes();
        if bytes.len() == 1 || self.ranks.contains_key(bytes) {
            1
        } else if bytes.len() < LONG_PIECE {
            tiktoken_rs::byte_pair_split(bytes, &self.ranks).len()
        } else {
            // A piece is a whole match of tiktoken's pattern, which matches it whole
            // again on its own.
            self.bpe.encode_ordinary(piece).len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both counters give tiktoken-rs's count for every text.
    fn assert_counts_equal_tiktoken(texts: &[String]) {
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let fast = FastCounter::get(encoding);
            for text in texts {
                let expected = fast.bpe.count_ordinary(text);
                assert_eq!(fast.count(text), expected, "{encoding:?} counts {text:?} differently");
            }
        }
    }

    /// Text as a code generator writes it: this repository's own sources and docs.
    #[test]
    fn counts_equal_tiktoken_on_this_repository() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut texts = Vec::new();
        let mut pending = vec![root.join("crates"), root.join("dags"), root.join("docs"), root.join("scripts")];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
        texts.sort();
        assert!(texts.len() > 100, "only {} files found under {}", texts.len(), root.display());
        assert_counts_equal_tiktoken(&texts);
    }

    /// Random text from the characters the split treats specially: each kind of
    /// whitespace and line end, letters of every case class, combining marks,
    /// digits of several scripts, contractions, punctuation runs and `/`.
    #[test]
    fn counts_equal_tiktoken_on_text_built_from_the_split_boundaries() {
        const PARTS: &[&str] = &[
            " ",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\r",
            "\u{a0}",
            "\u{3000}",
            "\u{2028}",
            "\u{85}",
            "\u{b}",
            "a",
            "word",
            "Word",
            "WORD",
            "é",
            "É",
            "ǅ",
            "ʰ",
            "中文",
            "\u{301}",
            "\u{200b}",
            "0",
            "42",
            "1234567",
            "٣",
            "½",
            "'",
            "'s",
            "'S",
            "'re",
            "'LL",
            "'d",
            "'t",
            "'ve",
            "'m",
            ".",
            "..",
            "/",
            "//",
            "-",
            "_",
            "{",
            "}",
            "\"",
            "=>",
            "🦀",
            "<|endoftext|>",
            "\u{feff}",
            "#",
            "$",
            "x_1",
        ];
        // SplitMix64: a fixed stream, so a failure reproduces.
        let mut state = 0x5EED_u64;
        let mut next = |bound: usize| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % bound as u64) as usize
        };
        let texts: Vec<String> = (0..4000)
            .map(|_| {
                let parts = next(24);
                (0..parts).map(|_| PARTS[next(PARTS.len())]).collect()
            })
            .collect();
        assert_counts_equal_tiktoken(&texts);
    }

    /// Pieces of every length around the switch to tiktoken-rs's own merge.
    #[test]
    fn long_pieces_count_as_tiktoken_counts_them() {
        let texts: Vec<String> = [1, 2, 3, 99, 100, 101, 5000]
            .iter()
            .flat_map(|&n| {
                [
                    "=".repeat(n),
                    "ab".repeat(n),
                    " ".repeat(n),
                    format!("x{}y", " ".repeat(n)),
                    "9".repeat(n),
                    "é".repeat(n),
                    "/-".repeat(n),
                ]
            })
            .collect();
        assert_counts_equal_tiktoken(&texts);
    }
}
