//! A misconfiguration must never look like a quiet night: every job, run the way the DAGs
//! run it, exits 2 naming the path or flag when its data root, input table or config does
//! not exist or when it is given `--shard` it does not take, and prints a JSON summary line
//! on every exit, so the task's log and XCom say how it ended.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use serde_json::json;
use support::{Workdir, bin, run};

const DATE: &str = "2026-10-13";

fn job(name: &str, root: &Path, extra: &[&str]) -> support::Run {
    let mut cmd = bin(name);
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", DATE, "--quiet"]);
    cmd.args(extra);
    run(cmd)
}

/// The failure summary line of a run that exited 2.
fn assert_bad_input(out: &support::Run, job: &str, kind: &str, needle: &str) {
    if out.code() != Some(2) {
        out.fail("expected exit 2");
    }
    let summary = out.summary();
    assert_eq!(summary["job"], json!(job), "{summary}");
    assert_eq!(summary["status"], json!("bad_input"), "{summary}");
    assert_eq!(summary["exit_code"], json!(2), "{summary}");
    assert_eq!(summary["error_kind"], json!(kind), "{summary}");
    let error = summary["error"].as_str().unwrap();
    assert!(error.contains(needle), "`{needle}` not in the summary's error: {error}");
    assert!(out.stderr().contains(needle), "`{needle}` not on stderr: {}", out.stderr());
}

#[test]
fn a_data_root_that_does_not_exist_is_exit_2_in_every_job() {
    let dir = Workdir::new("no-root");
    let missing = dir.join("no/such/lake");
    let config = dir.write("experiments.yaml", "experiments: []\n");
    let gates = dir.write("q.yaml", "version: 1\n");
    let cases: [(&str, Vec<&str>); 8] = [
        ("extract-edits", vec![]),
        ("validate-raw", vec![]),
        ("score-diffs", vec![]),
        ("ab-significance", vec!["--config", config.to_str().unwrap()]),
        ("promote-templates", vec!["--config", config.to_str().unwrap()]),
        ("build-finetune", vec![]),
        ("mlflow-sync", vec!["--tracking-uri", "http://127.0.0.1:9"]),
        ("evaluate-gates", vec!["--config", gates.to_str().unwrap()]),
    ];
    for (name, extra) in cases {
        let out = job(name, &missing, &extra);
        assert_bad_input(&out, name, "bad_input", "data root");
        assert!(out.stderr().contains(missing.to_str().unwrap()), "{name}: {}", out.stderr());
    }
}

#[test]
fn an_input_table_that_was_never_written_is_exit_2_not_99() {
    let dir = Workdir::new("no-table");
    let root = dir.join("lake");
    fs_err::create_dir_all(&root).unwrap();
    assert_bad_input(&job("extract-edits", &root, &[]), "extract-edits", "bad_input", "raw/generations");
    assert_bad_input(&job("score-diffs", &root, &[]), "score-diffs", "bad_input", "edits");
    assert_bad_input(&job("build-finetune", &root, &[]), "build-finetune", "bad_input", "edits");
    // An `edits` table without the date's partition: extract-edits has not run for it.
    fs_err::create_dir_all(root.join("edits/dt=2026-10-12")).unwrap();
    assert_bad_input(&job("score-diffs", &root, &[]), "score-diffs", "bad_input", "dt=2026-10-13");
}

#[test]
fn jobs_that_do_not_shard_do_not_take_shard() {
    let dir = Workdir::new("no-shard");
    for name in ["ab-significance", "promote-templates", "build-finetune", "mlflow-sync"] {
        let out = job(name, dir.path(), &["--shard", "1/2"]);
        assert_bad_input(&out, name, "usage", "--shard");
        // clap's own message, with the usage line, is on stderr.
        assert!(out.stderr().contains("unexpected argument"), "{name}: {}", out.stderr());
    }
    // The sharding jobs still take it (and then fail on the empty root for another reason).
    let out = job("extract-edits", dir.path(), &["--shard", "1/2"]);
    assert_bad_input(&out, "extract-edits", "bad_input", "raw/generations");
}

