//! The hostile-input and crash suite: every way a red team made the lake lie, run
//! against the job binaries. Each case ends in one of two ways, never a panic, a
//! signal or a quiet success: a clear error (exit 2 or 3, naming the file, with no
//! content of what it should not have read), or a run in which every row is accounted
//! for (written or quarantined with a reason). Each test records its cases under
//! `target/hostile-input/`; `scripts/test.sh` prints the totals after the tests.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::{Workdir, bin, extract, parts, run, synth};

/// Where the cases' outcomes are recorded for the summary.
fn record(case: &str, outcome: &str, rows_accounted: u64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/hostile-input");
    fs_err::create_dir_all(&dir).unwrap();
    let line = json!({"case": case, "outcome": outcome, "rows_accounted": rows_accounted});
    fs_err::write(dir.join(format!("{case}.json")), line.to_string()).unwrap();
}

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
fn on_full_disk(root: &Path, table: &str, job_name: &str) -> Option<support::Run> {
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
    cmd.args([
        "--data-root",
        root.to_str().unwrap(),
        "--date",
        DATE,
        "--quiet",
        "--max-quarantine-ratio",
        "1",
    ]);
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
    full_disk_case("full-disk-extract-edits", on_full_disk(&root, "edits", "extract-edits"));
    extract(&root, DATE, &["--max-quarantine-ratio", "1"]).expect_code(0);
    full_disk_case("full-disk-score-diffs", on_full_disk(&root, "diff_scores", "score-diffs"));
}
