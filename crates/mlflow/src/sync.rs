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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use hive_core::PartitionDate;

use crate::batch::{Batch, MAX_PARAM_VALUE_LEN, MAX_TAG_VALUE_LEN, Metric, Param, Tag, key, truncate};
use crate::client::{Client, Retry, RunInfo};
use crate::error::MlflowError;
use crate::tables::{self, Cell, Partition, Row, Table, text};
use hive_core::schema::gates::GateStatus;

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
}

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

/// One run to publish.
#[derive(Debug, Clone)]
struct RunSpec {
    key: String,
    name: String,
    start_time: i64,
    batch: Batch,
    artifact: Option<(String, Vec<u8>)>,
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
}

impl<'c> Sync<'c> {
    pub fn new(client: &'c Client, options: SyncOptions) -> Self {
        let dt = options.date.to_string();
        Self {
            client,
            options,
            skipped: AtomicU64::new(0),
            dt,
        }
    }

    fn experiment_name(&self, what: &str) -> String {
        format!("{}/{what}", self.options.name_prefix)
    }

    fn base_tags(&self, b: &mut Builder<'_>, table: &str, stable: &str) {
        b.tag(KEY_TAG, stable);
        b.tag(DATE_TAG, &self.dt);
        b.tag(TABLE_TAG, table);
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
            let (name, specs) = match self.options.mode {
                Mode::PerGeneration => (self.experiment_name("template-generations"), self.generation_runs(t)),
                Mode::Aggregated => (self.experiment_name("template-versions-daily"), self.aggregated_runs(t)?),
            };
            let (s, _) = self.publish(&name, t.rows.len(), specs)?;
            summary.tables.insert("generation_scores", s);
        }
        if let Some(t) = &ab {
            let (s, _) = self.publish(&self.experiment_name("ab-results"), t.rows.len(), self.ab_runs(t))?;
            summary.tables.insert("ab_results", s);
        }
        if let Some(t) = &promotions {
            let (s, infos) = self.publish(&self.experiment_name("promotions"), t.rows.len(), self.promotion_runs(t))?;
            summary.tables.insert("promotions", s);
            self.register(t, &infos, &mut summary)?;
        }
        if let Some(t) = &gates {
            let (s, _) = self.publish(&self.experiment_name("quality-gates"), t.rows.len(), self.gate_runs(t))?;
            summary.tables.insert("gate_results", s);
        }
        if let Some((value, raw)) = manifest {
            let spec = self.finetune_run(&value, raw.into_bytes());
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

    fn generation_runs(&self, table: &Table) -> Vec<RunSpec> {
        let midnight = midnight_ms(self.options.date);
        table
            .rows
            .iter()
            .filter_map(|row| {
                let event = text(row, "event_id")?;
                let at = match row.get("generated_at") {
                    Some(Cell::Instant(ms)) => *ms,
                    _ => midnight,
                };
                let stable = stable_key(&["generation", event]);
                let mut b = Builder::new(at, &self.skipped);
                self.base_tags(&mut b, "generation_scores", &stable);
                for (column, cell) in row {
                    if let Cell::Text(v) = cell {
                        b.param(column, v);
                    }
                }
                b.numbers(row, "", &[]);
                Some(RunSpec {
                    key: stable,
                    name: event.to_owned(),
                    start_time: at,
                    batch: b.batch,
                    artifact: None,
                })
            })
            .collect()
    }

    fn aggregated_runs(&self, table: &Table) -> Result<Vec<RunSpec>, MlflowError> {
        let midnight = midnight_ms(self.options.date);
        let mut groups: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
        for row in &table.rows {
            if let (Some(t), Some(v)) = (text(row, "template_id"), text(row, "template_version")) {
                groups.entry((t.to_owned(), v.to_owned())).or_default().push(row);
            }
        }
        let mut specs = Vec::with_capacity(groups.len());
        for ((template, version), rows) in groups {
            let stable = stable_key(&["template-version", &template, &version, &self.dt]);
            let mut b = Builder::new(midnight, &self.skipped);
            self.base_tags(&mut b, "generation_scores", &stable);
            b.param("template_id", &template);
            b.param("template_version", &version);
            let sum = |c: &str| {
                rows.iter()
                    .map(|r| match r.get(c) {
                        Some(Cell::Number(v)) => *v,
                        _ => 0.0,
                    })
                    .sum::<f64>()
            };
            let n = rows.len() as f64;
            b.metric("generations", n);
            let projects: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| text(r, "project_id")).collect();
            b.metric("projects", projects.len() as f64);
            for c in ["files", "lines_generated", "lines_kept", "lines_removed", "lines_added"] {
                b.metric(&format!("{c}_sum"), sum(c));
            }
            let generated = sum("lines_generated");
            if generated > 0.0 {
                b.metric("rewrite_rate", sum("lines_removed") / generated);
            }
            let scores: Vec<f64> = rows
                .iter()
                .filter_map(|r| match r.get("diff_score") {
                    Some(Cell::Number(v)) if v.is_finite() => Some(*v),
                    _ => None,
                })
                .collect();
            if !scores.is_empty() {
                b.metric("diff_score_mean", scores.iter().sum::<f64>() / scores.len() as f64);
            }
            let flags: Vec<bool> = rows
                .iter()
                .filter_map(|r| match r.get("rewritten") {
                    Some(Cell::Flag(f)) => Some(*f),
                    _ => None,
                })
                .collect();
            if !flags.is_empty() {
                b.metric("rewritten_share", flags.iter().filter(|f| **f).count() as f64 / flags.len() as f64);
            }
            let parquet = crate::artifact::subset_parquet(table, &table.dir, &|row: &Row| {
                text(row, "template_id") == Some(template.as_str()) && text(row, "template_version") == Some(version.as_str())
            })?;
            specs.push(RunSpec {
                key: stable,
                name: format!("{template}@{version} {}", self.dt),
                start_time: midnight,
                batch: b.batch,
                artifact: Some(("generation_scores.parquet".to_owned(), parquet)),
            });
        }
        Ok(specs)
    }

