//! The human outputs of a run: a Markdown summary sized for a pull-request comment, and
//! a JUnit XML of the gate verdicts so that any CI system (GitLab, Jenkins, GitHub
//! test-report actions) shows each gate as a test case.

use std::fmt::Write;

use quick_xml::escape::escape;

use crate::evaluate::{GateResult, GateStatus, fmt_value};

fn status_label(r: &GateResult) -> &'static str {
    match r.status {
        GateStatus::Pass => "✅ pass",
        GateStatus::Fail => "❌ fail",
        GateStatus::Warn => "⚠️ warn",
        GateStatus::Missing if r.blocks() => "❌ missing",
        GateStatus::Missing if r.warns() => "⚠️ missing",
        GateStatus::Missing => "➖ missing",
    }
}

/// Escapes `|` and newlines so a value stays in its table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Largest Markdown summary, in bytes: GitHub refuses comments over 65,536 characters.
pub const MAX_MARKDOWN_BYTES: usize = 60_000;

/// The Markdown summary: a verdict line, then one table per project with the failing
/// and warning gates first. When that is longer than [`MAX_MARKDOWN_BYTES`], passing
/// gates are counted instead of listed, and as a last resort the text is cut at a line
/// with a pointer to `gate_results`.
pub fn markdown(results: &[GateResult]) -> String {
    let full = markdown_with(results, true);
    if full.len() <= MAX_MARKDOWN_BYTES {
        return full;
    }
    let mut short = markdown_with(results, false);
    if short.len() > MAX_MARKDOWN_BYTES {
        let note = "\n… cut to fit a pull-request comment; every verdict is in `gate_results`.\n";
        let mut end = MAX_MARKDOWN_BYTES - note.len();
        while !short.is_char_boundary(end) {
            end -= 1;
        }
        end = short[..end].rfind('\n').map_or(0, |i| i + 1);
        short.truncate(end);
        short.push_str(note);
    }
    short
}

fn markdown_with(results: &[GateResult], list_passing: bool) -> String {
    let blocking = results.iter().filter(|r| r.blocks()).count();
    let warnings = results.iter().filter(|r| r.warns()).count();
    let mut out = String::new();
    let verdict = if blocking == 0 { "✅ passed" } else { "❌ failed" };
    let _ = writeln!(out, "## Quality gates: {verdict}\n");
    let _ = writeln!(
        out,
        "{} gates: {} passed, {blocking} blocking, {warnings} warnings.\n",
        results.len(),
        results.iter().filter(|r| r.status == GateStatus::Pass).count()
    );
    let mut projects: Vec<&str> = results.iter().map(|r| r.project_id.as_str()).collect();
    projects.dedup();
    for project in projects {
        let mut rows: Vec<&GateResult> = results.iter().filter(|r| r.project_id == project).collect();
        rows.sort_by_key(|r| (!r.blocks(), !r.warns()));
        let passing = rows.iter().filter(|r| r.status == GateStatus::Pass).count();
        if !list_passing {
            rows.retain(|r| r.status != GateStatus::Pass);
        }
        let _ = writeln!(out, "### `{}`\n", cell(project));
        if !rows.is_empty() {
            let _ = writeln!(out, "| status | gate | test type | metric | actual | threshold | note |");
            let _ = writeln!(out, "|---|---|---|---|---:|---|---|");
        }
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | `{}` | {} | {} {} | {} |",
                status_label(r),
                cell(&r.gate_id),
                r.test_type,
                r.metric,
                r.actual.map_or_else(|| "—".to_owned(), fmt_value),
                cell(r.operator),
                fmt_value(r.threshold),
                cell(&r.message)
            );
        }
        if !list_passing && passing > 0 {
            let _ = writeln!(out, "\n_{passing} passing gates not listed._");
        }
        out.push('\n');
    }
    out
}

/// A JUnit XML document with one test case per gate: a blocking result is a
/// `<failure>`, a missing value that does not block is `<skipped>`, and a warning
/// passes with the warning in `<system-out>`.
pub fn junit(results: &[GateResult]) -> String {
    let failures = results.iter().filter(|r| r.blocks()).count();
    let skipped = results.iter().filter(|r| r.status == GateStatus::Missing && !r.blocks()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"quality-gates\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        results.len()
    );
    let mut projects: Vec<&str> = results.iter().map(|r| r.project_id.as_str()).collect();
    projects.dedup();
    for project in projects {
        let rows: Vec<&GateResult> = results.iter().filter(|r| r.project_id == project).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            escape(project),
            rows.len(),
            rows.iter().filter(|r| r.blocks()).count(),
            rows.iter().filter(|r| r.status == GateStatus::Missing && !r.blocks()).count()
        );
        for r in rows {
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"0\">",
                escape(project),
                escape(r.test_type.as_str()),
                escape(r.gate_id.as_str())
            );
            let detail = format!(
                "{} {} {} (actual: {})",
                r.metric,
                r.operator,
                fmt_value(r.threshold),
                r.actual.map_or_else(|| "none".to_owned(), fmt_value)
            );
            if r.blocks() {
                let _ = write!(
                    out,
                    "<failure message=\"{}\" type=\"{}\">{}</failure>",
                    escape(r.message.as_str()),
                    r.status.as_str(),
                    escape(detail.as_str())
                );
            } else if r.status == GateStatus::Missing {
                let _ = write!(out, "<skipped message=\"{}\"/>", escape(r.message.as_str()));
            } else if r.status == GateStatus::Warn {
                let _ = write!(out, "<system-out>warning: {}</system-out>", escape(r.message.as_str()));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Metric, MissingPolicy};

    fn result(project: &str, gate: usize, status: GateStatus) -> GateResult {
        GateResult {
            run_id: "r".into(),
            project_id: project.into(),
            gate_id: format!("gate-{gate}"),
            test_type: "unit".into(),
            metric: Metric::PassRate,
            operator: ">=",
            threshold: 1.0,
            actual: Some(0.5),
            status,
            blocking: true,
            on_missing: MissingPolicy::Fail,
            message: if status == GateStatus::Pass {
                String::new()
            } else {
                "pass_rate = 0.5 does not satisfy >= 1".into()
            },
            environment: None,
        }
    }

    /// A summary of many projects still fits a GitHub comment: passing gates are
    /// counted, failing ones kept; beyond that the text is cut at a line.
    #[test]
    fn long_summaries_fit_a_pull_request_comment() {
        let mut results = Vec::new();
        for p in 0..300 {
            for g in 0..10 {
                let status = if p == 7 && g == 3 { GateStatus::Fail } else { GateStatus::Pass };
                results.push(result(&format!("project-{p:03}"), g, status));
            }
        }
        let md = markdown(&results);
        assert!(md.len() <= MAX_MARKDOWN_BYTES, "{}", md.len());
        assert!(md.starts_with("## Quality gates: ❌ failed"));
        assert!(md.contains("| ❌ fail | `gate-3` |"), "the failing gate is listed");
        assert!(md.contains("_9 passing gates not listed._"));
        let failing: Vec<GateResult> = (0..3000).map(|i| result(&format!("p{i:04}"), i, GateStatus::Fail)).collect();
        let md = markdown(&failing);
        assert!(md.len() <= MAX_MARKDOWN_BYTES, "{}", md.len());
        assert!(md.ends_with("every verdict is in `gate_results`.\n"));
        // Small summaries list every gate.
        let small = markdown(&results[..10]);
        assert_eq!(small.matches("| ✅ pass |").count(), 10);
    }
}
