//! Locust's `--csv <prefix>` stats file (`<prefix>_stats.csv`).
//!
//! Columns are found by header name (their order changed across Locust versions). The
//! `Aggregated` row (empty `Type`) holds the totals; when it is absent the request rows
//! are combined. Response times are in milliseconds; `N/A` (no request) is no value.
//! Percentile columns: `50%`, `90%`, `95%`, `99%` (Locust rounds response times to
//! its histogram buckets before taking percentiles, so these are Locust's own rounded
//! values); the maximum is `Max Response Time` (exact), else `100%`.
//!
//! Locust rewrites this file once a second while it runs and does not rewrite it at
//! shutdown: requests made in the last second of a run can be missing from it. A load
//! test whose gates must see every request ends its users' work before `--run-time`
//! (see docs/quality-gates.md).

use std::path::Path;

use super::{CappedReader, PerfReport, ReportError, parse_number};
use crate::config::ReportFormat;

/// Parses one Locust stats CSV.
pub fn parse(path: &Path, input: CappedReader) -> Result<PerfReport, ReportError> {
    let bad = |m: String| ReportError::malformed(path, ReportFormat::LocustCsv, m);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(name_col), Some(count_col), Some(fail_col)) = (column("Name"), column("Request Count"), column("Failure Count")) else {
        return Err(bad(format!(
            "the header `{}` lacks `Name`, `Request Count` or `Failure Count` (is this a Locust *_stats.csv?)",
            headers.iter().collect::<Vec<_>>().join(",")
        )));
    };
    let cols = [
        column("Average Response Time"),
        column("50%").or_else(|| column("Median Response Time")),
        column("90%"),
        column("95%"),
        column("99%"),
        // The exact maximum; `100%` is the same value rounded to Locust's histogram.
        column("Max Response Time").or_else(|| column("100%")),
        column("Requests/s"),
    ];
    let mut aggregated = None;
    let mut combined: Option<PerfReport> = None;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        let count_of = |c: usize, what: &str| {
            let v = record.get(c).unwrap_or_default();
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("row {}: {what} `{v}` is not a count", i + 2)))
        };
        let value = |c: Option<usize>| c.and_then(|c| record.get(c)).and_then(parse_number);
        let stats = PerfReport {
            requests: count_of(count_col, "Request Count")?,
            failures: Some(count_of(fail_col, "Failure Count")?),
            latency_avg_ms: value(cols[0]),
            latency_p50_ms: value(cols[1]),
            latency_p90_ms: value(cols[2]),
            latency_p95_ms: value(cols[3]),
            latency_p99_ms: value(cols[4]),
            latency_max_ms: value(cols[5]),
            requests_per_second: value(cols[6]),
            thresholds_failed: 0,
        };
        if record.get(name_col).map(str::trim) == Some("Aggregated") {
            aggregated = Some(stats);
        } else {
            match combined.as_mut() {
                Some(c) => c.combine(&stats),
                None => combined = Some(stats),
            }
        }
    }
    aggregated
        .or(combined)
        .ok_or_else(|| bad("no data rows (the Locust run sent no request?)".into()))
}
