//! Integration tests of `extract-edits`: edge cases written by hand, recovery of what
//! `synth-events` planted, reconciliation, determinism, atomicity, shards, bad input.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};
use support::{Workdir, bin, extract, ok, parts, run, sorted_rows, synth};

/// Reads an `edits` partition into maps keyed by (event_id, path).
fn edits_by_key(root: &Path, date: &str) -> BTreeMap<(String, String), BTreeMap<String, Value>> {
    support::json_rows(root, "edits", date)
        .into_iter()
        .map(|row| {
            let key = (
                row["event_id"].as_str().unwrap().to_owned(),
                row["path"].as_str().unwrap().to_owned(),
            );
            (key, row.into_iter().collect())
        })
        .collect()
}

/// Reads a quarantine partition as (record_key, reason_code) pairs.
fn quarantine_rows(root: &Path, date: &str) -> Vec<(Option<String>, String, String)> {
    support::quarantine_rows(root, "extract-edits", date)
}

fn generation(event_id: &str, project: &str, at: &str, files: &Value) -> String {
    json!({
        "event_id": event_id, "generated_at": at, "project_id": project,
        "template_id": "py-fastapi-service", "template_version": "3.0.0",
        "experiment_id": "exp-1", "variant": "treatment", "request": {"action": "scaffold"}, "files": files
    })
    .to_string()
}

fn snapshot(id: &str, project: &str, at: &str, files: &Value) -> String {
    json!({"snapshot_id": id, "project_id": project, "captured_at": at, "files": files}).to_string()
}

/// Writes hand-made exports: generations on 2026-03-01 (run date 2026-03-08).
fn edge_case_lake(dir: &Workdir) {
    let gens = [
        // e1: every kind of change, CRLF, no final newline, `./` path, binary.
        generation(
            "e1",
            "p1",
            "2026-03-01T10:00:00Z",
            &json!([
                {"path": "app/main.py", "content": "import os\nprint(1)\n"},
                {"path": "./README.md", "content": "# Title\r\nline\r\n"},
                {"path": "app/gone.py", "content": "x = 1\n"},
                {"path": "app/same.py", "content": "y = 2"},
                {"path": "logo.png", "content_base64": "iVBORw0KGgoAAAANSUhEUgAA"}
            ]),
        ),
        // e2: no snapshot in reach (only one captured before it was generated).
        generation("e2", "p2", "2026-03-01T12:00:00Z", &json!([{"path": "a.py", "content": "a\n"}])),
        // e3: invalid UTF-8 text.
        generation(
            "e3",
            "p1",
            "2026-03-01T13:00:00Z",
            &json!([{"path": "bad.txt", "content_base64": "aGVsbG8g/w=="}]),
        ),
        // e4: a file entry without a path.
        generation("e4", "p1", "2026-03-01T14:00:00Z", &json!([{"content": "a\n"}])),
        // e5: oversized content (limit set to 64 bytes by the test).
        generation(
            "e5",
            "p1",
            "2026-03-01T15:00:00Z",
            &json!([{"path": "big.txt", "content": "x".repeat(100)}]),
        ),
        // e1 again: a duplicate delivery.
        generation(
            "e1",
            "p1",
            "2026-03-01T10:00:00Z",
            &json!([{"path": "app/main.py", "content": "other\n"}]),
        ),
        // e9 three times: the first delivery is unusable (invalid UTF-8), so the second
        // stands in for it; the third is a duplicate of the second.
        generation(
            "e9",
            "p1",
            "2026-03-01T16:00:00Z",
            &json!([{"path": "app/e9.py", "content_base64": "aGVsbG8g/w=="}]),
        ),
        generation(
            "e9",
            "p1",
            "2026-03-01T16:00:00Z",
            &json!([{"path": "app/e9.py", "content": "e9 = 2\n"}]),
        ),
        generation(
            "e9",
            "p1",
            "2026-03-01T16:00:00Z",
            &json!([{"path": "app/e9.py", "content": "e9 = 3\n"}]),
        ),
        // A record cut off mid-way.
        "{\"event_id\": \"e6\", \"generated_at\": \"2026-03-01T".to_owned(),
        // Generated a day later: belongs to the next run.
        generation("e7", "p1", "2026-03-02T10:00:00Z", &json!([{"path": "a.py", "content": "a\n"}])),
    ];
    dir.write("lake/raw/generations/dt=2026-03-01/part-0.ndjson", gens.join("\n") + "\n");
    // e8 arrives on the run date but was generated long before: late beyond its window.
    let late = generation("e8", "p1", "2026-02-20T10:00:00Z", &json!([{"path": "a.py", "content": "a\n"}]));
    dir.write("lake/raw/generations/dt=2026-03-08/part-0.ndjson", late + "\n");
    let snaps = [
        snapshot(
            "s-before",
            "p2",
            "2026-02-28T00:00:00Z",
            &json!([{"path": "a.py", "content": "a\n"}]),
        ),
        snapshot(
            "s1",
            "p1",
            "2026-03-03T00:00:00Z",
            &json!([{"path": "app/main.py", "content": "import os\n"}, {"path": "README.md", "content": "# Title\r\nline\r\n"}]),
        ),
        // The latest in reach for e1: main.py edited, README untouched, gone.py deleted.
        snapshot(
            "s2",
            "p1",
            "2026-03-07T09:00:00Z",
            &json!([
                {"path": "app/main.py", "content": "import os\nimport sys\nprint(2)\n"},
                {"path": "README.md", "content": "# Title\r\nline\r\n"},
                {"path": "app/same.py", "content": "y = 2"},
                {"path": "logo.png", "content_base64": "iVBORw0KGgoAAAANSUhEUgAA"},
                {"path": "notes/mine.md", "content": "added by the user\n"}
            ]),
        ),
        // Captured after e1's window closed: must not be used.
        snapshot("s3", "p1", "2026-03-08T11:00:00Z", &json!([])),
    ];
    dir.write("lake/raw/snapshots/dt=2026-03-03/part-0.ndjson", snaps.join("\n") + "\n");
}

