//! Cobertura XML (coverage.py `coverage xml`, cargo-llvm-cov, gcovr, Istanbul).
//!
//! Lines are read from `class > lines > line` only: the `method > lines > line` entries
//! repeat them. A file split over several `<class>` elements (Java inner classes, one
//! class per package directory) is merged by line. Branches come from
//! `condition-coverage="50% (1/2)"` on lines with `branch="true"`.

use std::path::Path;

use super::xml::{Node, XmlStream, attr};
use super::{CappedReader, CoverageReport, ReportError, parse_number};
use crate::config::ReportFormat;

/// Parses one Cobertura XML file.
pub fn parse(path: &Path, input: CappedReader) -> Result<CoverageReport, ReportError> {
    let mut x = XmlStream::new(path, ReportFormat::Cobertura, input);
    let mut report = CoverageReport::default();
    let mut depth = 0usize;
    let mut file: Option<String> = None;
    let mut in_method = 0usize;
    loop {
        match x.next()? {
            Node::Start { name, attrs } => {
                depth += 1;
                if depth == 1 {
                    x.check_root(&name, &["coverage"])?;
                }
                match name.as_str() {
                    "class" => {
                        let Some(f) = attr(&attrs, "filename") else {
                            return Err(x.fail("<class> without `filename`"));
                        };
                        report.files.entry(f.to_owned()).or_default();
                        file = Some(f.to_owned());
                    }
                    "method" => in_method += 1,
                    "line" if in_method == 0 => {
                        let Some(f) = file.as_ref() else { continue };
                        let number = attr(&attrs, "number")
                            .and_then(|n| n.trim().parse::<u32>().ok())
                            .ok_or_else(|| x.fail("<line> without a valid `number`"))?;
                        let hits = attr(&attrs, "hits")
                            .and_then(parse_number)
                            .ok_or_else(|| x.fail(format!("line {number} of `{f}` has no valid `hits`")))?;
                        let cov = report.files.entry(f.clone()).or_default();
                        let slot = cov.lines.entry(number).or_default();
                        *slot = slot.saturating_add(hits.max(0.0) as u64);
                        if attr(&attrs, "branch") == Some("true")
                            && let Some((covered, total)) = attr(&attrs, "condition-coverage").and_then(condition_coverage)
                        {
                            let e = cov.branches.entry(number).or_default();
                            e.0 = e.0.max(covered);
                            e.1 = e.1.max(total);
                        }
                    }
                    _ => {}
                }
            }
            Node::End { name } => {
                depth = depth.saturating_sub(1);
                match name.as_str() {
                    "class" => file = None,
                    "method" => in_method = in_method.saturating_sub(1),
                    _ => {}
                }
            }
            Node::Text(_) => {}
            Node::Eof => break,
        }
    }
    Ok(report)
}

/// `"50% (1/2)"` → (1, 2).
fn condition_coverage(text: &str) -> Option<(u32, u32)> {
    let inner = text.split_once('(')?.1.split_once(')')?.0;
    let (c, t) = inner.split_once('/')?;
    Some((c.trim().parse().ok()?, t.trim().parse().ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::reports::open_capped;

    #[test]
    fn method_lines_are_not_counted_twice_and_classes_merge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.xml");
        std::fs::write(
            &path,
            r#"<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage line-rate="0.75" branch-rate="0.5" version="1">
 <packages><package name="p"><classes>
  <class name="A" filename="src/A.java"><methods><method name="m"><lines><line number="1" hits="1"/></lines></method></methods>
   <lines><line number="1" hits="1"/><line number="2" hits="0" branch="true" condition-coverage="50% (1/2)"/></lines></class>
  <class name="A$Inner" filename="src/A.java"><lines><line number="3" hits="2"/><line number="4" hits="1"/></lines></class>
 </classes></package></packages>
</coverage>"#,
        )
        .unwrap();
        let r = parse(&path, open_capped(&path, 1 << 20).unwrap()).unwrap();
        let t = r.totals();
        assert_eq!((t.lines_covered, t.lines_valid, t.branches_covered, t.branches_valid), (3, 4, 1, 2));
    }

    #[test]
    fn condition_coverage_forms() {
        assert_eq!(condition_coverage("50% (1/2)"), Some((1, 2)));
        assert_eq!(condition_coverage("100% (4/4)"), Some((4, 4)));
        assert_eq!(condition_coverage("50%"), None);
    }
}
