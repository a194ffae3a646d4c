//! The hostile-input and crash suite: every way a red team made the lake lie, run
//! against the job binaries. Each case ends in one of two ways, never a panic, a
//! signal or a quiet success: a clear error (exit 2 or 3, naming the file, with no
//! content of what it should not have read), or a run in which every row is accounted
//! for (written or quarantined with a reason). Each test records its cases under
//! `target/hostile-input/`; `scripts/test.sh` prints the totals after the tests.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field};
use serde_json::{Value, json};
use support::{Workdir, bin, extract, parts, record_hostile as record, run, synth};

/// A run that must fail clearly: exit `code`, the error naming `names`, and none of
/// `secret` (content of a file it must not have read) on stdout or stderr.
fn clear_error(case: &str, out: &support::Run, code: i32, names: &str, secret: Option<&str>) {
    if out.code() != Some(code) {
        out.fail(&format!("{case}: expected exit {code}"));
    }
    assert!(
        out.stderr().contains(names),
        "{case}: stderr does not name `{names}`: {}",
        out.stderr()
    );
    assert!(out.stderr().contains("error: "), "{case}: {}", out.stderr());
    if let Some(secret) = secret {
        assert!(
            !out.stderr().contains(secret) && !out.stdout().contains(secret),
            "{case}: content echoed"
        );
    }
    record(case, &format!("exit {code}"), 0);
}

/// A run that must account for every row it read.
fn accounted(case: &str, summary: &Value, rows: u64) {
    assert_eq!(summary["reconciled"], json!(true), "{case}: {summary}");
    record(case, "accounted", rows);
}

const DATE: &str = "2026-10-09";

/// A small synthetic lake, extracted and scored for `DATE`.
fn scored_lake(name: &str) -> (Workdir, PathBuf) {
    let dir = Workdir::new(name);
    let root = dir.join("lake");
    synth(&root, "parquet", 80, 2, 3);
    extract(&root, DATE, &["--max-quarantine-ratio", "1"]).expect_code(0);
    score(&root, &[]).expect_code(0);
    (dir, root)
}

fn job(name: &str, root: &Path, extra: &[&str]) -> support::Run {
    let mut cmd = bin(name);
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", DATE, "--quiet"]);
    cmd.args(extra);
    run(cmd)
}

fn score(root: &Path, extra: &[&str]) -> support::Run {
    job("score-diffs", root, extra)
}

#[test]
fn manifests_that_lie_and_torn_partitions_are_refused() {
    let (_dir, root) = scored_lake("hostile-manifests");
    let marker = root.join(format!("edits/dt={DATE}/_SUCCESS"));
    let good = fs_err::read_to_string(&marker).unwrap();
    let manifest: Value = serde_json::from_str(&good).unwrap();
    let part = manifest["parts"][0]["file"].as_str().unwrap().to_owned();
    let rows = manifest["parts"][0]["rows"].as_u64().unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut m = manifest.clone();
        f(&mut m);
        m.to_string()
    };
    let cases = [
        (
            "manifest-part-listed-twice",
            edit(&|m| {
                let p = m["parts"][0].clone();
                m["parts"].as_array_mut().unwrap().push(p);
                m["rows"] = json!(2 * rows);
            }),
            "lists 2 parts",
        ),
        (
            "manifest-wrong-row-count",
            edit(&|m| {
                m["parts"][0]["rows"] = json!(rows + 1);
                m["rows"] = json!(rows + 1);
            }),
            "rows",
        ),
        (
            "manifest-part-outside-the-lake",
            edit(&|m| m["parts"][0]["file"] = json!("../../../../x/foreign.parquet")),
            "foreign.parquet",
        ),
        (
            "manifest-absolute-part",
            edit(&|m| m["parts"][0]["file"] = json!("/etc/passwd")),
            "/etc/passwd",
        ),
    ];
    for (case, text, names) in cases {
        fs_err::write(&marker, text).unwrap();
        clear_error(case, &score(&root, &[]), 2, names, Some("root:x:0:0"));
    }
    // A rerun killed after withdrawing `_SUCCESS`: the part is there, the marker is not.
    fs_err::remove_file(&marker).unwrap();
    assert!(root.join(format!("edits/dt={DATE}/{part}")).exists());
    clear_error("torn-partition-without-success", &score(&root, &[]), 2, "_SUCCESS", None);
    fs_err::write(&marker, good).unwrap();
    accounted("manifest-restored", &score(&root, &[]).expect_code(0).summary(), rows);
}

