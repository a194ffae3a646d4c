//! The integration-test harness: a temporary work directory and a command wrapper that,
//! when an expectation fails, prints the command, working directory, exit status,
//! stdout and stderr, so a red CI log says what happened without a rerun.

#![allow(dead_code, clippy::print_stdout, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray};

/// A temporary directory that is removed at the end of the test (kept when
/// `HIVE_KEEP_TEST_DIRS` is set, for debugging).
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hive-{name}-"))
            .tempdir()
            .expect("create temp dir");
        if std::env::var_os("HIVE_KEEP_TEST_DIRS").is_some() {
            eprintln!("work dir kept: {}", dir.path().display());
            let kept = dir.keep();
            return Self {
                dir: tempfile::Builder::new().tempdir_in(kept).expect("nested temp dir"),
            };
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file, creating parent directories.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, bytes).unwrap();
        path
    }
}

/// One of this package's binaries.
pub fn bin(name: &str) -> Command {
    let mut cmd = Command::new(bin_path(name));
    clean_env(&mut cmd);
    cmd
}

/// Clears an operator's settings from `cmd`'s environment: a test must not pick them up.
pub fn clean_env(cmd: &mut Command) {
    for (var, _) in hive_core::env::ALL {
        cmd.env_remove(var);
    }
    cmd.env("HIVE_LOG", "warn");
}

/// The path of one of this package's binaries.
pub fn bin_path(name: &str) -> &'static str {
    match name {
        "extract-edits" => env!("CARGO_BIN_EXE_extract-edits"),
        "synth-events" => env!("CARGO_BIN_EXE_synth-events"),
        "score-diffs" => env!("CARGO_BIN_EXE_score-diffs"),
        "ab-significance" => env!("CARGO_BIN_EXE_ab-significance"),
        "promote-templates" => env!("CARGO_BIN_EXE_promote-templates"),
        "route-project" => env!("CARGO_BIN_EXE_route-project"),
        "build-finetune" => env!("CARGO_BIN_EXE_build-finetune"),
        "evaluate-gates" => env!("CARGO_BIN_EXE_evaluate-gates"),
        "mlflow-sync" => env!("CARGO_BIN_EXE_mlflow-sync"),
        "validate-raw" => env!("CARGO_BIN_EXE_validate-raw"),
        other => panic!("unknown binary {other}"),
    }
}

/// A finished command with everything needed to explain a failure.
pub struct Run {
    pub description: String,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The last stdout line parsed as JSON (the job's summary).
    pub fn summary(&self) -> serde_json::Value {
        let stdout = self.stdout();
        let last = stdout.lines().last().unwrap_or_else(|| self.fail("no summary line on stdout"));
        serde_json::from_str(last).unwrap_or_else(|e| self.fail(&format!("summary line is not JSON: {e}")))
    }

    /// Panics with the full context.
    pub fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\n--- command\n{}\n--- status\n{:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.description,
            self.output.status,
            self.stdout(),
            self.stderr()
        );
    }

