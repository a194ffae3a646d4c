//! `promote-templates`: turns a night's `ab_results` into one decision per experiment:
//! promote a winner, continue collecting, or stop with a reason. Every decision carries
//! the figures its rules were checked against, so a reviewer can redo it by hand.
//!
//! Rules, in order (docs/ab-significance.md):
//! 1. a sample-ratio mismatch stops the experiment (its comparison cannot be trusted);
//! 2. before the minimum runtime or the minimum projects per variant: continue;
//! 3. a treatment whose guardrail `fail`s is out; if every treatment is out: stop;
//! 4. a treatment wins when the primary metric's always-valid interval excludes zero in
//!    the good direction and all its guardrails `pass`; the best such treatment is
//!    promoted;
//! 5. after the experiment's end with no winner: stop; otherwise continue.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use serde::Serialize;
use serde_json::json;

use hive_core::lake::{PartWriter, committed_parts};
use hive_core::schema::{AB_RESULTS, promotions_spec};
use hive_core::{CoreError, PartitionDate, Shard};

use crate::config::{Experiment, ExperimentsConfig};
use crate::output::{StoredRow, read_rows};

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Promote,
    Continue,
    Stop,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::Continue => "continue",
            Self::Stop => "stop",
        }
    }
}

/// One `promotions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub experiment_id: String,
    pub template_id: String,
    pub decision: Decision,
    pub winner_variant: Option<String>,
    pub winner_version: Option<String>,
    pub control_version: String,
    pub reason: String,
    pub evidence: serde_json::Value,
}

/// Whether `row` shows the treatment better than the control on the sequential interval.
fn wins(row: &StoredRow) -> bool {
    match (row.direction.as_str(), row.seq_ci_low, row.seq_ci_high) {
        ("lower_is_better", _, Some(high)) => high < 0.0,
        ("higher_is_better", Some(low), _) => low > 0.0,
        _ => false,
    }
}

/// Whether `row` shows the treatment worse than the control on the sequential interval.
fn loses(row: &StoredRow) -> bool {
    match (row.direction.as_str(), row.seq_ci_low, row.seq_ci_high) {
        ("lower_is_better", Some(low), _) => low > 0.0,
        ("higher_is_better", _, Some(high)) => high < 0.0,
        _ => false,
    }
}

fn evidence(experiment: &Experiment, rows: &[&StoredRow]) -> serde_json::Value {
    let mut treatments = BTreeMap::new();
    for r in rows {
        let entry = treatments
            .entry(r.treatment_variant.clone())
            .or_insert_with(|| json!({"version": r.treatment_version, "units": r.units_treatment}));
        entry[r.metric.as_str()] = json!({
            "role": r.metric_role,
            "estimate": r.estimate,
            "relative_lift": r.relative_lift,
            "seq_ci": [r.seq_ci_low, r.seq_ci_high],
            "seq_p_value": r.seq_p_value,
            "p_value": r.p_value,
            "chance_to_win": r.chance_to_win,
            "guardrail_margin": r.guardrail_margin,
            "guardrail_status": r.guardrail_status,
            "note": r.note,
        });
    }
    let first = rows.first();
    json!({
        "days_running": first.map(|r| r.days_running),
        "min_runtime_days": experiment.min_runtime_days,
        "units_control": first.map(|r| r.units_control),
        "min_units_per_variant": experiment.min_units_per_variant,
        "srm_p_value": first.and_then(|r| r.srm_p_value),
        "routing_mismatches": first.map(|r| r.routing_mismatches),
        "primary_metric": experiment.primary_metric.as_str(),
        "treatments": treatments,
    })
}

/// Rules 1 and 2: a broken split stops; too early or too small continues.
fn not_ready(experiment: &Experiment, rows: &[&StoredRow]) -> Option<(Decision, String)> {
    let first = rows.first()?;
    if first.srm_flag {
        return Some((
            Decision::Stop,
            format!(
                "sample ratio mismatch (p = {:.2e}): the split is broken; investigate routing before trusting any result",
                first.srm_p_value.unwrap_or(f64::NAN)
            ),
        ));
    }
    if first.days_running < i64::from(experiment.min_runtime_days) {
        return Some((
            Decision::Continue,
            format!("day {} of a minimum {}", first.days_running, experiment.min_runtime_days),
        ));
    }
    let fewest = rows.iter().map(|r| r.units_control.min(r.units_treatment)).min().unwrap_or(0);
    if fewest < experiment.min_units_per_variant as i64 {
        return Some((
            Decision::Continue,
            format!("{fewest} projects in the smallest arm, {} needed", experiment.min_units_per_variant),
        ));
    }
    None
}

