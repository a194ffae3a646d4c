//! The words of the quality config: test types, report formats, metrics, comparison
//! operators, gate levels and missing-report policies, with what each means (which
//! report family a metric comes from, whether it is a ratio in [0, 1]).
//!
//! Kept apart from the config's structure (`config`) because the parsers, the evaluation
//! and the tables all speak this vocabulary, while only the loader needs the structure.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A kind of test a project runs; each has its own reports and gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestType {
    Unit,
    Integration,
    Contract,
    Security,
    Performance,
}

impl TestType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unit => "unit",
            Self::Integration => "integration",
            Self::Contract => "contract",
            Self::Security => "security",
            Self::Performance => "performance",
        }
    }
}

impl fmt::Display for TestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// JUnit XML (pytest, Maven Surefire/Failsafe, cargo-nextest, jest-junit, go-junit-report).
    Junit,
    /// Cobertura XML (coverage.py `coverage xml`, cargo-llvm-cov `--cobertura`, ...).
    Cobertura,
    /// LCOV tracefile (`coverage lcov`, `cargo llvm-cov --lcov`, c8, genhtml input).
    Lcov,
    /// JaCoCo XML report.
    Jacoco,
    /// SARIF 2.1.0 (ruff, bandit, CodeQL, semgrep, ...).
    Sarif,
    /// Locust `--csv` stats file (`<prefix>_stats.csv`).
    LocustCsv,
    /// k6 `--summary-export` JSON (or the `handleSummary` data JSON).
    K6Summary,
}

/// What kind of numbers a report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Tests,
    Coverage,
    Findings,
    Performance,
}

impl ReportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Junit => "junit",
            Self::Cobertura => "cobertura",
            Self::Lcov => "lcov",
            Self::Jacoco => "jacoco",
            Self::Sarif => "sarif",
            Self::LocustCsv => "locust_csv",
            Self::K6Summary => "k6_summary",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Self::Junit => Family::Tests,
            Self::Cobertura | Self::Lcov | Self::Jacoco => Family::Coverage,
            Self::Sarif => Family::Findings,
            Self::LocustCsv | Self::K6Summary => Family::Performance,
        }
    }
}

