//! Dataset lineage: the lake partitions a run was built from, as MLflow datasets.
//!
//! MLflow's UI shows which data trained or decided what through a run's dataset inputs
//! (`runs/log-inputs`), not through tags. Every run mlflow-sync publishes logs the
//! partition it mirrors (and a promotion the `ab_results` nights it was decided from), and
//! the trainer logs the fine-tuning dataset under the same name and digest, so the
//! build-finetune run and the training run share one dataset identity.
//!
//! A dataset is named by its path in the lake (`generation_scores/dt=2026-10-15`,
//! `finetune/dt=2026-10-15`). Its digest identifies the content: for a table, sha256 over
//! the partition's `_SUCCESS` manifest and the bytes of every part it lists (the parts are
//! deterministic, so a rerun on the same inputs gives the same digest and a rewrite with
//! other rows another one); for the fine-tuning dataset, build-finetune's own `digest`
//! (sha256 over its data files). MLflow keeps 36 characters of a digest; the full value is
//! the input's tag `hive.dataset_digest`.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use hive_core::lake::{PartitionManifest, SUCCESS_MARKER, committed_parts, partition_dir};
use hive_core::{CoreError, PartitionDate};

use crate::batch::Tag;
use crate::client::{Dataset, DatasetInput, MAX_DATASET_DIGEST_LEN};
use crate::error::MlflowError;

/// MLflow's input tag saying what a dataset was used for.
pub const CONTEXT_TAG: &str = "mlflow.data.context";
/// Input tag holding the full sha256 digest (MLflow's `digest` keeps 36 characters).
pub const FULL_DIGEST_TAG: &str = "hive.dataset_digest";
/// Context of the partition a run mirrors.
pub const CONTEXT_SOURCE: &str = "source";
/// Context of the `ab_results` nights a promotion was decided from.
pub const CONTEXT_DECISION: &str = "decision";
/// Context of the fine-tuning dataset in the trainer's run (trainer/hive_trainer/train.py).
pub const CONTEXT_TRAINING: &str = "training";

/// A lake dataset: what MLflow stores, and the full digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeDataset {
    pub dataset: Dataset,
    pub full_digest: String,
}

impl LakeDataset {
    /// As a run input with `context`.
    pub fn input(&self, context: &str) -> DatasetInput {
        DatasetInput {
            tags: vec![Tag::new(CONTEXT_TAG, context), Tag::new(FULL_DIGEST_TAG, &self.full_digest)],
            dataset: self.dataset.clone(),
        }
    }
}

/// The name of a partition's dataset: its path under the lake root.
pub fn dataset_name(table: &str, date: PartitionDate) -> String {
    format!("{table}/dt={date}")
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `dir` as an absolute path with symlinks resolved (what the trainer's
/// `Path.resolve()` gives for the same directory), else as given.
fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()))
}

/// MLflow's `LocalArtifactDatasetSource` JSON, spaced as Python's `json.dumps` writes it
/// (what the trainer's run stores for the same folder).
fn local_source(dir: &Path) -> String {
    format!("{{\"uri\": {}}}", json!(absolute(dir).to_string_lossy()))
}