#[test]
fn symlinked_inputs_are_refused_without_echoing_what_they_point_to() {
    let (dir, root) = scored_lake("hostile-symlinks");
    // A raw partition this run reads (the window's first day).
    let mut days: Vec<PathBuf> = fs_err::read_dir(root.join("raw/generations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    days.sort();
    let day = days[0].clone();
    std::os::unix::fs::symlink("/proc/self/environ", day.join("zz-environ.ndjson")).unwrap();
    let out = extract(&root, DATE, &[]);
    clear_error("raw-input-symlink-to-environ", &out, 2, "zz-environ.ndjson", Some("PATH="));
    fs_err::remove_file(day.join("zz-environ.ndjson")).unwrap();

    // A quality report that is a symlink to /etc/passwd: the report is refused by name
    // and nothing of the file reaches the output or the tables.
    let config = dir.write(
        "q.yaml",
        "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [junit.xml], tool: t}\ngates:\n  - {id: failed, metric: failed, operator: \"==\", threshold: 0}\n",
    );
    let project = dir.join("project");
    fs_err::create_dir_all(&project).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", project.join("junit.xml")).unwrap();
    let out = job(
        "evaluate-gates",
        &root,
        &[
            "--config",
            config.to_str().unwrap(),
            "--project",
            &format!("p={}", project.display()),
        ],
    );
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(all.contains("not a regular file"), "{all}");
    assert!(!all.contains("root:x:0:0"), "{all}");
    for table in ["gate_results", "test_cases"] {
        for part in hive_core::lake::committed_parts(&root, table, DATE.parse().unwrap()).unwrap_or_default() {
            let bytes = fs_err::read(part).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains("root:x:0:0"), "{table} holds /etc/passwd");
        }
    }
    assert!(matches!(out.code(), Some(1 | 2)), "{all}");
    record("report-symlink-to-passwd", &format!("exit {}", out.code().unwrap_or(-1)), 0);
}

#[test]
fn a_second_writer_of_a_partition_exits_3_and_leaves_the_first_alone() {
    let (_dir, root) = scored_lake("hostile-locks");
    let date: hive_core::date::PartitionDate = DATE.parse().unwrap();
    for (case, job_name, table, part) in [
        ("second-extract-edits-run", "extract-edits", "edits", "part-0-of-1.parquet"),
        ("second-score-diffs-run", "score-diffs", "diff_scores", "part-0-of-1.parquet"),
    ] {
        let lock = hive_core::lake::lock_part(&hive_core::lake::partition_dir(&root, table, date), part).unwrap();
        let before = parts(&root, table, DATE);
        clear_error(case, &job(job_name, &root, &["--max-quarantine-ratio", "1"]), 3, ".lock", None);
        drop(lock);
        assert_eq!(parts(&root, table, DATE), before);
    }
    let dataset = root.join(format!("finetune/dt={DATE}"));
    let lock = hive_core::lake::lock_part(&dataset, "dataset").unwrap();
    clear_error(
        "second-build-finetune-run",
        &job("build-finetune", &root, &[]),
        3,
        "dataset.lock",
        None,
    );
    drop(lock);
}

/// Runs `job` with its output table on a 4 KiB file system of its own (a tmpfs
/// mounted in a private mount namespace), so its writes meet ENOSPC.
fn on_full_disk(root: &Path, table: &str, job_name: &str, args: &[&str]) -> Option<support::Run> {
    let probe = std::process::Command::new("unshare").args(["-m", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let target = root.join(table);
    fs_err::create_dir_all(&target).unwrap();
    let mut cmd = std::process::Command::new("unshare");
    support::clean_env(&mut cmd);
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount -t tmpfs -o size=4k none \"$1\" && shift && exec \"$@\"",
        "sh",
    ]);
    cmd.arg(&target).arg(support::bin_path(job_name));
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", DATE, "--quiet"]);
    cmd.args(args);
    Some(run(cmd))
}

/// Records a full-disk case, or that this machine cannot make a small file system.
fn full_disk_case(case: &str, out: Option<support::Run>) {
    if let Some(out) = out {
        clear_error(case, &out, 3, "No space left on device", None);
    } else {
        println!("{case}: not tried (no private mount namespace here)");
        record(case, "not tried", 0);
    }
}

#[test]
fn a_full_disk_is_a_retryable_failure() {
    let dir = Workdir::new("hostile-enospc");
    let root = dir.join("lake");
    synth(&root, "parquet", 300, 2, 4);
    let ratio = ["--max-quarantine-ratio", "1"];
    full_disk_case("full-disk-extract-edits", on_full_disk(&root, "edits", "extract-edits", &ratio));
    extract(&root, DATE, &ratio).expect_code(0);
    full_disk_case("full-disk-score-diffs", on_full_disk(&root, "diff_scores", "score-diffs", &ratio));
    // The dataset's files and `excluded.parquet` are written by parallel groups: the
    // first write that fails ends the run, exit 3, naming its file.
    score(&root, &[]).expect_code(0);
    full_disk_case(
        "full-disk-build-finetune",
        on_full_disk(&root, "finetune", "build-finetune", &["--days", "1"]),
    );
}

/// Writes raw generations as Parquet, one row group per slice of `rows`: each row is
/// (event_id, generated_at, files as (path, content)).
/// A raw generation for [`write_generation_groups`]: event id, time, files.
type RawGeneration<'a> = (&'a str, &'a str, Vec<(&'a str, Vec<u8>)>);

