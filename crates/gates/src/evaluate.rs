//! From parsed reports to metric values, and from metric values to gate verdicts.
//!
//! A test type's [`Measurements`] combine every report of that type (test counts add
//! up, coverage merges per file and line, findings add up, load-test statistics combine
//! as [`PerfReport::combine`] says). The overall measurements combine every test type.
//! A gate whose metric has no value (no report of the needed kind, or a ratio with a
//! zero denominator such as a pass rate with no executed test) is `missing`, and its
//! missing-report policy says whether that fails the run.

use crate::config::{EffectiveGate, Level, Metric, MissingPolicy, TestType};
use crate::reports::{CoverageReport, Measured, Parsed, PerfReport};

pub use crate::reports::{FindingTotals, TestTotals};

/// What the reports of one scope (a test type, or all of them) measured. A `None`
/// family means no report of that kind was found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurements {
    pub tests: Option<TestTotals>,
    pub coverage: Option<CoverageReport>,
    pub findings: Option<FindingTotals>,
    pub perf: Option<PerfReport>,
}

impl Measurements {
    /// Adds one parsed report.
    pub fn add(&mut self, parsed: &Parsed) {
        match parsed {
            Parsed::Tests(r) => {
                let mut t = TestTotals {
                    duration_seconds: r.duration_seconds,
                    ..TestTotals::default()
                };
                r.cases.iter().for_each(|c| t.count(c));
                self.add_measured(&Measured::Tests(t));
            }
            Parsed::Findings(r) => {
                let mut t = FindingTotals {
                    suppressed: r.suppressed,
                    ..FindingTotals::default()
                };
                r.findings.iter().for_each(|f| t.count(f));
                self.add_measured(&Measured::Findings(t));
            }
            Parsed::Coverage(r) => self.add_measured(&Measured::Coverage(r.clone())),
            Parsed::Performance(r) => self.add_measured(&Measured::Performance(r.clone())),
        }
    }

    /// Adds what one streamed report measured.
    pub fn add_measured(&mut self, measured: &Measured) {
        match measured {
            Measured::Tests(t) => self.tests.get_or_insert_default().add(t),
            Measured::Coverage(r) => self.coverage.get_or_insert_default().merge(r),
            Measured::Findings(t) => self.findings.get_or_insert_default().add(t),
            Measured::Performance(r) => match self.perf.as_mut() {
                Some(p) => p.combine(r),
                None => self.perf = Some(r.clone()),
            },
        }
    }

    /// Combines another scope's measurements into this one (for overall gates).
    pub fn merge(&mut self, other: &Self) {
        if let Some(t) = &other.tests {
            self.tests.get_or_insert_default().add(t);
        }
        if let Some(c) = &other.coverage {
            self.coverage.get_or_insert_default().merge(c);
        }
        if let Some(f) = &other.findings {
            self.findings.get_or_insert_default().add(f);
        }
        if let Some(p) = &other.perf {
            match self.perf.as_mut() {
                Some(mine) => mine.combine(p),
                None => self.perf = Some(p.clone()),
            }
        }
    }

