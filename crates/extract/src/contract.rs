//! The input contract with maestro-hive, in machine-readable form, and the check a
//! producer runs against it.
//!
//! The platform writes `raw/generations` and `raw/snapshots`; this crate reads them. What
//! a record must look like is published in `contracts/` (docs/contracts.md): JSON Schemas
//! of one NDJSON record, generated from the reader's own types ([`records`]), and the
//! Arrow schema of the Parquet form, generated from `hive_core::schema` and the column
//! kinds the reader accepts. [`validate_partition`] runs the reader itself over every row
//! of a partition and reports each row it would quarantine for its shape, so the
//! platform's CI finds a contract break before a night quarantines everything.
//!
//! [`records`]: crate::records

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use hive_core::CoreError;
use hive_core::lake::{InputFile, raw_input_files};
use hive_core::schema::{
    DESCRIPTION_KEY, RAW_EXPORT_VERSION, RAW_GENERATIONS, RAW_SNAPSHOTS, RAW_VERSION_FIELD, SCHEMA_VERSION_KEY, raw_generations_schema,
    raw_snapshots_schema,
};
use hive_core::{ExitStatus, PartitionDate};

use crate::compare::{check_file_entry, check_generated_entries};
use crate::records::{self, LightRow, RawTable, ReadLimits, RowProblem, relative};

/// The files of `contracts/` generated from the code, by name.
pub fn published_files() -> Vec<(&'static str, String)> {
    vec![
        ("raw-generation.schema.json", records::generation_json_schema()),
        ("raw-snapshot.schema.json", records::snapshot_json_schema()),
        ("raw-generations.parquet.json", pretty(&parquet_contract(RawTable::Generations))),
        ("raw-snapshots.parquet.json", pretty(&parquet_contract(RawTable::Snapshots))),
    ]
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The Parquet form of a raw table: every column with the Arrow type synth-events writes,
/// the types the reader also accepts, whether the column must exist, and its meaning.
pub fn parquet_contract(table: RawTable) -> Value {
    let (name, schema) = match table {
        RawTable::Generations => (RAW_GENERATIONS, raw_generations_schema()),
        RawTable::Snapshots => (RAW_SNAPSHOTS, raw_snapshots_schema()),
    };
    let required = table.required();
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| {
            let kind = required.iter().find(|(n, _)| *n == f.name()).map(|(_, k)| *k);
            let accepted = kind.map_or("utf8, large_utf8 or utf8_view (when present)", |k| k.expected());
            let kind_name = kind.map_or_else(|| "text".to_owned(), |k| format!("{k:?}").to_lowercase());
            json!({
                "name": f.name(),
                "kind": kind_name,
                "arrow_type": f.data_type().to_string(),
                "accepted_types": accepted,
                "column_required": kind.is_some(),
                "null_allowed": kind.is_none(),
                "description": f.metadata().get(DESCRIPTION_KEY),
            })
        })
        .collect();
    json!({
        "title": format!("{name} (Parquet)"),
        "table": name,
        "schema_version": RAW_EXPORT_VERSION,
        "schema_version_metadata_key": SCHEMA_VERSION_KEY,
        "notes": "A file lacking a required column, or with a column of a type not accepted, is refused whole (validate-raw reports it as `unreadable_file`; extract-edits exits 2). A null in a column whose `null_allowed` is false quarantines the row. Other columns are ignored. The values follow the NDJSON record's rules (raw-*.schema.json); `content` holds the bytes, so there is no `content_base64`.",
        "columns": columns,
    })
}

/// One way a raw row breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The file, relative to the data root.
    pub file: PathBuf,
    /// 1-based row (Parquet) or line (NDJSON); `None` when the whole file is refused.
    pub row: Option<u64>,
    /// The field at fault, when one is named.
    pub field: Option<String>,
    /// The reason code extract-edits would quarantine the row with.
    pub code: String,
    pub reason: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(row) = self.row {
            write!(f, " row {row}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " field `{field}`")?;
        }
        write!(f, ": {} ({})", self.reason, self.code)
    }
}

