//! Integration tests of `build-finetune`: secrets never leak, the split is by project,
//! deduplication removes near copies but keeps files that only share a licence header,
//! every record passes OpenAI's data-prep checks and reads back with pyarrow, token
//! counts agree with OpenAI's tiktoken, reruns are byte-identical, every input row is
//! accounted for, and bad input exits 2 naming the file and field.
//!
//! Inputs are real: `synth-events` lakes, or raw generations and snapshots written here,
//! run through `extract-edits` and `score-diffs`.

#![allow(
    clippy::unwrap_used,
    clippy::format_collect,
    clippy::format_push_string,
    clippy::case_sensitive_file_extension_comparisons
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use hive_secrets::corpus::{self, Case, Place};
use serde_json::{Value, json};
use support::{Run, Workdir, extract, ok, run};

/// Runs build-finetune with `extra` arguments.
fn finetune(root: &Path, date: &str, extra: &[&str]) -> Run {
    let mut cmd = support::bin("build-finetune");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", date]);
    cmd.args(extra);
    run(cmd)
}

fn score(root: &Path, date: &str) {
    let mut cmd = support::bin("score-diffs");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", date, "--quiet"]);
    ok(cmd);
}

/// A synthetic lake with three days of edits and scores (2026-10-08..10).
fn synth_lake(name: &str, seed: u64) -> (Workdir, PathBuf) {
    let dir = Workdir::new(name);
    let root = dir.join("lake");
    support::synth(&root, "parquet", 300, 3, seed);
    for date in ["2026-10-08", "2026-10-09", "2026-10-10"] {
        extract(&root, date, &["--max-quarantine-ratio", "1"]).expect_code(0);
        score(&root, date);
    }
    (dir, root)
}

/// One generated file and what the user kept of it (`None`: deleted).
struct Planted {
    project: String,
    request: String,
    path: String,
    generated: String,
    kept: Option<String>,
}

/// Writes one generation per planted file (generated 2026-01-01, snapshot 2026-01-05)
/// and runs extract-edits and score-diffs for 2026-01-08.
fn planted_lake(dir: &Workdir, files: &[Planted]) -> PathBuf {
    let (mut gens, mut snaps) = (String::new(), String::new());
    for (i, f) in files.iter().enumerate() {
        let generation = json!({"event_id": format!("e{i:04}"), "generated_at": "2026-01-01T00:00:00Z",
            "project_id": f.project, "template_id": "service", "template_version": "3",
            "request": f.request, "files": [{"path": f.path, "content": f.generated}]});
        gens.push_str(&format!("{generation}\n"));
        let kept: Vec<Value> = f.kept.iter().map(|k| json!({"path": f.path, "content": k})).collect();
        let snapshot = json!({"snapshot_id": format!("s{i:04}"), "project_id": f.project,
            "captured_at": "2026-01-05T00:00:00Z", "files": kept});
        snaps.push_str(&format!("{snapshot}\n"));
    }
    dir.write("lake/raw/generations/dt=2026-01-01/part-0.ndjson", gens);
    dir.write("lake/raw/snapshots/dt=2026-01-05/part-0.ndjson", snaps);
    let root = dir.join("lake");
    let e = extract(&root, PLANTED_DATE, &[]).expect_code(0).summary();
    assert_eq!(e["edit_rows_out"], json!(files.len()), "{e}");
    score(&root, PLANTED_DATE);
    root
}

const PLANTED_DATE: &str = "2026-01-08";

/// A distinct, ordinary source file of `lines` lines (`seed` makes it unique).
fn code(seed: usize, lines: usize) -> String {
    let words = [
        "order", "invoice", "customer", "ledger", "payment", "refund", "account", "report", "session",
    ];
    (0..lines)
        .map(|i| {
            let w = words[(seed * 7 + i * 3) % words.len()];
            let v = words[(seed + i * 5) % words.len()];
            format!(
                "def {w}_{v}_{seed}_{i}(ctx, item_{i}):\n    return ctx.{v}.update(item_{i}, limit={})\n",
                seed * 13 + i
            )
        })
        .collect()
}

/// The planted-secrets corpus (`crates/secrets/corpus/planted.toml`) as one generation
/// per case, planted where the case says: in the kept file (and the generated one), only
/// in the generated file, in the path, or in the request. Look-alike cases (no secret)
/// sit in kept files the same way.
fn corpus_files(cases: &[Case]) -> Vec<Planted> {
    cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let body = code(i + 1, 12);
            let path = case.path.clone().unwrap_or_else(|| format!("app/module_{i}.py"));
            let (request, generated, kept) = match case.place {
                Place::Kept | Place::Path => (
                    "Add the settings module.".to_owned(),
                    format!("{body}{}\n", case.text),
                    format!("{body}# reviewed\n{}\n", case.text),
                ),
                Place::Generated => (
                    "Add the settings module.".to_owned(),
                    format!("{body}{}\n", case.text),
                    format!("{body}# reviewed\n"),
                ),
                Place::Request => (
                    format!("Add the settings module. {}", case.text),
                    format!("{body}\n"),
                    format!("{body}# reviewed\n"),
                ),
            };
            Planted {
                project: format!("p{i:03}"),
                request,
                path,
                generated,
                kept: Some(kept),
            }
        })
        .collect()
}

/// Every file under `dir` (hidden ones too), relative path -> bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs_err::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(base).unwrap().to_string_lossy().into_owned(),
                    fs_err::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// What a reader of each output file sees: Parquet decoded (its pages are compressed,