    /// The metric's value: `Err` with the reason when there is none.
    pub fn value(&self, metric: Metric) -> Result<f64, &'static str> {
        use crate::config::Family;
        let no_report = match metric.family() {
            Family::Tests => self.tests.is_none(),
            Family::Coverage => self.coverage.is_none(),
            Family::Findings => self.findings.is_none(),
            Family::Performance => self.perf.is_none(),
        };
        if no_report {
            return Err("no report found");
        }
        let t = self.tests.unwrap_or_default();
        let f = self.findings.unwrap_or_default();
        let c = self.coverage.as_ref().map(CoverageReport::totals).unwrap_or_default();
        let p = self.perf.clone().unwrap_or_default();
        let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
        let value = match metric {
            Metric::Tests => Some(t.tests as f64),
            Metric::Passed => Some(t.passed as f64),
            Metric::Failed => Some(t.failed as f64),
            Metric::Errors => Some(t.errors as f64),
            Metric::Skipped => Some(t.skipped as f64),
            Metric::Flaky => Some(t.flaky as f64),
            Metric::PassRate => t.pass_rate(),
            Metric::DurationSeconds => Some(t.duration_seconds),
            Metric::LineCoverage => ratio(c.lines_covered, c.lines_valid),
            Metric::BranchCoverage => ratio(c.branches_covered, c.branches_valid),
            Metric::FindingsTotal => Some(f.total as f64),
            Metric::FindingsCritical => Some(f.critical as f64),
            Metric::FindingsHigh => Some(f.high as f64),
            Metric::FindingsMedium => Some(f.medium as f64),
            Metric::FindingsLow => Some(f.low as f64),
            Metric::FindingsError => Some(f.error as f64),
            Metric::FindingsWarning => Some(f.warning as f64),
            Metric::FindingsNote => Some(f.note as f64),
            Metric::Requests => Some(p.requests as f64),
            Metric::ErrorRate => p.failures.and_then(|fl| ratio(fl, p.requests)),
            Metric::RequestsPerSecond => p.requests_per_second,
            Metric::LatencyAvgMs => p.latency_avg_ms,
            Metric::LatencyP50Ms => p.latency_p50_ms,
            Metric::LatencyP90Ms => p.latency_p90_ms,
            Metric::LatencyP95Ms => p.latency_p95_ms,
            Metric::LatencyP99Ms => p.latency_p99_ms,
            Metric::LatencyMaxMs => p.latency_max_ms,
            Metric::PerfThresholdsFailed => Some(p.thresholds_failed as f64),
        };
        value.ok_or("the reports do not give this value (nothing ran, or the tool does not report it)")
    }
}

pub use hive_core::schema::gates::GateStatus;

/// One row of `gate_results`.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    pub run_id: String,
    pub project_id: String,
    pub gate_id: String,
    /// The test type, or `overall`.
    pub test_type: String,
    pub metric: Metric,
    pub operator: &'static str,
    pub threshold: f64,
    pub actual: Option<f64>,
    pub status: GateStatus,
    pub blocking: bool,
    pub on_missing: MissingPolicy,
    pub message: String,
    /// The project's Compose environment check, when the config has an `environment`.
    pub environment: Option<crate::environment::EnvironmentCheck>,
}

impl GateResult {
    /// Whether this result fails the run: a failed blocking gate, or a missing value
    /// of a blocking gate whose policy is `fail`.
    pub fn blocks(&self) -> bool {
        match self.status {
            GateStatus::Fail => true,
            GateStatus::Missing => self.blocking && self.on_missing == MissingPolicy::Fail,
            GateStatus::Pass | GateStatus::Warn => false,
        }
    }

    /// Whether the summary lists it as a warning.
    pub fn warns(&self) -> bool {
        match self.status {
            GateStatus::Warn => true,
            GateStatus::Missing => !self.blocks() && self.on_missing != MissingPolicy::Ignore,
            GateStatus::Pass | GateStatus::Fail => false,
        }
    }
}

/// Evaluates one gate against the measurements of its scope.
pub fn evaluate(run_id: &str, project_id: &str, gate: &EffectiveGate, scope: &Measurements) -> GateResult {
    let blocking = gate.level == Level::Blocking;
    let (actual, status, message) = match scope.value(gate.metric) {
        Ok(v) if gate.operator.holds(v, gate.threshold) => (Some(v), GateStatus::Pass, String::new()),
        Ok(v) => (
            Some(v),
            if blocking { GateStatus::Fail } else { GateStatus::Warn },
            format!(
                "{} = {} does not satisfy {} {}",
                gate.metric,
                fmt_value(v),
                gate.operator.as_str(),
                fmt_value(gate.threshold)
            ),
        ),
        Err(why) => (
            None,
            GateStatus::Missing,
            format!("{why} (on_missing: {})", gate.on_missing.as_str()),
        ),
    };
    GateResult {
        run_id: run_id.to_owned(),
        project_id: project_id.to_owned(),
        gate_id: gate.id.clone(),
        test_type: gate.test_type.map_or("overall", TestType::as_str).to_owned(),
        metric: gate.metric,
        operator: gate.operator.as_str(),
        threshold: gate.threshold,
        actual,
        status,
        blocking,
        on_missing: gate.on_missing,
        message,
        environment: None,
    }
}