#[test]
fn edge_cases_are_paired_or_quarantined_with_reasons() {
    let dir = Workdir::new("edge");
    edge_case_lake(&dir);
    let root = dir.join("lake");
    let result = extract(&root, "2026-03-08", &["--max-file-bytes", "64", "--max-quarantine-ratio", "1"]).expect_code(0);
    let summary = result.summary();
    assert_eq!(summary["reconciled"], json!(true), "{summary}");
    assert_eq!(summary["rows_read"], json!(12));
    assert_eq!(summary["generations_out"], json!(2), "e1, and e9 from its second delivery");
    assert_eq!(summary["edit_rows_out"], json!(6));
    assert_eq!(
        summary["rows_for_other_runs"],
        json!(2),
        "e7 belongs to 2026-03-09; the cut-off record to 2026-03-01"
    );

    let edits = edits_by_key(&root, "2026-03-08");
    let get = |path: &str| &edits[&("e1".to_owned(), path.to_owned())];
    assert_eq!(get("app/main.py")["change"], json!("modified"));
    assert_eq!(get("app/main.py")["final_content"], json!("import os\nimport sys\nprint(2)\n"));
    assert_eq!(get("app/main.py")["snapshot_id"], json!("s2"));
    assert_eq!(get("app/main.py")["language"], json!("python"));
    assert_eq!(get("README.md")["change"], json!("unchanged"), "`./README.md` matches `README.md`");
    assert_eq!(
        get("README.md")["generated_content"],
        json!("# Title\r\nline\r\n"),
        "CRLF kept byte for byte"
    );
    assert_eq!(get("app/gone.py")["change"], json!("deleted"));
    assert_eq!(get("app/gone.py")["final_content"], Value::Null);
    assert_eq!(get("app/gone.py")["final_bytes"], Value::Null);
    assert_eq!(get("app/same.py")["change"], json!("unchanged"), "no final newline on either side");
    assert_eq!(get("logo.png")["is_binary"], json!(true));
    assert_eq!(get("logo.png")["generated_content"], Value::Null);
    assert_eq!(get("logo.png")["change"], json!("unchanged"));
    assert!(
        !edits.keys().any(|(_, p)| p == "notes/mine.md"),
        "files the user added are not generated files"
    );
    assert_eq!(get("app/main.py")["request"], json!("{\"action\":\"scaffold\"}"));

    let quarantined = quarantine_rows(&root, "2026-03-08");
    let codes: Vec<(Option<&str>, &str)> = quarantined.iter().map(|(k, c, _)| (k.as_deref(), c.as_str())).collect();
    assert_eq!(
        codes,
        [
            (Some("e1"), "duplicate_event_id"),
            (Some("e2"), "no_snapshot"),
            (Some("e3"), "invalid_utf8"),
            (Some("e4"), "malformed_file_entry"),
            (Some("e5"), "oversized_content"),
            (Some("e8"), "late_event"),
            (Some("e9"), "duplicate_event_id"),
            (Some("e9"), "invalid_utf8"),
        ]
    );
    // e9's first delivery was unusable: the second stands in for it, and the third is a
    // duplicate of the second, not of the first.
    let e9 = &edits[&("e9".to_owned(), "app/e9.py".to_owned())];
    assert_eq!(e9["generated_content"], json!("e9 = 2\n"));
    let e9_duplicate = quarantined
        .iter()
        .find(|(k, c, _)| k.as_deref() == Some("e9") && c == "duplicate_event_id")
        .unwrap();
    assert!(
        e9_duplicate.2.contains("row 8; that delivery is kept (the first delivery") && e9_duplicate.2.contains("row 7, was unusable)"),
        "{}",
        e9_duplicate.2
    );
    let reason_of = |code: &str| quarantined.iter().find(|(_, c, _)| c == code).unwrap().2.clone();

    // The record cut off mid-way cannot be placed in a window: the run of the day it
    // arrived (2026-03-01) quarantines it, with the raw line.
    let arrival_run = extract(&root, "2026-03-01", &["--max-quarantine-ratio", "1"])
        .expect_code(0)
        .summary();
    assert_eq!(arrival_run["reconciled"], json!(true));
    assert_eq!(arrival_run["rows_quarantined"], json!(1));
    let cut_off = quarantine_rows(&root, "2026-03-01");
    assert_eq!(cut_off.len(), 1);
    assert_eq!(cut_off[0].1, "malformed_record");
    assert!(cut_off[0].2.contains("EOF while parsing"), "{}", cut_off[0].2);
    assert!(
        reason_of("duplicate_event_id").contains("row 1"),
        "{}",
        reason_of("duplicate_event_id")
    );
    assert!(reason_of("malformed_file_entry").contains("`files[1].path`"));
    assert!(reason_of("oversized_content").contains("big.txt"));
}

