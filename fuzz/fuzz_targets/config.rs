//! The strict quality-config parser on arbitrary text: errors (with line and column),
//! never a panic, including in the line/column lookup of the error message.
#![no_main]

use std::path::Path;

use hive_gates::config::QualityConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = QualityConfig::parse(Path::new("fuzz.yaml"), text);
    }
});
