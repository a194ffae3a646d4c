//! How each table maps to MLflow runs: one run per generation (or per template version
//! and variant, aggregated), per experiment and metric, per promotion decision, per
//! quality-gate evaluation, and one per fine-tuning dataset. Pure: builds `RunSpec`s,
//! sends nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use hive_core::schema::gates::GateStatus;

use super::{Builder, RunSpec, Sync, flatten, midnight_ms, stable_key};
use crate::error::MlflowError;
use crate::tables::{Cell, Row, Table, text};

impl Sync<'_> {
    pub(super) fn generation_runs(&self, table: &Table) -> Vec<RunSpec> {
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

    pub(super) fn aggregated_runs(&self, table: &Table) -> Result<Vec<RunSpec>, MlflowError> {
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

    pub(super) fn ab_runs(&self, table: &Table) -> Vec<RunSpec> {
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

    pub(super) fn promotion_runs(&self, table: &Table) -> Vec<RunSpec> {
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

    pub(super) fn gate_runs(&self, table: &Table) -> Vec<RunSpec> {
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

    pub(super) fn finetune_run(&self, manifest: &Value, raw: Vec<u8>) -> RunSpec {
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
}