/// A generation stamped far after the partition it arrived in (a skewed exporter clock)
/// would be read by no run: the run of its arrival day quarantines it as `future_event`,
/// and over every run of the range each raw row is accounted for exactly once.
#[test]
fn rows_no_run_would_read_are_quarantined_on_their_arrival_day() {
    let dir = Workdir::new("future");
    let file = json!([{"path": "a.py", "content": "a\n"}]);
    let gens = [
        // Generated 47 h after its partition's day began: G = P + 1, read by run G + 7.
        generation("f47h", "p1", "2026-03-02T23:00:00Z", &file),
        // 72 h, 30 days and the end of the calendar: no run reads partition 03-01 then.
        generation("f72h", "p1", "2026-03-04T00:00:00Z", &file),
        generation("f30d", "p1", "2026-03-31T10:00:00Z", &file),
        generation("fmax", "p1", "9999-12-31T23:59:59Z", &file),
        // An ordinary one.
        generation("ok", "p1", "2026-03-01T10:00:00Z", &file),
    ];
    dir.write("lake/raw/generations/dt=2026-03-01/part-0.ndjson", gens.join("\n") + "\n");
    dir.write(
        "lake/raw/snapshots/dt=2026-03-05/part-0.ndjson",
        snapshot("s", "p1", "2026-03-05T00:00:00Z", &file) + "\n",
    );
    let root = dir.join("lake");
    let arrival = extract(&root, "2026-03-01", &["--max-quarantine-ratio", "1"])
        .expect_code(0)
        .summary();
    assert_eq!(arrival["reconciled"], json!(true), "{arrival}");
    let codes: Vec<(Option<String>, String)> = quarantine_rows(&root, "2026-03-01").into_iter().map(|(k, c, _)| (k, c)).collect();
    assert_eq!(
        codes,
        [
            (Some("f30d".to_owned()), "future_event".to_owned()),
            (Some("f72h".to_owned()), "future_event".to_owned()),
            (Some("fmax".to_owned()), "future_event".to_owned()),
        ]
    );
    let reason = &quarantine_rows(&root, "2026-03-01")[0].2;
    assert!(reason.contains("no run would ever read it"), "{reason}");
    // Every run whose window reaches partition 03-01: each row is handled exactly once.
    let mut handled = 3; // the three future events above
    for day in 2..=10 {
        let date = format!("2026-03-{day:02}");
        let summary = extract(&root, &date, &["--max-quarantine-ratio", "1"]).summary();
        assert_eq!(summary["reconciled"], json!(true), "{date}: {summary}");
        handled += summary["generations_out"].as_u64().unwrap() + summary["rows_quarantined"].as_u64().unwrap();
    }
    assert_eq!(handled, 5, "ok (run 03-08) and f47h (run 03-09) once each, the rest quarantined");
}

