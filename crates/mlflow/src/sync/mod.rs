//! mlflow-sync: mirrors a date's lake tables into MLflow, exactly once per object.
//!
//! Every object (run, model version) carries a stable key in the tag `hive.key`, derived
//! from the table's own keys (`generation/<event_id>`, `ab/<experiment>/<date>`, ...), and
//! runs also carry `hive.dt`. A sync first lists what the server already has for the date,
//! skips runs that are `FINISHED`, completes runs an interrupted attempt left `RUNNING`
//! (re-logging the same values is harmless: identical metric rows are ignored, params keep
//! their value), and creates the rest. A create is the only non-idempotent call: after a
//! transient failure (the server may have committed it before the connection dropped) the
//! key is looked up before trying again, so a retry never makes a duplicate.
//!
//! The Parquet tables stay the source of truth: nothing here writes to the lake, and a
//! failure only leaves work for the next attempt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use hive_core::PartitionDate;

use crate::batch::{Batch, MAX_PARAM_VALUE_LEN, MAX_TAG_VALUE_LEN, Metric, Param, Tag, key, truncate};
use crate::client::{Client, DatasetInput};
use crate::error::MlflowError;
use crate::tables::{self, Cell, Partition, Row, Table};

mod mapping;
mod publish;
mod registry;

pub use registry::{Rollback, model_name, rollback};

/// Tag holding an object's stable key.
pub const KEY_TAG: &str = "hive.key";
/// Tag holding the partition date an object was published from.
pub const DATE_TAG: &str = "hive.dt";
/// Tag naming the source table.
pub const TABLE_TAG: &str = "hive.table";
/// Alias moved to the promoted template version.
pub const CHAMPION: &str = "champion";

/// How generations map to runs. Also the `--mode` values of the binary (`clap`, which
/// `hive-core` already builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One run per generation.
    PerGeneration,
    /// One run per template version per day, plus the rows as a Parquet artifact.
    Aggregated,
}

/// A source mlflow-sync can publish: one lake table, or the fine-tune manifest. Also
/// the `--tables` values of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Source {
    GenerationScores,
    AbResults,
    Promotions,
    GateResults,
    /// `finetune/dt=D/manifest.json`.
    Finetune,
}

impl Source {
    /// Every source, in publishing order.
    pub const ALL: [Self; 5] = [
        Self::GenerationScores,
        Self::AbResults,
        Self::Promotions,
        Self::GateResults,
        Self::Finetune,
    ];

    /// The table's name in the lake (and in the summary's `tables`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GenerationScores => "generation_scores",
            Self::AbResults => "ab_results",
            Self::Promotions => "promotions",
            Self::GateResults => hive_core::schema::gates::GATE_RESULTS,
            Self::Finetune => hive_core::schema::FINETUNE,
        }
    }
}

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The sources published; the others are not read, even when present.
    pub sources: BTreeSet<Source>,
    pub data_root: PathBuf,
    pub date: PartitionDate,
    pub mode: Mode,
    /// Runs published at once (each a few requests).
    pub concurrency: usize,
    /// Prefix of experiment and registered-model names.
    pub name_prefix: String,
    /// Who runs the sync, as run tags.
    pub provenance: Provenance,
}

/// Who wrote a run: tags MLflow's UI and search understand (`mlflow.source.*`,
/// `mlflow.user`), the job's version, and the Airflow DAG run that ran the task.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// `mlflow.user`; the OS user when unset.
    pub user: Option<String>,
    /// The Airflow DAG id (`AIRFLOW_CTX_DAG_ID`, exported by Airflow to every task).
    pub dag_id: Option<String>,
    /// The Airflow DAG run id (`AIRFLOW_CTX_DAG_RUN_ID`).
    pub dag_run_id: Option<String>,
}