    fn ab_runs(&self, table: &Table) -> Vec<RunSpec> {
        let midnight = midnight_ms(self.options.date);
        let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for row in &table.rows {
            if let Some(e) = text(row, "experiment_id") {
                groups.entry(e).or_default().push(row);
            }
        }
        groups
            .into_iter()
            .map(|(experiment, rows)| {
                let stable = stable_key(&["ab", experiment, &self.dt]);
                let mut b = Builder::new(midnight, &self.skipped);
                self.base_tags(&mut b, "ab_results", &stable);
                b.param("experiment_id", experiment);
                if let Some(t) = rows.first().and_then(|r| text(r, "template_id")) {
                    b.param("template_id", t);
                }
                for row in rows {
                    let prefix = format!(
                        "{}/{}/",
                        text(row, "metric").unwrap_or("metric"),
                        text(row, "treatment_variant").unwrap_or("treatment")
                    );
                    b.numbers(row, &prefix, &[]);
                    for (column, cell) in row {
                        if let Cell::Text(v) = cell
                            && !matches!(column.as_str(), "experiment_id" | "template_id" | "metric" | "treatment_variant")
                        {
                            b.tag(&format!("{prefix}{column}"), v);
                        }
                    }
                }
                RunSpec {
                    key: stable,
                    name: format!("{experiment} {}", self.dt),
                    start_time: midnight,
                    batch: b.batch,
                    artifact: None,
                }
            })
            .collect()
    }