/// so a byte search would miss a leak), other files as text.
fn readable_outputs(dir: &Path) -> BTreeMap<String, String> {
    tree(dir)
        .into_iter()
        .map(|(name, bytes)| {
            let text = if name.ends_with(".parquet") {
                support::sorted_rows(&[dir.join(&name)]).join("\n")
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            };
            (name, text)
        })
        .collect()
}

/// Every record batch of a Parquet file.
fn batches(path: &Path) -> Vec<RecordBatch> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// One text column of a Parquet file, row by row.
fn text_column(path: &Path, name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for batch in batches(path) {
        let column = batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("{} has no `{name}`", path.display()));
        let strings = column.as_string::<i32>();
        out.extend((0..strings.len()).map(|i| strings.is_valid(i).then(|| strings.value(i).to_owned())));
    }
    out
}

fn u64_column(path: &Path, name: &str) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for batch in batches(path) {
        let column = batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .clone();
        out.extend((0..column.len()).map(|i| column.is_valid(i).then(|| column.value(i))));
    }
    out
}

fn manifest(dataset: &Path) -> Value {
    serde_json::from_slice(&fs_err::read(dataset.join("manifest.json")).unwrap()).unwrap()
}

/// `(project_id, path)` of every example, over all splits.
fn examples(dataset: &Path) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for split in ["train", "validation", "test"] {
        let file = dataset.join(format!("sources-{split}.parquet"));
        let projects = text_column(&file, "project_id");
        let paths = text_column(&file, "path");
        out.extend(projects.into_iter().zip(paths).map(|(p, f)| (p.unwrap(), f.unwrap())));
    }
    out
}

/// `(project_id, reason)` of every excluded row.
fn exclusions(dataset: &Path) -> BTreeSet<(String, String)> {
    let file = dataset.join("excluded.parquet");
    text_column(&file, "project_id")
        .into_iter()
        .zip(text_column(&file, "reason"))
        .map(|(p, r)| (p.unwrap(), r.unwrap()))
        .collect()
}

/// The projects `corpus_files` gives the cases with a secret.
fn planted_projects(cases: &[Case]) -> BTreeSet<String> {
    cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_planted())
        .map(|(i, _)| format!("p{i:03}"))
        .collect()
}

#[test]
fn planted_secrets_of_every_kind_reach_no_output_file_and_no_log() {
    let dir = Workdir::new("finetune-secrets");
    let cases = corpus::cases().unwrap();
    let planted: Vec<&Case> = cases.iter().filter(|c| c.is_planted()).collect();
    let look_alikes = cases.len() - planted.len();
    assert!(
        planted.len() >= 60 && look_alikes >= 20,
        "{} planted, {look_alikes} look-alikes",
        planted.len()
    );
    let root = planted_lake(&dir, &corpus_files(&cases));
    let needles: Vec<(String, String)> = planted
        .iter()
        .flat_map(|c| c.leak_needles().into_iter().map(|n| (c.kind.clone(), n)))
        .collect();
    let leaks = |what: &str, text: &str| {
        for (kind, needle) in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "the {kind} secret (or half of it) leaked into {what}"
            );
        }
    };
    let every_output = |leaks: &dyn Fn(&str, &str)| {
        let finetune = readable_outputs(&root.join("finetune"));
        assert!(finetune.keys().any(|n| n.ends_with(".parquet")) && finetune.contains_key(&format!("dt={PLANTED_DATE}/manifest.json")));
        assert!(finetune.keys().any(|n| n.ends_with("README.md")) && finetune.keys().any(|n| n.contains("sources-")));
        for (name, text) in finetune.iter().chain(&readable_outputs(&root.join("quarantine/build-finetune"))) {
            leaks(name, text);
        }
    };
    let dataset = root.join(format!("finetune/dt={PLANTED_DATE}"));

    // Drop (the default), with every log line there is, in both formats.
    for format in ["text", "json"] {
        let mut cmd = support::bin("build-finetune");
        cmd.env("HIVE_LOG", "trace");
        cmd.args([
            "--data-root",
            root.to_str().unwrap(),
            "--date",
            PLANTED_DATE,
            "--log-format",
            format,
        ]);
        let out = ok(cmd);
        leaks("stdout", &out.stdout());
        leaks("stderr", &out.stderr());
        assert!(!out.stderr().is_empty(), "trace logging produced no log to check");
        // Every planted row is left out with the reason `secret`; no look-alike is (the
        // false-positive rate on the corpus is 0).
        let summary = out.summary();
        assert_eq!(summary["excluded"]["secret"], json!(planted.len()), "{summary}");
        assert_eq!(summary["sft_examples"], json!(look_alikes), "{summary}");
    }
    every_output(&leaks);
    let m = manifest(&dataset);
    assert_eq!(m["secrets"]["action"], json!("drop"));
    assert_eq!(m["secrets"]["rows_with_secrets"], json!(planted.len()), "{}", m["secrets"]);
    assert_eq!(m["secrets"]["rules"]["gitleaks_rules"], json!(222), "{}", m["secrets"]);
    let secret_rows: BTreeSet<String> = exclusions(&dataset)
        .into_iter()
        .filter(|(_, reason)| reason == "secret")
        .map(|(project, _)| project)
        .collect();
    assert_eq!(secret_rows, planted_projects(&cases));

    // Redact: every example is kept, each finding replaced by its rule's placeholder.
    dir.write("redact.yaml", "secrets:\n  action: redact\n");
    let out = finetune(&root, PLANTED_DATE, &["--config", dir.join("redact.yaml").to_str().unwrap()]).expect_code(0);
    leaks("stdout", &out.stdout());
    leaks("stderr", &out.stderr());
    every_output(&leaks);
    let m = manifest(&dataset);
    assert_eq!(m["secrets"]["rows_with_secrets"], json!(planted.len()), "{}", m["secrets"]);
    let examples = examples(&dataset);
    assert_eq!(examples.len(), cases.len());
    // Not vacuous: the rules the corpus exercises were counted, and their placeholders
    // written. A path with a secret reaches the lineage files scrubbed.
    let jsonl: String = readable_outputs(&dataset)
        .iter()
        .filter(|(n, _)| n.ends_with(".jsonl"))
        .map(|(_, text)| text.clone())
        .collect();
    for rule in [
        "stripe-access-token",
        "slack-webhook-url",
        "password-assignment",
        "phone-number",
        "credit-card",
        "us-ssn",
        "ipv6-address",
    ] {
        assert!(
            m["secrets"]["found"][rule].as_u64().unwrap_or(0) >= 1,
            "{rule} not counted: {}",
            m["secrets"]
        );
        assert!(jsonl.contains(&format!("<REDACTED:{rule}>")), "no <REDACTED:{rule}> in the JSONL");
    }
    assert!(
        examples.iter().any(|(_, path)| path == "docs/<REDACTED:email>/notes.md"),
        "{examples:?}"
    );
}

