//! LCOV tracefiles (`coverage lcov`, `cargo llvm-cov --lcov`, c8/nyc, geninfo).
//!
//! Read line by line (streaming). Records of the same `SF:` (several test names `TN:`,
//! or one file instrumented by several binaries) are merged exactly: hits per `DA` line
//! add up and each branch `BRDA:line,block,branch,taken` is keyed by its ids, so a
//! branch taken in either record counts once as covered. `taken` of `-` means the
//! branch's block never ran (0). Summary lines (`LF`, `LH`, `BRF`, `BRH`, `FN*`) are
//! ignored: totals are recomputed from the data.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use super::{CappedReader, CoverageReport, FileCoverage, ReportError};
use crate::config::ReportFormat;

/// Longest line accepted (a path or a record), in bytes.
const MAX_LINE_BYTES: usize = 64 << 10;

#[derive(Default)]
struct FileData {
    lines: BTreeMap<u32, u64>,
    branches: BTreeMap<(u32, String, String), u64>,
}

impl FileData {
    /// Adds one `DA:` or `BRDA:` record; the error says what is wrong with it.
    fn add(&mut self, key: &str, value: &str) -> Result<(), String> {
        let fields: Vec<&str> = value.split(',').collect();
        if key == "DA" {
            let (Some(l), Some(h)) = (
                fields.first().and_then(|v| v.trim().parse::<u32>().ok()),
                fields.get(1).and_then(|v| v.trim().parse::<f64>().ok()),
            ) else {
                return Err(format!("`DA:{value}` is not `DA:line,hits`"));
            };
            let slot = self.lines.entry(l).or_default();
            *slot = slot.saturating_add(h.max(0.0) as u64);
        } else {
            let (Some(l), Some(block), Some(branch), Some(taken)) = (
                fields.first().and_then(|v| v.trim().parse::<u32>().ok()),
                fields.get(1),
                fields.get(2),
                fields
                    .get(3)
                    .and_then(|t| if t.trim() == "-" { Some(0.0) } else { t.trim().parse::<f64>().ok() }),
            ) else {
                return Err(format!("`BRDA:{value}` is not `BRDA:line,block,branch,taken`"));
            };
            let slot = self.branches.entry((l, (*block).to_owned(), (*branch).to_owned())).or_default();
            *slot = slot.saturating_add(taken.max(0.0) as u64);
        }
        Ok(())
    }
}

/// Parses one LCOV tracefile.
pub fn parse(path: &Path, input: CappedReader) -> Result<CoverageReport, ReportError> {
    let bad = |n: usize, what: &str| ReportError::malformed(path, ReportFormat::Lcov, format!("line {n}: {what}"));
    let mut reader = std::io::BufReader::new(input);
    let mut files: BTreeMap<String, FileData> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut buf = Vec::new();
    let mut n = 0usize;
    let mut records = 0usize;
    loop {
        buf.clear();
        let read = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| ReportError::Read {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 {
            break;
        }
        n += 1;
        if buf.len() > MAX_LINE_BYTES {
            return Err(bad(n, "line longer than 64 KiB"));
        }
        let line = std::str::from_utf8(&buf).map_err(|_| bad(n, "not UTF-8"))?.trim();
        if line.is_empty() {
            continue;
        }
        if line == "end_of_record" {
            if current.take().is_none() {
                return Err(bad(n, "`end_of_record` without `SF:`"));
            }
            records += 1;
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(bad(n, &format!("`{line}` is not an LCOV record")));
        };
        match key {
            "SF" => {
                if current.is_some() {
                    return Err(bad(n, "`SF:` before the previous record's `end_of_record`"));
                }
                files.entry(value.to_owned()).or_default();
                current = Some(value.to_owned());
            }
            "DA" | "BRDA" => {
                let Some(file) = current.as_ref() else {
                    return Err(bad(n, &format!("`{key}:` outside a record (no `SF:`)")));
                };
                files.entry(file.clone()).or_default().add(key, value).map_err(|m| bad(n, &m))?;
            }
            // Known records whose totals are recomputed, and extensions we do not need.
            _ => {}
        }
    }
    if let Some(file) = current {
        return Err(ReportError::malformed(
            path,
            ReportFormat::Lcov,
            format!("the record of `{file}` has no `end_of_record` (truncated?)"),
        ));
    }
    if records == 0 {
        return Err(ReportError::malformed(
            path,
            ReportFormat::Lcov,
            "no record (`SF:` ... `end_of_record`)",
        ));
    }
    let mut report = CoverageReport::default();
    for (file, data) in files {
        let mut cov = FileCoverage {
            lines: data.lines,
            ..FileCoverage::default()
        };
        for ((line, _, _), taken) in data.branches {
            let e = cov.branches.entry(line).or_default();
            e.1 += 1;
            if taken > 0 {
                e.0 += 1;
            }
        }
        report.files.insert(file, cov);
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::reports::open_capped;

    fn parse_text(text: &str) -> Result<CoverageReport, ReportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lcov.info");
        std::fs::write(&path, text).unwrap();
        parse(&path, open_capped(&path, 1 << 20).unwrap())
    }

    #[test]
    fn records_of_one_file_merge_exactly() {
        let r = parse_text(
            "TN:unit\nSF:src/a.rs\nDA:1,1\nDA:2,0\nDA:3,0\nBRDA:2,0,0,1\nBRDA:2,0,1,-\nLF:3\nLH:1\nend_of_record\n\
             TN:integration\nSF:src/a.rs\nDA:1,0\nDA:2,3\nDA:3,0\nBRDA:2,0,0,0\nBRDA:2,0,1,2\nend_of_record\n\
             SF:src/b.rs\nDA:1,0,abc123\nend_of_record\n",
        )
        .unwrap();
        let a = &r.files["src/a.rs"];
        assert_eq!(
            (a.lines_covered(), a.lines_valid(), a.branches_covered(), a.branches_valid()),
            (2, 3, 2, 2)
        );
        let t = r.totals();
        assert_eq!((t.lines_covered, t.lines_valid), (2, 4));
    }

    /// Found by the cargo-fuzz target: `DA:3,1e41` after `DA:3,1` overflowed the hit count.
    #[test]
    fn huge_hit_counts_saturate_instead_of_overflowing() {
        let r = parse_text("SF:a\nDA:3,1\nDA:3,1e41\nBRDA:3,0,0,1e41\nBRDA:3,0,0,1e41\nend_of_record\nSF:a\nDA:3,1e41\nend_of_record\n")
            .unwrap();
        assert_eq!(r.files["a"].lines[&3], u64::MAX);
        let mut merged = r.clone();
        merged.merge(&r);
        assert_eq!(merged.totals().lines_covered, 1);
    }

    #[test]
    fn truncated_or_garbage_is_an_error_with_the_line() {
        assert!(parse_text("SF:a\nDA:1,1\n").unwrap_err().to_string().contains("truncated"));
        assert!(
            parse_text("SF:a\nDA:x,1\nend_of_record\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(parse_text("<html>").is_err());
        assert!(parse_text("").is_err());
    }
}