/// A number for people: integers without decimals, others with up to 4.
pub fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::config::Operator;
    use crate::reports::{CaseStatus, TestCase, TestReport};

    fn gate(metric: Metric, operator: Operator, threshold: f64, level: Level, on_missing: MissingPolicy) -> EffectiveGate {
        EffectiveGate {
            id: "g".into(),
            test_type: Some(TestType::Unit),
            metric,
            operator,
            threshold,
            level,
            on_missing,
            description: None,
        }
    }

    fn tests(statuses: &[CaseStatus]) -> Measurements {
        let mut m = Measurements::default();
        m.add(&Parsed::Tests(TestReport {
            cases: statuses
                .iter()
                .map(|s| TestCase {
                    suite: String::new(),
                    classname: String::new(),
                    name: String::new(),
                    status: *s,
                    duration_seconds: 0.0,
                    reruns: 0,
                    message: None,
                })
                .collect(),
            duration_seconds: 1.0,
        }));
        m
    }

    #[test]
    fn thresholds_exactly_at_the_boundary_pass_inclusive_operators() {
        use CaseStatus::{Failed, Flaky, Passed, Skipped};
        // 8 of 10 executed pass (one flaky); the skipped case does not count.
        let m = tests(&[
            Passed, Passed, Passed, Passed, Passed, Passed, Passed, Flaky, Failed, Failed, Skipped,
        ]);
        assert_eq!(m.value(Metric::PassRate), Ok(0.8));
        let at = |op, level| evaluate("r", "p", &gate(Metric::PassRate, op, 0.8, level, MissingPolicy::Fail), &m).status;
        assert_eq!(at(Operator::Ge, Level::Blocking), GateStatus::Pass);
        assert_eq!(at(Operator::Le, Level::Blocking), GateStatus::Pass);
        assert_eq!(at(Operator::Eq, Level::Blocking), GateStatus::Pass);
        assert_eq!(at(Operator::Gt, Level::Blocking), GateStatus::Fail);
        assert_eq!(at(Operator::Lt, Level::Warning), GateStatus::Warn);
        let failed = evaluate(
            "r",
            "p",
            &gate(Metric::Failed, Operator::Le, 2.0, Level::Blocking, MissingPolicy::Fail),
            &m,
        );
        assert_eq!((failed.status, failed.actual), (GateStatus::Pass, Some(2.0)));
    }

    #[test]
    fn missing_reports_follow_each_policy() {
        let m = tests(&[CaseStatus::Passed]);
        for (policy, level, blocks, warns) in [
            (MissingPolicy::Fail, Level::Blocking, true, false),
            (MissingPolicy::Fail, Level::Warning, false, true),
            (MissingPolicy::Warn, Level::Blocking, false, true),
            (MissingPolicy::Ignore, Level::Blocking, false, false),
        ] {
            let r = evaluate("r", "p", &gate(Metric::LineCoverage, Operator::Ge, 0.5, level, policy), &m);
            assert_eq!(r.status, GateStatus::Missing);
            assert_eq!((r.blocks(), r.warns()), (blocks, warns), "{policy:?} {level:?}");
        }
        // A report with nothing executed has no pass rate: missing, not 0 or 1.
        let skipped = tests(&[CaseStatus::Skipped]);
        let r = evaluate(
            "r",
            "p",
            &gate(Metric::PassRate, Operator::Ge, 1.0, Level::Blocking, MissingPolicy::Fail),
            &skipped,
        );
        assert_eq!((r.status, r.blocks()), (GateStatus::Missing, true));
    }

    #[test]
    fn values_are_printed_for_people() {
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(0.81234), "0.8123");
        assert_eq!(fmt_value(0.5), "0.5");
    }
}