fn write_generation_groups(path: &Path, groups: &[Vec<RawGeneration<'_>>]) {
    use arrow::array::{ArrayRef, BinaryBuilder, ListBuilder, StringArray, StringBuilder, StructBuilder, TimestampMicrosecondArray};
    let schema = hive_core::schema::raw_generations_schema();
    let file = std::fs::File::create(path).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(1).unwrap()))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    for rows in groups {
        let n = rows.len();
        let text = |v: &dyn Fn(usize) -> String| -> ArrayRef { std::sync::Arc::new((0..n).map(|i| Some(v(i))).collect::<StringArray>()) };
        let at: TimestampMicrosecondArray = rows
            .iter()
            .map(|r| Some(hive_core::columns::parse_instant(r.1).unwrap().timestamp_micros()))
            .collect();
        let entry = DataType::Struct(
            vec![
                Field::new("path", DataType::Utf8, true),
                Field::new("content", DataType::Binary, true),
            ]
            .into(),
        );
        let DataType::Struct(fields) = entry else { unreachable!() };
        let mut files = ListBuilder::new(StructBuilder::new(
            fields,
            vec![Box::new(StringBuilder::new()), Box::new(BinaryBuilder::new())],
        ));
        for (_, _, entries) in rows {
            for (p, c) in entries {
                let s = files.values();
                s.field_builder::<StringBuilder>(0).unwrap().append_value(p);
                s.field_builder::<BinaryBuilder>(1).unwrap().append_value(c);
                s.append(true);
            }
            files.append(true);
        }
        let columns: Vec<ArrayRef> = vec![
            text(&|i| rows[i].0.to_owned()),
            std::sync::Arc::new(at.with_timezone("UTC")),
            text(&|_| "p1".to_owned()),
            text(&|_| "py-fastapi-service".to_owned()),
            text(&|_| "3.0.0".to_owned()),
            text(&|_| "exp-1".to_owned()),
            text(&|_| "treatment".to_owned()),
            std::sync::Arc::new((0..n).map(|_| Some("{}")).collect::<arrow::array::LargeStringArray>()),
            std::sync::Arc::new(files.finish()),
        ];
        let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).unwrap();
        writer.write(&batch).unwrap();
        writer.flush().unwrap();
    }
    writer.close().unwrap();
}

