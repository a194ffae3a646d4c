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

/// The Markdown summary: a verdict line, then one table per project with the failing
/// and warning gates first.
pub fn markdown(results: &[GateResult]) -> String {
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
        let _ = writeln!(out, "### `{}`\n", cell(project));
        let _ = writeln!(out, "| status | gate | test type | metric | actual | threshold | note |");
        let _ = writeln!(out, "|---|---|---|---|---:|---|---|");
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