/// `mlflow.source.name` of every run: the job.
pub const SOURCE_NAME: &str = "mlflow-sync";
/// `mlflow.source.type` of every run (MLflow's `SourceType.JOB`).
pub const SOURCE_TYPE: &str = "JOB";
/// Tag holding the version of the job that wrote a run.
pub const JOB_VERSION_TAG: &str = "hive.job_version";
/// Tag holding the Airflow DAG id.
pub const DAG_ID_TAG: &str = "hive.dag_id";
/// Tag holding the Airflow DAG run id.
pub const DAG_RUN_ID_TAG: &str = "hive.dag_run_id";
/// Param holding the date of the data a run describes (also the tag [`DATE_TAG`]).
pub const DATE_PARAM: &str = "dt";

/// Per-table counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableSummary {
    pub experiment: String,
    pub rows: u64,
    pub runs: u64,
    pub created: u64,
    pub resumed: u64,
    pub already_synced: u64,
}

/// The JSON summary line.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    pub job: &'static str,
    pub date: String,
    pub status: &'static str,
    pub mode: Mode,
    pub tracking_uri: String,
    pub tables: BTreeMap<&'static str, TableSummary>,
    /// Partitions present without `_SUCCESS` (being written or failed): not published.
    pub incomplete_partitions: Vec<PathBuf>,
    pub model_versions_created: u64,
    pub model_versions_existing: u64,
    pub aliases_moved: u64,
    /// Metric values dropped because they were NaN or infinite.
    pub metrics_skipped_non_finite: u64,
    pub seconds: f64,
}

impl hive_core::summary::JobSummary for SyncSummary {
    /// A sync that returns a summary published everything it read (failures are errors).
    fn exit_status(&self) -> hive_core::ExitStatus {
        hive_core::ExitStatus::Success
    }
}

/// One run to publish. Its start and end times are those of the sync that creates and
/// finishes it (MLflow shows them as the run's duration); the data's date is the param
/// [`DATE_PARAM`] and the tag [`DATE_TAG`], and metrics are timestamped with the data's time.
#[derive(Debug, Clone)]
struct RunSpec {
    key: String,
    name: String,
    batch: Batch,
    artifact: Option<(String, Vec<u8>)>,
    /// The datasets it was built from (`runs/log-inputs`); shared by the runs of a table.
    inputs: Arc<Vec<DatasetInput>>,
}

/// Builds metrics, params and tags for one run, dropping non-finite values with a count.
struct Builder<'a> {
    timestamp: i64,
    batch: Batch,
    skipped: &'a AtomicU64,
}

impl<'a> Builder<'a> {
    fn new(timestamp: i64, skipped: &'a AtomicU64) -> Self {
        Self {
            timestamp,
            batch: Batch::default(),
            skipped,
        }
    }

    fn metric(&mut self, name: &str, value: f64) {
        if value.is_finite() {
            self.batch.metrics.push(Metric {
                key: key(name),
                value,
                timestamp: self.timestamp,
                step: 0,
            });
        } else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn param(&mut self, name: &str, value: &str) {
        self.batch.params.push(Param {
            key: key(name),
            value: truncate(value, MAX_PARAM_VALUE_LEN),
        });
    }

    fn tag(&mut self, name: &str, value: &str) {
        self.batch.tags.push(Tag::new(key(name), truncate(value, MAX_TAG_VALUE_LEN)));
    }

    /// Every numeric or flag cell of `row` (except `skip`) as a metric `prefix + column`.
    fn numbers(&mut self, row: &Row, prefix: &str, skip: &[&str]) {
        for (column, cell) in row {
            if skip.contains(&column.as_str()) {
                continue;
            }
            match cell {
                Cell::Number(v) => self.metric(&format!("{prefix}{column}"), *v),
                Cell::Flag(b) => self.metric(&format!("{prefix}{column}"), f64::from(u8::from(*b))),
                _ => {}
            }
        }
    }
}

/// A key safe inside a single-quoted search filter.
fn stable_key(parts: &[&str]) -> String {
    parts.join("/").replace(['\'', '\\', '"', '`'], "_")
}

fn midnight_ms(date: PartitionDate) -> i64 {
    date.to_string()
        .parse::<chrono::NaiveDate>()
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The sync of one date.
pub struct Sync<'c> {
    client: &'c Client,
    options: SyncOptions,
    skipped: AtomicU64,
    dt: String,
    /// Object stores for artifact roots the server does not proxy.
    direct: crate::store::DirectStores,
}

impl<'c> Sync<'c> {
    pub fn new(client: &'c Client, options: SyncOptions) -> Self {
        let dt = options.date.to_string();
        Self {
            client,
            options,
            skipped: AtomicU64::new(0),
            dt,
            direct: crate::store::DirectStores::default(),
        }
    }

