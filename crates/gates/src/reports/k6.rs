//! k6's end-of-test summary as JSON: `k6 run --summary-export=summary.json` (legacy
//! export) or the data object `handleSummary(data)` receives, written with
//! `JSON.stringify(data)`.
//!
//! - `--summary-export`: each metric's values sit on the metric (`"http_req_duration":
//!   {"avg": .., "med": .., "p(95)": .., "thresholds": {"p(95)<500": false}}`). A
//!   threshold's boolean is **true when the threshold failed** (k6's documented quirk).
//!   A rate metric has `value`, `passes` (true samples) and `fails`.
//! - `handleSummary` data: values under `values` (`"rate"`, `"passes"`, `"fails"`), and
//!   thresholds as `{"p(95)<500": {"ok": false}}`, `ok` being true when it passed.
//!
//! Requests are `http_reqs.count`; failures are the true samples of `http_req_failed`
//! (absent before k6 0.31, then unknown); latencies come from `http_req_duration`
//! (milliseconds). Percentiles that are not in the summary (k6 reports `p(90)` and
//! `p(95)` by default; `--summary-trend-stats` adds `p(99)`) are unknown, not zero.

use std::path::Path;

use serde_json::Value;

use super::{CappedReader, PerfReport, ReportError};
use crate::config::ReportFormat;

/// Parses one k6 summary JSON.
pub fn parse(path: &Path, input: CappedReader) -> Result<PerfReport, ReportError> {
    let bad = |m: String| ReportError::malformed(path, ReportFormat::K6Summary, m);
    let doc: Value = serde_json::from_reader(std::io::BufReader::new(input)).map_err(|e| bad(format!("not JSON: {e}")))?;
    let metrics = doc
        .get("metrics")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no `metrics` object (is this `k6 run --summary-export` output?)".into()))?;
    // The values of a metric, in either format.
    let values = |name: &str| metrics.get(name).map(|m| m.get("values").unwrap_or(m));
    let number = |name: &str, key: &str| values(name).and_then(|v| v.get(key)).and_then(Value::as_f64);
    let Some(requests) = number("http_reqs", "count") else {
        return Err(bad("no `http_reqs.count` (the test made no HTTP request?)".into()));
    };
    let mut thresholds_failed = 0;
    for (name, metric) in metrics {
        let Some(thresholds) = metric.get("thresholds") else { continue };
        let Some(thresholds) = thresholds.as_object() else {
            return Err(bad(format!("`metrics.{name}.thresholds` is not an object")));
        };
        for (expr, outcome) in thresholds {
            let failed = match outcome {
                Value::Bool(b) => *b,
                Value::Object(o) => o.get("ok").and_then(Value::as_bool).is_some_and(|ok| !ok),
                _ => return Err(bad(format!("threshold `{expr}` of `{name}` is neither a boolean nor {{ok: bool}}"))),
            };
            thresholds_failed += u64::from(failed);
        }
    }
    Ok(PerfReport {
        requests: requests.max(0.0) as u64,
        failures: number("http_req_failed", "passes").map(|f| f.max(0.0) as u64),
        requests_per_second: number("http_reqs", "rate"),
        latency_avg_ms: number("http_req_duration", "avg"),
        latency_p50_ms: number("http_req_duration", "med").or_else(|| number("http_req_duration", "p(50)")),
        latency_p90_ms: number("http_req_duration", "p(90)"),
        latency_p95_ms: number("http_req_duration", "p(95)"),
        latency_p99_ms: number("http_req_duration", "p(99)"),
        latency_max_ms: number("http_req_duration", "max"),
        thresholds_failed,
    })
}
