//! Writing raw exports the way maestro-hive would: one file per day and table, in
//! NDJSON or Parquet, renamed into place only when complete.
//!
//! One writer per (table, day) stays open while projects are simulated one after the
//! other; each buffers a bounded number of rows, so memory depends on the number of days,
//! not on the number of generations.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryBuilder, LargeStringBuilder, ListBuilder, StringBuilder, StructBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Fields, SchemaRef};
use arrow::record_batch::RecordBatch;
use base64::Engine;
use chrono::{NaiveDate, SecondsFormat};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value, json};

use hive_core::PartitionDate;
use hive_core::schema::{RAW_GENERATIONS, RAW_SNAPSHOTS, raw_generations_schema, raw_snapshots_schema};

use crate::SynthError;
use crate::simulate::{Breakage, FileRecord, GenerationRecord, SnapshotRecord};

/// File format of the raw exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Ndjson,
    Parquet,
}

impl OutputFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Parquet => "parquet",
        }
    }
}

/// Rows buffered per Parquet file before a batch is written.
const PARQUET_BATCH_ROWS: usize = 64;

enum Sink {
    Ndjson(BufWriter<std::fs::File>),
    Parquet {
        writer: Box<ArrowWriter<std::fs::File>>,
        pending: Vec<Row>,
        schema: SchemaRef,
    },
}

enum Row {
    Generation(GenerationRecord),
    Snapshot(SnapshotRecord),
}

struct OpenFile {
    temp: PathBuf,
    path: PathBuf,
    sink: Sink,
    rows: u64,
}

/// All open raw export files.
pub struct RawWriter {
    root: PathBuf,
    format: OutputFormat,
    files: BTreeMap<(&'static str, NaiveDate), OpenFile>,
}

impl RawWriter {
    /// Writes under `root` (`<root>/raw/<table>/dt=.../part-00000.<ext>`).
    pub fn new(root: &Path, format: OutputFormat) -> Self {
        Self {
            root: root.to_owned(),
            format,
            files: BTreeMap::new(),
        }
    }

    fn file(&mut self, table: &'static str, day: NaiveDate) -> Result<&mut OpenFile, SynthError> {
        if !self.files.contains_key(&(table, day)) {
            let dir = hive_core::lake::partition_dir(&self.root, table, PartitionDate::new(day));
            fs_err::create_dir_all(&dir).map_err(|e| SynthError::Io {
                path: dir.clone(),
                source: e,
            })?;
            let name = format!("part-00000.{}", self.format.extension());
            let temp = dir.join(format!(".{name}.tmp"));
            let file = std::fs::File::create(&temp).map_err(|e| SynthError::Io {
                path: temp.clone(),
                source: e,
            })?;
            let sink = match self.format {
                OutputFormat::Ndjson => Sink::Ndjson(BufWriter::with_capacity(1 << 16, file)),
                OutputFormat::Parquet => {
                    let schema = if table == RAW_GENERATIONS {
                        raw_generations_schema()
                    } else {
                        raw_snapshots_schema()
                    };
                    let props = WriterProperties::builder()
                        .set_compression(Compression::ZSTD(ZstdLevel::try_new(6).unwrap_or_default()))
                        .set_max_row_group_row_count(Some(1024))
                        .set_max_row_group_bytes(Some(4 << 20))
                        .build();
                    let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(|e| SynthError::Parquet {
                        path: temp.clone(),
                        source: e,
                    })?;
                    Sink::Parquet {
                        writer: Box::new(writer),
                        pending: Vec::new(),
                        schema,
                    }
                }
            };
            self.files.insert(
                (table, day),
                OpenFile {
                    temp,
                    path: dir.join(name),
                    sink,
                    rows: 0,
                },
            );
        }
        self.files.get_mut(&(table, day)).ok_or_else(|| SynthError::Io {
            path: self.root.clone(),
            source: std::io::Error::other("writer vanished"),
        })
    }

    /// Appends a generation to the export of day `arrival`.
    pub fn generation(&mut self, arrival: NaiveDate, record: &GenerationRecord, breakage: Option<Breakage>) -> Result<(), SynthError> {
        let file = self.file(RAW_GENERATIONS, arrival)?;
        file.rows += 1;
        match &mut file.sink {
            Sink::Ndjson(out) => {
                let mut line = generation_json(record).to_string();
                if breakage == Some(Breakage::MalformedRecord) {
                    // A delivery cut off mid-record, at a character boundary.
                    let mut cut = line.len() / 2;
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    line.truncate(cut);
                }
                writeln!(out, "{line}").map_err(|e| SynthError::Io {
                    path: file.temp.clone(),
                    source: e,
                })
            }
            Sink::Parquet { pending, .. } => {
                pending.push(Row::Generation(record.clone()));
                flush_if_full(file)
            }
        }
    }

    /// Appends a snapshot to the export of the day it was captured.
    pub fn snapshot(&mut self, record: &SnapshotRecord) -> Result<(), SynthError> {
        let file = self.file(RAW_SNAPSHOTS, record.captured_at.date_naive())?;
        file.rows += 1;
        match &mut file.sink {
            Sink::Ndjson(out) => {
                let line = json!({
                    "snapshot_id": record.snapshot_id,
                    "project_id": record.project_id,
                    "captured_at": record.captured_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                    "files": files_json(&record.files),
                });
                writeln!(out, "{line}").map_err(|e| SynthError::Io {
                    path: file.temp.clone(),
                    source: e,
                })
            }
            Sink::Parquet { pending, .. } => {
                pending.push(Row::Snapshot(record.clone()));
                flush_if_full(file)
            }
        }
    }