    fn experiment_name(&self, what: &str) -> String {
        format!("{}/{what}", self.options.name_prefix)
    }

    fn base_tags(&self, b: &mut Builder<'_>, table: &str, stable: &str) {
        b.tag(KEY_TAG, stable);
        b.tag(DATE_TAG, &self.dt);
        b.tag(TABLE_TAG, table);
        b.param(DATE_PARAM, &self.dt);
        b.tag("mlflow.source.name", SOURCE_NAME);
        b.tag("mlflow.source.type", SOURCE_TYPE);
        b.tag(JOB_VERSION_TAG, env!("CARGO_PKG_VERSION"));
        let p = &self.options.provenance;
        let user = p.user.clone().or_else(|| std::env::var("USER").ok()).filter(|u| !u.is_empty());
        if let Some(user) = user {
            b.tag("mlflow.user", &user);
        }
        if let Some(id) = p.dag_id.as_deref().filter(|v| !v.is_empty()) {
            b.tag(DAG_ID_TAG, id);
        }
        if let Some(id) = p.dag_run_id.as_deref().filter(|v| !v.is_empty()) {
            b.tag(DAG_RUN_ID_TAG, id);
        }
    }

    /// The committed partition of `table` for the sync's date as a run input.
    fn partition_input(&self, table: &str, context: &str) -> Result<Arc<Vec<DatasetInput>>, MlflowError> {
        let dataset = crate::lineage::partition_dataset(&self.options.data_root, table, self.options.date)?;
        Ok(Arc::new(dataset.map(|d| d.input(context)).into_iter().collect()))
    }

