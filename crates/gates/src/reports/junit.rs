//! JUnit XML, as the tools people actually run write it.
//!
//! There is no single JUnit schema; these variants are read:
//! - root `<testsuites>` (pytest >= 5, nextest, jest-junit, go-junit-report, Surefire
//!   aggregates) or a bare `<testsuite>` (Surefire's per-class files, older pytest);
//! - suites nested in suites (Ant, some JS reporters): the suite path is kept;
//! - outcome children `<failure>`, `<error>`, `<skipped>`; Surefire/Failsafe reruns
//!   (`-Dsurefire.rerunFailingTestsCount`) and nextest retries: `<flakyFailure>` /
//!   `<flakyError>` on a test that finally passed (status `flaky`), `<rerunFailure>` /
//!   `<rerunError>` on one that failed every run (status failed/error);
//! - a case with both a failure and an error (pytest: failed call, then a teardown
//!   error) counts once, as an error;
//! - `time` missing, empty or written with a thousands separator (`1,234.5`);
//! - jest-junit's report of a test file that failed to run (with
//!   `reportTestSuiteErrors`): two cases of classname `Test suite failed to run` and the
//!   same name, an `<error>` and a `<failure>` carrying the same exception as JSON. They
//!   are one event and count once, as an error. (jest-junit also writes `test.todo`
//!   entries as bare cases, indistinguishable from passes: they count as passed.)
//!
//! Counts come from the test cases, never from the suites' `tests`/`failures`
//! attributes, which some tools leave out or get wrong.
//!
//! The document is read as a stream of XML events and each case is handed on as soon
//! as it closes (one case is held back, to fold jest-junit's second report into it):
//! memory is one case and the stack of open suites, whatever the number of cases.

use std::path::Path;

use super::xml::{Node, XmlStream, attr};
use super::{CappedReader, CaseStatus, MAX_MESSAGE_BYTES, ReportError, TestCase, TestTotals, parse_number, truncate_message};
use crate::config::ReportFormat;

/// The classname jest-junit gives the cases of a test file that failed to run
/// (`utils/buildJsonResults.js`, `noResultOptions`).
const JEST_SUITE_FAILED_TO_RUN: &str = "Test suite failed to run";

#[derive(Default)]
struct CaseBuilder {
    suite: String,
    classname: String,
    name: String,
    time: f64,
    failure: bool,
    error: bool,
    skipped: bool,
    flaky: u32,
    reruns: u32,
    message: Option<String>,
}

impl CaseBuilder {
    fn finish(self) -> TestCase {
        let status = if self.error {
            CaseStatus::Error
        } else if self.failure {
            CaseStatus::Failed
        } else if self.skipped {
            CaseStatus::Skipped
        } else if self.flaky > 0 {
            CaseStatus::Flaky
        } else {
            CaseStatus::Passed
        };
        TestCase {
            suite: self.suite,
            classname: self.classname,
            name: self.name,
            status,
            duration_seconds: self.time,
            reruns: self.flaky + self.reruns,
            message: self.message.map(truncate_message),
        }
    }
}

/// Hands on each case, holding the last one back to fold jest-junit's second report of
/// a test file that failed to run into the first (the worse status and the first
/// message win), and counts what it hands on.
struct Cases<'e> {
    held: Option<TestCase>,
    emit: &'e mut dyn FnMut(TestCase),
    totals: TestTotals,
    /// Sum of the cases' times (the duration when no suite gives one).
    case_seconds: f64,
}

impl Cases<'_> {
    fn push(&mut self, case: TestCase) {
        if case.classname == JEST_SUITE_FAILED_TO_RUN
            && let Some(last) = self.held.as_mut()
            && last.classname == case.classname
            && last.suite == case.suite
            && last.name == case.name
        {
            if case.status == CaseStatus::Error {
                last.status = CaseStatus::Error;
            } else if last.status != CaseStatus::Error && case.status == CaseStatus::Failed {
                last.status = CaseStatus::Failed;
            }
            if last.message.is_none() {
                last.message = case.message;
            }
            return;
        }
        self.flush();
        self.held = Some(case);
    }

    fn flush(&mut self) {
        if let Some(case) = self.held.take() {
            self.totals.count(&case);
            self.case_seconds += case.duration_seconds;
            (self.emit)(case);
        }
    }
}