#[test]
fn synthetic_lake_is_recovered_exactly_in_both_formats() {
    for format in ["ndjson", "parquet"] {
        let dir = Workdir::new(&format!("recover-{format}"));
        let root = dir.join("lake");
        synth(&root, format, 300, 6, 7);
        let planted: Value = serde_json::from_str(&fs_err::read_to_string(root.join("planted.json")).unwrap()).unwrap();
        let truth: Vec<Value> = fs_err::read_to_string(root.join("truth.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let by_run = planted["counts"]["outcomes_by_run_date"].as_object().unwrap().clone();
        let mut seen_outcomes: BTreeMap<String, u64> = BTreeMap::new();
        for (date, expected) in &by_run {
            let result = extract(&root, date, &["--max-quarantine-ratio", "1"]);
            let result = result.expect_code(0);
            let summary = result.summary();
            assert_eq!(summary["reconciled"], json!(true), "{date}: {summary}");
            let edits = edits_by_key(&root, date);
            let quarantined = quarantine_rows(&root, date);
            let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
            let events_out: std::collections::BTreeSet<&String> = edits.keys().map(|(e, _)| e).collect();
            *outcomes.entry("edits".into()).or_default() += events_out.len() as u64;
            for (_, code, _) in &quarantined {
                if code != "duplicate_event_id" {
                    *outcomes.entry(code.clone()).or_default() += 1;
                }
            }
            outcomes.retain(|_, v| *v > 0);
            let expected: BTreeMap<String, u64> = expected
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect();
            assert_eq!(outcomes, expected, "{format} run {date}: outcomes differ from what was planted");
            for (k, v) in outcomes {
                *seen_outcomes.entry(k).or_default() += v;
            }
            // Each event the truth sends to this run with outcome `edits` has exactly the
            // planted snapshot and changes.
            for t in truth
                .iter()
                .filter(|t| t["run_date"] == json!(date) && t["outcome"] == json!("edits"))
            {
                let event = t["event_id"].as_str().unwrap();
                for f in t["files"].as_array().unwrap() {
                    let row = edits
                        .get(&(event.to_owned(), f["path"].as_str().unwrap().to_owned()))
                        .unwrap_or_else(|| panic!("{event} {f} missing"));
                    assert_eq!(row["snapshot_id"], t["snapshot_id"], "{event}");
                    assert_eq!(row["change"], f["change"], "{event} {}", f["path"]);
                    assert_eq!(row["is_binary"], f["binary"], "{event} {}", f["path"]);
                }
            }
            let duplicates = quarantined.iter().filter(|(_, c, _)| c == "duplicate_event_id").count() as u64;
            let planted_dups: u64 = truth
                .iter()
                .filter(|t| t["run_date"] == json!(date))
                .map(|t| t["duplicate_copies"].as_u64().unwrap())
                .sum();
            assert_eq!(duplicates, planted_dups, "{format} run {date}: duplicates");
        }
        // Every planted anomaly kind was exercised.
        for kind in ["edits", "no_snapshot", "late_event"] {
            assert!(
                seen_outcomes.get(kind).copied().unwrap_or(0) > 0,
                "{format}: no {kind} in {seen_outcomes:?}"
            );
        }
    }
}

/// Rewrites every raw Parquet export under `root` with row groups of `rows` rows (its
/// schema and key-value metadata kept), as an exporter with small row groups would.
fn rewrite_raw_with_row_groups(root: &Path, rows: usize) -> usize {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let mut groups = 0;
    for table in ["raw/generations", "raw/snapshots"] {
        for day in fs_err::read_dir(root.join(table)).unwrap() {
            for part in fs_err::read_dir(day.unwrap().path()).unwrap() {
                let part = part.unwrap().path();
                if part.extension().is_none_or(|e| e != "parquet") {
                    continue;
                }
                let builder =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&part).unwrap()).unwrap();
                let metadata = builder.metadata().file_metadata().key_value_metadata().cloned();
                let schema = builder.schema().clone();
                let batches: Vec<_> = builder.build().unwrap().map(Result::unwrap).collect();
                let properties = WriterProperties::builder()
                    .set_max_row_group_row_count(Some(rows))
                    .set_key_value_metadata(metadata)
                    .build();
                let mut writer = ArrowWriter::try_new(std::fs::File::create(&part).unwrap(), schema, Some(properties)).unwrap();
                for batch in &batches {
                    writer.write(batch).unwrap();
                }
                groups += writer.close().unwrap().num_row_groups();
            }
        }
    }
    groups
}

