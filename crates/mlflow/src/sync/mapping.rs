//! How each table maps to MLflow runs: one run per generation (or per template version
//! and variant, aggregated), per experiment and metric, per promotion decision, per
//! quality-gate evaluation, and one per fine-tuning dataset. Pure: builds `RunSpec`s,
//! sends nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use hive_core::schema::gates::GateStatus;

use super::{Builder, RunSpec, Sync, flatten, flatten_params, midnight_ms, stable_key};
use crate::client::DatasetInput;
use crate::error::MlflowError;
use crate::lineage::LakeDataset;
use crate::tables::{Cell, Row, Table, text};

impl Sync<'_> {
    pub(super) fn generation_runs(&self, table: &Table, inputs: &Arc<Vec<DatasetInput>>) -> Vec<RunSpec> {
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
                if matches!(row.get("generated_at"), Some(Cell::Instant(_))) {
                    b.param("generated_at", &iso_millis(at));
                }
                b.numbers(row, "", &[]);
                Some(RunSpec {
                    key: stable,
                    name: event.to_owned(),
                    batch: b.batch,
                    artifact: None,
                    inputs: Arc::clone(inputs),
                })
            })
            .collect()
    }

    pub(super) fn aggregated_runs(&self, table: &Table, inputs: &Arc<Vec<DatasetInput>>) -> Result<Vec<RunSpec>, MlflowError> {
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
                batch: b.batch,
                artifact: Some(("generation_scores.parquet".to_owned(), parquet)),
                inputs: Arc::clone(inputs),
            });
        }
        Ok(specs)
    }

    /// The night's experiment report page (`reports/ab-significance/dt=D/report.html`,
    /// self-contained), when ab-significance wrote one: each experiment's run carries it,
    /// so the decision's page opens from the run in MLflow's UI. A path that is there but
    /// is not a regular file (a symlink) is refused, as every input of the lake is.
    fn report_page(&self) -> Result<Option<Vec<u8>>, MlflowError> {
        let path = hive_core::lake::Target::unchecked(&self.options.data_root, self.options.date, hive_core::Shard::ALL)
            .report_dir("ab-significance")
            .join("report.html");
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(hive_core::CoreError::io(&path, e).into()),
            Ok(meta) if !meta.is_file() => Err(MlflowError::BadInput {
                path,
                reason: "is not a regular file (symlinks are refused)".to_owned(),
            }),
            Ok(_) => std::fs::read(&path)
                .map(Some)
                .map_err(|e| hive_core::CoreError::io(&path, e).into()),
        }
    }

    pub(super) fn ab_runs(&self, table: &Table, inputs: &Arc<Vec<DatasetInput>>) -> Result<Vec<RunSpec>, MlflowError> {
        let report = self.report_page()?;
        let midnight = midnight_ms(self.options.date);
        let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for row in &table.rows {
            if let Some(e) = text(row, "experiment_id") {
                groups.entry(e).or_default().push(row);
            }
        }
        Ok(groups
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
                    batch: b.batch,
                    artifact: report.clone().map(|page| ("report.html".to_owned(), page)),
                    inputs: Arc::clone(inputs),
                }
            })
            .collect())
    }

    /// One run per decision. Its inputs: the `promotions` partition it mirrors, and the
    /// `ab_results` nights of its experiment through the date (the ledger promote-templates
    /// folded into the decision).
    pub(super) fn promotion_runs(&self, table: &Table) -> Result<Vec<RunSpec>, MlflowError> {
        let midnight = midnight_ms(self.options.date);
        let root = &self.options.data_root;
        let own = crate::lineage::partition_dataset(root, "promotions", self.options.date)?;
        let mut ab_cache: BTreeMap<hive_core::PartitionDate, Option<LakeDataset>> = BTreeMap::new();
        let mut specs = Vec::new();
        for row in &table.rows {
            let Some(experiment) = text(row, "experiment_id") else { continue };
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
            let mut inputs: Vec<DatasetInput> = own.iter().map(|d| d.input(crate::lineage::CONTEXT_SOURCE)).collect();
            for night in crate::lineage::ab_nights(root, experiment, self.options.date)? {
                let dataset = match ab_cache.entry(night) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(crate::lineage::partition_dataset(root, hive_core::schema::AB_RESULTS, night)?)
                    }
                };
                if let Some(d) = dataset {
                    inputs.push(d.input(crate::lineage::CONTEXT_DECISION));
                }
            }
            let artifact = text(row, "evidence").map(|e| ("evidence.json".to_owned(), e.as_bytes().to_vec()));
            specs.push(RunSpec {
                key: stable,
                name: format!("{experiment} {}", self.dt),
                batch: b.batch,
                artifact,
                inputs: Arc::new(inputs),
            });
        }
        Ok(specs)
    }

    pub(super) fn gate_runs(&self, table: &Table, inputs: &Arc<Vec<DatasetInput>>) -> Vec<RunSpec> {
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
                    // The gate's configuration is a param; what the build measured is a metric,
                    // its outcome a tag.
                    for (column, cell) in *row {
                        let name = format!("gate/{gate}/{column}");
                        let config = GATE_CONFIG_COLUMNS.contains(&column.as_str());
                        match cell {
                            Cell::Text(v) if config => b.param(&name, v),
                            Cell::Number(v) if config => b.param(&name, &v.to_string()),
                            Cell::Flag(f) if config => b.param(&name, if *f { "true" } else { "false" }),
                            Cell::Number(v) => b.metric(&name, *v),
                            Cell::Flag(f) => b.metric(&name, f64::from(u8::from(*f))),
                            Cell::Text(v) if !matches!(column.as_str(), "run_id" | "project_id" | "gate_id") => b.tag(&name, v),
                            _ => {}
                        }
                    }
                    let passed = status == GateStatus::Pass.as_str();
                    b.metric(&format!("gate/{gate}/passed"), if passed { 1.0 } else { 0.0 });
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
                    batch: b.batch,
                    artifact: None,
                    inputs: Arc::clone(inputs),
                }
            })
            .collect()
    }

    /// The fine-tuning dataset's run: its recipe (`config.*`) and identity (`dataset`,
    /// `format_version`, `digest`, `date`, `days`) as params, its counts as metrics, other
    /// strings as tags, the manifest as an artifact, and the dataset itself as the run's
    /// input, under the name and digest the trainer logs.
    pub(super) fn finetune_run(&self, manifest: &Value, raw: Vec<u8>, dataset: &LakeDataset) -> RunSpec {
        let midnight = midnight_ms(self.options.date);
        let stable = stable_key(&["finetune", &self.dt]);
        let mut b = Builder::new(midnight, &self.skipped);
        self.base_tags(&mut b, "finetune", &stable);
        if let Value::Object(map) = manifest {
            for (k, v) in map {
                if k == "config" {
                    flatten_params(v, "config", &mut b);
                } else if FINETUNE_IDENTITY_KEYS.contains(&k.as_str()) {
                    flatten_params(v, k, &mut b);
                } else {
                    flatten(v, k, &mut b);
                }
            }
        }
        RunSpec {
            key: stable,
            name: format!("finetune {}", self.dt),
            batch: b.batch,
            artifact: Some(("manifest.json".to_owned(), raw)),
            inputs: Arc::new(vec![dataset.input(crate::lineage::CONTEXT_SOURCE)]),
        }
    }
}

/// Columns of `gate_results` that are the gate's configuration (params), not its outcome.
const GATE_CONFIG_COLUMNS: [&str; 6] = ["test_type", "metric", "operator", "threshold", "blocking", "on_missing"];

/// Top-level keys of the fine-tune manifest that identify the dataset (params).
const FINETUNE_IDENTITY_KEYS: [&str; 5] = ["dataset", "format_version", "digest", "date", "days"];

/// `ms` since the epoch as RFC 3339 with milliseconds, UTC.
fn iso_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}
