//! Throughput of the shared scanner: reads every file under a directory (the texts
//! `scripts/bench-secrets.sh` extracts from the sample lake), scans each with its path
//! three times, and prints MB/s, findings per rule and the time to build the scanner.
//!
//!     cargo run --release -p hive-secrets --example scan-throughput -- DIR

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: scan-throughput DIR"));
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            Some((p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned(), text))
        })
        .collect();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();

    let start = Instant::now();
    let scanner = hive_secrets::Scanner::shared();
    let build = start.elapsed();

    let rounds = 3;
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    let start = Instant::now();
    for round in 0..rounds {
        for (path, text) in &texts {
            let r = scanner.redact(text, Some(path));
            if round == 0 {
                for (rule, n) in r.found {
                    *found.entry(rule).or_default() += n;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "scanner built in {:.3} s ({} gitleaks rules)",
        build.as_secs_f64(),
        scanner.gitleaks_rule_ids().count()
    );
    println!(
        "{} files, {:.2} MB scanned in {:.3} s: {:.1} MB/s (one thread, mean of {rounds} passes)",
        texts.len(),
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs
    );
    println!("findings per rule: {found:?}");
}