#[test]
fn parallel_row_group_decoding_gives_the_same_bytes_for_any_thread_count() {
    let dir = Workdir::new("threads");
    let root = dir.join("lake");
    synth(&root, "parquet", 300, 3, 17);
    let date = "2026-10-09";
    let read = |table: &str| {
        parts(&root, table, date)
            .iter()
            .map(|p| fs_err::read(p).unwrap())
            .collect::<Vec<_>>()
    };
    let run = |threads: &str| {
        let summary = extract(&root, date, &["--max-quarantine-ratio", "1", "--threads", threads])
            .expect_code(0)
            .summary();
        (summary["edit_rows_out"].clone(), read("edits"), read("quarantine/extract-edits"))
    };
    let (rows, edits, quarantine) = run("1");
    assert!(rows.as_u64().unwrap() > 100, "{rows}");
    // Row groups of 7 rows: each file's selected rows are spread over many row groups,
    // decoded several at a time.
    let groups = rewrite_raw_with_row_groups(&root, 7);
    assert!(groups > 100, "{groups} row groups");
    for threads in ["1", "4"] {
        let (rows_n, edits_n, quarantine_n) = run(threads);
        assert_eq!(rows, rows_n, "--threads {threads}");
        assert!(edits == edits_n, "edits differ with --threads {threads} over small row groups");
        assert!(
            quarantine == quarantine_n,
            "quarantine differs with --threads {threads} over small row groups"
        );
    }
    // Zero threads means one per core.
    assert_eq!(run("0").1, edits);
}

#[test]
fn reruns_are_byte_identical_whether_snapshots_wait_in_memory_or_on_disk() {
    let dir = Workdir::new("determinism");
    let root = dir.join("lake");
    synth(&root, "parquet", 200, 3, 11);
    let date = "2026-10-09";
    let first = extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0).summary();
    assert_eq!(
        (first["snapshots_spilled"].as_u64(), first["snapshot_bytes_spilled"].as_u64()),
        (Some(0), Some(0))
    );
    let read = |table: &str| {
        parts(&root, table, date)
            .iter()
            .map(|p| fs_err::read(p).unwrap())
            .collect::<Vec<_>>()
    };
    let (edits_1, quarantine_1) = (read("edits"), read("quarantine/extract-edits"));
    let success_1 = fs_err::read(root.join("edits/dt=2026-10-09/_SUCCESS")).unwrap();
    // No memory for snapshot files: every chosen snapshot waits in the spill file.
    let spill_dir = dir.join("spill");
    fs_err::create_dir_all(&spill_dir).unwrap();
    let second = extract(
        &root,
        date,
        &[
            "--max-quarantine-ratio",
            "1",
            "--snapshot-memory-bytes",
            "0",
            "--spill-dir",
            spill_dir.to_str().unwrap(),
        ],
    )
    .expect_code(0)
    .summary();
    assert!(second["snapshots_spilled"].as_u64().unwrap() > 0, "{second}");
    assert!(second["snapshot_bytes_spilled"].as_u64().unwrap() > 0, "{second}");
    assert_eq!(first["edit_rows_out"], second["edit_rows_out"]);
    assert!(edits_1 == read("edits"), "edits differ between two runs");
    assert!(
        quarantine_1 == read("quarantine/extract-edits"),
        "quarantine differs between two runs"
    );
    assert_eq!(success_1, fs_err::read(root.join("edits/dt=2026-10-09/_SUCCESS")).unwrap());
    assert_eq!(
        std::fs::read_dir(&spill_dir).unwrap().count(),
        0,
        "the spill file leaves nothing behind"
    );
    // A spill directory that does not exist is a runtime failure naming it (exit 3).
    let missing = dir.join("no-such-dir");
    extract(
        &root,
        date,
        &["--snapshot-memory-bytes", "0", "--spill-dir", missing.to_str().unwrap()],
    )
    .expect_code(3)
    .expect_stderr("no-such-dir");
}

