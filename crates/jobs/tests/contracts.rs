//! The contracts with maestro-hive (docs/contracts.md), tested both ways:
//!
//! - the producer kit: `validate-raw` and the Python check on the published JSON Schemas
//!   (`tests/python/check_contracts.py`) flag the same rows of a corpus of good and broken
//!   records, and what they flag is what extract-edits quarantines;
//! - consumer-driven: the bundled sample lake and synth-events' NDJSON output follow the
//!   published contract;
//! - versions: a record without `schema_version` (an export from before the field) is
//!   read; one of an unknown version is quarantined with a reason naming the version;
//! - serving: the GrowthBook features file, evaluated by the official GrowthBook Python SDK,
//!   routes 10,000 project ids exactly as `route-project` does, and promote-templates writes
//!   the champions file its published schema describes.
//!
//! The Python side runs in `.venv/contracts` (`bash scripts/setup-venvs.sh contracts`).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{Workdir, bin, ok, run};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn contracts_python() -> PathBuf {
    let python = repo().join(".venv/contracts/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup-venvs.sh contracts` (the README's test command does)",
        python.display()
    );
    python
}

fn check_contracts() -> Command {
    let mut cmd = Command::new(contracts_python());
    cmd.arg(repo().join("tests/python/check_contracts.py"));
    cmd
}

fn validate_raw(root: &Path, date: &str) -> support::Run {
    let mut cmd = bin("validate-raw");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", date, "--quiet"]);
    run(cmd)
}

fn python_validate(root: &Path, date: &str) -> support::Run {
    let mut cmd = check_contracts();
    cmd.args(["validate", "--data-root", root.to_str().unwrap(), "--date", date]);
    run(cmd)
}

/// (file, row) of every violation in a validate-raw summary.
fn rust_rows(summary: &Value) -> BTreeSet<(String, u64)> {
    summary["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["file"].as_str().unwrap().to_owned(), v["row"].as_u64().unwrap_or(0)))
        .collect()
}

/// (file, row) of every violation the Python check printed.
fn python_rows(out: &support::Run) -> BTreeSet<(String, u64)> {
    out.stdout()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["file"].as_str().unwrap().to_owned(), v["row"].as_u64().unwrap_or(0))
        })
        .collect()
}

const DATE: &str = "2026-10-12";

