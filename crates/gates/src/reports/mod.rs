//! Parsers of the reports real tools write, and what they have in common.
//!
//! Each parser reads one file. JUnit and SARIF parsers stream: they hand each test case
//! or finding to a [`RowSink`] as soon as it is read and keep only its counts
//! ([`Measured`]), so memory does not grow with the number of cases or results
//! ([`parse_streaming`]); [`parse`] collects them into a [`Parsed`] report for callers
//! that want them all. Coverage and load-test parsers return per-file coverage and
//! statistics. They are tolerant of the variants real
//! tools emit (documented per module) and strict about what is not a report: malformed
//! or truncated input is a [`ReportError::Malformed`] naming the file and, for XML, the
//! byte offset.
//!
//! Safety: every file is opened through [`open_capped`], which refuses a file larger
//! than the cap and stops reading at the cap even if the file grows. XML is read by
//! quick-xml's pull parser, which streams and never expands entities: a DOCTYPE that
//! declares entities is refused (billion laughs), and an entity reference other than the
//! five XML ones and character references is an error, not an expansion. No external
//! DTD or schema is ever fetched.

pub mod cobertura;
pub mod jacoco;
pub mod junit;
pub mod k6;
pub mod lcov;
pub mod locust;
pub mod sarif;
pub(crate) mod xml;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::ReportFormat;

/// Longest failure message or finding text kept per row, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A report that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read report `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("report `{path}` is larger than the limit of {limit} bytes (defaults.max_report_bytes / --max-report-bytes)")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("report `{path}` is not a regular file (symlinks are refused)")]
    NotRegular { path: PathBuf },
    #[error("malformed {format} report `{path}`: {message}")]
    Malformed {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
}

impl ReportError {
    pub(crate) fn malformed(path: &Path, format: ReportFormat, message: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_owned(),
            format: format.as_str(),
            message: message.into(),
        }
    }
}

/// How a test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaseStatus {
    Passed,
    Failed,
    Error,
    Skipped,
    /// Failed, then passed on a rerun.
    Flaky,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Flaky => "flaky",
        }
    }
}

/// One test case of a JUnit report.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Enclosing suite names, outermost first, joined with `/`.
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub status: CaseStatus,
    pub duration_seconds: f64,
    /// Failed runs before the final one (`flakyFailure`, `rerunFailure`, ...).
    pub reruns: u32,
    /// The failure, error or skip message (truncated to [`MAX_MESSAGE_BYTES`]).
    pub message: Option<String>,
}

/// The test cases of one JUnit file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestReport {
    pub cases: Vec<TestCase>,
    /// Wall time: the root's `time`, else the sum of top-level suites' times, else the
    /// sum of the cases' times.
    pub duration_seconds: f64,
}

/// Coverage of one source file: hits per line and (covered, total) branches per line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileCoverage {
    pub lines: BTreeMap<u32, u64>,
    pub branches: BTreeMap<u32, (u32, u32)>,
}

impl FileCoverage {
    /// Adds another record of the same file: hits add up; a line's branches keep the
    /// larger total and the larger covered count (reports of separate runs cannot say
    /// which branch was taken, so the union is bounded below by the max).
    pub fn merge(&mut self, other: &Self) {
        for (line, hits) in &other.lines {
            // Saturating: tools write counts as large as they like (`DA:1,1e41`).
            let slot = self.lines.entry(*line).or_default();
            *slot = slot.saturating_add(*hits);
        }
        for (line, (covered, total)) in &other.branches {
            let e = self.branches.entry(*line).or_default();
            e.0 = e.0.max(*covered);
            e.1 = e.1.max(*total);
        }
    }

    pub fn lines_valid(&self) -> u64 {
        self.lines.len() as u64
    }

    pub fn lines_covered(&self) -> u64 {
        self.lines.values().filter(|h| **h > 0).count() as u64
    }

    pub fn branches_valid(&self) -> u64 {
        self.branches.values().map(|(_, t)| u64::from(*t)).sum()
    }

    pub fn branches_covered(&self) -> u64 {
        self.branches.values().map(|(c, t)| u64::from((*c).min(*t))).sum()
    }
}

/// Coverage per source file path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoverageReport {
    pub files: BTreeMap<String, FileCoverage>,
}

impl CoverageReport {
    pub fn merge(&mut self, other: &Self) {
        for (file, cov) in &other.files {
            self.files.entry(file.clone()).or_default().merge(cov);
        }
    }