#[test]
fn shards_together_equal_one_run() {
    let dir = Workdir::new("shards");
    let root = dir.join("lake");
    synth(&root, "parquet", 300, 3, 5);
    let date = "2026-10-09";
    extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0);
    let whole_edits = sorted_rows(&parts(&root, "edits", date));
    let whole_quarantine = sorted_rows(&parts(&root, "quarantine/extract-edits", date));
    let mut read_total = 0;
    for k in 0..3 {
        let summary = extract(&root, date, &["--shard", &format!("{k}/3"), "--max-quarantine-ratio", "1"])
            .expect_code(0)
            .summary();
        assert_eq!(summary["reconciled"], json!(true));
        read_total += summary["rows_read"].as_u64().unwrap();
    }
    assert!(read_total > 0);
    let shard_parts = parts(&root, "edits", date);
    assert_eq!(shard_parts.len(), 3, "the 3-shard run replaced the 1-shard part");
    assert_eq!(sorted_rows(&shard_parts), whole_edits);
    assert_eq!(sorted_rows(&parts(&root, "quarantine/extract-edits", date)), whole_quarantine);
    let leftovers: Vec<_> = std::fs::read_dir(root.join("edits/dt=2026-10-09"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 4, "three parts and _SUCCESS: {leftovers:?}");
}

#[test]
fn a_killed_run_leaves_the_previous_output_intact() {
    let dir = Workdir::new("atomic");
    let root = dir.join("lake");
    synth(&root, "ndjson", 3000, 2, 3);
    let date = "2026-10-09";
    extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0);
    let part = root.join("edits/dt=2026-10-09/part-0-of-1.parquet");
    let before = fs_err::read(&part).unwrap();
    let partition = root.join("edits/dt=2026-10-09");

    let mut cmd = bin("extract-edits");
    cmd.args([
        "--data-root",
        root.to_str().unwrap(),
        "--date",
        date,
        "--quiet",
        "--max-quarantine-ratio",
        "1",
    ]);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once its temp file exists, i.e. mid-write.
    let started = std::time::Instant::now();
    let mut killed_mid_write = false;
    while started.elapsed() < std::time::Duration::from_mins(1) {
        let has_temp = std::fs::read_dir(&partition)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".part-0-of-1.parquet.tmp-"));
        if has_temp {
            child.kill().unwrap();
            killed_mid_write = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.wait().unwrap();
    assert!(killed_mid_write, "the run finished before it could be killed mid-write");
    assert_eq!(fs_err::read(&part).unwrap(), before, "the previous part changed");
    let visible: Vec<String> = std::fs::read_dir(&partition)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(visible.len(), 2, "only the old part and _SUCCESS are visible: {visible:?}");
    extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0);
    assert_eq!(fs_err::read(&part).unwrap(), before, "the rerun reproduces the output");
    let hidden = std::fs::read_dir(&partition)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(hidden, 0, "the rerun cleaned the killed run's temp file");
}