#[test]
fn no_project_is_in_two_splits_and_the_salt_draws_the_split() {
    let (dir, root) = synth_lake("finetune-split", 31);
    let dataset = root.join("finetune/dt=2026-10-10");
    let by_split = || {
        ["train", "validation", "test"].map(|split| {
            text_column(&dataset.join(format!("sources-{split}.parquet")), "project_id")
                .into_iter()
                .map(Option::unwrap)
                .collect::<BTreeSet<_>>()
        })
    };
    finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0);
    let [train, validation, test] = by_split();
    assert!(
        !train.is_empty() && !validation.is_empty(),
        "{} train, {} validation projects",
        train.len(),
        validation.len()
    );
    assert!(test.is_empty());
    assert!(
        train.is_disjoint(&validation),
        "projects in both: {:?}",
        train.intersection(&validation).collect::<Vec<_>>()
    );

    // Three splits with another salt: still disjoint, and a different draw.
    dir.write(
        "split.yaml",
        "split:\n  salt: another\n  train: 0.6\n  validation: 0.2\n  test: 0.2\n",
    );
    finetune(
        &root,
        "2026-10-10",
        &["--days", "3", "--quiet", "--config", dir.join("split.yaml").to_str().unwrap()],
    )
    .expect_code(0);
    let [train2, validation2, test2] = by_split();
    for (a, b) in [(&train2, &validation2), (&train2, &test2), (&validation2, &test2)] {
        assert!(a.is_disjoint(b));
    }
    assert!(!test2.is_empty() && validation2 != validation);
}

#[test]
fn near_duplicates_are_removed_and_files_that_share_a_licence_header_are_kept() {
    use hive_finetune::dedup::{normalise, shingles};
    // Jaccard computed here from plain sets, independently of the deduplicator's own
    // early-exit comparison.
    let jaccard = |a: &[u64], b: &[u64]| {
        let (a, b): (BTreeSet<u64>, BTreeSet<u64>) = (a.iter().copied().collect(), b.iter().copied().collect());
        a.intersection(&b).count() as f64 / a.union(&b).count() as f64
    };
    let dir = Workdir::new("finetune-dedup");
    let original = code(1, 20);
    let lines: Vec<&str> = original.lines().collect();
    // Two lines of forty rewritten.
    let mut near_lines = lines.clone();
    near_lines[9] = "    return ctx.audit.record(item_4, limit=17)";
    near_lines[27] = "    return None";
    let near = near_lines.join("\n") + "\n";
    let exact = original.replace('\n', "  \r\n");
    let licence = "# Copyright 2026 Acme Corp.\n#\n# Licensed under the Apache License, Version 2.0 (the \"License\");\n\
        # you may not use this file except in compliance with the License.\n# You may obtain a copy of the License at\n#\n\
        #     http://www.apache.org/licenses/LICENSE-2.0\n#\n# Unless required by applicable law or agreed to in writing, software\n\
        # distributed under the License is distributed on an \"AS IS\" BASIS,\n\
        # WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.\n\
        # See the License for the specific language governing permissions and\n# limitations under the License.\n";
    let licensed: Vec<String> = (0..3).map(|k| format!("{licence}{}", code(10 + k, 4))).collect();

    // The inputs are what the test claims: the near copy is above the threshold, the
    // licensed files share a large part of their shingles but stay below it.
    let set = |t: &str| shingles(&normalise(t), 5);
    assert!(jaccard(&set(&original), &set(&near)) >= 0.7);
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let j = jaccard(&set(&licensed[a]), &set(&licensed[b]));
        assert!((0.3..0.7).contains(&j), "licensed files {a} and {b}: Jaccard {j}");
    }

    let file = |project: &str, path: &str, content: &str| Planted {
        project: project.to_owned(),
        request: format!("Write {path}"),
        path: path.to_owned(),
        generated: content.to_owned(),
        kept: Some(content.to_owned()),
    };
    let mut files = vec![
        file("p-original", "app/orders.py", &original),
        file("p-near", "app/orders.py", &near),
        file("p-exact", "app/orders.py", &exact),
    ];
    for (k, content) in licensed.iter().enumerate() {
        files.push(file(&format!("p-licensed-{k}"), &format!("app/module_{k}.py"), content));
    }
    let root = planted_lake(&dir, &files);
    let summary = finetune(&root, PLANTED_DATE, &["--quiet"]).expect_code(0).summary();
    let dataset = root.join(format!("finetune/dt={PLANTED_DATE}"));
    let kept: BTreeSet<String> = examples(&dataset).into_iter().map(|(p, _)| p).collect();
    let expected: BTreeSet<String> = ["p-original", "p-licensed-0", "p-licensed-1", "p-licensed-2"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(kept, expected, "{summary}");
    let excluded = exclusions(&dataset);
    assert!(
        excluded.contains(&("p-near".to_owned(), "near_duplicate".to_owned())),
        "{excluded:?}"
    );
    assert!(
        excluded.contains(&("p-exact".to_owned(), "exact_duplicate".to_owned())),
        "{excluded:?}"
    );
    assert_eq!(summary["excluded"], json!({"exact_duplicate": 1, "near_duplicate": 1}));
}