    /// Publishes everything present for the date. `Ok(None)`: nothing exists for it.
    pub fn run(&self) -> Result<Option<SyncSummary>, MlflowError> {
        let started = Instant::now();
        let root = &self.options.data_root;
        let date = self.options.date;
        let mut summary = SyncSummary {
            job: "mlflow-sync",
            date: self.dt.clone(),
            status: "success",
            mode: self.options.mode,
            tracking_uri: self.client.base().to_owned(),
            tables: BTreeMap::new(),
            incomplete_partitions: Vec::new(),
            model_versions_created: 0,
            model_versions_existing: 0,
            aliases_moved: 0,
            metrics_skipped_non_finite: 0,
            seconds: 0.0,
        };
        let mut found = false;
        let wanted = |source: Source| self.options.sources.contains(&source);
        let mut present = |source: Source| -> Result<Option<Table>, MlflowError> {
            if !wanted(source) {
                return Ok(None);
            }
            match tables::read(root, source.as_str(), date)? {
                Partition::Absent => Ok(None),
                Partition::Incomplete(dir) => {
                    tracing::warn!(dir = %dir.display(), "partition has no _SUCCESS yet: not published");
                    summary.incomplete_partitions.push(dir);
                    Ok(None)
                }
                Partition::Present(t) => {
                    found = true;
                    Ok(Some(t))
                }
            }
        };
        let generations = present(Source::GenerationScores)?;
        let ab = present(Source::AbResults)?;
        let promotions = present(Source::Promotions)?;
        let gates = present(Source::GateResults)?;
        let manifest_path = hive_core::lake::Target::unchecked(root, date, hive_core::Shard::ALL).finetune_manifest();
        let manifest = if wanted(Source::Finetune) && manifest_path.is_file() {
            found = true;
            let text = fs_err::read_to_string(&manifest_path).map_err(|e| hive_core::CoreError::io(&manifest_path, e))?;
            let value: Value = serde_json::from_str(&text).map_err(|e| MlflowError::BadInput {
                path: manifest_path.clone(),
                reason: format!("not JSON: {e}"),
            })?;
            Some((value, text))
        } else {
            None
        };
        if !found {
            return Ok(None);
        }

        if let Some(t) = &generations {
            let inputs = self.partition_input(Source::GenerationScores.as_str(), crate::lineage::CONTEXT_SOURCE)?;
            let (name, specs) = match self.options.mode {
                Mode::PerGeneration => (self.experiment_name("template-generations"), self.generation_runs(t, &inputs)),
                Mode::Aggregated => (self.experiment_name("template-versions-daily"), self.aggregated_runs(t, &inputs)?),
            };
            let (s, _) = self.publish(&name, t.rows.len(), specs)?;
            summary.tables.insert("generation_scores", s);
        }
        if let Some(t) = &ab {
            let inputs = self.partition_input(Source::AbResults.as_str(), crate::lineage::CONTEXT_SOURCE)?;
            let (s, _) = self.publish(&self.experiment_name("ab-results"), t.rows.len(), self.ab_runs(t, &inputs)?)?;
            summary.tables.insert("ab_results", s);
        }
        if let Some(t) = &promotions {
            let (s, infos) = self.publish(&self.experiment_name("promotions"), t.rows.len(), self.promotion_runs(t)?)?;
            summary.tables.insert("promotions", s);
            self.register(t, &infos, &mut summary)?;
        }
        if let Some(t) = &gates {
            let inputs = self.partition_input(Source::GateResults.as_str(), crate::lineage::CONTEXT_SOURCE)?;
            let (s, _) = self.publish(&self.experiment_name("quality-gates"), t.rows.len(), self.gate_runs(t, &inputs))?;
            summary.tables.insert("gate_results", s);
        }
        if let Some((value, raw)) = manifest {
            let dataset = crate::lineage::finetune_dataset(&manifest_path, &value, date)?;
            let spec = self.finetune_run(&value, raw.into_bytes(), &dataset);
            let (s, _) = self.publish(&self.experiment_name("finetune-datasets"), 1, vec![spec])?;
            summary.tables.insert("finetune", s);
        }
        summary.metrics_skipped_non_finite = self.skipped.load(Ordering::Relaxed);
        if summary.metrics_skipped_non_finite > 0 {
            tracing::warn!(
                count = summary.metrics_skipped_non_finite,
                "NaN or infinite metric values were not sent"
            );
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(Some(summary))
    }
}

/// Every value of a JSON document (configuration) as params under `prefix`: numbers,
/// flags and strings as they print, arrays as JSON.
fn flatten_params(value: &Value, prefix: &str, b: &mut Builder<'_>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_params(v, &key, b);
            }
        }
        Value::String(s) if !prefix.is_empty() => b.param(prefix, s),
        Value::Null => {}
        other if !prefix.is_empty() => b.param(prefix, &other.to_string()),
        _ => {}
    }
}

/// Numbers and flags of a JSON document as metrics, short strings as tags, under `prefix`.
fn flatten(value: &Value, prefix: &str, b: &mut Builder<'_>) {
    let join = |k: &str| if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(v, &join(k), b);
            }
        }
        Value::Number(n) => {
            if let Some(v) = n.as_f64() {
                b.metric(prefix, v);
            }
        }
        Value::Bool(f) => b.metric(prefix, f64::from(u8::from(*f))),
        Value::String(s) if !prefix.is_empty() => b.tag(prefix, s),
        Value::Array(_) if !prefix.is_empty() => b.tag(prefix, &value.to_string()),
        _ => {}
    }
}