    /// Closes every file and renames it into place. Returns (path, rows) per file.
    pub fn finish(self) -> Result<Vec<(PathBuf, u64)>, SynthError> {
        let mut written = Vec::new();
        for (_, mut file) in self.files {
            flush(&mut file)?;
            match file.sink {
                Sink::Ndjson(mut out) => out.flush().map_err(|e| SynthError::Io {
                    path: file.temp.clone(),
                    source: e,
                })?,
                Sink::Parquet { writer, .. } => {
                    writer.close().map_err(|e| SynthError::Parquet {
                        path: file.temp.clone(),
                        source: e,
                    })?;
                }
            }
            fs_err::rename(&file.temp, &file.path).map_err(|e| SynthError::Io {
                path: file.path.clone(),
                source: e,
            })?;
            written.push((file.path, file.rows));
        }
        Ok(written)
    }
}

fn flush_if_full(file: &mut OpenFile) -> Result<(), SynthError> {
    if let Sink::Parquet { pending, .. } = &file.sink
        && pending.len() >= PARQUET_BATCH_ROWS
    {
        return flush(file);
    }
    Ok(())
}

fn flush(file: &mut OpenFile) -> Result<(), SynthError> {
    let Sink::Parquet { writer, pending, schema } = &mut file.sink else {
        return Ok(());
    };
    if pending.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(pending);
    let batch = rows_to_batch(&rows, schema).map_err(|e| SynthError::Arrow {
        path: file.temp.clone(),
        source: e,
    })?;
    writer.write(&batch).map_err(|e| SynthError::Parquet {
        path: file.temp.clone(),
        source: e,
    })
}

fn files_builder() -> ListBuilder<StructBuilder> {
    let fields = Fields::from(vec![
        Field::new("path", DataType::Utf8, true),
        Field::new("content", DataType::Binary, true),
    ]);
    let entry = StructBuilder::new(fields.clone(), vec![Box::new(StringBuilder::new()), Box::new(BinaryBuilder::new())]);
    ListBuilder::new(entry).with_field(Arc::new(Field::new("item", DataType::Struct(fields), true)))
}

fn append_files(builder: &mut ListBuilder<StructBuilder>, files: &[FileRecord]) {
    let entries = builder.values();
    for f in files {
        if let Some(p) = entries.field_builder::<StringBuilder>(0) {
            p.append_value(&f.path);
        }
        if let Some(c) = entries.field_builder::<BinaryBuilder>(1) {
            c.append_value(&f.content);
        }
        entries.append(true);
    }
    builder.append(true);
}

fn rows_to_batch(rows: &[Row], schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut files = files_builder();
    let columns: Vec<ArrayRef> = if matches!(rows.first(), Some(Row::Generation(_))) {
        let (mut id, mut at, mut project, mut template, mut version, mut experiment, mut variant, mut request) = (
            StringBuilder::new(),
            TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            LargeStringBuilder::new(),
        );
        for row in rows {
            let Row::Generation(g) = row else { continue };
            id.append_value(&g.event_id);
            at.append_value(g.generated_at.timestamp_micros());
            project.append_option(g.project_id.as_deref());
            template.append_value(&g.template_id);
            version.append_value(&g.template_version);
            experiment.append_option(g.experiment_id.as_deref());
            variant.append_option(g.variant.as_deref());
            request.append_value(&g.request);
            append_files(&mut files, &g.files);
        }
        vec![
            Arc::new(id.finish()),
            Arc::new(at.finish()),
            Arc::new(project.finish()),
            Arc::new(template.finish()),
            Arc::new(version.finish()),
            Arc::new(experiment.finish()),
            Arc::new(variant.finish()),
            Arc::new(request.finish()),
            Arc::new(files.finish()),
        ]
    } else {
        let (mut id, mut project, mut at) = (
            StringBuilder::new(),
            StringBuilder::new(),
            TimestampMicrosecondBuilder::new().with_timezone("UTC"),
        );
        for row in rows {
            let Row::Snapshot(s) = row else { continue };
            id.append_value(&s.snapshot_id);
            project.append_value(&s.project_id);
            at.append_value(s.captured_at.timestamp_micros());
            append_files(&mut files, &s.files);
        }
        vec![
            Arc::new(id.finish()),
            Arc::new(project.finish()),
            Arc::new(at.finish()),
            Arc::new(files.finish()),
        ]
    };
    RecordBatch::try_new(Arc::clone(schema), columns)
}

/// A generation as an NDJSON object.
pub fn generation_json(record: &GenerationRecord) -> Value {
    let request = serde_json::from_str::<Value>(&record.request)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::String(record.request.clone()));
    json!({
        "event_id": record.event_id,
        "generated_at": record.generated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "project_id": record.project_id,
        "template_id": record.template_id,
        "template_version": record.template_version,
        "experiment_id": record.experiment_id,
        "variant": record.variant,
        "request": request,
        "files": files_json(&record.files),
    })
}

/// Files as NDJSON: `content` for UTF-8 text, `content_base64` for other bytes.
fn files_json(files: &[FileRecord]) -> Value {
    Value::Array(
        files
            .iter()
            .map(|f| {
                let mut entry = Map::new();
                entry.insert("path".into(), Value::String(f.path.clone()));
                match std::str::from_utf8(&f.content) {
                    Ok(text) => entry.insert("content".into(), Value::String(text.to_owned())),
                    Err(_) => entry.insert(
                        "content_base64".into(),
                        Value::String(base64::engine::general_purpose::STANDARD.encode(&f.content)),
                    ),
                };
                Value::Object(entry)
            })
            .collect(),
    )
}
