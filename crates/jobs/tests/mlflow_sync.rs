//! `mlflow-sync` end to end: the CLI contract Airflow relies on, and syncs against a real
//! `mlflow server` (from `.venv/mlflow`, SQLite store in a temp dir, `--workers 1`) whose
//! state is read back with MLflow's own Python client (tests/python/mlflow_state.py).
//!
//! Each test starts at most one server (two for the restart test) and builds its lake from
//! the committed sample: extract-edits, score-diffs, ab-significance and promote-templates
//! for one date, plus a promotion, gate results and a fine-tune manifest written here.

#![allow(clippy::unwrap_used, reason = "a test panics with context on any failure")]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use hive_core::Shard;
use hive_core::lake::PartWriter;
use serde_json::{Value, json};
use support::{Workdir, bin, ok, run};

const DATE: &str = "2026-10-15";
const PROMOTION_DATE: &str = "2026-10-16";
/// The fine-tune manifest's `digest` (sha256 hex, as build-finetune writes it).
const FINETUNE_DIGEST: &str = "3f1c9a0e5b7d2468ace0135792468bdf0123456789abcdef0fedcba987654321";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mlflow_python() -> PathBuf {
    let python = repo().join(".venv/mlflow/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup-venvs.sh mlflow`",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real `mlflow server`, killed (with its workers) on drop.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    auth: bool,
}

const ADMIN_PASSWORD: &str = "admin-pass-for-tests-1";

impl Server {
    fn start(dir: &Path, auth: bool) -> Self {
        Self::start_on(dir, free_port(), auth)
    }

    fn start_on(dir: &Path, port: u16, auth: bool) -> Self {
        fs_err::create_dir_all(dir).unwrap();
        let mlflow = repo().join(".venv/mlflow/bin/mlflow");
        let mut cmd = Command::new(mlflow);
        cmd.current_dir(dir)
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("server-{port}.log"))).unwrap());
        if auth {
            cmd.args(["--app-name", "basic-auth"])
                .env("MLFLOW_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "test-only-secret-key");
        }
        // Its own process group, so the uvicorn worker dies with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("start mlflow server");
        let server = Self {
            child: Some(child),
            port,
            dir: dir.to_owned(),
            auth,
        };
        server.wait_healthy();
        server
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_healthy(&self) {
        // About 6 s on an idle machine; much longer when other builds share the cores.
        let deadline = Instant::now() + Duration::from_mins(4);
        while Instant::now() < deadline {
            if http_get(self.port, "/health").is_some_and(|r| r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = fs_err::read_to_string(self.dir.join(format!("server-{}.log", self.port))).unwrap_or_default();
        panic!("mlflow server on port {} not healthy in time; log:\n{log}", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's state as MLflow's Python client sees it.
    fn state(&self) -> Value {
        self.state_with(&[])
    }

    fn state_with(&self, extra: &[&str]) -> Value {
        let mut cmd = Command::new(mlflow_python());
        cmd.arg(repo().join("tests/python/mlflow_state.py")).arg(self.uri()).args(extra);
        if self.auth {
            cmd.env("MLFLOW_TRACKING_USERNAME", "admin")
                .env("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD);
        }
        let out = ok(cmd);
        serde_json::from_str(&out.stdout()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The committed sample lake with one day's pipeline run, a promotion on the next day,
/// gate results and a fine-tune manifest.
fn lake(work: &Workdir) -> PathBuf {
    let root = work.join("lake");
    copy_dir(&repo().join("data/sample"), &root);
    let r = root.to_str().unwrap();
    let config = root.join("experiments.yaml");
    for job in ["extract-edits", "score-diffs", "ab-significance", "promote-templates"] {
        let mut cmd = bin(job);
        cmd.args(["--data-root", r, "--date", DATE, "--quiet"]);
        if job == "ab-significance" || job == "promote-templates" {
            cmd.arg("--config").arg(&config);
        }
        let out = run(cmd);
        if !matches!(out.code(), Some(0 | 1)) {
            out.fail(&format!("{job} failed"));
        }
    }
    write_promotion(&root);
    write_gates(&root);
    let manifest = json!({
        "dataset": "template-edits", "format_version": 1, "date": DATE, "days": 7,
        "digest": FINETUNE_DIGEST,
        "config": {"dedup": {"bands": 16, "rows_per_band": 8, "threshold": 0.8}, "seed": 7},
        "input_rows": 120, "sft_examples": {"train": 90, "validation": 10, "test": 10},
        "reconciled": true, "secrets": {"action": "redact", "examples_with_secrets": 2},
        "files": {"sft/train.jsonl": {"rows": 90, "bytes": 12345, "sha256": "ab12"}}
    });
    work.write(
        &format!("lake/finetune/dt={DATE}/manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    );
    root
}

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), target).unwrap();
        }
    }
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(values.iter().copied().collect::<StringArray>())
}

fn write_promotion(root: &Path) {
    write_promotion_row(root, PROMOTION_DATE, "exp-fastapi-3", "3.0.0", PROMOTION_DATE);
}

/// One `promote` row of `py-fastapi-service` in `promotions/dt=<date>`, decided on
/// `decided_on` (promote-templates repeats a promotion every night after it).
fn write_promotion_row(root: &Path, date: &str, experiment: &str, version: &str, decided_on: &str) {
    let spec = hive_core::schema::promotions_spec();
    let mut part = PartWriter::create(root, spec, date.parse().unwrap(), Shard::ALL).unwrap();
    let evidence = r#"{"days_running": 15, "srm_p_value": 0.61, "treatments": {"treatment": {"rewrite_rate": {"estimate": -0.08}}}}"#;
    let columns = vec![
        strings(&[Some(experiment)]),
        strings(&[Some("py-fastapi-service")]),
        strings(&[Some("promote")]),
        strings(&[Some("treatment")]),
        strings(&[Some(version)]),
        strings(&[Some("2.4.0")]),
        strings(&[Some("treatment wins on rewrite_rate; guardrails pass")]),
        strings(&[Some(evidence)]),
        strings(&[Some(decided_on)]),
    ];
    part.write(&RecordBatch::try_new(part.schema(), columns).unwrap()).unwrap();
    part.commit().unwrap();
}

fn write_gates(root: &Path) {
    let spec = hive_core::schema::gates::gate_results_spec();
    let mut part = PartWriter::create(root, spec, DATE.parse().unwrap(), Shard::ALL).unwrap();
    let n = 4;
    let build = |i: usize| if i < 2 { "proj-a@2026-10-15" } else { "proj-b@2026-10-15" };
    let project = |i: usize| if i < 2 { "proj-a" } else { "proj-b" };
    let columns: Vec<ArrayRef> = vec![
        strings(&(0..n).map(|i| Some(build(i))).collect::<Vec<_>>()),
        strings(&(0..n).map(|i| Some(project(i))).collect::<Vec<_>>()),
        strings(&[
            Some("unit-pass-rate"),
            Some("line-coverage"),
            Some("unit-pass-rate"),
            Some("line-coverage"),
        ]),
        strings(&[Some("unit"), Some("overall"), Some("unit"), Some("overall")]),
        strings(&[Some("pass_rate"), Some("line_rate"), Some("pass_rate"), Some("line_rate")]),
        strings(&[Some(">="); 4]),
        Arc::new(Float64Array::from(vec![1.0, 0.8, 1.0, 0.8])),
        Arc::new(Float64Array::from(vec![Some(1.0), Some(0.85), Some(0.9), None])),
        strings(&[Some("pass"), Some("pass"), Some("fail"), Some("missing")]),
        // proj-b's coverage gate is blocking and its report is missing under policy
        // `fail`: evaluate-gates says it blocks the run although its status is not `fail`.
        Arc::new(BooleanArray::from(vec![true, true, true, true])),
        strings(&[Some("fail"); 4]),
        Arc::new(BooleanArray::from(vec![false, false, true, true])),
        strings(&[Some(""), Some(""), Some("pass_rate 0.9 < 1"), Some("no coverage report")]),
        strings(&[None; 4]),
        strings(&[None; 4]),
        strings(&[None; 4]),
    ];
    part.write(&RecordBatch::try_new(part.schema(), columns).unwrap()).unwrap();
    part.commit().unwrap();
}

/// Rows of a committed partition.
fn rows(root: &Path, table: &str, date: &str) -> usize {
    support::parts(root, table, date)
        .iter()
        .map(|p| hive_core::lake::parquet_row_count(p).unwrap() as usize)
        .sum()
}

fn sync(root: &Path, uri: &str, date: &str, extra: &[&str]) -> Command {
    let mut cmd = bin("mlflow-sync");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", date, "--tracking-uri", uri]);
    cmd.args(extra);
    cmd
}

fn experiment<'a>(state: &'a Value, suffix: &str) -> &'a Value {
    state["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no experiment `*{suffix}` in {state:#}"))
}

/// Every run's `hive.key`, with how often it occurs.
fn key_counts(state: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in state["experiments"].as_array().unwrap() {
        for r in e["runs"].as_array().unwrap() {
            *counts.entry(r["key"].as_str().unwrap_or("<no key>").to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// Every object present exactly once, finished, with its start time set.
fn assert_exactly_once(state: &Value, expected_runs: usize) {
    let counts = key_counts(state);
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(duplicated.is_empty(), "keys not present exactly once: {duplicated:?}");
    assert_eq!(counts.len(), expected_runs, "runs on the server: {counts:#?}");
    for e in state["experiments"].as_array().unwrap() {
        for r in e["runs"].as_array().unwrap() {
            assert_eq!(r["status"], "FINISHED", "{r:#}");
            assert_eq!(r["start_time_set"], true, "{r:#}");
        }
    }
}

/// Runs the per-generation sync of both dates expects: generations, A/B experiments,
/// gate builds, the manifest (DATE) and the promotion (PROMOTION_DATE).
fn expected_runs(root: &Path) -> usize {
    let ab = support::parts(root, "ab_results", DATE);
    let experiments: std::collections::BTreeSet<String> = support::sorted_rows(&ab)
        .iter()
        .map(|r| r.split('\u{1f}').next().unwrap().to_owned())
        .collect();
    let promotions = rows(root, "promotions", DATE);
    rows(root, "generation_scores", DATE) + experiments.len() + promotions + 2 + 1 + 1
}

#[test]
#[allow(clippy::too_many_lines, reason = "one scenario: sync, check every table's runs, rerun, aggregate")]
fn full_sync_then_rerun_gives_identical_state_without_duplicates() {
    let work = Workdir::new("mlflow-full");
    let root = lake(&work);
    let server = Server::start(&work.join("server"), false);
    let generations = rows(&root, "generation_scores", DATE);
    assert!(generations > 20, "the sample day has generations: {generations}");

    let before_sync = now_ms();
    // The quality_gates DAG publishes its own table only: nothing else is read or sent.
    let gates_only = ok(sync(&root, &server.uri(), DATE, &["--tables", "gate_results"])).summary();
    assert_eq!(
        gates_only["tables"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["gate_results"]
    );
    let state = server.state();
    let names: Vec<&str> = state["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["runs"].as_array().unwrap().is_empty())
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hive/quality-gates"], "{state:#}");

    let mut first = sync(&root, &server.uri(), DATE, &["--concurrency", "4"]);
    first
        .env("AIRFLOW_CTX_DAG_ID", "template_evolution")
        .env("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2026-10-15T02:00:00+00:00");
    let first = ok(first).summary();
    assert_eq!(first["tables"]["generation_scores"]["created"], generations);
    assert_eq!(first["tables"]["gate_results"]["created"], 0, "published once already: {first}");
    ok(sync(&root, &server.uri(), PROMOTION_DATE, &[]));
    let synced_by = now_ms();
    let state = server.state();
    assert_exactly_once(&state, expected_runs(&root));
    assert_lineage_and_conventions(&root, &server, &state, before_sync, synced_by);

    // What a generation run carries, as MLflow's client reads it.
    let gens = experiment(&state, "/template-generations");
    let run = &gens["runs"][0];
    for param in ["event_id", "project_id", "template_id", "template_version"] {
        assert!(run["params"][param].is_string(), "param {param} in {run:#}");
    }
    for metric in ["lines_generated", "lines_removed", "files"] {
        assert_eq!(run["metrics"][metric].as_array().unwrap().len(), 1, "metric {metric} in {run:#}");
    }
    assert!(
        gens["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metrics"]["rewrite_rate"].is_array() && r["metrics"]["diff_score"].is_array())
    );
    assert_eq!(run["tags"]["hive.dt"], DATE);

    // Gates: one run per build, with the blocking failure counted.
    let gates = experiment(&state, "/quality-gates");
    let b = gates["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["params"]["build_id"] == "proj-b@2026-10-15")
        .unwrap();
    // Both rows that `blocks_run` (a failed gate and a missing report under `fail`).
    assert_eq!(b["metrics"]["blocking_failures"][0][0], 2.0);
    assert_eq!(b["tags"]["hive.gate_status"], "fail");
    let a = gates["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["params"]["build_id"] == "proj-a@2026-10-15")
        .unwrap();
    assert_eq!(a["tags"]["hive.gate_status"], "pass");
    assert_eq!(b["tags"]["gate/line-coverage/status"], "missing");
    // Fine-tune manifest: counts as metrics, the recipe and identity as params, the file
    // as an artifact.
    let ft = &experiment(&state, "/finetune-datasets")["runs"][0];
    assert_eq!(ft["metrics"]["sft_examples.train"][0][0], 90.0);
    assert_eq!(ft["params"]["config.dedup.bands"], "16");
    assert_eq!(ft["params"]["config.dedup.threshold"], "0.8");
    assert_eq!(ft["params"]["digest"], FINETUNE_DIGEST);
    assert_eq!(ft["params"]["days"], "7");
    for key in ["config.dedup.bands", "config.seed", "days", "format_version"] {
        assert!(ft["metrics"].get(key).is_none(), "configuration `{key}` logged as a metric: {ft:#}");
    }
    assert_eq!(ft["artifacts"], json!(["manifest.json"]));
    // Each experiment's run carries the night's report page.
    let ab_runs = experiment(&state, "/ab-results")["runs"].as_array().unwrap().clone();
    assert!(!ab_runs.is_empty());
    for r in &ab_runs {
        assert_eq!(r["artifacts"], json!(["report.html"]), "{r:#}");
    }

    // The promotion: a model version of the template, behind the `champion` alias.
    let model = state["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "hive.py-fastapi-service")
        .unwrap();
    assert_eq!(model["versions"].as_array().unwrap().len(), 1, "{model:#}");
    assert_eq!(model["versions"][0]["tags"]["template_version"], "3.0.0");
    assert_eq!(model["versions"][0]["source_set"], true);
    assert_eq!(model["aliases"]["champion"], model["versions"][0]["version"]);

    // Again: nothing created, nothing changed.
    let again = ok(sync(&root, &server.uri(), DATE, &[])).summary();
    for (table, counts) in again["tables"].as_object().unwrap() {
        assert_eq!(counts["created"], 0, "{table}: {again}");
        assert_eq!(counts["already_synced"], counts["runs"], "{table}: {again}");
    }
    let again2 = ok(sync(&root, &server.uri(), PROMOTION_DATE, &[])).summary();
    assert_eq!(again2["model_versions_created"], 0);
    assert_eq!(again2["model_versions_existing"], 1);
    assert_eq!(server.state(), state, "a rerun changed the server's state");

    // Aggregated mode: one run per template version, the rows as a Parquet artifact.
    let agg = ok(sync(&root, &server.uri(), DATE, &["--mode", "aggregated"])).summary();
    let state = server.state();
    let daily = experiment(&state, "/template-versions-daily");
    let versions = agg["tables"]["generation_scores"]["runs"].as_u64().unwrap() as usize;
    assert!(versions >= 2 && versions < generations, "{agg}");
    assert_eq!(daily["runs"].as_array().unwrap().len(), versions);
    let total: f64 = daily["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metrics"]["generations"][0][0].as_f64().unwrap())
        .sum();
    assert_eq!(total as usize, generations);
    for r in daily["runs"].as_array().unwrap() {
        assert_eq!(r["artifacts"], json!(["generation_scores.parquet"]), "{r:#}");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The digest of a committed partition, computed here with `sha256sum` (coreutils) over
/// what docs/mlflow-sync.md says it covers: `_SUCCESS\n`, the manifest's bytes, then per
/// listed part its file name, `\n` and its bytes.
fn partition_digest(root: &Path, table: &str, date: &str) -> String {
    let dir = root.join(table).join(format!("dt={date}"));
    let manifest = fs_err::read(dir.join("_SUCCESS")).unwrap();
    let mut bytes = b"_SUCCESS\n".to_vec();
    bytes.extend_from_slice(&manifest);
    let listed: Value = serde_json::from_slice(&manifest).unwrap();
    for part in listed["parts"].as_array().unwrap() {
        let name = part["file"].as_str().unwrap();
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&fs_err::read(dir.join(name)).unwrap());
    }
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// The column names of a committed partition's first part, read with arrow.
fn partition_columns(root: &Path, table: &str, date: &str) -> Vec<String> {
    let part = &support::parts(root, table, date)[0];
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(part).unwrap()).unwrap();
    reader.schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// The one input of `run` named `name`.
fn input<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no input `{name}` in {run:#}"))
}

/// Every run names the partitions it was built from as MLflow datasets (digest checked
/// against `sha256sum`, schema against the Parquet file), the promotion also the
/// `ab_results` it was decided from; provenance tags; run times are the sync's.
fn assert_lineage_and_conventions(root: &Path, server: &Server, state: &Value, before: i64, after: i64) {
    let canonical = |p: PathBuf| fs_err::canonicalize(p).unwrap().to_str().unwrap().to_owned();
    for (suffix, table) in [
        ("/template-generations", "generation_scores"),
        ("/ab-results", "ab_results"),
        ("/quality-gates", "gate_results"),
        ("/promotions", "promotions"),
    ] {
        for run in experiment(state, suffix)["runs"].as_array().unwrap() {
            let date = run["tags"]["hive.dt"].as_str().unwrap();
            let digest = partition_digest(root, table, date);
            let i = input(run, &format!("{table}/dt={date}"));
            assert_eq!(i["digest"], digest[..36], "{table}: {i:#}");
            assert_eq!(i["tags"]["hive.dataset_digest"], digest, "{table}");
            assert_eq!(i["tags"]["mlflow.data.context"], "source", "{table}");
            assert_eq!(i["source_type"], "local");
            assert_eq!(i["source"]["uri"], canonical(root.join(table).join(format!("dt={date}"))));
            assert_eq!(i["profile"]["num_rows"], rows(root, table, date), "{table}");
            let names: Vec<&str> = i["columns"].as_array().unwrap().iter().map(|c| c[0].as_str().unwrap()).collect();
            assert_eq!(names, partition_columns(root, table, date), "{table}");
            // The data's date as a param and a tag; the job that wrote it as MLflow's tags.
            assert_eq!(run["params"]["dt"], date, "{run:#}");
            assert_eq!(run["source"]["mlflow.source.name"], "mlflow-sync");
            assert_eq!(run["source"]["mlflow.source.type"], "JOB");
            assert_eq!(run["tags"]["hive.job_version"], env!("CARGO_PKG_VERSION"));
        }
    }
    // The promotion was decided from the experiment's ab_results nights through its date.
    let promotion = experiment(state, "/promotions")["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tags"]["hive.dt"] == PROMOTION_DATE)
        .unwrap();
    let decided_from = input(promotion, &format!("ab_results/dt={DATE}"));
    assert_eq!(decided_from["tags"]["mlflow.data.context"], "decision");
    assert_eq!(decided_from["digest"], partition_digest(root, "ab_results", DATE)[..36]);
    assert_eq!(promotion["inputs"].as_array().unwrap().len(), 2, "{promotion:#}");
    // The fine-tuning dataset under the name and digest the trainer logs.
    let ft = &experiment(state, "/finetune-datasets")["runs"][0];
    let i = input(ft, &format!("finetune/dt={DATE}"));
    assert_eq!(i["digest"], FINETUNE_DIGEST[..36]);
    assert_eq!(i["tags"]["hive.dataset_digest"], FINETUNE_DIGEST);
    assert_eq!(i["source"]["uri"], canonical(root.join("finetune").join(format!("dt={DATE}"))));
    // The DAG run that ran the first sync; the second (the promotion date) ran outside Airflow.
    let generation = &experiment(state, "/template-generations")["runs"][0];
    assert_eq!(generation["tags"]["hive.dag_id"], "template_evolution");
    assert_eq!(generation["tags"]["hive.dag_run_id"], "scheduled__2026-10-15T02:00:00+00:00");
    assert!(promotion["tags"].get("hive.dag_run_id").is_none(), "{promotion:#}");
    // Start and end describe the sync, not the data (which is from before the date).
    let times = server.state_with(&["--times"]);
    assert_eq!(times.as_object().unwrap().len(), expected_runs(root), "{times:#}");
    for (run, t) in times.as_object().unwrap() {
        let (start, end) = (t[0].as_i64().unwrap(), t[1].as_i64().unwrap());
        assert!(
            before <= start && start <= end && end <= after,
            "{run}: {before} <= {start} <= {end} <= {after}"
        );
    }
}

/// The fastapi model's versions (template version -> model version) and its champion.
fn registry(state: &Value) -> (BTreeMap<String, String>, String) {
    let model = state["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "hive.py-fastapi-service")
        .unwrap();
    let versions = model["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["tags"]["template_version"].as_str().unwrap().to_owned(),
                v["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (versions, model["aliases"]["champion"].as_str().unwrap_or("").to_owned())
}

#[test]
fn one_model_version_per_promoted_version_and_a_rollback_that_holds() {
    let work = Workdir::new("mlflow-registry");
    let root = lake(&work);
    let server = Server::start(&work.join("server"), false);
    let promotions_only = ["--tables", "promotions"];
    // Night 1: 3.0.0 is promoted; nights 2 and 3 repeat the terminal decision.
    ok(sync(&root, &server.uri(), PROMOTION_DATE, &promotions_only));
    for night in ["2026-10-17", "2026-10-18"] {
        write_promotion_row(&root, night, "exp-fastapi-3", "3.0.0", PROMOTION_DATE);
        let again = ok(sync(&root, &server.uri(), night, &promotions_only)).summary();
        assert_eq!(again["model_versions_created"], 0, "{again}");
        assert_eq!(again["model_versions_existing"], 1, "{again}");
        assert_eq!(again["aliases_moved"], 0, "{again}");
    }
    let (versions, champion) = registry(&server.state());
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(champion, versions["3.0.0"]);

    // A later experiment promotes 4.0.0: one new version, and the alias moves to it.
    write_promotion_row(&root, "2026-10-19", "exp-fastapi-4", "4.0.0", "2026-10-19");
    let moved = ok(sync(&root, &server.uri(), "2026-10-19", &promotions_only)).summary();
    assert_eq!(
        (moved["model_versions_created"].as_u64(), moved["aliases_moved"].as_u64()),
        (Some(1), Some(1)),
        "{moved}"
    );
    let (versions, champion) = registry(&server.state());
    assert_eq!(champion, versions["4.0.0"]);

    // The manual rollback moves it back, and the next nightly sync (4.0.0's promotion
    // repeated) does not undo it.
    let back = ok(sync(
        &root,
        &server.uri(),
        "2026-10-19",
        &["--rollback", "py-fastapi-service=3.0.0"],
    ))
    .summary();
    assert_eq!(back["to_version"], json!(versions["3.0.0"]), "{back}");
    assert_eq!(back["from_version"], json!(versions["4.0.0"]), "{back}");
    write_promotion_row(&root, "2026-10-20", "exp-fastapi-4", "4.0.0", "2026-10-19");
    ok(sync(&root, &server.uri(), "2026-10-20", &promotions_only));
    let (_, champion) = registry(&server.state());
    assert_eq!(champion, versions["3.0.0"], "the rollback held");

    // A version that was never promoted cannot be rolled back to: exit 2, named.
    let out = run(sync(
        &root,
        &server.uri(),
        "2026-10-20",
        &["--rollback", "py-fastapi-service=9.9.9"],
    ))
    .expect_code(2);
    assert!(out.stderr().contains("`9.9.9`"), "{}", out.stderr());
}

#[test]
fn server_down_at_start_fails_after_bounded_retries_with_exit_3() {
    let work = Workdir::new("mlflow-down");
    let root = work.join("lake");
    work.write(
        &format!("lake/finetune/dt={DATE}/manifest.json"),
        format!(r#"{{"input_rows": 3, "digest": "{FINETUNE_DIGEST}"}}"#),
    );
    let uri = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let out = run(sync(&root, &uri, DATE, &["--max-attempts", "3", "--retry-base-ms", "50"]))
        .expect_code(3)
        .expect_stderr("unreachable or failing after 3 attempts");
    assert!(out.stderr().contains(&uri), "{}", out.stderr());
    assert!(started.elapsed() < Duration::from_secs(20), "retries are bounded");
}

/// A small HTTP proxy in front of the server: every `fail_every`-th request answers 500
/// without reaching the server; every `slow_every`-th is forwarded and its answer held
/// back for `delay` (longer than the client's timeout: the server did the work, the client
/// does not know).
struct FaultProxy {
    port: u16,
    requests: Arc<AtomicUsize>,
    injected: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    fn start(upstream: u16, fail_every: usize, slow_every: usize, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let injected = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, i, s) = (Arc::clone(&requests), Arc::clone(&injected), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, i) = (Arc::clone(&r), Arc::clone(&i));
                std::thread::spawn(move || {
                    let _ = proxy_connection(conn, upstream, &r, &i, fail_every, slow_every, delay);
                });
            }
        });
        Self {
            port,
            requests,
            injected,
            stop,
        }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request (head and Content-Length body), one per connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    head.extend_from_slice(&body);
    Ok(Some(head))
}

fn proxy_connection(
    conn: TcpStream,
    upstream: u16,
    requests: &AtomicUsize,
    injected: &AtomicUsize,
    fail_every: usize,
    slow_every: usize,
    delay: Duration,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    let Some(request) = read_request(&mut reader)? else { return Ok(()) };
    let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
    if fail_every > 0 && n.is_multiple_of(fail_every) {
        injected.fetch_add(1, Ordering::Relaxed);
        let body = r#"{"error_code": "INTERNAL_ERROR", "message": "injected by the test proxy"}"#;
        write!(
            conn,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(&request)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    if slow_every > 0 && n.is_multiple_of(slow_every) {
        injected.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(delay);
    }
    conn.write_all(&response)?;
    Ok(())
}

#[test]
fn injected_500s_and_slow_responses_are_retried_without_duplicates() {
    let work = Workdir::new("mlflow-faults");
    let root = lake(&work);
    let server = Server::start(&work.join("server"), false);
    let proxy = FaultProxy::start(server.port, 5, 7, Duration::from_millis(2500));
    let out = ok(sync(
        &root,
        &proxy.uri(),
        DATE,
        &[
            "--concurrency",
            "4",
            "--timeout-secs",
            "1",
            "--retry-base-ms",
            "20",
            "--max-attempts",
            "8",
        ],
    ));
    ok(sync(
        &root,
        &proxy.uri(),
        PROMOTION_DATE,
        &["--timeout-secs", "1", "--retry-base-ms", "20", "--max-attempts", "8"],
    ));
    assert!(
        proxy.injected.load(Ordering::Relaxed) >= 10,
        "faults injected: {}",
        proxy.injected.load(Ordering::Relaxed)
    );
    assert_exactly_once(&server.state(), expected_runs(&root));
    let summary = out.summary();
    assert_eq!(
        summary["tables"]["generation_scores"]["runs"],
        rows(&root, "generation_scores", DATE)
    );
}

#[test]
fn server_killed_mid_sync_then_rerun_leaves_every_object_exactly_once() {
    let work = Workdir::new("mlflow-restart");
    let root = lake(&work);
    let dir = work.join("server");
    let mut server = Server::start(&dir, false);
    let port = server.port;
    // Through a pass-through proxy, to count requests and kill the server mid-way.
    let proxy = FaultProxy::start(port, 0, 0, Duration::ZERO);
    let mut cmd = sync(
        &root,
        &proxy.uri(),
        DATE,
        &["--concurrency", "2", "--max-attempts", "3", "--retry-base-ms", "100"],
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_mins(2);
    while proxy.requests.load(Ordering::Relaxed) < 60 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "the interrupted sync fails; stderr:\n{stderr}");
    assert!(stderr.contains("unreachable or failing"), "{stderr}");

    let server = Server::start_on(&dir, port, false);
    let partial = server.state();
    let before = key_counts(&partial).len();
    assert!(
        before > 0 && before < rows(&root, "generation_scores", DATE),
        "killed mid-way: {before} runs"
    );
    let rerun = ok(sync(&root, &server.uri(), DATE, &[])).summary();
    ok(sync(&root, &server.uri(), PROMOTION_DATE, &[]));
    assert_exactly_once(&server.state(), expected_runs(&root));
    let g = &rerun["tables"]["generation_scores"];
    assert_eq!(
        g["created"].as_u64().unwrap() + g["resumed"].as_u64().unwrap() + g["already_synced"].as_u64().unwrap(),
        g["runs"].as_u64().unwrap()
    );
    assert!(g["already_synced"].as_u64().unwrap() > 0, "{rerun}");
}

#[test]
fn a_bad_token_gets_a_clear_401_without_the_token_printed() {
    let work = Workdir::new("mlflow-auth");
    let root = work.join("lake");
    work.write(
        &format!("lake/finetune/dt={DATE}/manifest.json"),
        format!(r#"{{"input_rows": 3, "digest": "{FINETUNE_DIGEST}"}}"#),
    );
    let server = Server::start(&work.join("server"), true);
    let token = "tok-SECRET-4242-do-not-print";
    let mut cmd = sync(&root, &server.uri(), DATE, &[]);
    cmd.env("MLFLOW_TRACKING_TOKEN", token).env("HIVE_LOG", "debug");
    let out = run(cmd).expect_code(3).expect_stderr("refused the credentials (HTTP 401)");
    assert!(!out.stderr().contains(token) && !out.stdout().contains(token), "{}", out.stderr());

    let password = "pw-SECRET-7777";
    let mut cmd = sync(&root, &server.uri(), DATE, &[]);
    cmd.env("MLFLOW_TRACKING_USERNAME", "admin")
        .env("MLFLOW_TRACKING_PASSWORD", password);
    let out = run(cmd).expect_code(3).expect_stderr("HTTP 401");
    assert!(!out.stderr().contains(password), "{}", out.stderr());

    // The right credentials work, and nothing was half-written by the refused attempts.
    let mut cmd = sync(&root, &server.uri(), DATE, &[]);
    cmd.env("MLFLOW_TRACKING_USERNAME", "admin")
        .env("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD);
    ok(cmd);
    assert_exactly_once(&server.state(), 1);
}

/// Airflow's helper marks the task skipped on exit 99: an unconfigured MLflow must say so
/// clearly and must not be mistaken for a failure.
#[test]
fn unset_tracking_uri_exits_99_with_a_clear_message() {
    let work = Workdir::new("mlflow-unset");
    let mut cmd = bin("mlflow-sync");
    cmd.args(["--data-root", work.path().to_str().expect("utf-8"), "--date", "2026-10-17"]);
    run(cmd).expect_code(99).expect_stderr("MLFLOW_TRACKING_URI is not set");

    // Configured, but none of the chosen sources has a partition for the date (only
    // `promotions` has one on PROMOTION_DATE): 99 before any request (nothing listens on
    // the URI's port).
    let root = work.join("lake");
    write_promotion(&root);
    let uri = format!("http://127.0.0.1:{}", free_port());
    run(sync(&root, &uri, PROMOTION_DATE, &["--tables", "gate_results,generation_scores"]))
        .expect_code(99)
        .expect_stderr(&format!(
            "none of generation_scores, gate_results has a partition for {PROMOTION_DATE}"
        ));
    // The same date with `promotions` chosen does try the server (and fails: exit 3).
    run(sync(
        &root,
        &uri,
        PROMOTION_DATE,
        &["--tables", "promotions", "--max-attempts", "1"],
    ))
    .expect_code(3);
    run(sync(&root, &uri, DATE, &["--tables", "nonsense"]))
        .expect_code(2)
        .expect_stderr("possible values");
}

/// A server that answers every request with HTTP 500 and the request's head as its body,
/// as a misconfigured proxy does.
fn echoing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut reader = BufReader::new(conn.try_clone()?);
                let mut conn = conn;
                let Some(request) = read_request(&mut reader)? else { return Ok(()) };
                let body = format!("<pre>upstream failed for\n{}</pre>", String::from_utf8_lossy(&request));
                write!(
                    conn,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            });
        }
    });
    port
}

#[test]
fn urls_and_echoed_credentials_never_reach_the_log() {
    use base64::Engine;
    let work = Workdir::new("mlflow-echo");
    let root = work.join("lake");
    work.write(
        &format!("lake/finetune/dt={DATE}/manifest.json"),
        format!(r#"{{"input_rows": 3, "digest": "{FINETUNE_DIGEST}"}}"#),
    );
    let port = echoing_server();
    let query_token = "qtok9SECRET8x7Wq2Lm5Zr";
    let url_password = "urlpw9SECRET-31337";
    let bearer = "btok9SECRET4242Kq8Zx1Vb7";
    let password = "pw9SECRET7777Lq";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
    let secrets = [query_token, url_password, bearer, password, basic.as_str()];

    // userinfo and a token in the query string; the bearer token goes in the header the
    // server echoes.
    let uri = format!("http://alice:{url_password}@127.0.0.1:{port}/?access_token={query_token}");
    let mut cmd = sync(&root, &uri, DATE, &["--max-attempts", "2", "--retry-base-ms", "10"]);
    cmd.env("MLFLOW_TRACKING_TOKEN", bearer).env("HIVE_LOG", "trace");
    let out = run(cmd).expect_code(3).expect_stderr("HTTP 500");
    assert!(out.stderr().contains("access_token=REDACTED"), "{}", out.stderr());
    for (what, text) in [("stderr", out.stderr()), ("stdout", out.stdout())] {
        for s in secrets {
            assert!(!text.contains(s), "`{s}` reached {what}:\n{text}");
        }
    }
    // Not vacuous: the server did echo the header the log must not show.
    assert!(out.stderr().contains("<REDACTED:"), "{}", out.stderr());

    // Basic auth echoed back.
    let mut cmd = sync(&root, &format!("http://127.0.0.1:{port}"), DATE, &["--max-attempts", "1"]);
    cmd.env("MLFLOW_TRACKING_USERNAME", "admin")
        .env("MLFLOW_TRACKING_PASSWORD", password)
        .env("HIVE_LOG", "trace");
    let out = run(cmd).expect_code(3);
    for s in secrets {
        assert!(
            !out.stderr().contains(s) && !out.stdout().contains(s),
            "`{s}` reached the log:\n{}",
            out.stderr()
        );
    }
}

/// The production-like tracking server of docs/mlflow-sync.md: a PostgreSQL backend store
/// (scripts/postgres-instance.sh, Debian's postgresql), two uvicorn workers, and artifacts
/// in S3 (moto's standalone server, from .venv/mlflow-prod) with the artifact proxy off,
/// so clients write to the bucket themselves. Everything is stopped on drop.
struct ProductionServer {
    mlflow: Option<Child>,
    moto: Option<Child>,
    pg_dir: PathBuf,
    port: u16,
    moto_port: u16,
}

const BUCKET: &str = "hive-artifacts";

impl ProductionServer {
    fn python() -> PathBuf {
        let python = repo().join(".venv/mlflow-prod/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `bash scripts/setup-venvs.sh mlflow-prod`",
            python.display()
        );
        python
    }

    fn start(dir: &Path) -> Self {
        fs_err::create_dir_all(dir).unwrap();
        let bin = repo().join(".venv/mlflow-prod/bin");
        let spawn = |cmd: &mut Command, log: &str| {
            cmd.stdout(Stdio::null()).stderr(std::fs::File::create(dir.join(log)).unwrap());
            std::os::unix::process::CommandExt::process_group(cmd, 0);
            cmd.spawn().unwrap()
        };
        let moto_port = free_port();
        let moto = spawn(
            Command::new(bin.join("moto_server")).args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]),
            "moto.log",
        );
        // PostgreSQL refuses to run as root; the script runs it as `postgres`, which must
        // reach its directory: a world-readable one outside this test's private temp dir.
        let pg_dir = std::env::temp_dir().join(format!("hive-mlflow-pg-{moto_port}"));
        fs_err::create_dir_all(&pg_dir).unwrap();
        std::fs::set_permissions(&pg_dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let mut server = Self {
            mlflow: None,
            moto: Some(moto),
            pg_dir: pg_dir.clone(),
            port: free_port(),
            moto_port,
        };
        let store = ok({
            let mut c = Command::new("bash");
            c.arg(repo().join("scripts/postgres-instance.sh"))
                .arg("start")
                .arg(pg_dir.join("pg"))
                .arg(free_port().to_string());
            c
        })
        .stdout()
        .trim()
        .to_owned();
        assert!(store.starts_with("postgresql+psycopg2://"), "{store}");
        let deadline = Instant::now() + Duration::from_mins(2);
        while http_get(moto_port, "/").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start: see {}",
                dir.join("moto.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut create_bucket = Command::new(Self::python());
        create_bucket
            .args([
                "-c",
                "import boto3, os, sys; boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL']).create_bucket(Bucket=sys.argv[1])",
                BUCKET,
            ])
            .envs(server.s3_env());
        ok(create_bucket);
        let mut cmd = Command::new(bin.join("mlflow"));
        cmd.current_dir(dir)
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &server.port.to_string(),
                "--workers",
                "2",
            ])
            .args(["--backend-store-uri", &store])
            .args(["--default-artifact-root", &format!("s3://{BUCKET}/mlflow"), "--no-serve-artifacts"])
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .envs(server.s3_env());
        server.mlflow = Some(spawn(&mut cmd, "mlflow.log"));
        let deadline = Instant::now() + Duration::from_mins(4);
        while !http_get(server.port, "/health").is_some_and(|r| r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200")) {
            assert!(
                Instant::now() < deadline,
                "mlflow server not healthy: {}",
                fs_err::read_to_string(dir.join("mlflow.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        server
    }

    /// What a client needs to write to the bucket: the usual AWS variables and MLflow's
    /// endpoint variable.
    fn s3_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("MLFLOW_S3_ENDPOINT_URL", format!("http://127.0.0.1:{}", self.moto_port)),
        ]
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn sync(&self, root: &Path, date: &str, extra: &[&str]) -> Command {
        let mut cmd = sync(root, &self.uri(), date, extra);
        cmd.envs(self.s3_env());
        cmd
    }

    /// The state, as MLflow's client reads it (artifacts listed from S3).
    fn state(&self) -> Value {
        let mut cmd = Command::new(Self::python());
        cmd.arg(repo().join("tests/python/mlflow_state.py"))
            .arg(self.uri())
            .envs(self.s3_env());
        serde_json::from_str(&ok(cmd).stdout()).unwrap()
    }

    /// Runs `code` (Python, with `client`, `uri` and `sys` in scope) with the S3 variables.
    fn run_python(&self, code: &str) -> String {
        let mut cmd = Command::new(Self::python());
        let script = format!("import sys\nfrom mlflow import MlflowClient\nuri = sys.argv[1]\nclient = MlflowClient(uri)\n{code}");
        cmd.args(["-c", &script, &self.uri()]).envs(self.s3_env());
        ok(cmd).stdout()
    }
}

impl Drop for ProductionServer {
    fn drop(&mut self) {
        for child in [self.mlflow.take(), self.moto.take()].into_iter().flatten() {
            let mut child = child;
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("bash")
            .arg(repo().join("scripts/postgres-instance.sh"))
            .arg("stop")
            .arg(self.pg_dir.join("pg"))
            .status();
        let _ = std::fs::remove_dir_all(&self.pg_dir);
    }
}

#[test]
fn production_like_server_postgres_workers_and_artifacts_straight_to_s3() {
    let work = Workdir::new("mlflow-prod");
    let root = lake(&work);
    let server = ProductionServer::start(&work.join("server"));
    ok(server.sync(&root, DATE, &["--concurrency", "8"]));
    ok(server.sync(&root, PROMOTION_DATE, &[]));
    let aggregated = ok(server.sync(&root, DATE, &["--mode", "aggregated", "--tables", "generation_scores"])).summary();
    let versions = aggregated["tables"]["generation_scores"]["created"].as_u64().unwrap() as usize;
    assert!(versions >= 2, "{aggregated}");
    let state = server.state();
    assert_exactly_once(&state, expected_runs(&root) + versions);

    // Lineage on PostgreSQL (whose digest column takes 36 characters, no more).
    let generation = &experiment(&state, "/template-generations")["runs"][0];
    let digest = partition_digest(&root, "generation_scores", DATE);
    assert_eq!(input(generation, &format!("generation_scores/dt={DATE}"))["digest"], digest[..36]);

    // Artifacts: in the bucket, under each run's s3:// artifact URI, listed by MLflow's
    // client, and byte for byte what the lake holds.
    for r in experiment(&state, "/template-versions-daily")["runs"].as_array().unwrap() {
        assert_eq!(r["artifacts"], json!(["generation_scores.parquet"]), "{r:#}");
    }
    let ft = &experiment(&state, "/finetune-datasets")["runs"][0];
    assert_eq!(ft["artifacts"], json!(["manifest.json"]));
    let out = server.run_python(&format!(
        "import tempfile\n\
         exp = client.get_experiment_by_name('hive/finetune-datasets')\n\
         (run,) = client.search_runs([exp.experiment_id], \"tags.`hive.key` = 'finetune/{DATE}'\")\n\
         print(run.info.artifact_uri)\n\
         print(open(client.download_artifacts(run.info.run_id, 'manifest.json', tempfile.mkdtemp())).read(), end='')"
    ));
    let (artifact_uri, manifest) = out.split_once('\n').unwrap();
    assert!(artifact_uri.starts_with(&format!("s3://{BUCKET}/mlflow/")), "{artifact_uri}");
    assert_eq!(
        manifest,
        fs_err::read_to_string(root.join(format!("finetune/dt={DATE}/manifest.json"))).unwrap()
    );
    // The report page, byte for byte, from the bucket.
    let page = server.run_python(&format!(
        "import tempfile, sys\n\
         exp = client.get_experiment_by_name('hive/ab-results')\n\
         run = client.search_runs([exp.experiment_id], \"params.dt = '{DATE}'\")[0]\n\
         sys.stdout.write(open(client.download_artifacts(run.info.run_id, 'report.html', tempfile.mkdtemp())).read())"
    ));
    assert_eq!(
        page,
        fs_err::read_to_string(root.join(format!("reports/ab-significance/dt={DATE}/report.html"))).unwrap()
    );
    let artifact_rows: usize = server
        .run_python(
            "import tempfile, pyarrow.parquet as pq\n\
             exp = client.get_experiment_by_name('hive/template-versions-daily')\n\
             print(sum(pq.read_table(client.download_artifacts(r.info.run_id, 'generation_scores.parquet', tempfile.mkdtemp())).num_rows\n\
                       for r in client.search_runs([exp.experiment_id])))",
        )
        .trim()
        .parse()
        .unwrap();
    assert_eq!(artifact_rows, rows(&root, "generation_scores", DATE));

    // A rerun against the same server changes nothing.
    let again = ok(server.sync(&root, DATE, &[])).summary();
    for (table, counts) in again["tables"].as_object().unwrap() {
        assert_eq!(counts["created"], 0, "{table}: {again}");
    }
    assert_eq!(server.state(), state);
}