    /// (covered, valid) lines and branches over every file.
    pub fn totals(&self) -> CoverageTotals {
        let mut t = CoverageTotals::default();
        for f in self.files.values() {
            t.lines_covered += f.lines_covered();
            t.lines_valid += f.lines_valid();
            t.branches_covered += f.branches_covered();
            t.branches_valid += f.branches_valid();
        }
        t
    }
}

/// Summed coverage counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoverageTotals {
    pub lines_covered: u64,
    pub lines_valid: u64,
    pub branches_covered: u64,
    pub branches_valid: u64,
}

/// GitHub code scanning's severity of a security rule, from `security-severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecuritySeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl SecuritySeverity {
    /// GitHub's mapping: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low; 0 or
    /// less (or not a number) has no security severity.
    pub fn from_score(score: f64) -> Option<Self> {
        if score >= 9.0 {
            Some(Self::Critical)
        } else if score >= 7.0 {
            Some(Self::High)
        } else if score >= 4.0 {
            Some(Self::Medium)
        } else if score > 0.0 {
            Some(Self::Low)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// One SARIF result.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub tool: String,
    pub rule_id: Option<String>,
    /// `error`, `warning`, `note` or `none` (SARIF `level`, defaulting as the spec says).
    pub level: String,
    pub security_severity: Option<SecuritySeverity>,
    pub security_severity_score: Option<f64>,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// Test counts of one or more JUnit reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TestTotals {
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
    pub flaky: u64,
    pub duration_seconds: f64,
}

impl TestTotals {
    /// Counts one case (its duration is not added: a report's duration is its own).
    pub fn count(&mut self, case: &TestCase) {
        self.tests += 1;
        match case.status {
            CaseStatus::Passed => self.passed += 1,
            CaseStatus::Failed => self.failed += 1,
            CaseStatus::Error => self.errors += 1,
            CaseStatus::Skipped => self.skipped += 1,
            CaseStatus::Flaky => self.flaky += 1,
        }
    }

    pub fn add(&mut self, other: &Self) {
        self.tests += other.tests;
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
        self.duration_seconds += other.duration_seconds;
    }

    /// (passed + flaky) / (tests - skipped); None when nothing ran.
    pub fn pass_rate(&self) -> Option<f64> {
        let executed = self.tests - self.skipped;
        (executed > 0).then(|| (self.passed + self.flaky) as f64 / executed as f64)
    }
}

/// Finding counts of one or more SARIF reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingTotals {
    pub total: u64,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub error: u64,
    pub warning: u64,
    pub note: u64,
    /// Results left out because they are suppressed or absent from the baseline (not
    /// in `total`).
    pub suppressed: u64,
}

impl FindingTotals {
    /// Counts one (unsuppressed) finding.
    pub fn count(&mut self, finding: &Finding) {
        self.total += 1;
        match finding.security_severity {
            Some(SecuritySeverity::Critical) => self.critical += 1,
            Some(SecuritySeverity::High) => self.high += 1,
            Some(SecuritySeverity::Medium) => self.medium += 1,
            Some(SecuritySeverity::Low) => self.low += 1,
            None => {}
        }
        match finding.level.as_str() {
            "error" => self.error += 1,
            "warning" => self.warning += 1,
            "note" => self.note += 1,
            _ => {}
        }
    }

    pub fn add(&mut self, o: &Self) {
        self.total += o.total;
        self.critical += o.critical;
        self.high += o.high;
        self.medium += o.medium;
        self.low += o.low;
        self.error += o.error;
        self.warning += o.warning;
        self.note += o.note;
        self.suppressed += o.suppressed;
    }
}

/// The unsuppressed results of one SARIF file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingsReport {
    pub findings: Vec<Finding>,
    /// Results left out because they are suppressed or absent from the baseline.
    pub suppressed: u64,
}

/// Load-test statistics (all requests together).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerfReport {
    pub requests: u64,
    /// Failed requests, when the tool reports them.
    pub failures: Option<u64>,
    pub requests_per_second: Option<f64>,
    pub latency_avg_ms: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p90_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    /// k6 thresholds that failed (0 when the tool has no thresholds).
    pub thresholds_failed: u64,
}