/// Runs extract-edits for `date` under an address-space limit of `limit_mib` MiB.
fn extract_within(root: &Path, date: &str, limit_mib: u64, extra: &[&str]) -> support::Run {
    let mut cmd = std::process::Command::new("sh");
    support::clean_env(&mut cmd);
    cmd.args(["-c", "ulimit -v \"$1\" && shift && exec \"$@\"", "sh"]);
    cmd.arg((limit_mib * 1024).to_string()).arg(support::bin_path("extract-edits"));
    cmd.args([
        "--data-root",
        root.to_str().unwrap(),
        "--date",
        date,
        "--quiet",
        "--max-quarantine-ratio",
        "1",
    ]);
    cmd.args(extra);
    run(cmd)
}

/// A compression bomb (a few KB of zstd that decode to 256 MiB) and an NDJSON line of
/// 100 MiB, beside honest rows, under a 640 MiB address-space limit with reads capped at
/// 64 MiB: the honest rows are paired, the others quarantined as `oversized_record`
/// unread, every row accounted. The same bomb read without the cap exceeds the limit,
/// so the limit is one the old code did not meet.
#[test]
fn compression_bombs_and_huge_lines_are_quarantined_within_a_memory_limit() {
    let dir = Workdir::new("hostile-bombs");
    let kept = json!([{"path": "a.py", "content": "print('kept')\n"}]);
    let at = "2026-03-01T10:00:00Z";
    let small = || vec![("a.py", b"print('kept')\n".to_vec())];
    let raw = dir.join("lake/raw/generations/dt=2026-03-01");
    fs_err::create_dir_all(&raw).unwrap();
    write_generation_groups(
        &raw.join("part-0.parquet"),
        &[
            vec![("ok1", at, small())],
            vec![("bomb1", at, vec![("a.py", vec![b'a'; 256 << 20])]), ("bomb2", at, small())],
            vec![("ok2", at, small())],
        ],
    );
    let compressed = fs_err::metadata(raw.join("part-0.parquet")).unwrap().len();
    assert!(compressed < 1 << 20, "the bomb should be small on disk: {compressed} bytes");
    let generation = |id: &str, files: &Value| {
        json!({"event_id": id, "generated_at": at, "project_id": "p1", "template_id": "t", "template_version": "1",
               "files": files})
        .to_string()
    };
    let long_line = generation("long", &json!([{"path": "a.py", "content": "x".repeat(100 << 20)}]));
    let long_len = long_line.len();
    fs_err::write(
        raw.join("part-1.ndjson"),
        [generation("ok3", &kept), long_line, generation("ok4", &kept)].join("\n") + "\n",
    )
    .unwrap();
    dir.write(
        "lake/raw/snapshots/dt=2026-03-08/part-0.ndjson",
        json!({"snapshot_id": "s", "project_id": "p1", "captured_at": "2026-03-08T00:00:00Z", "files": kept}).to_string() + "\n",
    );
    let root = dir.join("lake");
    let cap = (64u64 << 20).to_string();

    // The control: without the cap, the bomb is decoded and the limit is exceeded.
    let uncapped = extract_within(&root, "2026-03-08", 640, &["--max-read-bytes", &(1u64 << 30).to_string()]);
    assert_ne!(
        uncapped.code(),
        Some(0),
        "the bomb was decoded within 640 MiB: the limit proves nothing"
    );

    let window = extract_within(&root, "2026-03-08", 640, &["--max-read-bytes", &cap])
        .expect_code(0)
        .summary();
    assert_eq!(window["generations_out"], json!(4), "{window}");
    let quarantined = support::quarantine_rows(&root, "extract-edits", "2026-03-08");
    let codes: Vec<(Option<String>, &str)> = quarantined.iter().map(|(k, c, _)| (k.clone(), c.as_str())).collect();
    // A row group is quarantined whole, on the run that reads it (its keys were small
    // enough to read in the light pass).
    assert_eq!(
        codes,
        [
            (Some("bomb1".to_owned()), "oversized_record"),
            (Some("bomb2".to_owned()), "oversized_record")
        ],
        "{quarantined:?}"
    );
    let reason = &quarantined[0].2;
    assert!(
        reason.contains("row group 1") && reason.contains("content") && reason.contains("--max-read-bytes"),
        "{reason}"
    );
    accounted("parquet-compression-bomb", &window, 6);

    // The oversized NDJSON line has no readable keys: it is quarantined on its arrival
    // day, with its head as the payload.
    let arrival = extract_within(&root, "2026-03-01", 640, &["--max-read-bytes", &cap])
        .expect_code(0)
        .summary();
    let quarantined = support::quarantine_rows(&root, "extract-edits", "2026-03-01");
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!((quarantined[0].0.as_deref(), quarantined[0].1.as_str()), (None, "oversized_record"));
    assert!(
        quarantined[0].2.contains(&format!("the line is {long_len} bytes")),
        "{}",
        quarantined[0].2
    );
    accounted("ndjson-line-over-the-read-limit", &arrival, 1);
}