    fn promotion_runs(&self, table: &Table) -> Vec<RunSpec> {
        let midnight = midnight_ms(self.options.date);
        table
            .rows
            .iter()
            .filter_map(|row| {
                let experiment = text(row, "experiment_id")?;
                let stable = stable_key(&["promotion", experiment, &self.dt]);
                let mut b = Builder::new(midnight, &self.skipped);
                self.base_tags(&mut b, "promotions", &stable);
                for (column, cell) in row {
                    if let Cell::Text(v) = cell {
                        // The evidence JSON can be long: a tag (8000 characters), not a param.
                        if column == "evidence" || column == "reason" {
                            b.tag(column, v);
                        } else {
                            b.param(column, v);
                        }
                    }
                }
                if let Some(evidence) = text(row, "evidence").and_then(|e| serde_json::from_str::<Value>(e).ok()) {
                    flatten(&evidence, "evidence", &mut b);
                }
                let artifact = text(row, "evidence").map(|e| ("evidence.json".to_owned(), e.as_bytes().to_vec()));
                Some(RunSpec {
                    key: stable,
                    name: format!("{experiment} {}", self.dt),
                    start_time: midnight,
                    batch: b.batch,
                    artifact,
                })
            })
            .collect()
    }

    fn gate_runs(&self, table: &Table) -> Vec<RunSpec> {
        let midnight = midnight_ms(self.options.date);
        let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for row in &table.rows {
            if let Some(build) = text(row, "run_id") {
                groups.entry(build).or_default().push(row);
            }
        }
        groups
            .into_iter()
            .map(|(build, rows)| {
                let stable = stable_key(&["gates", &self.dt, build]);
                let mut b = Builder::new(midnight, &self.skipped);
                self.base_tags(&mut b, "gate_results", &stable);
                b.param("build_id", build);
                if let Some(p) = rows.first().and_then(|r| text(r, "project_id")) {
                    b.param("project_id", p);
                }
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                let mut blocking_failures = 0u64;
                for row in &rows {
                    let gate = text(row, "gate_id").unwrap_or("gate");
                    let status = text(row, "status").unwrap_or("missing");
                    *counts.entry(status.to_owned()).or_default() += 1;
                    // evaluate-gates decided whether the row failed the run (a blocking
                    // gate that failed, or whose report is missing under policy `fail`).
                    if matches!(row.get("blocks_run"), Some(Cell::Flag(true))) {
                        blocking_failures += 1;
                    }
                    b.numbers(row, &format!("gate/{gate}/"), &[]);
                    let passed = status == GateStatus::Pass.as_str();
                    b.metric(&format!("gate/{gate}/passed"), if passed { 1.0 } else { 0.0 });
                    for (column, cell) in *row {
                        if let Cell::Text(v) = cell
                            && !matches!(column.as_str(), "run_id" | "project_id" | "gate_id")
                        {
                            b.tag(&format!("gate/{gate}/{column}"), v);
                        }
                    }
                }
                b.metric("gates", rows.len() as f64);
                for status in GateStatus::ALL.map(GateStatus::as_str) {
                    b.metric(&format!("gates_{status}"), counts.get(status).copied().unwrap_or(0) as f64);
                }
                b.metric("blocking_failures", blocking_failures as f64);
                b.tag("hive.gate_status", if blocking_failures > 0 { "fail" } else { "pass" });
                RunSpec {
                    key: stable,
                    name: build.to_owned(),
                    start_time: midnight,
                    batch: b.batch,
                    artifact: None,
                }
            })
            .collect()
    }

    fn finetune_run(&self, manifest: &Value, raw: Vec<u8>) -> RunSpec {
        let midnight = midnight_ms(self.options.date);
        let stable = stable_key(&["finetune", &self.dt]);
        let mut b = Builder::new(midnight, &self.skipped);
        self.base_tags(&mut b, "finetune", &stable);
        flatten(manifest, "", &mut b);
        RunSpec {
            key: stable,
            name: format!("finetune {}", self.dt),
            start_time: midnight,
            batch: b.batch,
            artifact: Some(("manifest.json".to_owned(), raw)),
        }
    }

