//! The output contract with analysts and the platform: each analyst-facing table's
//! columns, types and nullability, committed under `contracts/tables/` and compared with
//! the code on every test run.
//!
//! Consumers (dashboards, notebooks, the platform reading `promotions`) break when a
//! column they read disappears, changes type or starts holding nulls. Comparing the code's
//! schema with the committed contract turns such a change into a failing test whose
//! message names the table and the column and says whether the change is breaking (a
//! new schema version, docs/contracts.md) or additive.

use std::fmt::{self, Write as _};

use arrow::datatypes::Schema;
use serde::{Deserialize, Serialize};

use super::{TableSpec, ab_results_spec, diff_scores_spec, edits_spec, gates, generation_scores_spec, promotions_spec, quarantine_spec};

/// Every analyst-facing table, as its contract file is named (`contracts/tables/<file>.json`).
pub fn analyst_tables() -> Vec<(&'static str, TableSpec)> {
    vec![
        ("edits", edits_spec()),
        ("diff_scores", diff_scores_spec()),
        ("generation_scores", generation_scores_spec()),
        ("ab_results", ab_results_spec()),
        ("promotions", promotions_spec()),
        ("quarantine", quarantine_spec("<job>")),
        ("gate_results", gates::gate_results_spec()),
        ("test_cases", gates::test_cases_spec()),
        ("coverage", gates::coverage_spec()),
        ("findings", gates::findings_spec()),
    ]
}

/// One column of a table contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnContract {
    pub name: String,
    /// The Arrow type, as Arrow prints it (`Utf8`, `Int64`, `Timestamp(µs, "UTC")`).
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
}

/// A table's contract: name, schema version and columns in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableContract {
    pub table: String,
    pub schema_version: u32,
    pub columns: Vec<ColumnContract>,
}

impl TableContract {
    /// The contract of `spec` as the code defines it.
    pub fn of(spec: &TableSpec) -> Self {
        Self::from_schema(&spec.name, spec.version, &spec.schema)
    }

    fn from_schema(table: &str, version: u32, schema: &Schema) -> Self {
        Self {
            table: table.to_owned(),
            schema_version: version,
            columns: schema
                .fields()
                .iter()
                .map(|f| ColumnContract {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                })
                .collect(),
        }
    }

    /// The contract file's text (pretty JSON, newline-terminated).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// How a column changed between the committed contract and the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnChange {
    Removed,
    TypeChanged {
        from: String,
        to: String,
    },
    /// Was never null, now may be.
    BecameNullable,
    /// May have been null, now never is.
    BecameRequired,
    Added,
}

impl ColumnChange {
    /// Whether a consumer written against the committed contract may break.
    pub fn is_breaking(&self) -> bool {
        matches!(self, Self::Removed | Self::TypeChanged { .. } | Self::BecameNullable)
    }
}

/// A change of one column of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: String,
    pub column: String,
    pub change: ColumnChange,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.change {
            ColumnChange::Removed => "was removed".to_owned(),
            ColumnChange::TypeChanged { from, to } => format!("changed type from {from} to {to}"),
            ColumnChange::BecameNullable => "became nullable".to_owned(),
            ColumnChange::BecameRequired => "became non-nullable".to_owned(),
            ColumnChange::Added => "was added".to_owned(),
        };
        let kind = if self.change.is_breaking() { "breaking" } else { "additive" };
        write!(f, "column `{}` of `{}` {what} ({kind})", self.column, self.table)
    }
}

/// The changes from `committed` to `current`, column by column (a renamed column is a
/// removal and an addition). Column order is not compared: readers select by name.
pub fn changes(committed: &TableContract, current: &TableContract) -> Vec<Change> {
    let change = |column: &str, change| Change {
        table: current.table.clone(),
        column: column.to_owned(),
        change,
    };
    let mut out = Vec::new();
    for old in &committed.columns {
        match current.columns.iter().find(|c| c.name == old.name) {
            None => out.push(change(&old.name, ColumnChange::Removed)),
            Some(new) => {
                if new.data_type != old.data_type {
                    out.push(change(
                        &old.name,
                        ColumnChange::TypeChanged {
                            from: old.data_type.clone(),
                            to: new.data_type.clone(),
                        },
                    ));
                }
                if new.nullable && !old.nullable {
                    out.push(change(&old.name, ColumnChange::BecameNullable));
                } else if !new.nullable && old.nullable {
                    out.push(change(&old.name, ColumnChange::BecameRequired));
                }
            }
        }
    }
    for new in &current.columns {
        if !committed.columns.iter().any(|c| c.name == new.name) {
            out.push(change(&new.name, ColumnChange::Added));
        }
    }
    out
}

