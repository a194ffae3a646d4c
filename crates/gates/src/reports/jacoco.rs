//! JaCoCo XML (`jacoco:report`, Gradle `jacocoTestReport`).
//!
//! Per-line data comes from `package > sourcefile > line` (`nr`, missed/covered
//! instructions `mi`/`ci`, missed/covered branches `mb`/`cb`): a line counts as covered
//! when any of its instructions ran, which is how JaCoCo's own LINE counter counts it.
//! Files are keyed `<package>/<sourcefile>`. The report's DOCTYPE (public id, no
//! entities) is accepted and the DTD is never fetched.

use std::path::Path;

use super::xml::{Node, XmlStream, attr};
use super::{CappedReader, CoverageReport, ReportError};
use crate::config::ReportFormat;

/// Parses one JaCoCo XML file.
pub fn parse(path: &Path, input: CappedReader) -> Result<CoverageReport, ReportError> {
    let mut x = XmlStream::new(path, ReportFormat::Jacoco, input);
    let mut report = CoverageReport::default();
    let mut depth = 0usize;
    let mut package = String::new();
    let mut file: Option<String> = None;
    loop {
        match x.next()? {
            Node::Start { name, attrs } => {
                depth += 1;
                if depth == 1 {
                    x.check_root(&name, &["report"])?;
                }
                match name.as_str() {
                    "package" => attr(&attrs, "name").unwrap_or_default().clone_into(&mut package),
                    "sourcefile" => {
                        let n = attr(&attrs, "name").ok_or_else(|| x.fail("<sourcefile> without `name`"))?;
                        let key = if package.is_empty() {
                            n.to_owned()
                        } else {
                            format!("{package}/{n}")
                        };
                        report.files.entry(key.clone()).or_default();
                        file = Some(key);
                    }
                    "line" => {
                        let Some(f) = file.as_ref() else { continue };
                        let num = |k: &str| attr(&attrs, k).map_or(Some(0), |v| v.trim().parse::<u32>().ok());
                        let (Some(nr), Some(ci), Some(mb), Some(cb)) = (
                            attr(&attrs, "nr").and_then(|v| v.trim().parse::<u32>().ok()),
                            num("ci"),
                            num("mb"),
                            num("cb"),
                        ) else {
                            return Err(x.fail(format!("a <line> of `{f}` has a missing or non-numeric nr/mi/ci/mb/cb")));
                        };
                        let cov = report.files.entry(f.clone()).or_default();
                        let slot = cov.lines.entry(nr).or_default();
                        *slot = slot.saturating_add(u64::from(ci));
                        if mb + cb > 0 {
                            let e = cov.branches.entry(nr).or_default();
                            e.0 = e.0.max(cb);
                            e.1 = e.1.max(mb + cb);
                        }
                    }
                    _ => {}
                }
            }
            Node::End { name } => {
                depth = depth.saturating_sub(1);
                match name.as_str() {
                    "sourcefile" => file = None,
                    "package" => package.clear(),
                    _ => {}
                }
            }
            Node::Text(_) => {}
            Node::Eof => break,
        }
    }
    Ok(report)
}