#[test]
fn bad_input_gets_exit_2_naming_file_and_column() {
    let dir = Workdir::new("bad");
    let root = dir.join("lake");
    synth(&root, "parquet", 30, 1, 1);
    let date = "2026-10-08";
    let day = root.join("raw/generations/dt=2026-10-01");

    // A corrupt Parquet file.
    dir.write("lake/raw/generations/dt=2026-10-01/zz-corrupt.parquet", b"PAR1 this is not parquet");
    extract(&root, date, &[])
        .expect_code(2)
        .expect_stderr("zz-corrupt.parquet")
        .expect_stderr("error: ");
    std::fs::remove_file(day.join("zz-corrupt.parquet")).unwrap();

    // A missing column and a wrong column type, written with pyarrow-like schemas.
    let write = |name: &str, schema: arrow::datatypes::Schema, columns: Vec<arrow::array::ArrayRef>| {
        let batch = arrow::record_batch::RecordBatch::try_new(std::sync::Arc::new(schema), columns).unwrap();
        let file = std::fs::File::create(day.join(name)).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    write(
        "zz-missing.parquet",
        Schema::new(vec![Field::new("event_id", DataType::Utf8, true)]),
        vec![std::sync::Arc::new(arrow::array::StringArray::from(vec!["e"]))],
    );
    extract(&root, date, &[])
        .expect_code(2)
        .expect_stderr("zz-missing.parquet")
        .expect_stderr("no column `project_id`");
    std::fs::remove_file(day.join("zz-missing.parquet")).unwrap();

    let files = arrow::array::new_null_array(&hive_core::schema::raw_files_type(), 1);
    let mut fields: Vec<Field> = hive_core::schema::raw_generations_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[0] = Field::new("event_id", DataType::Int64, true);
    let columns: Vec<arrow::array::ArrayRef> = fields
        .iter()
        .map(|f| match f.name().as_str() {
            "files" => files.clone(),
            _ => arrow::array::new_null_array(f.data_type(), 1),
        })
        .collect();
    write("zz-type.parquet", Schema::new(fields), columns);
    extract(&root, date, &[])
        .expect_code(2)
        .expect_stderr("zz-type.parquet")
        .expect_stderr("column `event_id` has type Int64");
    std::fs::remove_file(day.join("zz-type.parquet")).unwrap();

    // An unknown flag, and a malformed date.
    extract(&root, date, &["--frobnicate"]).expect_code(2).expect_stderr("--frobnicate");
    extract(&root, "2026-13-01", &[]).expect_code(2).expect_stderr("2026-13-01");
}

#[test]
fn nothing_to_process_exits_99() {
    let dir = Workdir::new("empty");
    let root = dir.join("lake");
    // No lake at all, or a lake without the raw tables: a misconfiguration, not a quiet night.
    extract(&root, "2026-03-08", &[]).expect_code(2).expect_stderr("data root");
    fs_err::create_dir_all(root.join("raw/generations")).unwrap();
    extract(&root, "2026-03-08", &[]).expect_code(2).expect_stderr("raw/snapshots");
    // The tables exist, with no partition in reach.
    fs_err::create_dir_all(root.join("raw/snapshots")).unwrap();
    extract(&root, "2026-03-08", &[]).expect_code(99);
    // An empty partition: the directory and an empty file exist, no rows.
    dir.write("lake/raw/generations/dt=2026-03-01/part-0.ndjson", "");
    let result = extract(&root, "2026-03-08", &[]).expect_code(99);
    assert_eq!(result.summary()["status"], json!("nothing_to_process"));
    assert!(
        !root.join("edits").exists(),
        "no output is written when there is nothing to process"
    );
}

#[test]
fn too_many_quarantined_rows_exit_1_with_outputs_written() {
    let dir = Workdir::new("ratio");
    edge_case_lake(&dir);
    let root = dir.join("lake");
    let result = extract(&root, "2026-03-08", &["--max-file-bytes", "64"]).expect_code(1);
    assert_eq!(result.summary()["status"], json!("too_many_quarantined"));
    assert_eq!(parts(&root, "edits", "2026-03-08").len(), 1);
}

/// Runs every shard of `n` in order with `--max-quarantine-ratio max`; returns each
/// shard's exit code and summary.
fn run_shards(root: &Path, date: &str, n: u32, max: &str) -> Vec<(i32, Value)> {
    (0..n)
        .map(|k| {
            let result = extract(root, date, &["--shard", &format!("{k}/{n}"), "--max-quarantine-ratio", max]);
            (result.code().unwrap_or(-1), result.summary())
        })
        .collect()
}

#[test]
fn shards_judge_the_quarantine_ratio_of_the_whole_partition_and_empty_shards_commit() {
    let dir = Workdir::new("shard-ratio");
    edge_case_lake(&dir);
    let root = dir.join("lake");
    let date = "2026-03-08";
    let whole = extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0).summary();
    let (handled, quarantined) = (
        whole["partition_generations_handled"].as_u64().unwrap(),
        whole["partition_rows_quarantined"].as_u64().unwrap(),
    );
    assert_eq!(handled, whole["generations_out"].as_u64().unwrap() + quarantined);
    assert!(quarantined > 0 && quarantined < handled, "{whole}");
    let whole_edits = sorted_rows(&parts(&root, "edits", date));
    // Exactly at the partition's ratio the night passes, however it is sharded; some of
    // 16 shards own nothing and must still commit (empty) parts so the partition completes.
    let at = format!("{}", quarantined as f64 / handled as f64);
    let shards = run_shards(&root, date, 16, &at);
    assert!(shards.iter().all(|(code, _)| *code == 0), "{shards:?}");
    assert!(
        shards
            .iter()
            .any(|(_, s)| s["generations_out"] == json!(0) && s["rows_quarantined"] == json!(0)),
        "the scenario needs an empty shard"
    );
    let judged: Vec<&Value> = shards
        .iter()
        .map(|(_, s)| s)
        .filter(|s| !s["partition_generations_handled"].is_null())
        .collect();
    assert_eq!(judged.len(), 1, "only the shard completing the partition judges it");
    assert_eq!(
        (
            judged[0]["partition_generations_handled"].as_u64(),
            judged[0]["partition_rows_quarantined"].as_u64()
        ),
        (Some(handled), Some(quarantined))
    );
    assert_eq!(parts(&root, "edits", date).len(), 16);
    assert_eq!(sorted_rows(&parts(&root, "edits", date)), whole_edits);
    // Just under it, the one-shard run fails, and so does the sharded night: on the shard
    // that completes the partition, not on whichever small shard is noisy.
    let under = format!("{}", quarantined as f64 / handled as f64 - 1e-9);
    extract(&root, date, &["--max-quarantine-ratio", &under]).expect_code(1);
    let shards = run_shards(&root, date, 16, &under);
    let failed: Vec<usize> = (0..shards.len()).filter(|k| shards[*k].0 != 0).collect();
    assert_eq!(failed, vec![15], "{shards:?}");
    assert_eq!(shards[15].1["status"], json!("too_many_quarantined"));
}