/// Parses one JUnit XML file, handing each case to `emit` as it is read; returns the
/// counts and the report's duration.
#[allow(
    clippy::too_many_lines,
    reason = "one state machine over the JUnit dialects; split, it would thread the same state through helpers"
)]
pub fn parse(path: &Path, input: CappedReader, emit: &mut dyn FnMut(TestCase)) -> Result<TestTotals, ReportError> {
    let mut x = XmlStream::new(path, ReportFormat::Junit, input);
    let mut depth = 0usize;
    let mut root_is_suites = false;
    let mut root_time = None;
    // Sum of the top-level suites' times, while every one of them has a time.
    let mut top_seconds = 0.0;
    let mut top_suites = 0u64;
    let mut top_all_timed = true;
    let mut suites: Vec<String> = Vec::new();
    let mut case: Option<CaseBuilder> = None;
    // Text of the outcome element being read, when it has no `message` attribute.
    let mut capture: Option<String> = None;
    let mut cases = Cases {
        held: None,
        emit,
        totals: TestTotals::default(),
        case_seconds: 0.0,
    };
    loop {
        match x.next()? {
            Node::Start { name, attrs } => {
                depth += 1;
                if depth == 1 {
                    x.check_root(&name, &["testsuites", "testsuite"])?;
                    root_is_suites = name == "testsuites";
                    if root_is_suites {
                        root_time = attr(&attrs, "time").and_then(parse_number);
                    }
                }
                match name.as_str() {
                    "testsuite" => {
                        if depth == 1 || (root_is_suites && depth == 2) {
                            top_suites += 1;
                            match attr(&attrs, "time").and_then(parse_number) {
                                Some(t) => top_seconds += t,
                                None => top_all_timed = false,
                            }
                        }
                        suites.push(attr(&attrs, "name").unwrap_or_default().to_owned());
                    }
                    "testcase" => {
                        if case.is_some() {
                            return Err(x.fail("<testcase> inside <testcase>"));
                        }
                        let suite = suites.join("/");
                        case = Some(CaseBuilder {
                            classname: attr(&attrs, "classname")
                                .or_else(|| attr(&attrs, "class"))
                                .map_or_else(|| suites.last().cloned().unwrap_or_default(), str::to_owned),
                            name: attr(&attrs, "name").unwrap_or_default().to_owned(),
                            time: attr(&attrs, "time").and_then(parse_number).unwrap_or(0.0),
                            suite,
                            ..CaseBuilder::default()
                        });
                    }
                    "failure" | "error" | "skipped" | "flakyFailure" | "flakyError" | "rerunFailure" | "rerunError" => {
                        if let Some(c) = case.as_mut() {
                            match name.as_str() {
                                "failure" => c.failure = true,
                                "error" => c.error = true,
                                "skipped" => c.skipped = true,
                                "flakyFailure" | "flakyError" => c.flaky += 1,
                                _ => c.reruns += 1,
                            }
                            let final_outcome = matches!(name.as_str(), "failure" | "error" | "skipped");
                            if final_outcome && c.message.is_none() {
                                match attr(&attrs, "message").filter(|m| !m.trim().is_empty()) {
                                    Some(m) => c.message = Some(m.to_owned()),
                                    None => capture = Some(String::new()),
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Node::End { name } => {
                depth = depth.saturating_sub(1);
                match name.as_str() {
                    "testsuite" => {
                        suites.pop();
                    }
                    "testcase" => {
                        if let Some(c) = case.take() {
                            cases.push(c.finish());
                        }
                    }
                    "failure" | "error" | "skipped" => {
                        if let (Some(text), Some(c)) = (capture.take(), case.as_mut()) {
                            let text = text.trim();
                            if !text.is_empty() {
                                c.message = Some(text.to_owned());
                            }
                        }
                    }
                    _ => {}
                }
            }
            Node::Text(t) => {
                if let Some(buf) = capture.as_mut()
                    && buf.len() < MAX_MESSAGE_BYTES
                {
                    buf.push_str(&t);
                }
            }
            Node::Eof => break,
        }
    }
    cases.flush();
    let case_seconds = cases.case_seconds;
    let mut totals = cases.totals;
    totals.duration_seconds = root_time.unwrap_or(if top_suites > 0 && top_all_timed {
        top_seconds
    } else {
        case_seconds
    });
    Ok(totals)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::reports::open_capped;

    use crate::reports::TestReport;

    pub(crate) fn parse_text(text: &str) -> Result<TestReport, ReportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        std::fs::write(&path, text).unwrap();
        let mut cases = Vec::new();
        let totals = parse(&path, open_capped(&path, 1 << 20).unwrap(), &mut |c| cases.push(c))?;
        assert_eq!(totals.tests, cases.len() as u64, "every case handed on is counted");
        Ok(TestReport {
            cases,
            duration_seconds: totals.duration_seconds,
        })
    }

    fn statuses(r: &TestReport) -> Vec<&'static str> {
        r.cases.iter().map(|c| c.status.as_str()).collect()
    }

    #[test]
    fn bare_testsuite_root_with_nested_suites() {
        let r = parse_text(
            r#"<?xml version="1.0"?>
<testsuite name="outer" time="3">
  <testsuite name="inner">
    <testcase name="a" classname="C" time="1,000.5"/>
    <testcase name="b"><skipped/></testcase>
  </testsuite>
  <testcase name="c"><error type="E">boom &amp; &#x41;</error></testcase>
</testsuite>"#,
        )
        .unwrap();
        assert_eq!(statuses(&r), ["passed", "skipped", "error"]);
        assert_eq!(r.cases[0].suite, "outer/inner");
        assert_eq!(r.cases[0].duration_seconds, 1000.5);
        assert_eq!(r.cases[1].classname, "inner");
        assert_eq!(r.cases[2].message.as_deref(), Some("boom & A"));
        assert_eq!(r.duration_seconds, 3.0);
    }

    #[test]
    fn failure_and_teardown_error_count_once_as_error() {
        let r = parse_text(r#"<testsuites><testsuite name="pytest"><testcase name="t"><failure message="assert"/><error message="teardown"/></testcase></testsuite></testsuites>"#).unwrap();
        assert_eq!(statuses(&r), ["error"]);
        assert_eq!(r.cases[0].message.as_deref(), Some("assert"));
    }

    #[test]
    fn go_junit_report_and_jest_junit_shapes() {
        // go-junit-report v2: properties, failure text without message.
        let go = parse_text(
            r#"<testsuites tests="2" failures="1">
  <testsuite name="example.com/pkg" tests="2" failures="1" errors="0" id="0" hostname="h" time="0.010" timestamp="2024-01-01T00:00:00Z">
    <properties><property name="go.version" value="go1.22.0"></property></properties>
    <testcase name="TestA" classname="example.com/pkg" time="0.000"></testcase>
    <testcase name="TestB" classname="example.com/pkg" time="0.010"><failure message="Failed"><![CDATA[    b_test.go:9: nope]]></failure></testcase>
  </testsuite>
</testsuites>"#,
        )
        .unwrap();
        assert_eq!(statuses(&go), ["passed", "failed"]);
        assert!((go.duration_seconds - 0.010).abs() < 1e-12);
        let jest = parse_text(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.5">
  <testsuite name="sum" errors="0" failures="1" skipped="1" timestamp="2024-01-01T00:00:00" time="1.2" tests="3">
    <testcase classname="sum adds" name="sum adds" time="0.002"></testcase>
    <testcase classname="sum fails" name="sum fails" time="0.003"><failure>Error: expect(received).toBe(expected)</failure></testcase>
    <testcase classname="sum later" name="sum later" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>"#,
        )
        .unwrap();
        assert_eq!(statuses(&jest), ["passed", "failed", "skipped"]);
        assert_eq!(jest.cases[1].message.as_deref(), Some("Error: expect(received).toBe(expected)"));
        assert_eq!(jest.duration_seconds, 1.5);
    }

    #[test]
    fn jest_junit_suite_that_failed_to_run_counts_once_as_an_error() {
        // jest-junit 17 with reportTestSuiteErrors: an <error> case, then the same
        // exception again as a <failure> case of the same classname and name.
        let r = parse_text(
            r#"<testsuites name="jest tests" tests="1" failures="0" errors="1" time="0.5">
  <testsuite name="broken.test.js" errors="1" failures="0" skipped="0" time="0" tests="0">
    <testcase classname="Test suite failed to run" name="broken.test.js" time="0"><error>Cannot find module './gone'</error></testcase>
    <testcase classname="Test suite failed to run" name="broken.test.js" time="0"><failure>{"code":"MODULE_NOT_FOUND"}</failure></testcase>
  </testsuite>
  <testsuite name="other.test.js" tests="1">
    <testcase classname="Test suite failed to run" name="other.test.js" time="0"><error>SyntaxError</error></testcase>
    <testcase classname="x" name="x" time="0.1"/>
    <testcase classname="x" name="x" time="0.1"/>
  </testsuite>
</testsuites>"#,
        )
        .unwrap();
        assert_eq!(statuses(&r), ["error", "error", "passed", "passed"]);
        assert_eq!(r.cases[0].message.as_deref(), Some("Cannot find module './gone'"));
        assert_eq!(r.cases[1].name, "other.test.js");
    }

    #[test]
    fn truncated_and_hostile_documents_are_errors() {
        let e = parse_text("<testsuites><testsuite name=\"x\"><testcase name=\"a\">").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<testsuite><testcase name="&lol2;"/></testsuite>"#;
        let e = parse_text(bomb).unwrap_err();
        assert!(e.to_string().contains("entities"), "{e}");
        let undeclared = r#"<testsuite><testcase name="a"><failure>&xxe;</failure></testcase></testsuite>"#;
        assert!(parse_text(undeclared).unwrap_err().to_string().contains("`&xxe;`"));
        assert!(parse_text("").unwrap_err().to_string().contains("no root"));
        assert!(
            parse_text("<coverage/>")
                .unwrap_err()
                .to_string()
                .contains("root element is <coverage>")
        );
        assert!(parse_text("<testsuite><testcase></testsuite>").is_err());
    }
}
