//! Line-by-line reading of NDJSON exports, keeping the raw bytes of every line.
//!
//! The raw line is what goes to quarantine when a record cannot be used, so it is kept
//! as bytes: a line with invalid UTF-8 must still be preserved exactly.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::CoreError;

/// Bytes of an oversized line kept for its quarantine payload.
pub const OVERSIZED_HEAD_BYTES: usize = 64 * 1024;

/// One line of an NDJSON file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub number: u64,
    /// The line without its terminator; for an oversized line, its first
    /// [`OVERSIZED_HEAD_BYTES`] only.
    pub bytes: Vec<u8>,
    /// The whole line's length, when it was longer than the reader's limit and only its
    /// head was kept (the rest was read past, never held in memory).
    pub oversized: Option<u64>,
}

/// Reads an NDJSON file line by line, skipping blank lines and stripping the line
/// terminator (`\n` or `\r\n`) and a UTF-8 byte-order mark before the first record.
/// A line longer than the limit is not held in memory: its head is kept and the rest is
/// read past, so one hostile line cannot exhaust memory.
pub struct NdjsonLines {
    path: PathBuf,
    reader: std::io::BufReader<std::fs::File>,
    line_number: u64,
    max_line_bytes: u64,
    buffer: Vec<u8>,
}

impl NdjsonLines {
    /// Opens `path` with no line limit beyond memory.
    pub fn open(path: &Path) -> Result<Self, CoreError> {
        Self::open_capped(path, u64::MAX)
    }

    /// Opens `path`; lines longer than `max_line_bytes` come back with only their head.
    pub fn open_capped(path: &Path, max_line_bytes: u64) -> Result<Self, CoreError> {
        let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            reader: std::io::BufReader::with_capacity(1 << 20, file),
            line_number: 0,
            max_line_bytes,
            buffer: Vec::new(),
        })
    }

    /// Reads one line into `self.buffer` (at most the limit plus two bytes, enough to
    /// hold a `\r\n` terminator and tell an oversized line), returning its full length
    /// and the length of its terminator (0, 1 for `\n` or 2 for `\r\n`), or 0 at the
    /// end of the file.
    fn read_line(&mut self) -> std::io::Result<(u64, u64)> {
        let mut total = 0u64;
        let mut last_byte = 0u8;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((total, 0));
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let room =
                usize::try_from(self.max_line_bytes.saturating_add(2).saturating_sub(self.buffer.len() as u64)).unwrap_or(usize::MAX);
            self.buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len();
            let before_newline = match chunk {
                [.., before, _] => *before,
                _ => last_byte,
            };
            last_byte = chunk.last().copied().unwrap_or(last_byte);
            total += used as u64;
            self.reader.consume(used);
            if done {
                return Ok((total, if before_newline == b'\r' && total >= 2 { 2 } else { 1 }));
            }
        }
    }
}

impl Iterator for NdjsonLines {
    type Item = Result<Line, CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buffer.clear();
            let (length, terminator) = match self.read_line() {
                Err(e) => return Some(Err(CoreError::io(&self.path, e))),
                Ok((0, _)) => return None,
                Ok(n) => n,
            };
            self.line_number += 1;
            let held_whole = self.buffer.len() as u64 == length;
            let mut line = self.buffer.as_slice();
            if self.line_number == 1 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if held_whole && let Some(rest) = line.strip_suffix(b"\n") {
                line = rest.strip_suffix(b"\r").unwrap_or(rest);
            }
            if !held_whole || line.len() as u64 > self.max_line_bytes {
                let whole = length - terminator;
                let head = &line[..line.len().min(OVERSIZED_HEAD_BYTES)];
                return Some(Ok(Line {
                    number: self.line_number,
                    bytes: head.to_vec(),
                    oversized: Some(whole),
                }));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(Line {
                number: self.line_number,
                bytes: line.to_vec(),
                oversized: None,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], cap: u64) -> Vec<Line> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("x.ndjson");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        NdjsonLines::open_capped(&path, cap)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|l| l.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    #[test]
    fn a_bom_blank_lines_and_crlf_are_not_part_of_records() {
        let got = lines(b"\xEF\xBB\xBF{\"a\":1}\r\n\n  \n{\"b\":2}", u64::MAX);
        let bytes: Vec<&[u8]> = got.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(bytes, [&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
        assert_eq!(got.iter().map(|l| l.number).collect::<Vec<_>>(), [1, 4]);
    }

    #[test]
    fn an_oversized_line_keeps_its_head_and_its_length_and_the_next_line_is_intact() {
        let long = "x".repeat(200_000);
        let text = format!("{{\"a\":1}}\n{long}\r\n{{\"c\":3}}\n");
        let got = lines(text.as_bytes(), 100_000);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].oversized, Some(200_000));
        assert_eq!(got[1].bytes.len(), OVERSIZED_HEAD_BYTES);
        assert_eq!(got[2].bytes, b"{\"c\":3}");
        assert_eq!(got[2].number, 3);
        // Exactly at the limit is not oversized.
        let got = lines(format!("{}\n", "y".repeat(1000)).as_bytes(), 1000);
        assert_eq!((got[0].oversized, got[0].bytes.len()), (None, 1000));
    }
}