/// What is wrong with a committed contract against the code, as one message, or `None`
/// when they agree. A breaking change without a schema version above the committed one
/// is called out first: consumers must be able to tell old files from new.
pub fn verdict(committed: &TableContract, current: &TableContract) -> Option<String> {
    let found = changes(committed, current);
    if found.is_empty() && committed == current {
        return None;
    }
    let breaking = found.iter().any(|c| c.change.is_breaking());
    let mut message = String::new();
    if breaking && current.schema_version <= committed.schema_version {
        let _ = writeln!(
            message,
            "breaking change to `{}` without a schema version bump (still {}): bump its version, note it in docs/data-dictionary.md, then regenerate the contract.",
            current.table, current.schema_version
        );
    }
    for c in &found {
        let _ = writeln!(message, "  {c}");
    }
    if found.is_empty() {
        let _ = writeln!(
            message,
            "  `{}`: column order or schema version differs from the committed contract",
            current.table
        );
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use arrow::datatypes::{DataType, Field};

    /// `contracts/tables/*.json` is what the code's schemas say; any difference fails
    /// with every changed column named. `HIVE_UPDATE_SCHEMA=1` rewrites the files.
    #[test]
    fn the_committed_table_contracts_match_the_code() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/tables");
        let mut problems = String::new();
        for (file, spec) in analyst_tables() {
            let path = dir.join(format!("{file}.json"));
            let current = TableContract::of(&spec);
            if std::env::var_os("HIVE_UPDATE_SCHEMA").is_some() {
                std::fs::create_dir_all(&dir).expect("contracts/tables");
                std::fs::write(&path, current.to_json()).expect("write the contract");
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                let _ = writeln!(problems, "contracts/tables/{file}.json is missing");
                continue;
            };
            let committed: TableContract = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Some(message) = verdict(&committed, &current) {
                let _ = write!(problems, "contracts/tables/{file}.json:\n{message}");
            }
        }
        assert!(
            problems.is_empty(),
            "{problems}If the change is intended: `HIVE_UPDATE_SCHEMA=1 cargo test -p hive-core the_committed_table_contracts` and commit (docs/contracts.md)"
        );
    }

    fn contract(version: u32, fields: Vec<Field>) -> TableContract {
        TableContract::from_schema("t", version, &Schema::new(fields))
    }

    #[test]
    fn a_breaking_change_names_the_column_and_asks_for_a_version() {
        let committed = contract(
            1,
            vec![
                Field::new("a", DataType::Utf8, false),
                Field::new("b", DataType::Int64, false),
                Field::new("c", DataType::Float64, false),
                Field::new("d", DataType::Utf8, true),
            ],
        );
        let current = contract(
            1,
            vec![
                Field::new("a", DataType::Utf8, false),
                Field::new("b", DataType::Float64, false),
                Field::new("c", DataType::Float64, true),
                Field::new("d", DataType::Utf8, false),
                Field::new("e", DataType::Boolean, true),
            ],
        );
        let message = verdict(&committed, &current).expect("changed");
        assert!(message.contains("without a schema version bump"), "{message}");
        assert!(
            message.contains("column `b` of `t` changed type from Int64 to Float64 (breaking)"),
            "{message}"
        );
        assert!(message.contains("column `c` of `t` became nullable (breaking)"), "{message}");
        assert!(message.contains("column `d` of `t` became non-nullable (additive)"), "{message}");
        assert!(message.contains("column `e` of `t` was added (additive)"), "{message}");
        let removed = contract(1, vec![Field::new("a", DataType::Utf8, false)]);
        let message = verdict(&committed, &removed).expect("changed");
        assert!(message.contains("column `b` of `t` was removed (breaking)"), "{message}");
        // With the version bumped the change is still reported (the file is stale), but
        // not as a missing bump.
        let bumped = contract(2, vec![Field::new("a", DataType::Utf8, false)]);
        let message = verdict(&committed, &bumped).expect("changed");
        assert!(!message.contains("without a schema version bump"), "{message}");
        assert!(verdict(&committed, &committed.clone()).is_none());
    }

    #[test]
    fn an_additive_change_is_not_called_breaking() {
        let committed = contract(1, vec![Field::new("a", DataType::Utf8, false)]);
        let current = contract(
            1,
            vec![Field::new("a", DataType::Utf8, false), Field::new("z", DataType::Int64, true)],
        );
        let found = changes(&committed, &current);
        assert_eq!(found.len(), 1);
        assert!(!found[0].change.is_breaking());
        let message = verdict(&committed, &current).expect("stale");
        assert!(!message.contains("version bump"), "{message}");
    }
}
