//! Integration tests of `score-diffs`: agreement with git on real text written by other
//! people (two released versions of third-party packages, downloaded by
//! `scripts/fetch-corpora.sh`) and on edge cases, for the line counts (git's numstat) and
//! the character retention (git's own hunks measured by Python's rapidfuzz), and
//! aggregation, reconciliation and determinism.

#![allow(clippy::unwrap_used, clippy::format_collect)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use serde_json::{Value, json};
use support::{Workdir, extract, ok, parts, run};

/// The corpora made by `scripts/fetch-corpora.sh`.
fn corpora() -> PathBuf {
    let dir =
        std::env::var_os("HIVE_CORPORA").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/corpora"), PathBuf::from);
    assert!(
        dir.join("django-5.0/.complete").exists(),
        "{} is missing: run `bash scripts/fetch-corpora.sh` (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// Every file under `dir`, relative path -> bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                if !rel.starts_with('.') {
                    out.insert(rel, fs_err::read(&path).unwrap());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn is_binary(b: &[u8]) -> bool {
    b.iter().take(8000).any(|&c| c == 0)
}

fn file_json(path: &str, bytes: &[u8]) -> Value {
    use base64::Engine as _;
    if let Ok(text) = std::str::from_utf8(bytes) {
        json!({"path": path, "content": text})
    } else {
        json!({"path": path, "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
    }
}

/// Writes `old` as generations and `new` as their snapshots (a path missing from `new`
/// was deleted), in generations of `per_generation` files, and the same two trees as
/// plain directories for git. Text that is not UTF-8 cannot be scored (extract-edits
/// quarantines it), so such pairs are left out and counted.
fn lake_from_pairs(dir: &Workdir, old: &BTreeMap<String, Vec<u8>>, new: &BTreeMap<String, Vec<u8>>, per_generation: usize) -> usize {
    let usable: Vec<&String> = old
        .keys()
        .filter(|p| {
            let ok = |b: &[u8]| is_binary(b) || std::str::from_utf8(b).is_ok();
            ok(&old[*p]) && new.get(*p).is_none_or(|n| ok(n))
        })
        .collect();
    let skipped = old.len() - usable.len();
    let (mut gens, mut snaps) = (String::new(), String::new());
    for (g, chunk) in usable.chunks(per_generation).enumerate() {
        let files: Vec<Value> = chunk.iter().map(|p| file_json(p, &old[*p])).collect();
        let kept: Vec<Value> = chunk.iter().filter_map(|p| new.get(*p).map(|b| file_json(p, b))).collect();
        gens.push_str(
            &json!({"event_id": format!("e{g:05}"), "generated_at": "2026-01-01T00:00:00Z", "project_id": format!("p{g:05}"),
            "template_id": "t", "template_version": "1", "request": "r", "files": files})
            .to_string(),
        );
        gens.push('\n');
        snaps.push_str(&json!({"snapshot_id": format!("s{g:05}"), "project_id": format!("p{g:05}"), "captured_at": "2026-01-05T00:00:00Z", "files": kept}).to_string());
        snaps.push('\n');
        for p in chunk {
            dir.write(&format!("git/old/{p}"), &old[*p]);
            if let Some(b) = new.get(*p) {
                dir.write(&format!("git/new/{p}"), b);
            }
        }
    }
    dir.write("lake/raw/generations/dt=2026-01-01/part-0.ndjson", gens);
    dir.write("lake/raw/snapshots/dt=2026-01-05/part-0.ndjson", snaps);
    std::fs::create_dir_all(dir.join("git/new")).unwrap();
    skipped
}

/// `git diff --no-index --numstat --diff-algorithm=histogram` over the two trees:
/// path -> Some((added, removed)), or None for binary. Identical files are absent.
fn git_numstat(dir: &Workdir) -> HashMap<String, Option<(i64, i64)>> {
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(dir.join("git"));
    // No user or system configuration: plain git semantics.
    cmd.env("HOME", dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("XDG_CONFIG_HOME", dir.path());
    cmd.args([
        "diff",
        "--no-index",
        "--numstat",
        "-z",
        "--no-renames",
        "--diff-algorithm=histogram",
        "old",
        "new",
    ]);
    let out = run(cmd);
    assert!(matches!(out.code(), Some(0 | 1)), "git failed: {}", out.stderr());
    let text = out.stdout();
    let mut fields = text.split('\0');
    let mut stats = HashMap::new();
    while let Some(head) = fields.next() {
        if head.is_empty() {
            continue;
        }
        let (from, _to) = (fields.next().unwrap(), fields.next().unwrap());
        let mut cols = head.split('\t');
        let (a, r) = (cols.next().unwrap(), cols.next().unwrap());
        let path = from.strip_prefix("old/").unwrap_or(from).to_owned();
        stats.insert(
            path,
            if a == "-" {
                None
            } else {
                Some((a.parse().unwrap(), r.parse().unwrap()))
            },
        );
    }
    stats
}

/// The line counts of one `diff_scores` row.
#[derive(Debug)]
struct FileRow {
    binary: bool,
    added: Option<i64>,
    removed: Option<i64>,
    generated: Option<i64>,
    kept: Option<i64>,
    change: String,
}

/// `diff_scores` rows by path.
fn diff_scores(root: &Path, date: &str) -> HashMap<String, FileRow> {
    let mut out = HashMap::new();
    for part in parts(root, "diff_scores", date) {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(part).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let s = |n: &str| batch.column_by_name(n).unwrap().as_string::<i32>().clone();
            let i = |n: &str| {
                batch
                    .column_by_name(n)
                    .unwrap()
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .clone()
            };
            let (path, change) = (s("path"), s("change"));
            let binary = batch.column_by_name("is_binary").unwrap().as_boolean().clone();
            let (added, removed, generated, kept) = (i("lines_added"), i("lines_removed"), i("lines_generated"), i("lines_kept"));
            let opt = |a: &arrow::array::Int64Array, r: usize| a.is_valid(r).then(|| a.value(r));
            for r in 0..batch.num_rows() {
                let row = FileRow {
                    binary: binary.value(r),
                    added: opt(&added, r),
                    removed: opt(&removed, r),
                    generated: opt(&generated, r),
                    kept: opt(&kept, r),
                    change: change.value(r).to_owned(),
                };
                out.insert(path.value(r).to_owned(), row);
            }
        }
    }
    out
}

/// The default character retention of every file against an independent computation:
/// git's own `-U0` histogram hunks, each measured by rapidfuzz's C++ Levenshtein, summed
/// (tests/python/check_hunk_chars.py; it fails naming the file). Returns its counts.
fn assert_chars_agree_with_git_hunks(dir: &Workdir) -> Value {
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_hunk_chars.py"));
    cmd.args([dir.join("git").to_str().unwrap(), dir.join("lake").to_str().unwrap(), "2026-01-08"]);
    let counts: Value = serde_json::from_str(ok(cmd).stdout().trim()).unwrap();
    eprintln!("character retention vs git hunks + rapidfuzz: {counts}");
    counts
}

/// Runs extract-edits and score-diffs on the lake and compares every file with git: the
/// line counts with numstat, the character retention with git's hunks. Returns the
/// number of files and the character check's counts.
fn assert_agrees_with_git(dir: &Workdir, expected_files: usize) -> (usize, Value) {
    let root = dir.join("lake");
    let e = extract(&root, "2026-01-08", &[]).expect_code(0).summary();
    assert_eq!(e["rows_quarantined"], json!(0), "{e}");
    let mut cmd = support::bin("score-diffs");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", "2026-01-08", "--quiet"]);
    let s = ok(cmd).summary();
    assert_eq!(s["reconciled"], json!(true), "{s}");
    let scores = diff_scores(&root, "2026-01-08");
    assert_eq!(scores.len(), expected_files);
    let git = git_numstat(dir);
    let mut mismatches = Vec::new();
    for (path, row) in &scores {
        let ours = (row.added, row.removed);
        match git.get(path) {
            None => {
                // Identical for git: nothing added or removed.
                if row.binary {
                    assert_eq!(row.change, "unchanged", "{path}");
                } else if ours != (Some(0), Some(0)) {
                    mismatches.push(format!("{path}: git 0/0, ours {ours:?}"));
                }
            }
            Some(None) => assert!(row.binary, "{path}: git says binary, we do not"),
            Some(Some((a, r))) => {
                if ours != (Some(*a), Some(*r)) {
                    mismatches.push(format!("{path}: git +{a} -{r}, ours {ours:?}"));
                }
                assert_eq!(
                    row.generated.unwrap() - row.kept.unwrap(),
                    row.removed.unwrap(),
                    "{path}: K = G - R"
                );
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} files disagree with git:\n{}",
        mismatches.len(),
        scores.len(),
        mismatches.join("\n")
    );
    let chars = assert_chars_agree_with_git_hunks(dir);
    assert_eq!(chars["files"], json!(scores.len()), "{chars}");
    (scores.len(), chars)
}

#[test]
fn line_counts_equal_git_on_real_releases() {
    let corpora = corpora();
    let (mut total, mut multi_hunk, mut line_bound, mut other_hunks) = (0, 0, 0, 0);
    let releases = [
        ("django-4.2", "django-5.0"),
        ("flask-2.2.0", "flask-3.0.0"),
        ("requests-2.28.0", "requests-2.32.3"),
        ("sqlalchemy-1.4.0", "sqlalchemy-2.0.0"),
    ];
    // Both directions: an upgrade and a downgrade are different diffs for git.
    for (old, new) in releases.iter().flat_map(|&(a, b)| [(a, b), (b, a)]) {
        let dir = Workdir::new(&format!("git-{old}-to-{new}"));
        let (old_files, new_files) = (files(&corpora.join(old)), files(&corpora.join(new)));
        let skipped = lake_from_pairs(&dir, &old_files, &new_files, 40);
        assert!(
            skipped * 100 <= old_files.len(),
            "{old}: {skipped} files are neither UTF-8 nor binary"
        );
        let changed = old_files.iter().filter(|(p, b)| new_files.get(*p).is_some_and(|n| n != *b)).count();
        let (compared, chars) = assert_agrees_with_git(&dir, old_files.len() - skipped);
        eprintln!("{old} -> {new}: {compared} files compared with git, {changed} of them changed");
        total += changed;
        multi_hunk += chars["hunks"].as_u64().unwrap();
        line_bound += chars["line_bound"].as_u64().unwrap();
        other_hunks += chars["other_hunks"].as_u64().unwrap();
    }
    assert!(total >= 3000, "only {total} changed pairs: the corpus is too small to trust");
    // Most changed files have several hunks: the `hunks` rows were checked on thousands.
    assert!(multi_hunk >= 1000, "only {multi_hunk} files with two or more hunks");
    eprintln!(
        "{multi_hunk} files scored over two or more hunks, {line_bound} bounded, {other_hunks} where git's post-processed hunks differ"
    );
    // git's post-processing of the hunks (check_hunk_chars.py) moves some boundaries;
    // most files must still agree exactly (297 of 3 122 differed when this was written).
    assert!(
        other_hunks * 5 <= multi_hunk,
        "{other_hunks} of {multi_hunk} files differ from git's hunks"
    );
}

#[test]
fn line_counts_equal_git_on_edge_cases() {
    let lines = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<String>();
    let repeated: String = "}\n".repeat(200);
    let mut with_edit = repeated.clone();
    with_edit.replace_range(100..102, "x\n");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("crlf.txt", "a\nb\nc\n".into(), Some("a\r\nb\r\nc\r\n".into())),
        ("no-final-newline.txt", "a\nb\nc\n".into(), Some("a\nb\nc".into())),
        ("gains-final-newline.txt", "a\nb".into(), Some("a\nb\n".into())),
        ("empty-generated.txt", String::new(), Some("x\ny\n".into())),
        ("emptied.txt", "x\ny\n".into(), Some(String::new())),
        ("both-empty.txt", String::new(), Some(String::new())),
        ("deleted.txt", "x\ny\nz\n".into(), None),
        ("identical.txt", "same\n".into(), Some("same\n".into())),
        ("200-identical-lines.txt", repeated.clone(), Some(with_edit)),
        (
            "repeated-64-plus.txt",
            lines(300, &|i| if i % 3 == 0 { "common\n".into() } else { format!("line {i}\n") }),
            Some(lines(300, &|i| {
                if i % 5 == 0 {
                    "common\n".into()
                } else {
                    format!("line {}\n", i * 7 % 300)
                }
            })),
        ),
        (
            "unrelated.txt",
            lines(3000, &|i| format!("old {i} {}\n", i * 31 % 97)),
            Some(lines(2500, &|i| format!("new {i} {}\n", i * 17 % 89))),
        ),
        (
            "moved-blocks.txt",
            lines(400, &|i| format!("fn f{i}() {{}}\n")),
            Some(lines(400, &|i| format!("fn f{}() {{}}\n", (i + 200) % 400))),
        ),
        ("unicode.txt", "héllo\nwörld\n日本\n".into(), Some("hello\nwörld\n日本語\n".into())),
    ];
    let dir = Workdir::new("git-edges");
    let old: BTreeMap<String, Vec<u8>> = cases.iter().map(|(p, o, _)| ((*p).to_owned(), o.clone().into_bytes())).collect();
    let new: BTreeMap<String, Vec<u8>> = cases
        .iter()
        .filter_map(|(p, _, n)| n.clone().map(|n| ((*p).to_owned(), n.into_bytes())))
        .collect();
    assert_eq!(lake_from_pairs(&dir, &old, &new, 5), 0);
    let (compared, chars) = assert_agrees_with_git(&dir, cases.len());
    assert_eq!(compared, cases.len());
    assert!(chars["hunks"].as_u64().unwrap() > 0, "{chars}");
    let scores = diff_scores(&dir.join("lake"), "2026-01-08");
    let deleted = &scores["deleted.txt"];
    assert_eq!(deleted.change, "deleted");
    assert_eq!(
        (deleted.removed, deleted.kept),
        (Some(3), Some(0)),
        "a deleted file removes all its lines and keeps none"
    );
}

/// Pathological inputs: a single 50 MB line, 200 000 identical lines, two unrelated
/// large files. They must finish (the benchmark records how fast) and agree with git.
#[test]
fn pathological_inputs_stay_bounded_and_agree_with_git() {
    let long_line = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(50_000_000 / 36);
    let mut long_edited = long_line.clone();
    long_edited.replace_range(25_000_000..25_000_010, "0123456789");
    let identical = "    }\n".repeat(200_000);
    let mut identical_edited = identical.clone();
    identical_edited.insert_str(6 * 100_000, "    // changed\n");
    let unrelated_old: String = (0..200_000u64).map(|i| format!("old line {i} {}\n", i * 7919 % 100_003)).collect();
    let unrelated_new: String = (0..200_000u64).map(|i| format!("new row {} {i}\n", i * 104_729 % 99_991)).collect();
    let cases = [
        ("single-50MB-line.txt", long_line, long_edited),
        ("200k-identical-lines.txt", identical, identical_edited),
        ("unrelated-large.txt", unrelated_old, unrelated_new),
    ];
    let dir = Workdir::new("git-pathological");
    let old: BTreeMap<String, Vec<u8>> = cases.iter().map(|(p, o, _)| ((*p).to_owned(), o.clone().into_bytes())).collect();
    let new: BTreeMap<String, Vec<u8>> = cases.iter().map(|(p, _, n)| ((*p).to_owned(), n.clone().into_bytes())).collect();
    assert_eq!(lake_from_pairs(&dir, &old, &new, 1), 0);
    let extracted = extract(&dir.join("lake"), "2026-01-08", &["--max-file-bytes", "100000000"])
        .expect_code(0)
        .summary();
    assert_eq!(extracted["edit_rows_out"], json!(3), "{extracted}");
    let mut cmd = support::bin("score-diffs");
    cmd.args(["--data-root", dir.join("lake").to_str().unwrap(), "--date", "2026-01-08", "--quiet"]);
    let summary = ok(cmd).summary();
    // The unrelated pair is over the exact budget; the two local edits are exact.
    assert_eq!(summary["char_retention_bounded"], json!(1), "{summary}");
    let scores = diff_scores(&dir.join("lake"), "2026-01-08");
    let git = git_numstat(&dir);
    for (path, row) in &scores {
        let expected = git[path].unwrap();
        assert_eq!((row.added, row.removed), (Some(expected.0), Some(expected.1)), "{path}");
    }
}

/// A small synthetic lake scored end to end.
fn scored_lake(name: &str, seed: u64) -> (Workdir, PathBuf, &'static str) {
    let dir = Workdir::new(name);
    let root = dir.join("lake");
    support::synth(&root, "parquet", 300, 3, seed);
    let date = "2026-10-09";
    extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0);
    (dir, root, date)
}

fn score(root: &Path, date: &str, extra: &[&str]) -> support::Run {
    let mut cmd = support::bin("score-diffs");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", date, "--quiet"]);
    cmd.args(extra);
    support::run(cmd)
}

fn python(args: &[&str]) -> Value {
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_scores.py"));
    cmd.args(args);
    serde_json::from_str(ok(cmd).stdout().trim()).unwrap()
}

#[test]
fn generation_sums_and_bounds_hold_when_read_with_pandas() {
    let (_dir, root, date) = scored_lake("aggregate", 21);
    let summary = score(&root, date, &[]).expect_code(0).summary();
    assert_eq!(summary["reconciled"], json!(true), "{summary}");
    let checked = python(&["check", root.to_str().unwrap(), date, "0.5"]);
    assert_eq!(checked["diff_rows"], summary["diff_rows_out"], "{checked} vs {summary}");
    assert_eq!(checked["generations"], summary["generations_out"]);
    assert_eq!(checked["binary_files"], summary["binary_files"]);
    // The synthetic lake has every kind of file, so each check had something to check.
    for kind in ["deleted_files", "binary_files", "modified_files", "rewritten"] {
        assert!(checked[kind].as_u64().unwrap() > 0, "no {kind}: {checked}");
    }
    // The threshold is honoured.
    score(&root, date, &["--rewritten-threshold", "0.9"]).expect_code(0);
    python(&["check", root.to_str().unwrap(), date, "0.9"]);
}

/// docs/analysts.md's DuckDB, polars and pandas snippets run on a scored lake and give
/// the rewrite rate by template version and language that the `_SUCCESS`-listed parts give.
#[test]
fn the_analysts_guide_snippets_agree_on_a_real_lake() {
    let (_dir, root, date) = scored_lake("analysts", 5);
    score(&root, date, &[]).expect_code(0);
    let first = date.parse::<hive_core::PartitionDate>().unwrap().minus_days(6).to_string();
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/analysts.md");
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_analysts.py"));
    cmd.args([doc.to_str().unwrap(), root.to_str().unwrap(), &first, date]);
    let checked: Value = serde_json::from_str(ok(cmd).stdout().trim()).unwrap();
    assert_eq!(checked["snippets"], json!(["duckdb", "pandas", "polars"]), "{checked}");
    assert!(checked["groups"].as_u64().unwrap() > 3, "{checked}");
}

#[test]
fn reruns_are_byte_identical_and_shards_add_up() {
    let (_dir, root, date) = scored_lake("score-determinism", 22);
    let read = |table: &str| {
        parts(&root, table, date)
            .iter()
            .map(|p| fs_err::read(p).unwrap())
            .collect::<Vec<_>>()
    };
    score(&root, date, &[]).expect_code(0);
    let first = (read("diff_scores"), read("generation_scores"));
    score(&root, date, &["--threads", "1"]).expect_code(0);
    assert!(
        first == (read("diff_scores"), read("generation_scores")),
        "outputs differ between two runs"
    );

    // Three shards in a copy of the lake hold the same rows as one run.
    let sharded = root.with_file_name("sharded");
    for table in ["edits"] {
        let from = root.join(table).join(format!("dt={date}"));
        let to = sharded.join(table).join(format!("dt={date}"));
        fs_err::create_dir_all(&to).unwrap();
        for entry in fs_err::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            fs_err::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let mut total = 0;
    for k in 0..3 {
        let s = score(&sharded, date, &["--shard", &format!("{k}/3")]).expect_code(0).summary();
        assert_eq!(s["reconciled"], json!(true), "{s}");
        total += s["diff_rows_out"].as_u64().unwrap();
    }
    assert_eq!(parts(&sharded, "diff_scores", date).len(), 3);
    assert_eq!(json!(total), score(&root, date, &[]).expect_code(0).summary()["diff_rows_out"]);
    python(&["same-rows", root.to_str().unwrap(), sharded.to_str().unwrap(), date]);
}

#[test]
fn malformed_edits_are_quarantined_and_their_generations_held_back() {
    let (_dir, root, date) = scored_lake("score-quarantine", 23);
    let rows_before = score(&root, date, &[]).expect_code(0).summary();
    let damaged = python(&["corrupt", root.to_str().unwrap(), date]);
    let summary = score(&root, date, &[]).expect_code(0).summary();
    assert_eq!(summary["reconciled"], json!(true), "{summary}");
    assert_eq!(summary["rows_quarantined"], json!(2), "{summary}");
    assert_eq!(summary["rows_read"], rows_before["rows_read"]);
    assert_eq!(summary["generations_incomplete"], json!(2), "{summary}");
    assert_eq!(
        summary["generations_out"].as_u64().unwrap() + 2,
        rows_before["generations_out"].as_u64().unwrap()
    );
    let quarantine = support::sorted_rows(&parts(&root, "quarantine/score-diffs", date));
    assert_eq!(quarantine.len(), 2);
    let joined = quarantine.join("\n");
    for needle in [
        "unknown `change` value `renamed`",
        "`final_content` is null but `change` is `modified`",
        "malformed_edit",
    ] {
        assert!(joined.contains(needle), "{needle} not in {joined}");
    }
    // The partition's ratio is judged: 2 of the partition's rows is above a limit just
    // below 2 / rows (exit 1, outputs still written) and within one just above it.
    let handled = summary["partition_rows_handled"].as_u64().unwrap();
    assert_eq!(handled, summary["diff_rows_out"].as_u64().unwrap() + 2);
    assert_eq!(summary["partition_rows_quarantined"], json!(2));
    let ratio = 2.0 / handled as f64;
    let strict = score(&root, date, &["--max-quarantine-ratio", &(ratio * 0.99).to_string()]).expect_code(1);
    assert_eq!(strict.summary()["status"], json!("too_many_quarantined"));
    assert!(strict.stderr().contains("too many `edits` rows quarantined"), "{}", strict.stderr());
    assert_eq!(parts(&root, "diff_scores", date).len(), 1, "outputs are written");
    score(&root, date, &["--max-quarantine-ratio", &(ratio * 1.01).to_string()]).expect_code(0);
    score(&root, date, &["--max-quarantine-ratio", "1.5"]).expect_code(2);

    // Sharded, the shard that completes the partition judges the whole partition: a
    // limit 1.2 x the partition's ratio passes although any shard holding a damaged row
    // (about a third of the rows) has more than twice that ratio on its own.
    let limit = (ratio * 1.2).to_string();
    let mut judged = Vec::new();
    for k in 0..3 {
        let s = score(&root, date, &["--shard", &format!("{k}/3"), "--max-quarantine-ratio", &limit])
            .expect_code(0)
            .summary();
        let own = s["rows_quarantined"].as_f64().unwrap();
        if own > 0.0 {
            let shard_ratio = own / (s["diff_rows_out"].as_f64().unwrap() + own);
            assert!(
                shard_ratio > ratio * 1.2,
                "shard {k} alone ({shard_ratio}) would pass too: the test proves nothing"
            );
        }
        if let Some(total) = s["partition_rows_handled"].as_u64() {
            judged.push((total, s["partition_rows_quarantined"].clone()));
        }
    }
    assert_eq!(judged, [(handled, json!(2))], "only the last shard judges, on the whole partition");

    // Each quarantine row names the file, the 1-based row and the event.
    for (row, event) in damaged["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(damaged["event_ids"].as_array().unwrap())
    {
        let needle = format!("edits/dt={date}/part-0-of-1.parquet\u{1f}{row}\u{1f}{}", event.as_str().unwrap());
        assert!(joined.contains(&needle), "{needle:?} not in {joined}");
    }
}

/// Rewrites the date's `edits` part as another writer might: `path` nullable with one
/// null, `experiment_id` typed `null` (pyarrow's type for an all-None column), and one
/// row without a `project_id`; committed with a valid `_SUCCESS`.
fn rewrite_edits_with_nulls(root: &Path, date: &str) -> u64 {
    use arrow::array::{ArrayRef, NullArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let part = &parts(root, "edits", date)[0];
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(part).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<arrow::record_batch::RecordBatch> = reader.map(Result::unwrap).collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let n = batch.num_rows();
    for (i, field) in fields.iter_mut().enumerate() {
        let null_at = match field.name().as_str() {
            "path" => 0,
            "project_id" => 1,
            "experiment_id" => {
                *field = Field::new("experiment_id", DataType::Null, true);
                columns[i] = std::sync::Arc::new(NullArray::new(n));
                continue;
            }
            _ => continue,
        };
        *field = field.clone().with_nullable(true);
        let values = columns[i].as_string::<i32>();
        columns[i] = std::sync::Arc::new((0..n).map(|r| (r != null_at).then(|| values.value(r))).collect::<StringArray>());
    }
    let schema = std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).unwrap();
    let spec = hive_core::schema::TableSpec {
        schema,
        ..hive_core::schema::edits_spec()
    };
    let mut writer = hive_core::lake::PartWriter::create(root, spec, date.parse().unwrap(), hive_core::shard::Shard::ALL).unwrap();
    writer.write(&batch).unwrap();
    writer.commit().unwrap();
    n as u64
}

/// One null where `diff_scores` needs a value, a row without a project and a column
/// typed `null` cost a quarantine row each, not the run; every row is accounted for,
/// across shards too.
#[test]
fn null_keys_and_null_typed_columns_are_quarantined_row_by_row() {
    let (_dir, root, date) = scored_lake("nulls", 5);
    let rows = rewrite_edits_with_nulls(&root, date);
    let summary = score(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0).summary();
    assert_eq!(summary["reconciled"], json!(true), "{summary}");
    assert_eq!(summary["rows_quarantined"], json!(2), "{summary}");
    assert_eq!(summary["diff_rows_out"], json!(rows - 2), "{summary}");
    let reasons: Vec<String> = support::quarantine_rows(&root, "score-diffs", date)
        .into_iter()
        .map(|(_, _, r)| r)
        .collect();
    assert!(reasons.iter().any(|r| r.contains("`path` is null")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("`project_id` is null")), "{reasons:?}");
    // Two shards: the row without a project is quarantined once, by the first shard.
    let mut handled = 0;
    for shard in ["0/2", "1/2"] {
        let s = score(&root, date, &["--max-quarantine-ratio", "1", "--shard", shard])
            .expect_code(0)
            .summary();
        assert_eq!(s["reconciled"], json!(true), "{s}");
        handled += s["diff_rows_out"].as_u64().unwrap() + s["rows_quarantined"].as_u64().unwrap();
    }
    assert_eq!(handled, rows);
    support::record_hostile("null-keys-and-null-typed-columns", "accounted", rows);
}