/// A number computed from the reports of a test type (or of all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Test cases in the JUnit reports (skipped included).
    Tests,
    /// Test cases that passed on their first run.
    Passed,
    /// Test cases with a failure (assertion) in their final run.
    Failed,
    /// Test cases with an error (crash, setup/teardown error) in their final run.
    Errors,
    /// Test cases skipped (pytest xfail and skip, `#[ignore]` when reported, ...).
    Skipped,
    /// Test cases that failed and then passed on a rerun (Surefire `flakyFailure`,
    /// nextest retries).
    Flaky,
    /// (passed + flaky) / (tests - skipped), in [0, 1].
    PassRate,
    /// Wall time of the test run in seconds (suite times; else the sum of test case times).
    DurationSeconds,
    /// Covered lines / coverable lines, in [0, 1].
    LineCoverage,
    /// Covered branches / branches, in [0, 1].
    BranchCoverage,
    /// Unsuppressed SARIF results.
    FindingsTotal,
    /// Results whose rule has `security-severity` >= 9.0.
    FindingsCritical,
    /// `security-severity` in [7.0, 9.0).
    FindingsHigh,
    /// `security-severity` in [4.0, 7.0).
    FindingsMedium,
    /// `security-severity` in (0, 4.0).
    FindingsLow,
    /// Results of level `error`.
    FindingsError,
    /// Results of level `warning`.
    FindingsWarning,
    /// Results of level `note`.
    FindingsNote,
    /// Requests sent by the load test.
    Requests,
    /// Failed requests / requests, in [0, 1].
    ErrorRate,
    /// Requests per second over the run.
    RequestsPerSecond,
    /// Mean response time in milliseconds.
    LatencyAvgMs,
    /// Median response time in milliseconds.
    LatencyP50Ms,
    /// 90th percentile response time in milliseconds.
    LatencyP90Ms,
    /// 95th percentile response time in milliseconds.
    LatencyP95Ms,
    /// 99th percentile response time in milliseconds.
    LatencyP99Ms,
    /// Slowest response in milliseconds.
    LatencyMaxMs,
    /// k6 thresholds that failed.
    PerfThresholdsFailed,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tests => "tests",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Errors => "errors",
            Self::Skipped => "skipped",
            Self::Flaky => "flaky",
            Self::PassRate => "pass_rate",
            Self::DurationSeconds => "duration_seconds",
            Self::LineCoverage => "line_coverage",
            Self::BranchCoverage => "branch_coverage",
            Self::FindingsTotal => "findings_total",
            Self::FindingsCritical => "findings_critical",
            Self::FindingsHigh => "findings_high",
            Self::FindingsMedium => "findings_medium",
            Self::FindingsLow => "findings_low",
            Self::FindingsError => "findings_error",
            Self::FindingsWarning => "findings_warning",
            Self::FindingsNote => "findings_note",
            Self::Requests => "requests",
            Self::ErrorRate => "error_rate",
            Self::RequestsPerSecond => "requests_per_second",
            Self::LatencyAvgMs => "latency_avg_ms",
            Self::LatencyP50Ms => "latency_p50_ms",
            Self::LatencyP90Ms => "latency_p90_ms",
            Self::LatencyP95Ms => "latency_p95_ms",
            Self::LatencyP99Ms => "latency_p99_ms",
            Self::LatencyMaxMs => "latency_max_ms",
            Self::PerfThresholdsFailed => "perf_thresholds_failed",
        }
    }

    /// Whether the metric is a ratio in [0, 1] (so is its threshold: `0.8`, not `80`).
    pub fn is_ratio(self) -> bool {
        matches!(self, Self::PassRate | Self::LineCoverage | Self::BranchCoverage | Self::ErrorRate)
    }

    /// Why `threshold` cannot be a threshold of this metric, if it cannot.
    pub fn threshold_problem(self, threshold: f64) -> Option<String> {
        if !threshold.is_finite() {
            return Some("threshold must be a finite number".into());
        }
        if self.is_ratio() && !(0.0..=1.0).contains(&threshold) {
            let hint = if (1.0..=100.0).contains(&threshold) {
                format!(" (for {threshold}% write {})", threshold / 100.0)
            } else {
                String::new()
            };
            return Some(format!(
                "`{self}` is a ratio in [0, 1], so its threshold must be too; got {threshold}{hint}"
            ));
        }
        None
    }

    /// The kind of report the metric comes from.
    pub fn family(self) -> Family {
        match self {
            Self::Tests
            | Self::Passed
            | Self::Failed
            | Self::Errors
            | Self::Skipped
            | Self::Flaky
            | Self::PassRate
            | Self::DurationSeconds => Family::Tests,
            Self::LineCoverage | Self::BranchCoverage => Family::Coverage,
            Self::FindingsTotal
            | Self::FindingsCritical
            | Self::FindingsHigh
            | Self::FindingsMedium
            | Self::FindingsLow
            | Self::FindingsError
            | Self::FindingsWarning
            | Self::FindingsNote => Family::Findings,
            Self::Requests
            | Self::ErrorRate
            | Self::RequestsPerSecond
            | Self::LatencyAvgMs
            | Self::LatencyP50Ms
            | Self::LatencyP90Ms
            | Self::LatencyP95Ms
            | Self::LatencyP99Ms
            | Self::LatencyMaxMs
            | Self::PerfThresholdsFailed => Family::Performance,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the actual value is compared with the threshold: `actual <op> threshold` passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Operator {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ge => ">=",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Lt => "<",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// Whether `actual <op> threshold` holds. Exact comparison: a value equal to the
    /// threshold passes `>=` and `<=` (ratios such as 8/10 are computed by one
    /// correctly rounded division, so they equal the literal `0.8`).
    #[allow(clippy::float_cmp, reason = "gates compare exactly by design")]
    pub fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Self::Ge => actual >= threshold,
            Self::Gt => actual > threshold,
            Self::Le => actual <= threshold,
            Self::Lt => actual < threshold,
            Self::Eq => actual == threshold,
            Self::Ne => actual != threshold,
        }
    }
}

/// Whether a failing gate fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A failure fails the run (exit 1) and is `fail` in `gate_results`.
    #[default]
    Blocking,
    /// A failure is reported as `warn` and does not fail the run.
    Warning,
}

/// What a gate does when none of the reports its metric needs was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Status `missing`; a blocking gate fails the run (a report nobody produced is not
    /// a pass).
    #[default]
    Fail,
    /// Status `missing`, listed as a warning; the run does not fail.
    Warn,
    /// Status `missing`, neither failing nor warning (a test type this project does
    /// not have).
    Ignore,
}

impl MissingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Ignore => "ignore",
        }
    }
}