/// Decides one experiment from its rows of the night (none: not analysed).
#[allow(
    clippy::too_many_lines,
    reason = "the rules in the order docs/ab-significance.md lists them, read top to bottom"
)]
pub fn decide(experiment: &Experiment, date: PartitionDate, rows: &[&StoredRow]) -> Option<Promotion> {
    rows.first()?;
    let mut promotion = Promotion {
        experiment_id: experiment.id.clone(),
        template_id: experiment.template_id.clone(),
        decision: Decision::Continue,
        winner_variant: None,
        winner_version: None,
        control_version: experiment.control_variant().version.clone(),
        reason: String::new(),
        evidence: evidence(experiment, rows),
    };
    let decided = |mut p: Promotion, decision: Decision, reason: String| {
        p.decision = decision;
        p.reason = reason;
        Some(p)
    };
    if let Some((decision, reason)) = not_ready(experiment, rows) {
        return decided(promotion, decision, reason);
    }
    let primary = experiment.primary_metric.as_str();
    let mut treatments: Vec<&str> = rows.iter().map(|r| r.treatment_variant.as_str()).collect();
    treatments.dedup();
    let mut candidates: Vec<(&str, f64, &StoredRow)> = Vec::new();
    let mut failed = Vec::new();
    let mut unproven_guardrails = Vec::new();
    let mut worse = 0;
    for t in &treatments {
        let guardrails: Vec<&&StoredRow> = rows
            .iter()
            .filter(|r| r.treatment_variant == *t && r.metric_role == "guardrail")
            .collect();
        if guardrails.iter().any(|r| r.guardrail_status.as_deref() == Some("fail")) {
            failed.push(*t);
            continue;
        }
        let Some(p) = rows.iter().find(|r| r.treatment_variant == *t && r.metric == primary) else {
            continue;
        };
        worse += usize::from(loses(p));
        let guardrails_pass = guardrails.iter().all(|r| r.guardrail_status.as_deref() == Some("pass"));
        if wins(p) && !guardrails_pass {
            unproven_guardrails.push(*t);
        }
        if wins(p) && guardrails_pass {
            let gain = if p.direction == "lower_is_better" {
                -p.estimate.unwrap_or(0.0)
            } else {
                p.estimate.unwrap_or(0.0)
            };
            candidates.push((t, gain, p));
        }
    }
    if let Some((winner, _, row)) = candidates.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        promotion.winner_variant = Some((*winner).to_owned());
        promotion.winner_version = Some(row.treatment_version.clone());
        let reason = format!(
            "`{winner}` (v{}) beats the control on {primary}: lift {:+.4} ({:+.1}%), always-valid interval [{:.4}, {:.4}], guardrails pass",
            row.treatment_version,
            row.estimate.unwrap_or(f64::NAN),
            100.0 * row.relative_lift.unwrap_or(f64::NAN),
            row.seq_ci_low.unwrap_or(f64::NAN),
            row.seq_ci_high.unwrap_or(f64::NAN)
        );
        return decided(promotion, Decision::Promote, reason);
    }
    if !failed.is_empty() && failed.len() == treatments.len() {
        return decided(
            promotion,
            Decision::Stop,
            format!("every treatment fails a guardrail: {}", failed.join(", ")),
        );
    }
    if worse + failed.len() == treatments.len() {
        return decided(
            promotion,
            Decision::Stop,
            format!("every treatment is worse than the control on {primary} or fails a guardrail"),
        );
    }
    if date >= experiment.end && !unproven_guardrails.is_empty() {
        return decided(
            promotion,
            Decision::Stop,
            format!(
                "ended on {}: {} beat the control on {primary} but a guardrail was not shown within its margin",
                experiment.end,
                unproven_guardrails.join(", ")
            ),
        );
    }
    if date >= experiment.end {
        return decided(
            promotion,
            Decision::Stop,
            format!("ended on {} without a treatment shown better on {primary}", experiment.end),
        );
    }
    let failed_note = if failed.is_empty() {
        String::new()
    } else {
        format!("; out for failing a guardrail: {}", failed.join(", "))
    };
    decided(
        promotion,
        Decision::Continue,
        format!("no treatment is yet shown better on {primary} with its guardrails passing{failed_note}"),
    )
}

/// Summary line of `promote-templates`.
#[derive(Debug, Clone, Serialize)]
pub struct PromoteSummary {
    pub job: &'static str,
    pub date: String,
    pub status: crate::RunStatus,
    pub decisions: BTreeMap<String, Decision>,
    pub outputs: BTreeMap<&'static str, std::path::PathBuf>,
}

impl hive_core::summary::JobSummary for PromoteSummary {
    fn exit_status(&self) -> hive_core::ExitStatus {
        self.status.exit_status()
    }
}

/// Reads `ab_results/dt=D/`, decides, writes `promotions/dt=D/`.
pub fn run(root: &Path, date: PartitionDate, config: &ExperimentsConfig) -> Result<PromoteSummary, crate::AbError> {
    let mut summary = PromoteSummary {
        job: "promote-templates",
        date: date.to_string(),
        status: crate::RunStatus::NothingToProcess,
        decisions: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    if !hive_core::lake::partition_dir(root, AB_RESULTS, date).exists() {
        tracing::warn!(%date, "no `ab_results` partition: nothing to decide");
        return Ok(summary);
    }
    let mut rows = Vec::new();
    for part in committed_parts(root, AB_RESULTS, date)? {
        rows.extend(read_rows(&part)?);
    }
    let mut promotions = Vec::new();
    for experiment in &config.experiments {
        let mine: Vec<&StoredRow> = rows.iter().filter(|r| r.experiment_id == experiment.id).collect();
        if let Some(p) = decide(experiment, date, &mine) {
            summary.decisions.insert(p.experiment_id.clone(), p.decision);
            promotions.push(p);
        }
    }
    let mut part = PartWriter::create(root, promotions_spec(), date, Shard::ALL)?;
    let text = |f: &dyn Fn(&Promotion) -> Option<String>| -> ArrayRef { Arc::new(promotions.iter().map(f).collect::<StringArray>()) };
    let columns = vec![
        text(&|p| Some(p.experiment_id.clone())),
        text(&|p| Some(p.template_id.clone())),
        text(&|p| Some(p.decision.as_str().to_owned())),
        text(&|p| p.winner_variant.clone()),
        text(&|p| p.winner_version.clone()),
        text(&|p| Some(p.control_version.clone())),
        text(&|p| Some(p.reason.clone())),
        text(&|p| Some(p.evidence.to_string())),
    ];
    let batch = RecordBatch::try_new(part.schema(), columns).map_err(|source| CoreError::Arrow {
        path: "promotions".into(),
        source,
    })?;
    part.write(&batch)?;
    summary.outputs.insert("promotions", part.commit()?.path);
    summary.status = crate::RunStatus::Success;
    Ok(summary)
}