impl PerfReport {
    /// Combines the statistics of two runs: counts and rates add, the mean is weighted
    /// by requests, and percentiles and the maximum take the worse (larger) value,
    /// which is an upper bound of the combined percentile.
    pub fn combine(&mut self, other: &Self) {
        let total = self.requests + other.requests;
        self.latency_avg_ms = match (self.latency_avg_ms, other.latency_avg_ms) {
            (Some(a), Some(b)) if total > 0 => Some((a * self.requests as f64 + b * other.requests as f64) / total as f64),
            (a, b) => a.or(b),
        };
        self.requests = total;
        self.failures = match (self.failures, other.failures) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.requests_per_second = match (self.requests_per_second, other.requests_per_second) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        let worst = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.latency_p50_ms = worst(self.latency_p50_ms, other.latency_p50_ms);
        self.latency_p90_ms = worst(self.latency_p90_ms, other.latency_p90_ms);
        self.latency_p95_ms = worst(self.latency_p95_ms, other.latency_p95_ms);
        self.latency_p99_ms = worst(self.latency_p99_ms, other.latency_p99_ms);
        self.latency_max_ms = worst(self.latency_max_ms, other.latency_max_ms);
        self.thresholds_failed += other.thresholds_failed;
    }
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Tests(TestReport),
    Coverage(CoverageReport),
    Findings(FindingsReport),
    Performance(PerfReport),
}

/// What one report measured, without the test cases and findings themselves (those
/// went, one at a time, to the [`RowSink`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Tests(TestTotals),
    Coverage(CoverageReport),
    Findings(FindingTotals),
    Performance(PerfReport),
}

/// Where a streaming parse sends each test case and finding as soon as it is read.
pub trait RowSink {
    fn test_case(&mut self, case: TestCase);
    fn finding(&mut self, finding: Finding);
}

/// A [`RowSink`] that keeps every row: memory grows with the report (for tests, the
/// fuzz target and small inputs; the job streams instead).
#[derive(Debug, Default)]
struct Collect {
    cases: Vec<TestCase>,
    findings: Vec<Finding>,
}

impl RowSink for Collect {
    fn test_case(&mut self, case: TestCase) {
        self.cases.push(case);
    }

    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// Where a report's bytes come from; SARIF may read them twice (see [`sarif`]).
pub(crate) enum Source<'a> {
    File { path: &'a Path, limit: u64 },
    Bytes { path: &'a Path, bytes: &'a [u8] },
}

impl Source<'_> {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Self::File { path, .. } | Self::Bytes { path, .. } => path,
        }
    }

    /// A new reader from the start of the report.
    pub(crate) fn open(&self) -> Result<CappedReader, ReportError> {
        match self {
            Self::File { path, limit } => open_capped(path, *limit),
            Self::Bytes { path, bytes } => Ok(CappedReader {
                inner: Box::new(std::io::Cursor::new(bytes.to_vec())),
                left: bytes.len() as u64,
                path: (*path).to_owned(),
                limit: bytes.len() as u64,
            }),
        }
    }
}

/// Parses `path` as `format`, reading at most `max_bytes`, and keeps every test case
/// and finding (memory grows with them: the job uses [`parse_streaming`]).
pub fn parse(format: ReportFormat, path: &Path, max_bytes: u64) -> Result<Parsed, ReportError> {
    parse_collecting(format, &Source::File { path, limit: max_bytes })
}

/// Parses `path` as `format`, reading at most `max_bytes`: each test case and finding
/// goes to `sink` as it is read, and only their counts are kept.
pub fn parse_streaming(format: ReportFormat, path: &Path, max_bytes: u64, sink: &mut dyn RowSink) -> Result<Measured, ReportError> {
    parse_source(format, &Source::File { path, limit: max_bytes }, sink)
}

/// Parses in-memory `bytes` as `format`; `path` only names the input in errors. The
/// entry point of the fuzz target and the no-panic tests: the same parsers, without a
/// file.
pub fn parse_bytes(format: ReportFormat, path: &Path, bytes: &[u8]) -> Result<Parsed, ReportError> {
    parse_collecting(format, &Source::Bytes { path, bytes })
}

fn parse_collecting(format: ReportFormat, source: &Source<'_>) -> Result<Parsed, ReportError> {
    let mut rows = Collect::default();
    Ok(match parse_source(format, source, &mut rows)? {
        Measured::Tests(t) => Parsed::Tests(TestReport {
            cases: rows.cases,
            duration_seconds: t.duration_seconds,
        }),
        Measured::Findings(t) => Parsed::Findings(FindingsReport {
            findings: rows.findings,
            suppressed: t.suppressed,
        }),
        Measured::Coverage(c) => Parsed::Coverage(c),
        Measured::Performance(p) => Parsed::Performance(p),
    })
}