/// The field a problem names: the first `field `x`` or `` `files[i].x` `` of its message.
fn field_of(problem: &RowProblem) -> Option<String> {
    let message = &problem.message;
    let quoted = |from: usize| -> Option<String> {
        let rest = &message[from..];
        let start = rest.find('`')? + 1;
        let end = rest[start..].find('`')?;
        Some(rest[start..start + end].to_owned())
    };
    if let Some(i) = message.find("field `") {
        return quoted(i);
    }
    if message.starts_with("`files[") {
        return quoted(0).map(|f| f.trim_end_matches(':').to_owned());
    }
    None
}

/// How a validation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationStatus {
    /// Every row follows the contract (exit 0).
    Valid,
    /// At least one row or file breaks it (exit 1).
    Violations,
    /// Both partitions exist and are empty (exit 99).
    NothingToProcess,
}

/// What `validate-raw` found in one partition.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationSummary {
    pub job: &'static str,
    pub date: String,
    pub status: ValidationStatus,
    pub schema_version: u32,
    pub generation_files: usize,
    pub snapshot_files: usize,
    pub generation_rows: u64,
    pub snapshot_rows: u64,
    /// Rows (or files) with at least one violation.
    pub violating_rows: u64,
    /// Every violation, in file and row order.
    pub violations: Vec<Violation>,
}

impl hive_core::summary::JobSummary for ValidationSummary {
    fn exit_status(&self) -> ExitStatus {
        match self.status {
            ValidationStatus::Valid => ExitStatus::Success,
            ValidationStatus::Violations => ExitStatus::DataFailure,
            ValidationStatus::NothingToProcess => ExitStatus::NothingToProcess,
        }
    }
}

/// Checks every row of `raw/generations/dt=D` and `raw/snapshots/dt=D` against the
/// contract with the reader extract-edits uses, writing nothing. Rules that depend on a
/// run's options or on other rows (the window, `--max-file-bytes`, duplicates delivered
/// again, a generation without a snapshot) are not contract violations and are not
/// reported. Status: success when every row passes, failed when one does not, nothing
/// to process when both partitions are empty.
pub fn validate_partition(root: &Path, date: PartitionDate, limits: ReadLimits) -> Result<ValidationSummary, CoreError> {
    let generation_files = raw_input_files(root, RAW_GENERATIONS, date, date)?;
    let snapshot_files = raw_input_files(root, RAW_SNAPSHOTS, date, date)?;
    let mut summary = ValidationSummary {
        job: "validate-raw",
        date: date.to_string(),
        status: ValidationStatus::NothingToProcess,
        schema_version: RAW_EXPORT_VERSION,
        generation_files: generation_files.len(),
        snapshot_files: snapshot_files.len(),
        generation_rows: 0,
        snapshot_rows: 0,
        violating_rows: 0,
        violations: Vec::new(),
    };
    for (table, files) in [(RawTable::Generations, &generation_files), (RawTable::Snapshots, &snapshot_files)] {
        for file in files {
            validate_file(root, file, table, limits, &mut summary)?;
        }
    }
    if summary.generation_rows + summary.snapshot_rows > 0 || summary.violating_rows > 0 {
        summary.status = if summary.violations.is_empty() {
            ValidationStatus::Valid
        } else {
            ValidationStatus::Violations
        };
    }
    Ok(summary)
}