/// Rows whose fields are hostile each cost one quarantine row with a reason, or are
/// read as intended: a UTF-8 byte-order mark before the first record, file paths that
/// read differently than they are stored, and an event from the end of the calendar.
#[test]
fn rows_with_hostile_fields_are_each_accounted_for() {
    let dir = Workdir::new("hostile-rows");
    let at = "2026-03-01T10:00:00Z";
    let file = |path: &str| json!([{"path": path, "content": "a\n"}]);
    let generation = |id: &str, at: &str, files: &Value| {
        json!({"event_id": id, "generated_at": at, "project_id": "p1", "template_id": "t", "template_version": "1",
               "files": files})
        .to_string()
    };
    let rows = [
        generation("bom", at, &file("a.py")),
        generation("windows", at, &file("src\\main.py")),
        generation("bidi", at, &file("invoice\u{202e}gpj.exe")),
        generation("newline", at, &file("a\nb.py")),
        generation("dot", at, &file("./src/./a.py")),
        generation("far-future", "9999-12-31T23:59:59Z", &file("a.py")),
    ];
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend((rows.join("\n") + "\n").into_bytes());
    dir.write("lake/raw/generations/dt=2026-03-01/part-0.ndjson", text);
    dir.write(
        "lake/raw/snapshots/dt=2026-03-08/part-0.ndjson",
        json!({"snapshot_id": "s", "project_id": "p1", "captured_at": "2026-03-08T00:00:00Z", "files": file("a.py")}).to_string() + "\n",
    );
    let root = dir.join("lake");
    let arrival = extract(&root, "2026-03-01", &["--max-quarantine-ratio", "1"])
        .expect_code(0)
        .summary();
    let window = extract(&root, "2026-03-08", &["--max-quarantine-ratio", "1"])
        .expect_code(0)
        .summary();
    let mut codes: Vec<(Option<String>, String)> = ["2026-03-01", "2026-03-08"]
        .iter()
        .flat_map(|d| support::quarantine_rows(&root, "extract-edits", d))
        .map(|(k, c, _)| (k, c))
        .collect();
    codes.sort();
    let expected: Vec<(Option<String>, String)> = [
        ("bidi", "malformed_file_entry"),
        ("dot", "malformed_file_entry"),
        ("far-future", "future_event"),
        ("newline", "malformed_file_entry"),
        ("windows", "malformed_file_entry"),
    ]
    .iter()
    .map(|(k, c)| (Some((*k).to_owned()), (*c).to_owned()))
    .collect();
    assert_eq!(codes, expected);
    // The record after the byte-order mark is read and paired.
    assert_eq!(window["generations_out"], json!(1), "{window}");
    accounted("hostile-fields-arrival-day", &arrival, 1);
    accounted("hostile-fields-window-day", &window, 5);
}