fn parse_source(format: ReportFormat, source: &Source<'_>, sink: &mut dyn RowSink) -> Result<Measured, ReportError> {
    let path = source.path();
    let open = || source.open();
    Ok(match format {
        ReportFormat::Junit => Measured::Tests(junit::parse(path, open()?, &mut |c| sink.test_case(c))?),
        ReportFormat::Sarif => Measured::Findings(sarif::parse(source, &mut |f| sink.finding(f))?),
        ReportFormat::Cobertura => Measured::Coverage(cobertura::parse(path, open()?)?),
        ReportFormat::Jacoco => Measured::Coverage(jacoco::parse(path, open()?)?),
        ReportFormat::Lcov => Measured::Coverage(lcov::parse(path, open()?)?),
        ReportFormat::LocustCsv => Measured::Performance(locust::parse(path, open()?)?),
        ReportFormat::K6Summary => Measured::Performance(k6::parse(path, open()?)?),
    })
}

/// A reader that fails once more than `limit` bytes were read, so a file that grows
/// while it is parsed still cannot exceed the cap.
pub struct CappedReader {
    inner: Box<dyn Read>,
    left: u64,
    path: PathBuf,
    limit: u64,
}

impl Read for CappedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Ask for one byte more than allowed so that a file that grew is noticed.
        let want = (buf.len() as u64).min(self.left + 1) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "`{}` is larger than the limit of {} bytes",
                self.path.display(),
                self.limit
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Opens `path` for reading at most `limit` bytes; a file already larger is refused
/// before any parsing.
pub fn open_capped(path: &Path, limit: u64) -> Result<CappedReader, ReportError> {
    // A report that is a symlink could point anywhere (`/proc/self/environ`): refused by
    // name, never read.
    let meta = std::fs::symlink_metadata(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !meta.file_type().is_file() {
        return Err(ReportError::NotRegular { path: path.to_owned() });
    }
    let file = std::fs::File::open(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| ReportError::Read {
            path: path.to_owned(),
            source,
        })?
        .len();
    if len > limit {
        return Err(ReportError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(CappedReader {
        inner: Box::new(std::io::BufReader::with_capacity(64 << 10, file)),
        left: limit,
        path: path.to_owned(),
        limit,
    })
}

/// Truncates `text` to at most [`MAX_MESSAGE_BYTES`] on a character boundary.
pub(crate) fn truncate_message(mut text: String) -> String {
    if text.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Parses a number attribute written by any tool: `1.5`, `1,234.5` (Surefire in some
/// locales), surrounding spaces.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let v: f64 = if t.contains(',') && t.contains('.') {
        t.replace(',', "").parse().ok()?
    } else {
        t.replace(',', ".").parse().ok()?
    };
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_severity_follows_github_code_scanning() {
        assert_eq!(SecuritySeverity::from_score(9.0), Some(SecuritySeverity::Critical));
        assert_eq!(SecuritySeverity::from_score(8.99), Some(SecuritySeverity::High));
        assert_eq!(SecuritySeverity::from_score(7.0), Some(SecuritySeverity::High));
        assert_eq!(SecuritySeverity::from_score(6.9), Some(SecuritySeverity::Medium));
        assert_eq!(SecuritySeverity::from_score(4.0), Some(SecuritySeverity::Medium));
        assert_eq!(SecuritySeverity::from_score(0.1), Some(SecuritySeverity::Low));
        assert_eq!(SecuritySeverity::from_score(0.0), None);
    }

    #[test]
    fn numbers_in_any_locale() {
        assert_eq!(parse_number(" 1,234.5 "), Some(1234.5));
        assert_eq!(parse_number("0,25"), Some(0.25));
        assert_eq!(parse_number("NaN"), None);
    }

    /// One small valid report per format, the seeds of the no-panic test.
    const SAMPLES: &[(ReportFormat, &str)] = &[
        (
            ReportFormat::Junit,
            r#"<?xml version="1.0"?><testsuites time="1.5"><testsuite name="s" time="1.5"><testcase name="a" classname="C" time="0.5"/><testcase name="b"><failure message="m">t</failure><rerunFailure/></testcase><testcase name="c"><flakyFailure/></testcase><testcase name="d"><skipped/></testcase></testsuite></testsuites>"#,
        ),
        (
            ReportFormat::Cobertura,
            r#"<?xml version="1.0" ?><coverage line-rate="0.5"><packages><package name="p"><classes><class name="a" filename="a.py"><lines><line number="1" hits="1"/><line number="2" hits="0" branch="true" condition-coverage="50% (1/2)"/></lines></class></classes></package></packages></coverage>"#,
        ),
        (
            ReportFormat::Jacoco,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd"><report name="r"><package name="p"><sourcefile name="A.java"><line nr="3" mi="0" ci="3" mb="1" cb="1"/><line nr="4" mi="2" ci="0" mb="0" cb="0"/></sourcefile></package></report>"#,
        ),
        (
            ReportFormat::Lcov,
            "TN:\nSF:a.py\nDA:1,1\nDA:2,0\nBRDA:2,0,0,1\nBRDA:2,0,1,-\nend_of_record\n",
        ),
        (
            ReportFormat::Sarif,
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"ruff","rules":[{"id":"S1","properties":{"security-severity":"7.5"}}]}},"results":[{"ruleId":"S1","level":"error","message":{"text":"x"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.py"},"region":{"startLine":2}}}]}]}]}"#,
        ),
        (
            ReportFormat::LocustCsv,
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\nGET,/,10,1,3,3.5,1,9,100,5.0,0.5,3,3,4,4,5,6,7,9,9,9,9\n,Aggregated,10,1,3,3.5,1,9,100,5.0,0.5,3,3,4,4,5,6,7,9,9,9,9\n",
        ),
        (
            ReportFormat::K6Summary,
            r#"{"metrics":{"http_reqs":{"count":10,"rate":5.0},"http_req_failed":{"passes":1,"fails":9,"value":0.1,"thresholds":{"rate<0.01":true}},"http_req_duration":{"avg":3.5,"min":1,"med":3,"max":9,"p(90)":5,"p(95)":6}}}"#,
        ),
    ];

    /// xorshift64*: a dependency-free, reproducible byte source.
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn every_sample_parses_as_its_format() {
        for (format, text) in SAMPLES {
            let parsed = parse_bytes(*format, Path::new("sample"), text.as_bytes());
            assert!(parsed.is_ok(), "{format:?}: {parsed:?}");
        }
    }

    /// The stable stand-in for the cargo-fuzz target (fuzz/fuzz_targets/parsers.rs):
    /// random bytes, every truncation of a valid report and random mutations of it,
    /// fed to every parser, must give `Ok` or a `Malformed` error, never a panic.
    #[test]
    fn random_truncated_and_mutated_bytes_never_panic() {
        let formats = SAMPLES.iter().map(|(f, _)| *f).collect::<Vec<_>>();
        let mut rng = Bytes(0x9e37_79b9_7f4a_7c15);
        let path = Path::new("fuzz-input");
        let check = |format: ReportFormat, bytes: &[u8]| match parse_bytes(format, path, bytes) {
            Ok(_) | Err(ReportError::Malformed { .. } | ReportError::Read { .. }) => {}
            Err(e) => panic!("{format:?}: unexpected error kind {e:?}"),
        };
        for (_, text) in SAMPLES {
            let sample = text.as_bytes();
            for format in &formats {
                for end in 0..=sample.len() {
                    check(*format, &sample[..end]);
                }
                for _ in 0..300 {
                    let mut bytes = sample.to_vec();
                    for _ in 0..=rng.below(8) {
                        let i = rng.below(bytes.len());
                        match rng.below(3) {
                            0 => bytes[i] = rng.next() as u8,
                            1 => {
                                bytes.remove(i);
                            }
                            _ => {
                                let j = rng.below(sample.len());
                                bytes.insert(i, sample[j]);
                            }
                        }
                    }
                    check(*format, &bytes);
                }
            }
        }
        for _ in 0..2000 {
            let len = rng.below(600);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            check(formats[rng.below(formats.len())], &bytes);
        }
        // Deep nesting and long lines are refused with an error, not a stack overflow.
        check(ReportFormat::Junit, "<testsuites>".repeat(100_000).as_bytes());
        check(ReportFormat::Sarif, "[".repeat(100_000).as_bytes());
        check(ReportFormat::K6Summary, "{\"a\":".repeat(100_000).as_bytes());
        check(ReportFormat::Lcov, "SF:".repeat(100_000).as_bytes());
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.xml");
        std::fs::write(&path, vec![b'x'; 100]).expect("write");
        assert!(matches!(open_capped(&path, 99), Err(ReportError::TooLarge { .. })));
        let mut r = open_capped(&path, 100).expect("open");
        let mut all = Vec::new();
        r.read_to_end(&mut all).expect("read");
        assert_eq!(all.len(), 100);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_report_is_refused_by_name_and_never_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("junit.xml");
        std::os::unix::fs::symlink("/proc/self/environ", &link).expect("symlink");
        let err = parse(ReportFormat::Junit, &link, 1 << 20).expect_err("refused");
        assert!(matches!(err, ReportError::NotRegular { .. }), "{err}");
        assert!(err.to_string().contains("junit.xml"));
    }
}