    /// Publishes `specs` into experiment `name`; returns counts and every run's info by key.
    fn publish(&self, name: &str, rows: usize, specs: Vec<RunSpec>) -> Result<(TableSummary, HashMap<String, RunInfo>), MlflowError> {
        let experiment = self.client.ensure_experiment(name, &[Tag::new("hive.source", "mlflow-sync")])?;
        let id = experiment.experiment_id.clone();
        let filter = format!("tags.`{DATE_TAG}` = '{}'", self.dt);
        let mut existing: HashMap<String, crate::client::Run> = HashMap::new();
        for run in self.client.search_runs(&[&id], &filter)? {
            let Some(k) = run.tag(KEY_TAG).map(str::to_owned) else { continue };
            let finished = |r: &crate::client::Run| r.info.status.as_deref() == Some("FINISHED");
            match existing.get(&k) {
                Some(old) if finished(old) || !finished(&run) => {
                    tracing::warn!(key = %k, run = %run.info.run_id, "a second run carries this key; keeping the first");
                }
                _ => {
                    existing.insert(k, run);
                }
            }
        }
        let mut summary = TableSummary {
            experiment: name.to_owned(),
            rows: rows as u64,
            runs: specs.len() as u64,
            ..TableSummary::default()
        };
        let mut infos: HashMap<String, RunInfo> = existing.iter().map(|(k, r)| (k.clone(), r.info.clone())).collect();
        let mut todo = Vec::new();
        for spec in specs {
            match existing.get(&spec.key) {
                Some(r) if r.info.status.as_deref() == Some("FINISHED") => summary.already_synced += 1,
                Some(r) => todo.push((spec, Some(r.info.clone()))),
                None => todo.push((spec, None)),
            }
        }
        tracing::info!(experiment = name, runs = summary.runs, to_publish = todo.len(), "publishing");
        let next = AtomicUsize::new(0);
        let done = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let failure: Mutex<Option<MlflowError>> = Mutex::new(None);
        let results: Mutex<Vec<(String, RunInfo, bool)>> = Mutex::new(Vec::new());
        let started = Instant::now();
        let workers = self.options.concurrency.clamp(1, todo.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((spec, previous)) = todo.get(i) else { break };
                        match self.publish_one(&id, spec, previous.as_ref()) {
                            Ok(info) => {
                                if let Ok(mut r) = results.lock() {
                                    r.push((spec.key.clone(), info, previous.is_some()));
                                }
                                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                                if n.is_multiple_of(500) {
                                    let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
                                    tracing::info!(
                                        experiment = name,
                                        published = n,
                                        of = todo.len(),
                                        runs_per_second = format!("{rate:.1}"),
                                        "progress"
                                    );
                                }
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                if let Ok(mut f) = failure.lock()
                                    && f.is_none()
                                {
                                    *f = Some(e);
                                }
                            }
                        }
                    }
                });
            }
        });
        for (k, info, resumed) in results.into_inner().unwrap_or_default() {
            if resumed {
                summary.resumed += 1;
            } else {
                summary.created += 1;
            }
            infos.insert(k, info);
        }
        if let Some(e) = failure.into_inner().ok().flatten() {
            tracing::error!(
                experiment = name,
                published = summary.created + summary.resumed,
                left = todo.len() as u64 - summary.created - summary.resumed,
                "stopping: the rest is left for the next attempt"
            );
            return Err(e);
        }
        Ok((summary, infos))
    }

    /// Create (exactly once) or resume, log, upload, finish.
    fn publish_one(&self, experiment_id: &str, spec: &RunSpec, previous: Option<&RunInfo>) -> Result<RunInfo, MlflowError> {
        let info = if let Some(info) = previous {
            info.clone()
        } else {
            // The key tags go with the create, so an interrupted run is found next time.
            let key_tags: Vec<Tag> = spec
                .batch
                .tags
                .iter()
                .filter(|t| t.key == KEY_TAG || t.key == DATE_TAG || t.key == TABLE_TAG)
                .cloned()
                .collect();
            self.create_exactly_once(experiment_id, spec, &key_tags)?
        };
        self.client.log_batch(&info.run_id, &spec.batch)?;
        if let Some((path, bytes)) = &spec.artifact {
            self.client.upload_artifact(&info, path, bytes)?;
        }
        self.client.update_run(&info.run_id, "FINISHED", Some(now_ms()))?;
        Ok(info)
    }

    fn find_run(&self, experiment_id: &str, stable: &str) -> Result<Option<RunInfo>, MlflowError> {
        let filter = format!("tags.`{KEY_TAG}` = '{stable}'");
        Ok(self
            .client
            .search_runs(&[experiment_id], &filter)?
            .into_iter()
            .next()
            .map(|r| r.info))
    }

    fn create_exactly_once(&self, experiment_id: &str, spec: &RunSpec, tags: &[Tag]) -> Result<RunInfo, MlflowError> {
        let attempts = self.client.max_attempts();
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                self.client.backoff(attempt - 1);
                // The failed attempt may have been committed before its answer was lost.
                if let Some(info) = self.find_run(experiment_id, &spec.key)? {
                    return Ok(info);
                }
            }
            match self
                .client
                .create_run(experiment_id, &spec.name, spec.start_time, tags, Retry::Once)
            {
                Ok(info) => return Ok(info),
                Err(e) if e.is_transient() => last = e.to_string(),
                Err(e) => return Err(e),
            }
        }
        Err(MlflowError::Unavailable {
            endpoint: "api/2.0/mlflow/runs/create".into(),
            base: self.client.base().to_owned(),
            attempts,
            last,
        })
    }

    /// Registers each promoted template version once and moves the `champion` alias to it
    /// on the night the promotion was decided.
    ///
    /// promote-templates repeats a `promote` every night after it was taken (`decided_on`
    /// names that night). The model version is keyed by the template version, so the
    /// repetitions find it; the alias moves only when the row's `decided_on` is the date
    /// being synced (rows from before schema 3 have no `decided_on`: the date itself), so
    /// a manual rollback ([`rollback`]) is not undone by the next night's sync.
    fn register(&self, table: &Table, runs: &HashMap<String, RunInfo>, summary: &mut SyncSummary) -> Result<(), MlflowError> {
        for row in &table.rows {
            let (Some(experiment), Some(template), Some("promote"), Some(version)) = (
                text(row, "experiment_id"),
                text(row, "template_id"),
                text(row, "decision"),
                text(row, "winner_version"),
            ) else {
                continue;
            };
            let decided_on = text(row, "decided_on").unwrap_or(self.dt.as_str()).to_owned();
            let stable = stable_key(&["promotion", experiment, &self.dt]);
            let Some(run) = runs.get(&stable) else { continue };
            let model = model_name(&self.options.name_prefix, template);
            self.client
                .ensure_registered_model(&model, &[Tag::new("template_id", template), Tag::new("hive.source", "mlflow-sync")])?;
            let version_key = stable_key(&["template-version", template, version]);
            let find = |versions: Vec<crate::client::ModelVersion>| {
                versions
                    .into_iter()
                    .find(|v| v.tag(KEY_TAG) == Some(version_key.as_str()) || v.tag("template_version") == Some(version))
            };
            let registered = if let Some(v) = find(self.client.model_versions(&model)?) {
                summary.model_versions_existing += 1;
                v
            } else {
                let mut tags = vec![
                    Tag::new(KEY_TAG, version_key.clone()),
                    Tag::new(DATE_TAG, decided_on.clone()),
                    Tag::new("template_id", template),
                    Tag::new("template_version", version),
                    Tag::new("experiment_id", experiment),
                ];
                if let Some(variant) = text(row, "winner_variant") {
                    tags.push(Tag::new("variant", variant));
                }
                let source = run.artifact_uri.clone().unwrap_or_else(|| format!("runs:/{}", run.run_id));
                let description = truncate(text(row, "reason").unwrap_or_default(), 4000);
                let mut created = None;
                let mut last = String::new();
                for attempt in 0..self.client.max_attempts() {
                    if attempt > 0 {
                        self.client.backoff(attempt - 1);
                        if let Some(v) = find(self.client.model_versions(&model)?) {
                            created = Some(v);
                            break;
                        }
                    }
                    match self
                        .client
                        .create_model_version(&model, &source, Some(&run.run_id), &tags, &description, Retry::Once)
                    {
                        Ok(v) => {
                            created = Some(v);
                            break;
                        }
                        Err(e) if e.is_transient() => last = e.to_string(),
                        Err(e) => return Err(e),
                    }
                }
                let v = created.ok_or_else(|| MlflowError::Unavailable {
                    endpoint: "api/2.0/mlflow/model-versions/create".into(),
                    base: self.client.base().to_owned(),
                    attempts: self.client.max_attempts(),
                    last,
                })?;
                summary.model_versions_created += 1;
                v
            };
            if decided_on != self.dt {
                tracing::debug!(
                    model,
                    decided_on,
                    "promotion decided on an earlier night: the alias is not moved again"
                );
                continue;
            }
            // A backfill of an older date must not take the alias back from a later winner.
            let current = self.client.alias(&model, CHAMPION)?;
            match current {
                Some(c) if c.version == registered.version => {}
                Some(c) if c.tag(DATE_TAG).is_some_and(|d| d > self.dt.as_str()) => {
                    tracing::info!(model, alias = CHAMPION, held_by = %c.version, "a later promotion holds the alias; not moved");
                }
                _ => {
                    self.client.set_alias(&model, CHAMPION, &registered.version)?;
                    summary.aliases_moved += 1;
                    tracing::info!(model, alias = CHAMPION, version = %registered.version, template_version = version, "alias moved");
                }
            }
        }
        Ok(())
    }
}