#[test]
fn outputs_read_back_with_pyarrow_and_duckdb() {
    let dir = Workdir::new("readability");
    let root = dir.join("lake");
    synth(&root, "parquet", 200, 3, 9);
    let date = "2026-10-09";
    let summary = extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0).summary();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/read_back.py");
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(script).arg(&root).arg(date);
    let out = ok(cmd);
    let read: HashMap<String, Value> = serde_json::from_str(out.stdout().lines().last().unwrap()).unwrap();
    assert_eq!(read["edits_rows_pyarrow"], summary["edit_rows_out"]);
    assert_eq!(read["edits_rows_duckdb"], summary["edit_rows_out"]);
    assert_eq!(
        read["quarantine_rows_pyarrow"],
        json!(summary["rows_quarantined"].as_u64().unwrap() + summary["snapshot_rows_quarantined"].as_u64().unwrap())
    );
    assert_eq!(read["schema_version"], json!(hive_core::schema::EDITS_VERSION.to_string()));
    assert_eq!(read["generations_duckdb"], summary["generations_out"]);
}

#[test]
fn help_explains_and_gives_examples() {
    let mut cmd = bin("extract-edits");
    cmd.arg("--help");
    let out = ok(cmd).stdout();
    for needle in ["Examples:", "--window-days", "HIVE_DATA_ROOT", "Exit codes"] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
    let _ = run;
}