fn generation(overrides: &Value) -> Value {
    let mut record = json!({
        "event_id": "ev-1",
        "generated_at": "2026-10-12T08:00:00Z",
        "project_id": "prj-1",
        "template_id": "py-fastapi-service",
        "template_version": "2.4.0",
        "experiment_id": "exp-fastapi-3",
        "variant": "control",
        "request": "a service",
        "files": [{"path": "app/main.py", "content": "print('hi')\n"}],
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v == &json!("<absent>") {
            record.as_object_mut().unwrap().remove(k);
        } else {
            record[k] = v.clone();
        }
    }
    record
}

/// Generation lines and whether the contract accepts them. The last group is accepted by
/// the reader but refused by the contract: the contract is stricter than the reader.
fn generation_corpus() -> Vec<(Vec<u8>, bool, &'static str)> {
    let line = |v: Value| v.to_string().into_bytes();
    let g = |o: Value| line(generation(&o));
    vec![
        (g(json!({})), true, "complete"),
        (
            g(json!({"schema_version": 1, "experiment_id": null, "variant": "<absent>", "request": "<absent>"})),
            true,
            "version 1, optional fields absent",
        ),
        (
            g(json!({"request": {"stack": "fastapi", "db": ["postgres"]}})),
            true,
            "request as JSON",
        ),
        (
            g(json!({"files": [{"path": "logo.png", "content_base64": "iVBORw0KGgoAAAA="}]})),
            true,
            "binary file",
        ),
        (g(json!({"platform_region": "eu-west-1"})), true, "an unknown field (additive)"),
        (
            g(json!({"files": [{"path": "./a.py", "content": "x"}, {"path": "b.py", "content": ""}]})),
            true,
            "two files",
        ),
        (g(json!({"event_id": "<absent>"})), false, "no event_id"),
        (g(json!({"project_id": ""})), false, "empty project_id"),
        (g(json!({"generated_at": "yesterday"})), false, "not a timestamp"),
        (g(json!({"generated_at": "<absent>"})), false, "no generated_at"),
        (g(json!({"template_version": null})), false, "null template_version"),
        (g(json!({"files": "<absent>"})), false, "no files"),
        (g(json!({"files": []})), false, "empty files"),
        (
            g(json!({"files": [{"path": "/etc/passwd", "content": "x"}]})),
            false,
            "absolute path",
        ),
        (
            g(json!({"files": [{"path": "src/../../x", "content": "x"}]})),
            false,
            "path leaving the project",
        ),
        (
            g(json!({"files": [{"path": "a.py", "content": "x", "content_base64": "eA=="}]})),
            false,
            "both contents",
        ),
        (
            g(json!({"files": [{"path": "a.py", "content_base64": "!!!"}]})),
            false,
            "bad base64",
        ),
        (g(json!({"files": [{"path": "a.py"}]})), false, "no content"),
        (g(json!({"files": [{"path": null, "content": "x"}]})), false, "null path"),
        (
            g(json!({"files": [{"path": "src\\main.rs", "content": "x"}]})),
            false,
            "a backslash",
        ),
        (
            g(json!({"files": [{"path": "a\nb.py", "content": "x"}]})),
            false,
            "a newline in the path",
        ),
        (
            g(json!({"files": [{"path": "a/\u{202e}b.py", "content": "x"}]})),
            false,
            "a bidi override",
        ),
        (g(json!({"files": [{"path": "C:/x.py", "content": "x"}]})), false, "a drive letter"),
        (
            g(json!({"files": [{"path": "a//b.py", "content": "x"}]})),
            false,
            "an empty segment",
        ),
        (
            g(json!({"files": [{"path": "./a.py", "content": "x"}, {"path": "a.py", "content": "y"}]})),
            false,
            "a path twice",
        ),
        (
            g(json!({"files": [{"path": "a.txt", "content_base64": "/w=="}]})),
            false,
            "not UTF-8, not binary",
        ),
        (g(json!({"schema_version": 2})), false, "a newer version"),
        (g(json!({"schema_version": 0})), false, "version 0"),
        (g(json!({"schema_version": "1"})), false, "version as text"),
        (b"{\"event_id\": \"ev-9\", ".to_vec(), false, "not JSON"),
        (b"{\"event_id\": \"\xff\xfe\"}".to_vec(), false, "not UTF-8"),
    ]
}

fn snapshot_corpus() -> Vec<(Vec<u8>, bool, &'static str)> {
    let s = |v: Value| v.to_string().into_bytes();
    let ok = json!({"snapshot_id": "s-1", "project_id": "prj-1", "captured_at": "2026-10-12T09:00:00+02:00", "files": [{"path": "app/main.py", "content": "print('hi')\n"}]});
    let with = |k: &str, v: Value| {
        let mut r = ok.clone();
        if v == json!("<absent>") {
            r.as_object_mut().unwrap().remove(k);
        } else {
            r[k] = v;
        }
        s(r)
    };
    vec![
        (s(ok.clone()), true, "complete"),
        (with("files", json!([])), true, "an empty project"),
        (with("schema_version", json!(1)), true, "version 1"),
        (with("captured_at", json!("<absent>")), false, "no captured_at"),
        (with("snapshot_id", json!("")), false, "empty snapshot_id"),
        (with("schema_version", json!(99)), false, "a newer version"),
        (with("files", json!([{"path": "a", "content_base64": "%%"}])), false, "bad base64"),
        (with("files", json!("<absent>")), false, "no files"),
    ]
}

fn write_corpus(dir: &Workdir, table: &str, corpus: &[(Vec<u8>, bool, &str)]) -> PathBuf {
    let mut bytes = Vec::new();
    for (line, _, _) in corpus {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    dir.write(&format!("lake/raw/{table}/dt={DATE}/part-0.ndjson"), bytes)
}

/// Rows (1-based lines) the corpus says break the contract.
fn expected_rows(file: &str, corpus: &[(Vec<u8>, bool, &str)]) -> BTreeSet<(String, u64)> {
    corpus
        .iter()
        .enumerate()
        .filter(|(_, (_, valid, _))| !valid)
        .map(|(i, _)| (file.to_owned(), i as u64 + 1))
        .collect()
}

/// validate-raw and the Python check flag exactly the broken rows of the corpus, each
/// with its file, row, field and reason, and write nothing; a fixed export passes both.
#[test]
fn rust_and_python_flag_the_same_rows() {
    let dir = Workdir::new("contract-corpus");
    let generations = generation_corpus();
    let snapshots = snapshot_corpus();
    write_corpus(&dir, "generations", &generations);
    write_corpus(&dir, "snapshots", &snapshots);
    let root = dir.join("lake");
    let gen_file = format!("raw/generations/dt={DATE}/part-0.ndjson");
    let snap_file = format!("raw/snapshots/dt={DATE}/part-0.ndjson");
    let mut want = expected_rows(&gen_file, &generations);
    want.extend(expected_rows(&snap_file, &snapshots));

    let rust = validate_raw(&root, DATE).expect_code(1);
    let summary = rust.summary();
    let got = rust_rows(&summary);
    let label = |(file, row): &(String, u64)| {
        let corpus = if file.contains("generations") { &generations } else { &snapshots };
        format!("{file} row {row} ({})", corpus[*row as usize - 1].2)
    };
    let diff = |a: &BTreeSet<(String, u64)>, b: &BTreeSet<(String, u64)>| a.difference(b).map(label).collect::<Vec<_>>();
    assert!(
        got == want,
        "validate-raw: missed {:?}, flagged valid {:?}",
        diff(&want, &got),
        diff(&got, &want)
    );
    for v in summary["violations"].as_array().unwrap() {
        assert!(!v["reason"].as_str().unwrap().is_empty(), "{v}");
        assert!(!v["code"].as_str().unwrap().is_empty(), "{v}");
    }
    // Fields and reasons are named: spot checks.
    let find = |row: u64| {
        summary["violations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["row"] == json!(row) && v["file"] == json!(gen_file))
            .cloned()
            .unwrap()
    };
    assert_eq!(find(7)["field"], json!("event_id"));
    assert_eq!(find(14)["field"], json!("files[1].path"));
    let newer = find(27);
    assert_eq!(newer["code"], json!("unsupported_schema_version"));
    assert!(newer["reason"].as_str().unwrap().contains("is 2"), "{newer}");
    assert_eq!(summary["violating_rows"], json!(want.len()));
    assert!(rust.stderr().contains("contract violation"), "{}", rust.stderr());
    assert!(
        !root.join("edits").exists() && !root.join("quarantine").exists(),
        "validate-raw wrote the lake"
    );

    let python = python_validate(&root, DATE).expect_code(1);
    let got = python_rows(&python);
    assert!(
        got == want,
        "check_contracts.py: missed {:?}, flagged valid {:?}",
        diff(&want, &got),
        diff(&got, &want)
    );

    // A day the export does not have is a misconfiguration, not a clean export.
    validate_raw(&root, "2026-10-13").expect_code(2).expect_stderr("dt=2026-10-13");
    // A clean export passes both.
    let clean = Workdir::new("contract-clean");
    let keep = |c: &[(Vec<u8>, bool, &'static str)]| c.iter().filter(|(_, v, _)| *v).cloned().collect::<Vec<_>>();
    write_corpus(&clean, "generations", &keep(&generations));
    write_corpus(&clean, "snapshots", &keep(&snapshots));
    let summary = validate_raw(&clean.join("lake"), DATE).expect_code(0).summary();
    assert_eq!(summary["status"], json!("valid"), "{summary}");
    python_validate(&clean.join("lake"), DATE).expect_code(0);
}

/// Everything the contract refuses for its shape, extract-edits quarantines with the
/// same reason, and what it accepts is not quarantined as malformed: the published
/// contract is the reader's.
#[test]
fn validate_raw_reports_what_extract_edits_quarantines() {
    let dir = Workdir::new("contract-extract");
    let generations = generation_corpus();
    // Distinct event ids, so no row is a redelivery of another.
    let corpus: Vec<(Vec<u8>, bool, &str)> = generations
        .iter()
        .enumerate()
        .map(|(i, (line, valid, why))| {
            let text = String::from_utf8_lossy(line).replace("\"ev-1\"", &format!("\"ev-{i}\""));
            let bytes = if text.contains('\u{fffd}') {
                line.clone()
            } else {
                text.into_bytes()
            };
            (bytes, *valid, *why)
        })
        .collect();
    write_corpus(&dir, "generations", &corpus);
    // A snapshot inside every valid generation's window, so those are compared.
    let snapshot = json!({"snapshot_id": "s-1", "project_id": "prj-1", "captured_at": "2026-10-12T12:00:00Z", "files": []});
    write_corpus(&dir, "snapshots", &[(snapshot.to_string().into_bytes(), true, "in the window")]);
    let root = dir.join("lake");
    let summary = validate_raw(&root, DATE).expect_code(1).summary();
    let reported: BTreeMap<u64, String> = summary["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["row"].as_u64().unwrap(), v["code"].as_str().unwrap().to_owned()))
        .collect();
    let mut cmd = bin("extract-edits");
    cmd.args([
        "--data-root",
        root.to_str().unwrap(),
        "--date",
        DATE,
        "--window-days",
        "1",
        "--quiet",
    ]);
    cmd.args(["--max-quarantine-ratio", "1"]);
    let out = run(cmd);
    assert!(matches!(out.code(), Some(0 | 1 | 99)), "{}", out.stderr());
    // The quarantine of the rows this run owns (generated_at on DATE with a 1-day window
    // are owned by the run of DATE + 1).
    let mut cmd = bin("extract-edits");
    cmd.args([
        "--data-root",
        root.to_str().unwrap(),
        "--date",
        "2026-10-13",
        "--window-days",
        "1",
        "--quiet",
    ]);
    cmd.args(["--max-quarantine-ratio", "1"]);
    let out = run(cmd);
    assert!(matches!(out.code(), Some(0 | 1)), "{}", out.stderr());
    // Every record the contract accepts is read and compared, those without
    // `schema_version` (version 1, as every export so far) included.
    let valid = corpus.iter().filter(|(_, v, _)| *v).count();
    assert_eq!(out.summary()["generations_out"], json!(valid), "{}", out.stdout());
    let mut quarantined: BTreeMap<u64, String> = BTreeMap::new();
    for day in [DATE, "2026-10-13"] {
        for part in support::parts(&root, "quarantine/extract-edits", day) {
            for batch in support::batches(&part) {
                let rows = batch.column_by_name("source_row").unwrap();
                let codes = batch.column_by_name("reason_code").unwrap();
                let rows = rows.as_any().downcast_ref::<arrow::array::UInt64Array>().unwrap();
                let codes = codes.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
                let files = batch.column_by_name("source_file").unwrap();
                let files = files.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
                for i in 0..batch.num_rows() {
                    if files.value(i).contains("generations") {
                        quarantined.insert(rows.value(i), codes.value(i).to_owned());
                    }
                }
            }
        }
    }
    for (row, code) in &reported {
        assert_eq!(quarantined.get(row), Some(code), "row {row} ({})", corpus[*row as usize - 1].2);
    }
    for (row, code) in &quarantined {
        if !reported.contains_key(row) {
            assert!(
                ["no_snapshot", "duplicate_event_id", "late_event", "future_event"].contains(&code.as_str()),
                "row {row} ({}) quarantined as {code} but not reported by validate-raw",
                corpus[*row as usize - 1].2
            );
        }
    }
}

/// The sample lake (Parquet, from before `schema_version` existed: version 1) follows the
/// contract except for the records synth-events broke on purpose, which both checkers
/// flag: exactly as many as planted.json counts (`broken_events`).
#[test]
fn the_sample_lake_follows_the_contract_but_for_its_planted_breaks() {
    let root = repo().join("data/sample");
    let planted: Value = serde_json::from_str(&fs_err::read_to_string(root.join("planted.json")).unwrap()).unwrap();
    let broken: u64 = planted["counts"]["broken_events"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(broken > 0, "{planted}");
    let mut days: Vec<String> = std::fs::read_dir(root.join("raw/generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_start_matches("dt=").to_owned())
        .collect();
    days.sort();
    assert!(days.len() > 10, "{days:?}");
    let mut flagged = 0;
    for day in &days {
        let out = validate_raw(&root, day);
        let summary = out.summary();
        assert!(summary["generation_rows"].as_u64().unwrap() > 0, "{summary}");
        let rows = rust_rows(&summary);
        assert_eq!(out.code(), Some(i32::from(!rows.is_empty())), "{summary}");
        if !rows.is_empty() {
            // The Python check reads Parquet with pyarrow: run it where there is something
            // to agree on, and on the first day.
            assert_eq!(python_rows(&python_validate(&root, day)), rows, "{day}");
        }
        flagged += rows.len() as u64;
    }
    assert_eq!(flagged, broken, "planted {broken} broken records, the checkers flagged {flagged}");
    python_validate(&root, &days[0]).expect_code(0);
}

/// synth-events' NDJSON output follows the published JSON Schemas.
#[test]
fn synth_events_ndjson_follows_the_contract() {
    let dir = Workdir::new("contract-synth");
    let lake = dir.join("lake");
    support::synth(&lake, "ndjson", 300, 3, 7);
    let mut days: Vec<String> = std::fs::read_dir(lake.join("raw/generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_start_matches("dt=").to_owned())
        .collect();
    days.sort();
    let mut checked = 0;
    for day in &days {
        let out = validate_raw(&lake, day);
        // synth-events plants broken records on purpose (its truth.ndjson lists them):
        // both checkers must flag the same rows.
        let summary = out.summary();
        let python = python_validate(&lake, day);
        assert_eq!(python_rows(&python), rust_rows(&summary), "{day}: {}", python.stderr());
        checked += summary["generation_rows"].as_u64().unwrap();
    }
    assert!(checked >= 300, "{checked}");
}

/// A Parquet export whose key-value metadata says an unknown version is refused row by row
/// with the version named, by both checkers (extract-edits quarantines such rows with the
/// same reason: `validate_raw_reports_what_extract_edits_quarantines` covers NDJSON); one
/// saying version 1 is read.
#[test]
fn an_unknown_parquet_version_is_quarantined_naming_it() {
    use std::sync::Arc;

    let dir = Workdir::new("contract-parquet-version");
    let root = dir.join("lake");
    let write = |table: &str, schema: arrow::datatypes::SchemaRef, columns: Vec<arrow::array::ArrayRef>, version: &str| {
        let path = root.join(format!("raw/{table}/dt={DATE}/part-0.parquet"));
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
                "hive.schema_version".to_owned(),
                version.to_owned(),
            )]))
            .build();
        let batch = arrow::record_batch::RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    let snapshots = |version: &str| {
        use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
        // One row whose tree is empty.
        let arrow::datatypes::DataType::List(item) = hive_core::schema::raw_files_type() else {
            unreachable!()
        };
        let entries = arrow::array::new_empty_array(item.data_type());
        let offsets = arrow::buffer::OffsetBuffer::new(vec![0_i32, 0].into());
        let files: ArrayRef = Arc::new(arrow::array::ListArray::new(item, offsets, entries, None));
        write(
            "snapshots",
            hive_core::schema::raw_snapshots_schema(),
            vec![
                Arc::new(StringArray::from(vec!["s-1"])),
                Arc::new(StringArray::from(vec!["prj-1"])),
                Arc::new(TimestampMicrosecondArray::from(vec![1_791_792_000_000_000]).with_timezone("UTC")),
                files,
            ],
            version,
        );
    };
    write_corpus(&dir, "generations", &generation_corpus()[..1]);
    snapshots("7");
    let summary = validate_raw(&root, DATE).expect_code(1).summary();
    let v = &summary["violations"][0];
    assert_eq!(v["code"], json!("unsupported_schema_version"), "{summary}");
    assert!(v["reason"].as_str().unwrap().contains("is 7"), "{summary}");
    let python = python_validate(&root, DATE).expect_code(1);
    assert!(python.stdout().contains("is 7"), "{}", python.stdout());
    // extract-edits quarantines the row (the capture day's run) with the same reason.
    let out = support::extract(&root, DATE, &["--window-days", "1", "--max-quarantine-ratio", "1"]);
    assert!(matches!(out.code(), Some(0 | 1 | 99)), "{}", out.stderr());
    let quarantined = support::sorted_rows(&support::parts(&root, "quarantine/extract-edits", DATE)).join("\n");
    assert!(
        quarantined.contains("unsupported_schema_version") && quarantined.contains("is 7"),
        "{quarantined}"
    );
    fs_err::remove_dir_all(root.join("quarantine")).unwrap();
    snapshots("1");
    validate_raw(&root, DATE).expect_code(0);
    python_validate(&root, DATE).expect_code(0);
    // A generations file without the `files` column is refused whole, naming the column.
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
        "event_id",
        arrow::datatypes::DataType::Utf8,
        true,
    )]));
    fs_err::remove_dir_all(root.join("raw/generations")).unwrap();
    let path = root.join(format!("raw/generations/dt={DATE}/part-0.parquet"));
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    let batch =
        arrow::record_batch::RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(arrow::array::StringArray::from(vec!["ev-1"]))])
            .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let summary = validate_raw(&root, DATE).expect_code(1).summary();
    let v = &summary["violations"][0];
    assert_eq!((&v["code"], &v["row"]), (&json!("unreadable_file"), &Value::Null), "{summary}");
    assert!(
        ["generated_at", "project_id", "files", "template_id", "template_version"].contains(&v["field"].as_str().unwrap()),
        "{summary}"
    );
    let python = python_validate(&root, DATE).expect_code(1);
    assert!(python.stdout().contains("no column"), "{}", python.stdout());
}

/// The GrowthBook features file, evaluated by the official GrowthBook Python SDK, serves
/// each of 10,000 project ids the variant and version route-project gives it.
#[test]
fn the_growthbook_export_routes_as_route_project() {
    let dir = Workdir::new("contract-growthbook");
    let config = repo().join("data/sample/experiments.yaml");
    let mut cmd = bin("route-project");
    cmd.args(["--config", config.to_str().unwrap(), "--growthbook-features"]);
    let features = ok(cmd).stdout();
    let parsed: Value = serde_json::from_str(&features).unwrap();
    let features_path = dir.write("features.json", &features);
    // Ids shaped like real ones, plus non-ASCII ones (the hash runs over UTF-16 units).
    let specials = ["café", "cafe\u{301}", "北京-項目", "🚀-launch", "𝒳-math", " spaced ", "UPPER"];
    let ids: Vec<String> = (0..10_000)
        .map(|i: u32| match i % 50 {
            0 => format!("{}-{i}", specials[(i / 50) as usize % specials.len()]),
            _ => format!("prj-{:012x}", u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16),
        })
        .collect();
    let ids_text = ids.join("\n") + "\n";
    let ids_path = dir.write("ids.txt", &ids_text);
    let mut spec: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for experiment in parsed["features"].as_object().unwrap().keys() {
        let mut cmd = bin("route-project");
        cmd.args(["--config", config.to_str().unwrap(), "--experiment", experiment]);
        cmd.stdin(std::fs::File::open(&ids_path).unwrap());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            spec.insert(
                (experiment.clone(), v["project_id"].as_str().unwrap().to_owned()),
                (v["variant"].as_str().unwrap().to_owned(), v["version"].as_str().unwrap().to_owned()),
            );
        }
    }
    assert_eq!(spec.len(), 10_000 * parsed["features"].as_object().unwrap().len());
    let mut cmd = check_contracts();
    cmd.args([
        "route",
        "--features",
        features_path.to_str().unwrap(),
        "--ids",
        ids_path.to_str().unwrap(),
    ]);
    let sdk = ok(cmd).stdout();
    let mut compared = 0;
    let mut variants_seen = BTreeSet::new();
    for line in sdk.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = (
            v["feature"].as_str().unwrap().to_owned(),
            v["project_id"].as_str().unwrap().to_owned(),
        );
        let (variant, version) = spec
            .get(&key)
            .unwrap_or_else(|| panic!("the SDK routed {key:?}, route-project did not"));
        assert_eq!(v["variant"].as_str(), Some(variant.as_str()), "{key:?}: SDK {v}");
        assert_eq!(v["value"].as_str(), Some(version.as_str()), "{key:?}: SDK {v}");
        variants_seen.insert((key.0, variant.clone()));
        compared += 1;
    }
    assert_eq!(compared, spec.len());
    // Every variant of every experiment got projects: the comparison is not vacuous.
    assert_eq!(variants_seen.len(), 5, "{variants_seen:?}");
}

