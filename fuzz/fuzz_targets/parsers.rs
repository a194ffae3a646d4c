//! Every report parser on arbitrary bytes: the first byte picks the format, the rest is
//! the report. A parser must return `Ok` or an error, never panic, overflow its stack or
//! grow memory beyond the input (no entity expansion). Seeds: the fixtures in
//! crates/jobs/tests/fixtures/gates/ (see docs/quality-gates.md#fuzzing).
#![no_main]

use std::path::Path;

use hive_gates::config::ReportFormat;
use hive_gates::reports::parse_bytes;
use libfuzzer_sys::fuzz_target;

const FORMATS: [ReportFormat; 7] = [
    ReportFormat::Junit,
    ReportFormat::Cobertura,
    ReportFormat::Lcov,
    ReportFormat::Jacoco,
    ReportFormat::Sarif,
    ReportFormat::LocustCsv,
    ReportFormat::K6Summary,
];

fuzz_target!(|data: &[u8]| {
    let Some((selector, report)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(*selector) % FORMATS.len()];
    let _ = parse_bytes(format, Path::new("fuzz-input"), report);
});