#[test]
fn a_config_file_that_does_not_exist_is_exit_2_everywhere() {
    let dir = Workdir::new("no-config");
    let root = dir.join("lake");
    for table in ["generation_scores", "ab_results", "edits"] {
        fs_err::create_dir_all(root.join(table)).unwrap();
    }
    let missing = dir.join("missing.yaml");
    let missing = missing.to_str().unwrap();
    for name in ["ab-significance", "promote-templates", "build-finetune"] {
        let out = job(name, &root, &["--config", missing]);
        assert_bad_input(&out, name, "bad_input", "missing.yaml");
    }
    let gates = job("evaluate-gates", &root, &["--config", missing]);
    assert_bad_input(&gates, "evaluate-gates", "bad_input", "missing.yaml");
    let mut synth = bin("synth-events");
    synth.args(["--out", root.join("synth").to_str().unwrap(), "--scenario", missing]);
    assert_bad_input(&run(synth), "synth-events", "bad_input", "missing.yaml");
}

#[test]
fn an_invalid_flag_value_prints_a_usage_summary() {
    let dir = Workdir::new("bad-flag");
    for table in ["raw/generations", "raw/snapshots"] {
        fs_err::create_dir_all(dir.join(table)).unwrap();
    }
    let out = job("extract-edits", dir.path(), &["--window-days", "0"]);
    assert_bad_input(&out, "extract-edits", "usage", "--window-days");
    let out = run({
        let mut cmd = bin("score-diffs");
        cmd.args(["--data-root", dir.path().to_str().unwrap(), "--date", "2026-13-45"]);
        cmd
    });
    assert_bad_input(&out, "score-diffs", "usage", "2026-13-45");
}

/// Error messages quote what they could not use (serde names the value of a field of
/// the wrong type, clap the value of a flag). When that value is a credential, stderr
/// and the failure summary show it redacted, and still name the file and field.
#[test]
fn a_secret_quoted_by_an_error_reaches_neither_stderr_nor_the_summary() {
    let dir = Workdir::new("secret-in-error");
    let root = dir.join("lake");
    for table in ["generation_scores", "ab_results", "edits", "raw/generations", "raw/snapshots"] {
        fs_err::create_dir_all(root.join(table)).unwrap();
    }
    // Built at run time so that no secret scanner flags this file.
    let github = format!("ghp_{}", "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xY3z5C");
    let slack = format!("xoxb-{}-{}-{}", "1234567890123", "1234567890123", "AbCdEfGhIjKlMnOpQrStUvWx");
    let experiments = dir.write("experiments.yaml", format!("experiments: \"{github}\"\n"));
    let finetune = dir.write("finetune.yaml", format!("max_rewrite_rate: \"{slack}\"\n"));
    let gates = dir.write("gates.yaml", format!("version: \"{github}\"\n"));
    let url = format!("https://svc:{}@mlflow.internal", "Zx9Qw8Er7Ty6Ui5Op4");
    let cases: [(&str, Vec<&str>, &str, &str); 6] = [
        (
            "ab-significance",
            vec!["--config", experiments.to_str().unwrap()],
            "experiments.yaml",
            &github,
        ),
        (
            "promote-templates",
            vec!["--config", experiments.to_str().unwrap()],
            "experiments.yaml",
            &github,
        ),
        (
            "build-finetune",
            vec!["--config", finetune.to_str().unwrap()],
            "finetune.yaml",
            &slack,
        ),
        ("evaluate-gates", vec!["--config", gates.to_str().unwrap()], "gates.yaml", &github),
        ("extract-edits", vec!["--window-days", &slack], "--window-days", &slack),
        (
            "mlflow-sync",
            vec!["--tracking-uri", &url, "--concurrency", &github],
            "--concurrency",
            &github,
        ),
    ];
    for (name, extra, names, secret) in cases {
        let out = job(name, &root, &extra);
        if out.code() != Some(2) {
            out.fail("expected exit 2");
        }
        let summary = out.summary().to_string();
        for (what, text) in [("stderr", out.stderr()), ("summary", summary)] {
            assert!(!text.contains(&secret[8..]), "{name}: the secret reached {what}: {text}");
            assert!(!text.contains("Zx9Qw8Er7Ty6Ui5Op4"), "{name}: the password reached {what}: {text}");
            assert!(text.contains(names), "{name}: {what} does not name `{names}`: {text}");
            assert!(text.contains("REDACTED"), "{name}: {what} does not say what it redacted: {text}");
        }
    }
}