    /// Asserts the exit code.
    pub fn expect_code(self, code: i32) -> Self {
        if self.code() != Some(code) {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    /// Asserts stderr contains `needle`.
    pub fn expect_stderr(self, needle: &str) -> Self {
        if !self.stderr().contains(needle) {
            self.fail(&format!("stderr does not contain {needle:?}"));
        }
        self
    }
}

/// Runs `cmd` to completion.
pub fn run(mut cmd: Command) -> Run {
    let description = format!(
        "{} {}\n(cwd: {})",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        cmd.get_current_dir()
            .map_or_else(|| std::env::current_dir().unwrap_or_default(), Path::to_path_buf)
            .display()
    );
    let output = cmd.output().unwrap_or_else(|e| panic!("could not start {description}: {e}"));
    Run { description, output }
}

/// Runs `cmd` and asserts exit code 0.
pub fn ok(cmd: Command) -> Run {
    run(cmd).expect_code(0)
}

/// Generates a synthetic lake under `out`.
pub fn synth(out: &Path, format: &str, generations: u64, days: u32, seed: u64) -> Run {
    let mut cmd = bin("synth-events");
    cmd.args(["--out", out.to_str().unwrap(), "--format", format, "--quiet"]);
    cmd.args([
        "--generations",
        &generations.to_string(),
        "--days",
        &days.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    ok(cmd)
}

/// Runs extract-edits for one date.
pub fn extract(root: &Path, date: &str, extra: &[&str]) -> Run {
    let mut cmd = bin("extract-edits");
    cmd.args(["--data-root", root.to_str().unwrap(), "--date", date, "--quiet"]);
    cmd.args(extra);
    run(cmd)
}

/// The Python with pyarrow and DuckDB made by `scripts/setup-venvs.sh oracles`.
pub fn oracle_python() -> PathBuf {
    if let Some(p) = std::env::var_os("HIVE_ORACLE_PYTHON") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/oracles/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup-venvs.sh oracles` (the README's test command does)",
        python.display()
    );
    python
}

/// Reads every row of the Parquet files under `dir` (recursively) as JSON-ish strings,
/// one per row, sorted: a format-independent view for comparing outputs.
pub fn sorted_rows(files: &[PathBuf]) -> Vec<String> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut rows = Vec::new();
    for path in files {
        for batch in batches(path) {
            let options = FormatOptions::default().with_null("∅");
            // Instants as raw microseconds: arrow's formatter needs chrono-tz for `UTC`.
            let columns: Vec<arrow::array::ArrayRef> = batch
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    arrow::datatypes::DataType::Timestamp(_, _) => arrow::compute::cast(c, &arrow::datatypes::DataType::Int64).unwrap(),
                    _ => c.clone(),
                })
                .collect();
            let formatters: Vec<_> = columns
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for i in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect::<Vec<_>>().join("\u{1f}"));
            }
        }
    }
    rows.sort();
    rows
}

/// Every record batch of one Parquet file.
pub fn batches(path: &Path) -> Vec<arrow::array::RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every row of a table's committed partition as a JSON object: text, integers, floats
/// and booleans as JSON values, other types as arrow's debug form of the one value.
pub fn json_rows(root: &Path, table: &str, date: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    use arrow::datatypes::{DataType, Float64Type, Int64Type};
    use serde_json::{Value, json};
    let mut out = Vec::new();
    for path in parts(root, table, date) {
        for batch in batches(&path) {
            let schema = batch.schema();
            for i in 0..batch.num_rows() {
                let mut row = serde_json::Map::new();
                for (field, col) in schema.fields().iter().zip(batch.columns()) {
                    let value = if col.is_null(i) {
                        Value::Null
                    } else {
                        match col.data_type() {
                            DataType::Utf8 => json!(col.as_string::<i32>().value(i)),
                            DataType::LargeUtf8 => json!(col.as_string::<i64>().value(i)),
                            DataType::Float64 => json!(col.as_primitive::<Float64Type>().value(i)),
                            DataType::Int64 => json!(col.as_primitive::<Int64Type>().value(i)),
                            DataType::Boolean => json!(col.as_boolean().value(i)),
                            _ => json!(format!("{:?}", col.slice(i, 1))),
                        }
                    };
                    row.insert(field.name().clone(), value);
                }
                out.push(row);
            }
        }
    }
    out
}

/// The committed parts of a partition, from its `_SUCCESS`.
pub fn parts(root: &Path, table: &str, date: &str) -> Vec<PathBuf> {
    hive_core::lake::committed_parts(root, table, date.parse().unwrap()).unwrap()
}

/// The quarantine rows of `job` for `date`: (record key, reason code, reason), sorted.
pub fn quarantine_rows(root: &Path, job: &str, date: &str) -> Vec<(Option<String>, String, String)> {
    let mut out = Vec::new();
    for path in parts(root, &format!("quarantine/{job}"), date) {
        for batch in batches(&path) {
            let keys = batch.column_by_name("record_key").unwrap().as_string::<i32>();
            let codes = batch.column_by_name("reason_code").unwrap().as_string::<i32>();
            let reasons = batch.column_by_name("reason").unwrap().as_string::<i32>();
            for i in 0..batch.num_rows() {
                out.push((
                    keys.is_valid(i).then(|| keys.value(i).to_owned()),
                    codes.value(i).to_owned(),
                    reasons.value(i).to_owned(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Records the outcome of one hostile-input case (`tests/hostile.rs` and the like) under
/// `target/hostile-input/`, for the totals `scripts/test.sh` prints.
pub fn record_hostile(case: &str, outcome: &str, rows_accounted: u64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/hostile-input");
    fs_err::create_dir_all(&dir).unwrap();
    let line = serde_json::json!({"case": case, "outcome": outcome, "rows_accounted": rows_accounted});
    fs_err::write(dir.join(format!("{case}.json")), line.to_string()).unwrap();
}