/// The registered model of a template: `<prefix>.<template_id>`, other characters than
/// letters, digits, `_`, `-` and `.` replaced by `_`.
pub fn model_name(prefix: &str, template_id: &str) -> String {
    format!("{prefix}.{template_id}")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What [`rollback`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    pub model: String,
    /// Model version the alias pointed at before (none: it was unset).
    pub from_version: Option<String>,
    /// Model version it points at now.
    pub to_version: String,
    pub template_version: String,
}

impl hive_core::summary::JobSummary for Rollback {
    fn exit_status(&self) -> hive_core::ExitStatus {
        hive_core::ExitStatus::Success
    }
}

/// Moves `champion` of `template_id`'s model back to the model version registered for
/// `template_version` (a template version promoted earlier). The manual undo of a
/// promotion: the
/// nightly sync does not move the alias again for a promotion decided on an earlier
/// night, so the rollback holds until a new promotion is decided.
pub fn rollback(client: &Client, name_prefix: &str, template_id: &str, template_version: &str) -> Result<Rollback, MlflowError> {
    let model = model_name(name_prefix, template_id);
    let target = client
        .model_versions(&model)?
        .into_iter()
        .find(|v| v.tag("template_version") == Some(template_version))
        .ok_or_else(|| MlflowError::NotRegistered {
            model: model.clone(),
            template_version: template_version.to_owned(),
        })?;
    let from_version = client.alias(&model, CHAMPION)?.map(|c| c.version);
    if from_version.as_deref() != Some(target.version.as_str()) {
        client.set_alias(&model, CHAMPION, &target.version)?;
        tracing::info!(model, alias = CHAMPION, from = ?from_version, to = %target.version, template_version, "alias rolled back");
    }
    Ok(Rollback {
        model,
        from_version,
        to_version: target.version,
        template_version: template_version.to_owned(),
    })
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