/// The committed partition `<root>/<table>/dt=<date>` as a dataset; `None` when it has no
/// `_SUCCESS` (absent, or still being written).
pub fn partition_dataset(root: &Path, table: &str, date: PartitionDate) -> Result<Option<LakeDataset>, MlflowError> {
    let dir = partition_dir(root, table, date);
    let marker = dir.join(SUCCESS_MARKER);
    if !marker.is_file() {
        return Ok(None);
    }
    let manifest_bytes = fs_err::read(&marker).map_err(|e| CoreError::io(&marker, e))?;
    let manifest: PartitionManifest = serde_json::from_slice(&manifest_bytes).map_err(|e| CoreError::BadManifest {
        path: marker.clone(),
        message: e.to_string(),
    })?;
    let parts = committed_parts(root, table, date)?;
    let mut hasher = Sha256::new();
    hasher.update(SUCCESS_MARKER.as_bytes());
    hasher.update(b"\n");
    hasher.update(&manifest_bytes);
    let mut buffer = vec![0u8; 1 << 16];
    for part in &parts {
        let name = part.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
        let mut file = std::fs::File::open(part).map_err(|e| CoreError::io(part, e))?;
        loop {
            let n = file.read(&mut buffer).map_err(|e| CoreError::io(part, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    let full_digest = hex(&hasher.finalize());
    let schema = match parts.first() {
        Some(part) => {
            let file = std::fs::File::open(part).map_err(|e| CoreError::io(part, e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| CoreError::Parquet {
                path: part.clone(),
                source,
            })?;
            Some(colspec(builder.schema().fields().iter().map(AsRef::as_ref)))
        }
        None => None,
    };
    Ok(Some(LakeDataset {
        dataset: Dataset {
            name: dataset_name(table, date),
            digest: full_digest[..MAX_DATASET_DIGEST_LEN].to_owned(),
            source_type: "local".into(),
            source: local_source(&dir),
            schema,
            profile: Some(json!({"num_rows": manifest.rows, "parts": manifest.parts.len()}).to_string()),
        },
        full_digest,
    }))
}

/// The fine-tuning dataset `finetune/dt=<date>` from its `manifest.json` (`manifest`, read
/// from `path`): build-finetune's `digest` (sha256 over the data files), which the trainer
/// logs too. A manifest without a valid `digest` is bad input.
pub fn finetune_dataset(path: &Path, manifest: &Value, date: PartitionDate) -> Result<LakeDataset, MlflowError> {
    let digest = manifest
        .get("digest")
        .and_then(Value::as_str)
        .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| MlflowError::BadInput {
            path: path.to_owned(),
            reason: "`digest` is not a sha256 hex string (a manifest from before build-finetune wrote one?)".into(),
        })?;
    let files = manifest.get("files").and_then(Value::as_object);
    let rows: u64 = files.map_or(0, |f| f.values().filter_map(|e| e.get("rows").and_then(Value::as_u64)).sum());
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(LakeDataset {
        dataset: Dataset {
            name: dataset_name(hive_core::schema::FINETUNE, date),
            digest: digest[..MAX_DATASET_DIGEST_LEN].to_owned(),
            source_type: "local".into(),
            source: local_source(dir),
            schema: None,
            profile: Some(json!({"num_rows": rows, "files": files.map_or(0, serde_json::Map::len)}).to_string()),
        },
        full_digest: digest.to_owned(),
    })
}

/// MLflow's column spec (`{"mlflow_colspec": [...]}`) of Arrow fields. Types MLflow has
/// no name for (structs, maps, decimals) are written as `binary`: the column is there and
/// its values are opaque to MLflow.
pub fn colspec<'a>(fields: impl Iterator<Item = &'a Field>) -> String {
    let columns: Vec<Value> = fields
        .map(|f| {
            let mut spec = column_type(f.data_type());
            if let Value::Object(map) = &mut spec {
                map.insert("name".into(), json!(f.name()));
                map.insert("required".into(), json!(!f.is_nullable()));
            }
            spec
        })
        .collect();
    json!({"mlflow_colspec": columns}).to_string()
}

fn column_type(t: &DataType) -> Value {
    let name = match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "integer",
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "long",
        DataType::Float16 | DataType::Float32 => "float",
        DataType::Float64 => "double",
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => "datetime",
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            return json!({"type": "array", "items": column_type(item.data_type())});
        }
        _ => "binary",
    };
    json!({"type": name})
}

/// The committed `ab_results` nights through `date` that hold rows of `experiment_id`:
/// the nights promote-templates folded into that experiment's decision for `date`.
pub fn ab_nights(root: &Path, experiment_id: &str, date: PartitionDate) -> Result<Vec<PartitionDate>, MlflowError> {
    let table_dir = root.join(hive_core::schema::AB_RESULTS);
    let Ok(entries) = std::fs::read_dir(&table_dir) else {
        return Ok(Vec::new());
    };
    let mut nights = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(night) = name
            .to_str()
            .and_then(|n| n.strip_prefix("dt="))
            .and_then(|d| d.parse::<PartitionDate>().ok())
        else {
            continue;
        };
        if night > date {
            continue;
        }
        if let crate::tables::Partition::Present(t) = crate::tables::read(root, hive_core::schema::AB_RESULTS, night)?
            && t.rows
                .iter()
                .any(|r| crate::tables::text(r, "experiment_id") == Some(experiment_id))
        {
            nights.push(night);
        }
    }
    nights.sort();
    Ok(nights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, TimeUnit};

    #[test]
    fn colspec_names_mlflow_types_and_nullability() {
        let fields = [
            Field::new("event_id", DataType::Utf8, false),
            Field::new("files", DataType::Int64, true),
            Field::new("score", DataType::Float64, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new(
                "paths",
                DataType::List(std::sync::Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ];
        let spec: Value = serde_json::from_str(&colspec(fields.iter())).unwrap_or_default();
        assert_eq!(
            spec,
            json!({"mlflow_colspec": [
                {"type": "string", "name": "event_id", "required": true},
                {"type": "long", "name": "files", "required": false},
                {"type": "double", "name": "score", "required": false},
                {"type": "datetime", "name": "at", "required": false},
                {"type": "array", "items": {"type": "string"}, "name": "paths", "required": false},
            ]})
        );
    }
}