fn validate_file(
    root: &Path,
    input: &InputFile,
    table: RawTable,
    limits: ReadLimits,
    summary: &mut ValidationSummary,
) -> Result<(), CoreError> {
    let file = relative(root, &input.path);
    let mut bad = BTreeSet::new();
    let mut push = |row: Option<u64>, problem: &RowProblem, bad: &mut BTreeSet<Option<u64>>| {
        bad.insert(row);
        summary.violations.push(Violation {
            file: file.clone(),
            row,
            field: field_of(problem),
            code: problem.code.to_owned(),
            reason: problem.message.clone(),
        });
    };
    let light = match records::read_light(input, table, limits) {
        Ok(rows) => rows,
        Err(e @ (CoreError::MissingColumn { .. } | CoreError::WrongColumnType { .. })) => {
            let column = match &e {
                CoreError::MissingColumn { column, .. } | CoreError::WrongColumnType { column, .. } => column.clone(),
                _ => String::new(),
            };
            summary.violations.push(Violation {
                file: file.clone(),
                row: None,
                field: Some(column),
                code: "unreadable_file".to_owned(),
                reason: e.to_string(),
            });
            summary.violating_rows += 1;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let rows = light.len() as u64;
    match table {
        RawTable::Generations => summary.generation_rows += rows,
        RawTable::Snapshots => summary.snapshot_rows += rows,
    }
    let mut wanted = BTreeSet::new();
    for LightRow { row, keys, .. } in &light {
        match keys {
            Err((problem, _, _)) => push(Some(*row), problem, &mut bad),
            Ok(_) => {
                wanted.insert(*row);
            }
        }
    }
    match table {
        RawTable::Generations => records::read_full_generations(input, &wanted, limits, |full| {
            let problem = match &full.decoded {
                Err(problem) => Some(problem.clone()),
                Ok(g) => check_generated_entries(&g.files).err(),
            };
            if let Some(problem) = problem {
                push(Some(full.row), &problem, &mut bad);
            }
            Ok(())
        })?,
        RawTable::Snapshots => records::read_full_snapshots(input, &wanted, limits, |full| {
            let problem = match &full.decoded {
                Err(problem) => Some(problem.clone()),
                Ok(s) => s.files.iter().enumerate().find_map(|(i, f)| check_file_entry(i + 1, f).err()),
            };
            if let Some(problem) = problem {
                push(Some(full.row), &problem, &mut bad);
            }
            Ok(())
        })?,
    }
    summary.violating_rows += bad.len() as u64;
    Ok(())
}

/// The NDJSON field name of the contract version (re-exported for the binary's help).
pub const VERSION_FIELD: &str = RAW_VERSION_FIELD;

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// `contracts/` holds what the code generates; `HIVE_UPDATE_SCHEMA=1` rewrites it.
    #[test]
    fn the_committed_contracts_are_up_to_date() {
        let dir = repo().join("contracts");
        for (name, want) in published_files() {
            let path = dir.join(name);
            if std::env::var_os("HIVE_UPDATE_SCHEMA").is_some() {
                std::fs::write(&path, &want).expect("write the contract");
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                have == want,
                "contracts/{name} is stale: run `HIVE_UPDATE_SCHEMA=1 cargo test -p hive-extract the_committed_contracts` and commit it (docs/contracts.md says when the version must change)"
            );
        }
    }

    #[test]
    fn problems_name_their_field() {
        let cases = [
            ("field `event_id` is missing, null or empty", Some("event_id")),
            ("`files[2].path` `/etc` is absolute", Some("files[2].path")),
            ("`files[1]`: has both `content` and `content_base64`", Some("files[1]")),
            ("the line is not valid UTF-8", None),
        ];
        for (message, field) in cases {
            let got = field_of(&RowProblem::new("x", message));
            assert_eq!(got.as_deref(), field, "{message}");
        }
    }

    #[test]
    fn versions_outside_the_contract_are_named() {
        assert!(records::version_problem(None).is_none());
        assert!(records::version_problem(Some(&json!(1))).is_none());
        for v in [json!(0), json!(RAW_EXPORT_VERSION + 1), json!(-1), json!(1.5)] {
            let p = records::version_problem(Some(&v)).expect("refused");
            assert_eq!(p.code, "unsupported_schema_version");
            assert!(p.message.contains(&format!("is {v}")), "{}", p.message);
        }
        let p = records::version_problem(Some(&json!("1"))).expect("refused");
        assert_eq!(p.code, "malformed_record");
    }
}