/// A champions file follows contracts/champions.schema.json, checked by jsonschema (the
/// platform's way); promote-templates writing it each night is tested in ab_significance.rs.
#[test]
fn champions_follow_their_published_schema() {
    use hive_ab::promote::{Decision, Promotion};
    let promotion = |exp: &str, template: &str, decision, winner: Option<&str>, decided: Option<&str>| Promotion {
        experiment_id: exp.to_owned(),
        template_id: template.to_owned(),
        decision,
        winner_variant: winner.map(|_| "treatment".to_owned()),
        winner_version: winner.map(str::to_owned),
        control_version: "1.0.0".to_owned(),
        reason: "r".to_owned(),
        evidence: json!({}),
        decided_on: decided.map(|d| d.parse().unwrap()),
    };
    let champions = hive_ab::serving::champions(
        DATE,
        &[
            promotion("exp-a", "t1", Decision::Promote, Some("2.0.0"), Some("2026-10-08")),
            promotion("exp-b", "t2", Decision::Continue, None, None),
        ],
    );
    let dir = Workdir::new("contract-champions");
    let path = dir.write("champions.json", serde_json::to_string_pretty(&champions).unwrap());
    let broken = dir.write(
        "broken.json",
        r#"{"schema_version": 1, "date": "2026-10-12", "champions": [{"template_id": "t1"}]}"#,
    );
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
errors = [e.message for e in Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2])))]
print("\n".join(errors))
sys.exit(1 if errors else 0)
"#;
    let check = |file: &Path| {
        let mut cmd = Command::new(contracts_python());
        cmd.args(["-c", script]);
        cmd.arg(repo().join("contracts/champions.schema.json")).arg(file);
        run(cmd)
    };
    check(&path).expect_code(0);
    let out = check(&broken).expect_code(1);
    assert!(out.stdout().contains("'version' is a required property"), "{}", out.stdout());
}
