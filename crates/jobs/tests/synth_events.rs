//! Integration tests of `synth-events`: identical bytes for the same seed, planted counts
//! that an independent reader (pyarrow) finds in the data, strict scenario parsing.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Workdir, bin, ok, run, synth};

/// Every file under `dir`, relative path -> bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(path.strip_prefix(base).unwrap().to_owned(), fs_err::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn same_seed_gives_identical_bytes_in_both_formats() {
    for format in ["parquet", "ndjson"] {
        let dir = Workdir::new(&format!("synth-det-{format}"));
        synth(&dir.join("a"), format, 150, 4, 99);
        synth(&dir.join("b"), format, 150, 4, 99);
        synth(&dir.join("c"), format, 150, 4, 100);
        let (a, b, c) = (tree(&dir.join("a")), tree(&dir.join("b")), tree(&dir.join("c")));
        assert!(a.len() > 5, "{format}: too few files: {:?}", a.keys());
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (path, bytes) in &a {
            assert!(
                bytes == &b[path],
                "{format}: {} differs between two runs with the same seed",
                path.display()
            );
        }
        assert_ne!(
            a.get(Path::new("truth.ndjson")),
            c.get(Path::new("truth.ndjson")),
            "{format}: another seed gives the same data"
        );
    }
}

#[test]
fn planted_counts_are_what_pyarrow_finds_in_the_data() {
    for format in ["parquet", "ndjson"] {
        let dir = Workdir::new(&format!("synth-counts-{format}"));
        let root = dir.join("lake");
        synth(&root, format, 400, 5, 21);
        let planted: Value = serde_json::from_str(&fs_err::read_to_string(root.join("planted.json")).unwrap()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/synth_counts.py");
        let mut cmd = std::process::Command::new(support::oracle_python());
        cmd.arg(script).arg(&root).arg(format);
        let found: Value = serde_json::from_str(ok(cmd).stdout().lines().last().unwrap()).unwrap();
        let counts = &planted["counts"];
        let broken: u64 = counts["broken_events"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(found["generation_rows"], counts["deliveries"], "{format}");
        assert_eq!(found["snapshot_rows"], counts["snapshots"], "{format}");
        assert_eq!(found["repeated_event_ids"], counts["duplicate_deliveries"], "{format}");
        // Broken copies that are still readable count among distinct ids; cut-off NDJSON
        // lines do not.
        let unreadable = found["unreadable_lines"].as_u64().unwrap();
        assert_eq!(
            found["distinct_event_ids"].as_u64().unwrap() + unreadable,
            counts["events"].as_u64().unwrap(),
            "{format}"
        );
        assert!(unreadable <= broken);
        assert_eq!(
            found["projects_with_snapshots"].as_u64().unwrap(),
            counts["projects"].as_u64().unwrap() - counts["projects_without_snapshots"].as_u64().unwrap(),
            "{format}"
        );
        assert!(
            found["binary_files"].as_u64().unwrap() >= counts["binary_files"].as_u64().unwrap(),
            "{format}"
        );
        // Late deliveries sit in a partition after their generation day.
        let late = counts["late_events"].as_u64().unwrap() + counts["very_late_events"].as_u64().unwrap();
        assert!(
            found["rows_after_generation_day"].as_u64().unwrap() >= late,
            "{format}: {found} vs {late}"
        );
        // Routing follows the configured weights roughly, and variants carry the version.
        assert_eq!(found["variant_version_mismatches"], Value::from(0), "{format}");
    }
}

#[test]
fn scenario_errors_name_the_file_and_key() {
    let dir = Workdir::new("synth-bad");
    let scenario = dir.write("s.yaml", "seed: 1\ngenerations: 10\ncolour: blue\n");
    let mut cmd = bin("synth-events");
    cmd.args(["--out", dir.join("out").to_str().unwrap(), "--scenario", scenario.to_str().unwrap()]);
    run(cmd)
        .expect_code(2)
        .expect_stderr("s.yaml")
        .expect_stderr("unknown field `colour`");

    let weights = dir.write(
        "w.yaml",
        "experiments:\n  - id: e\n    template_id: ts-react-app\n    variants:\n      - {name: a, version: \"0.9.0\", weight: 0.5}\n      - {name: b, version: \"1.0.0\", weight: 0.7}\n",
    );
    let mut cmd = bin("synth-events");
    cmd.args(["--out", dir.join("out").to_str().unwrap(), "--scenario", weights.to_str().unwrap()]);
    run(cmd).expect_code(2).expect_stderr("weights must sum to 1");
    assert!(!dir.join("out/planted.json").exists(), "nothing is written for a bad scenario");
}