/// tiktoken-rs's copy of OpenAI's BPE table for `encoding`, found through `cargo metadata`
/// (or in `HIVE_TIKTOKEN_ASSETS`, a directory of `<encoding>.tiktoken` files).
fn bpe_file(encoding: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("HIVE_TIKTOKEN_ASSETS") {
        return PathBuf::from(dir).join(format!("{encoding}.tiktoken"));
    }
    // Only this platform's packages: the others' sources may not be downloaded.
    let mut rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()));
    rustc.arg("-vV");
    let version = ok(rustc).stdout();
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).unwrap().to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host]);
    let metadata: Value = serde_json::from_str(&ok(cmd).stdout()).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tiktoken-rs")
        .expect("tiktoken-rs is a dependency");
    let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
    manifest.with_file_name("assets").join(format!("{encoding}.tiktoken"))
}

/// The Python with tiktoken and pyarrow made by `scripts/setup-venvs.sh finetune`.
fn finetune_python() -> PathBuf {
    if let Some(p) = std::env::var_os("HIVE_FINETUNE_PYTHON") {
        return PathBuf::from(p);
    }
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/finetune/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup-venvs.sh finetune`",
        python.display()
    );
    python
}

/// Runs tests/python/check_finetune.py on a dataset; returns its counts.
fn python_check(root: &Path, date: &str, encoding: &str) -> Value {
    let mut cmd = std::process::Command::new(finetune_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_finetune.py"));
    cmd.arg(root.join(format!("finetune/dt={date}")));
    cmd.arg(root);
    cmd.arg(bpe_file(encoding));
    serde_json::from_str(ok(cmd).stdout().trim()).unwrap()
}

#[test]
fn every_record_passes_openais_checks_counts_tokens_like_tiktoken_and_reconciles() {
    let (_dir, root) = synth_lake("finetune-formats", 32);
    let summary = finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0).summary();
    assert_eq!(summary["reconciled"], json!(true), "{summary}");
    let checked = python_check(&root, "2026-10-10", "o200k_base");
    // pyarrow read every example and every pair; tiktoken counted each one.
    assert_eq!(checked["sft_rows"], summary["sft_examples"], "{checked} vs {summary}");
    assert_eq!(checked["preference_rows"], summary["preference_pairs"]);
    assert_eq!(checked["token_counts_checked"], summary["sft_examples"]);
    assert_eq!(checked["input_rows"], summary["input_rows"]);
    let excluded: u64 = summary["excluded"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(checked["excluded_rows"], json!(excluded));
    // The synthetic lake has every kind of exclusion the checker recounts, and the
    // checker compared answers with kept files.
    for key in [
        "recounted_binary",
        "recounted_deleted",
        "recounted_wholesale_rewrite",
        "answers_equal_kept_file",
    ] {
        assert!(checked[key].as_u64().unwrap_or(0) > 0, "nothing for {key}: {checked}");
    }
    // The input parts the manifest lists are those committed, with their row counts.
    let m = manifest(&root.join("finetune/dt=2026-10-10"));
    let mut listed = 0;
    for date in ["2026-10-08", "2026-10-09", "2026-10-10"] {
        for part in support::parts(&root, "edits", date) {
            let rel = part.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let entry = m["inputs"].as_array().unwrap().iter().find(|i| i["file"] == json!(rel)).unwrap();
            assert_eq!(entry["rows"], json!(hive_core::lake::parquet_row_count(&part).unwrap()));
            listed += 1;
        }
    }
    assert_eq!(listed, 3);

    // The other encoding is honoured and agrees with tiktoken too.
    let dir = root.parent().unwrap();
    fs_err::write(dir.join("cl100k.yaml"), "tokens:\n  encoding: cl100k_base\n").unwrap();
    finetune(
        &root,
        "2026-10-10",
        &["--days", "3", "--quiet", "--config", dir.join("cl100k.yaml").to_str().unwrap()],
    )
    .expect_code(0);
    python_check(&root, "2026-10-10", "cl100k_base");
}

#[test]
fn examples_over_the_token_limit_are_dropped_not_truncated() {
    let (dir, root) = synth_lake("finetune-tokens", 33);
    let dataset = root.join("finetune/dt=2026-10-10");
    finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0);
    let tokens_of = || {
        let mut out = BTreeMap::new();
        for split in ["train", "validation", "test"] {
            let file = dataset.join(format!("sources-{split}.parquet"));
            let keys = text_column(&file, "source_file").into_iter().zip(u64_column(&file, "source_row"));
            for (key, tokens) in keys.zip(u64_column(&file, "sft_tokens")) {
                out.insert((key.0.unwrap(), key.1.unwrap()), tokens.unwrap());
            }
        }
        out
    };
    let unlimited = tokens_of();
    let mut sizes: Vec<u64> = unlimited.values().copied().collect();
    sizes.sort_unstable();
    let limit = sizes[sizes.len() / 2];
    assert!(sizes[0] < limit && limit < sizes[sizes.len() - 1]);

    dir.write("limit.yaml", format!("tokens:\n  max_tokens: {limit}\n"));
    let summary = finetune(
        &root,
        "2026-10-10",
        &["--days", "3", "--quiet", "--config", dir.join("limit.yaml").to_str().unwrap()],
    )
    .expect_code(0)
    .summary();
    let limited = tokens_of();
    // Every example over the limit is gone, counted as too_many_tokens; every example
    // written is within the limit and has the same count as without a limit (it was
    // not shortened).
    let over: Vec<_> = unlimited.iter().filter(|(_, t)| **t > limit).map(|(k, _)| k.clone()).collect();
    assert!(!over.is_empty());
    let file = dataset.join("excluded.parquet");
    let too_long: BTreeSet<(String, u64)> = text_column(&file, "source_file")
        .into_iter()
        .zip(u64_column(&file, "source_row"))
        .zip(text_column(&file, "reason"))
        .filter(|(_, r)| r.as_deref() == Some("too_many_tokens"))
        .map(|((f, r), _)| (f.unwrap(), r.unwrap()))
        .collect();
    for key in &over {
        assert!(too_long.contains(key), "{key:?} over the limit but not excluded as too_many_tokens");
    }
    assert_eq!(summary["excluded"]["too_many_tokens"], json!(too_long.len()), "{summary}");
    for (key, tokens) in &limited {
        assert!(*tokens <= limit, "{key:?} has {tokens} tokens over {limit}");
        if let Some(before) = unlimited.get(key) {
            assert_eq!(tokens, before, "{key:?} changed size under a limit");
        }
    }
    assert!(!limited.is_empty());
    // The checker also finds every kept answer equal to the kept file.
    python_check(&root, "2026-10-10", "o200k_base");
}

#[test]
fn reruns_are_byte_identical_and_leave_no_staging_behind() {
    let (_dir, root) = synth_lake("finetune-determinism", 34);
    let table = root.join("finetune");
    finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0);
    let first = tree(&table);
    assert!(first.len() > 10, "{:?}", first.keys().collect::<Vec<_>>());
    // What a killed run leaves (a half-written staging directory) is cleaned up, and a
    // rerun with other logging gives the same bytes.
    fs_err::create_dir_all(table.join(".dt=2026-10-10.tmp-4242424")).unwrap();
    fs_err::write(table.join(".dt=2026-10-10.tmp-4242424/sft-train.jsonl"), "partial").unwrap();
    finetune(&root, "2026-10-10", &["--days", "3", "--log-format", "json"]).expect_code(0);
    let second = tree(&table);
    assert_eq!(first.keys().collect::<Vec<_>>(), second.keys().collect::<Vec<_>>());
    for (name, bytes) in &first {
        assert!(bytes == &second[name], "{name} differs between two runs");
    }

    // A run killed between the fallback swap's two renames leaves the dataset moved
    // aside: the next run puts it back first (the date is never left without one),
    // then replaces it as usual.
    let dataset = table.join("dt=2026-10-10");
    fs_err::rename(&dataset, table.join(".dt=2026-10-10.old-4242424")).unwrap();
    finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0);
    assert_eq!(tree(&table), second, "the restored and rebuilt dataset differs");

    // A second run of the same date while one holds the partition's lock exits 3
    // (retried later) and leaves the dataset alone.
    let lock = hive_core::lake::lock_part(&dataset, "dataset").unwrap();
    finetune(&root, "2026-10-10", &["--days", "3", "--quiet"])
        .expect_code(3)
        .expect_stderr("dt=2026-10-10.dataset.lock");
    drop(lock);
    assert_eq!(tree(&table), second);
}

#[test]
fn threads_and_the_memory_budget_do_not_change_a_byte() {
    // Per-row work runs on every thread and candidates wait on disk past the memory
    // budget; neither may change the dataset. Every file under the dataset directory
    // (records, lineage, manifest, card) is compared with a one-thread, all-in-memory run.
    let (dir, root) = synth_lake("finetune-threads", 36);
    let spill = dir.join("spill");
    fs_err::create_dir_all(&spill).unwrap();
    let dataset = root.join("finetune/dt=2026-10-10");
    let build = |extra: &[&str]| {
        let mut cmd = support::bin("build-finetune");
        cmd.args(["--data-root", root.to_str().unwrap(), "--date", "2026-10-10", "--days", "3"]);
        // Every run computes (the outcome cache has a test of its own).
        cmd.args(["--spill-dir", spill.to_str().unwrap(), "--no-cache"]);
        cmd.args(extra).env("HIVE_LOG", "info");
        let run = run(cmd).expect_code(0);
        (tree(&dataset), run)
    };
    let (reference, first) = build(&["--threads", "1", "--memory-budget", "18446744073709551615"]);
    // Dedup reports its progress (one line at its end at least, counting every candidate
    // the read phase found), so a long dedup is not minutes of silence in the task log.
    let log = first.stderr();
    let candidates: u64 = log
        .split("candidates=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no candidate count in the log:\n{log}"));
    assert!(candidates > 0);
    first.expect_stderr(&format!("what=\"candidates deduplicated\" count={candidates} "));
    let examples = manifest(&dataset)["sft_examples"]["train"].as_u64().unwrap();
    let excluded = manifest(&dataset)["excluded"].as_object().unwrap().clone();
    assert!(examples > 50, "{examples} train examples");
    assert!(
        excluded.contains_key("near_duplicate") && excluded.contains_key("exact_duplicate"),
        "{excluded:?}"
    );
    for extra in [
        &["--threads", "2"][..],
        &["--threads", "3", "--memory-budget", "0"],
        &["--threads", "1", "--memory-budget", "0"],
        // Part in memory, part on disk.
        &["--threads", "2", "--memory-budget", "200000"],
    ] {
        let (got, run) = build(extra);
        assert_eq!(got.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>(), "{extra:?}");
        for (name, bytes) in &reference {
            assert!(bytes == &got[name], "{name} differs with {extra:?}");
        }
        if extra.contains(&"0") {
            // Everything went to disk, and the spill file had no name: nothing is left.
            run.expect_stderr("records_spilled");
        }
        assert_eq!(fs_err::read_dir(&spill).unwrap().count(), 0, "{extra:?} left a spill file");
    }
    // A spill directory that does not exist, when records must spill, is a runtime
    // failure naming it (exit 3), and the dataset already there is left as it was.
    let missing = dir.join("no-such-spill-dir");
    let mut cmd = support::bin("build-finetune");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", "2026-10-10", "--days", "3"]);
    cmd.args(["--spill-dir", missing.to_str().unwrap(), "--no-cache", "--memory-budget", "0"]);
    run(cmd).expect_code(3).expect_stderr("no-such-spill-dir");
    assert_eq!(tree(&dataset), reference, "a failed run changed the dataset");
}

/// What one build gives: the dataset's files, the quarantine's, the summary, the run.
type Built = (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>, Value, Run);

/// The entries of the outcome cache, relative to it.
fn cache_entries(cache: &Path) -> Vec<String> {
    tree(cache).into_keys().collect()
}

#[test]
fn the_outcome_cache_replays_the_same_bytes_and_heals_or_drops_what_does_not_verify() {
    // Quarantined rows, secrets, exclusions and duplicates all replay: the dataset, its
    // lineage, the quarantine and the summary are byte-identical to a run without cache.
    let (dir, root) = synth_lake("finetune-cache", 38);
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_scores.py"));
    cmd.args(["corrupt", root.to_str().unwrap(), "2026-10-09"]);
    ok(cmd);
    let cache = dir.join("cache");
    let dataset = root.join("finetune/dt=2026-10-10");
    let quarantine = root.join("quarantine/build-finetune/dt=2026-10-10");
    let build = |date: &str, days: &str, extra: &[&str]| -> Built {
        let mut cmd = support::bin("build-finetune");
        cmd.args(["--data-root", root.to_str().unwrap(), "--date", date, "--days", days]);
        cmd.args(extra).env("HIVE_LOG", "info");
        if !extra.contains(&"--no-cache") {
            cmd.args(["--cache-dir", cache.to_str().unwrap()]);
        }
        let run = run(cmd).expect_code(0);
        let summary = run.summary();
        (tree(&dataset), tree(&quarantine), summary, run)
    };
    let (reference, reference_quarantine, reference_summary, _) = build("2026-10-10", "3", &["--no-cache"]);
    assert!(!cache.exists(), "--no-cache wrote a cache");
    assert_eq!(reference_summary["rows_quarantined"], json!(2), "{reference_summary}");
    assert!(
        reference_summary["excluded"]["near_duplicate"].as_u64().unwrap() > 0,
        "{reference_summary}"
    );
    let same = |(got, got_quarantine, summary, run): Built, replayed: u32| {
        assert_eq!(got.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>());
        for (name, bytes) in &reference {
            assert!(bytes == &got[name], "{name} differs from the run without cache");
        }
        assert!(got_quarantine == reference_quarantine, "the quarantine differs");
        assert_eq!(summary, reference_summary);
        run.expect_stderr(&format!("parts_replayed_from_cache={replayed}"))
    };
    // Cold: every part computed, one entry per day written.
    same(build("2026-10-10", "3", &[]), 0);
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 3, "{entries:?}");
    for day in ["2026-10-08", "2026-10-09", "2026-10-10"] {
        assert!(
            entries.iter().any(|e| e.starts_with(&format!("dt={day}/part-0-of-1."))),
            "{entries:?}"
        );
    }
    // Warm, on one thread and with everything spilled: every part replayed.
    same(build("2026-10-10", "3", &["--threads", "1", "--memory-budget", "0"]), 3);
    assert_eq!(cache_entries(&cache), entries);

    // A flipped byte: the entry is removed with a warning, the part recomputed, the
    // entry written again.
    let damaged = cache.join(&entries[1]);
    let mut bytes = fs_err::read(&damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs_err::write(&damaged, &bytes).unwrap();
    same(build("2026-10-10", "3", &[]), 2).expect_stderr("does not verify");
    assert_eq!(cache_entries(&cache), entries);
    // A symlink in its place is not followed.
    let aside = dir.join("aside.outcomes");
    fs_err::rename(&damaged, &aside).unwrap();
    std::os::unix::fs::symlink(&aside, &damaged).unwrap();
    same(build("2026-10-10", "3", &[]), 2).expect_stderr("not a regular file");
    assert!(!damaged.is_symlink() && damaged.is_file());

    // An input part changed (here re-scored: its diff_scores bytes differ): its day is
    // recomputed, and its old entry removed.
    score(&root, "2026-10-09");
    let rescored = build("2026-10-10", "3", &["--no-cache"]);
    let rescored_entries = {
        let run = build("2026-10-10", "3", &[]);
        assert!(run.0 == rescored.0 && run.1 == rescored.1, "the rescored day's replay differs");
        cache_entries(&cache)
    };
    assert_eq!(rescored_entries.len(), 3, "{rescored_entries:?}");
    assert_eq!(
        rescored_entries.iter().filter(|e| entries.contains(e)).count(),
        2,
        "only the rescored day's entry changes: {entries:?} -> {rescored_entries:?}"
    );

    // A new recipe: new keys, nothing replayed, the old entries replaced.
    let config = dir.write("recipe.yaml", "tokens:\n  max_tokens: 3000\n");
    let with_recipe = ["--config", config.to_str().unwrap()];
    let (uncached, ..) = build("2026-10-10", "3", &[&with_recipe[..], &["--no-cache"]].concat());
    let (got, .., run) = build("2026-10-10", "3", &with_recipe);
    run.expect_stderr("parts_replayed_from_cache=0");
    assert!(got == uncached, "the new recipe's dataset differs from its run without cache");
    let recipe_entries = cache_entries(&cache);
    assert_eq!(recipe_entries.len(), 3, "{recipe_entries:?}");
    assert!(recipe_entries.iter().all(|e| !rescored_entries.contains(e)), "{recipe_entries:?}");

    // A one-day range shares no day with the next night's: no cache is read, written
    // or pruned.
    build("2026-10-10", "1", &with_recipe)
        .3
        .expect_stderr("parts_replayed_from_cache=0");
    assert_eq!(cache_entries(&cache), recipe_entries);
    // A two-day night replays both and removes the entries of the days before its range.
    build("2026-10-10", "2", &with_recipe)
        .3
        .expect_stderr("parts_replayed_from_cache=2");
    let last = cache_entries(&cache);
    assert!(last.len() == 2 && last.iter().all(|e| !e.starts_with("dt=2026-10-08/")), "{last:?}");
}

#[test]
fn bad_input_exits_2_naming_the_file_and_field() {
    let (dir, root) = synth_lake("finetune-bad-input", 35);
    // A misspelt config key.
    let config = dir.write("bad.yaml", "tokens:\n  max_tokns: 100\n");
    finetune(&root, "2026-10-10", &["--config", config.to_str().unwrap()])
        .expect_code(2)
        .expect_stderr("bad.yaml")
        .expect_stderr("max_tokns");
    // Shards would split the dedup and the split.
    finetune(&root, "2026-10-10", &["--shard", "1/2"])
        .expect_code(2)
        .expect_stderr("--shard");
    // No edits in the range: nothing to process.
    finetune(&root, "2026-09-01", &["--quiet"]).expect_code(99);

    // An edits part without `final_content`.
    let part = support::parts(&root, "edits", "2026-10-09").remove(0);
    let kept: Vec<RecordBatch> = batches(&part)
        .into_iter()
        .map(|b| {
            let index = b.schema().index_of("final_content").unwrap();
            let columns: Vec<usize> = (0..b.num_columns()).filter(|i| *i != index).collect();
            b.project(&columns).unwrap()
        })
        .collect();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, kept[0].schema(), None).unwrap();
    for b in &kept {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
    fs_err::write(&part, bytes).unwrap();
    finetune(&root, "2026-10-10", &["--days", "3"])
        .expect_code(2)
        .expect_stderr("edits/dt=2026-10-09/part-0-of-1.parquet")
        .expect_stderr("final_content");

    // Edits scored by nobody: the missing diff_scores partition is named.
    fs_err::remove_dir_all(root.join("diff_scores/dt=2026-10-08")).unwrap();
    finetune(&root, "2026-10-08", &[])
        .expect_code(2)
        .expect_stderr("diff_scores/dt=2026-10-08");
}

#[test]
fn unprocessable_rows_are_quarantined_naming_the_field_and_still_reconcile() {
    let (_dir, root) = synth_lake("finetune-quarantine", 36);
    let before = finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0).summary();
    assert_eq!(before["rows_quarantined"], json!(0), "{before}");
    // score-diffs' checker damages two `modified` rows of one edits part.
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_scores.py"));
    cmd.args(["corrupt", root.to_str().unwrap(), "2026-10-09"]);
    let damaged: Value = serde_json::from_str(ok(cmd).stdout().trim()).unwrap();

    let summary = finetune(&root, "2026-10-10", &["--days", "3", "--quiet"]).expect_code(0).summary();
    assert_eq!(summary["reconciled"], json!(true), "{summary}");
    assert_eq!(summary["input_rows"], before["input_rows"]);
    assert_eq!(summary["rows_quarantined"], json!(2), "{summary}");
    assert_eq!(summary["excluded"]["malformed"], json!(2), "{summary}");
    let quarantine = support::sorted_rows(&support::parts(&root, "quarantine/build-finetune", "2026-10-10")).join("\n");
    for needle in [
        "unknown `change` value `renamed`",
        "`final_content` is null but `change` is `modified`",
    ] {
        assert!(quarantine.contains(needle), "{needle} not in {quarantine}");
    }
    for (row, event) in damaged["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(damaged["event_ids"].as_array().unwrap())
    {
        let needle = format!(
            "edits/dt=2026-10-09/part-0-of-1.parquet\u{1f}{row}\u{1f}{}",
            event.as_str().unwrap()
        );
        assert!(quarantine.contains(&needle), "{needle:?} not in {quarantine}");
    }
    let m = manifest(&root.join("finetune/dt=2026-10-10"));
    assert_eq!(m["quarantine"]["rows"], json!(2));
}

#[test]
fn help_explains_and_gives_examples() {
    let mut cmd = support::bin("build-finetune");
    cmd.arg("--help");
    let out = ok(cmd).stdout();
    for needle in [
        "Examples:",
        "--days",
        "HIVE_FINETUNE_DAYS",
        "HIVE_FINETUNE_CONFIG",
        "Exit codes",
        "docs/build-finetune.md",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
}

#[test]
fn empty_edits_partitions_give_an_empty_dataset_and_exit_99() {
    let (_dir, root) = synth_lake("finetune-empty", 37);
    // A committed day with no rows: a copy of 2026-10-10 whose edits part is emptied.
    for table in ["edits", "diff_scores"] {
        let from = root.join(table).join("dt=2026-10-10");
        let to = root.join(table).join("dt=2026-10-20");
        fs_err::create_dir_all(&to).unwrap();
        for entry in fs_err::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            fs_err::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let part = support::parts(&root, "edits", "2026-10-20").remove(0);
    let schema = batches(&part)[0].schema();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema.clone(), None).unwrap();
    writer.write(&RecordBatch::new_empty(schema)).unwrap();
    writer.close().unwrap();
    fs_err::write(&part, bytes).unwrap();
    // Its `_SUCCESS` says so (readers check the row counts against the footers).
    let marker = root.join("edits/dt=2026-10-20/_SUCCESS");
    let mut success: Value = serde_json::from_str(&fs_err::read_to_string(&marker).unwrap()).unwrap();
    success["parts"][0]["rows"] = json!(0);
    success["rows"] = json!(0);
    fs_err::write(&marker, success.to_string()).unwrap();

    let summary = finetune(&root, "2026-10-20", &["--quiet"]).expect_code(99).summary();
    assert_eq!(summary["status"], json!("nothing_to_process"), "{summary}");
    assert_eq!(summary["input_rows"], json!(0));
    let m = manifest(&root.join("finetune/dt=2026-10-20"));
    assert_eq!(m["reconciled"], json!(true));
    assert_eq!(m["files"]["sft-train.jsonl"]["rows"], json!(0));
}

#[test]
fn a_range_where_no_example_reaches_train_writes_the_dataset_and_exits_99() {
    let (dir, root) = synth_lake("finetune-no-train", 41);
    // The three days 2026-10-08..10 with a recipe written to `name`.
    let with_recipe = |name: &str, yaml: &str| {
        let config = dir.write(name, yaml);
        finetune(
            &root,
            "2026-10-10",
            &["--days", "3", "--config", config.to_str().unwrap(), "--quiet"],
        )
    };

    // No source file is 100% letters and digits: the quality filter excludes every row.
    let summary = with_recipe("strict.yaml", "quality: {min_alphanum_fraction: 1.0}\n")
        .expect_code(99)
        .summary();
    assert_eq!(summary["status"], json!("nothing_to_process"), "{summary}");
    let input_rows = summary["input_rows"].as_u64().unwrap();
    assert!(input_rows > 0, "{summary}");
    assert_eq!(
        (summary["sft_examples"].as_u64(), summary["sft_train_examples"].as_u64()),
        (Some(0), Some(0))
    );
    let m = manifest(&root.join("finetune/dt=2026-10-10"));
    assert_eq!(m["reconciled"], json!(true));
    assert_eq!(m["files"]["sft-train.jsonl"]["rows"], json!(0));
    // Every row is accounted for as excluded, not lost.
    let excluded: u64 = summary["excluded"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(excluded, input_rows, "{summary}");

    // Rows kept, but every project drawn for validation or test: nothing to train on either.
    let summary = with_recipe("no-train.yaml", "split: {train: 0.0, validation: 0.5, test: 0.5}\n")
        .expect_code(99)
        .summary();
    assert!(summary["sft_examples"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["sft_train_examples"], json!(0), "{summary}");

    // The default recipe on the same lake trains: exit 0 and train examples counted.
    let summary = with_recipe("defaults.yaml", "{}\n").expect_code(0).summary();
    let train = summary["sft_train_examples"].as_u64().unwrap();
    assert!(train > 0 && train <= summary["sft_examples"].as_u64().unwrap(), "{summary}");
    let m = manifest(&root.join("finetune/dt=2026-10-10"));
    assert_eq!(m["files"]["sft-train.jsonl"]["rows"], json!(train));
}
