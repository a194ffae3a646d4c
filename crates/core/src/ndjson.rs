//! Line-by-line reading of NDJSON exports, keeping the raw bytes of every line.
//!
//! The raw line is what goes to quarantine when a record cannot be used, so it is kept
//! as bytes: a line with invalid UTF-8 must still be preserved exactly.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::CoreError;

/// Reads an NDJSON file as `(1-based line number, raw line bytes)`, skipping blank
/// lines and stripping the line terminator (`\n` or `\r\n`).
pub struct NdjsonLines {
    path: PathBuf,
    reader: std::io::BufReader<std::fs::File>,
    line_number: u64,
    buffer: Vec<u8>,
}

impl NdjsonLines {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, CoreError> {
        let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            reader: std::io::BufReader::with_capacity(1 << 20, file),
            line_number: 0,
            buffer: Vec::new(),
        })
    }
}

impl Iterator for NdjsonLines {
    type Item = Result<(u64, Vec<u8>), CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buffer.clear();
            match self.reader.read_until(b'\n', &mut self.buffer) {
                Err(e) => return Some(Err(CoreError::io(&self.path, e))),
                Ok(0) => return None,
                Ok(_) => {}
            }
            self.line_number += 1;
            let mut line = self.buffer.as_slice();
            if let Some(rest) = line.strip_suffix(b"\n") {
                line = rest.strip_suffix(b"\r").unwrap_or(rest);
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok((self.line_number, line.to_vec())));
        }
    }
}
