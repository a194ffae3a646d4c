//! `promote-templates`: turns the nights' `ab_results` into one decision per experiment:
//! promote a winner, continue collecting, or stop with a reason. Every decision carries
//! the figures its rules were checked against, so a reviewer can redo it by hand.
//!
//! Decisions are a ledger: the decision for night `D` is a fold over the experiment's
//! `ab_results` nights from its start through `D`, in date order, and `promote` and
//! `stop` are terminal (repeated every later night with the night they were taken,
//! `decided_on`). The ledger reads only `ab_results`, never earlier `promotions`, so a
//! rerun or backfill of any night, or of the whole range in any order, gives the same
//! decisions. Rules, in order (docs/ab-significance.md):
//!
//! 1. a sample-ratio mismatch stops the experiment (its comparison cannot be trusted);
//! 2. before the minimum runtime, or while an arm has fewer projects than
//!    `max(min_units_per_variant, SEQUENTIAL_MIN_UNITS_PER_ARM)`: continue, and the
//!    night does not enter the ledger;
//! 3. each night that enters updates, per treatment, the running intersection of the
//!    primary metric's confidence sequence (its smallest always-valid p-value on each
//!    side) and, per guardrail, the smallest p-value of "worse by exactly the margin" on
//!    each side. The running intersection is as valid under peeking as the sequence;
//! 4. Holm across treatments on the primary's running p-values: a treatment is shown
//!    better (or worse) when its adjusted p-value is at most alpha on that side. A
//!    guardrail `fail`s when its Holm-adjusted p-value (across every treatment and
//!    guardrail) on the worse side is at most alpha, and `pass`es at alpha on the other
//!    side (promotion needs every guardrail to pass: an intersection-union test, level
//!    alpha without adjustment). A guardrail whose latest night is `not_judged` blocks
//!    promotion and the reason says so;
//! 5. the best treatment shown better with every guardrail passing and none failing is
//!    promoted; if every treatment is worse or fails a guardrail: stop;
//! 6. once `end + window_days` has passed (every generation of the experiment is scored)
//!    with no winner: stop; otherwise continue.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use serde::Serialize;
use serde_json::json;

use hive_core::lake::{PartWriter, committed_parts, partition_dir};
use hive_core::schema::{AB_RESULTS, promotions_spec};
use hive_core::{CoreError, PartitionDate, Shard};

use crate::analysis::{NOT_JUDGED, SEQUENTIAL_MIN_UNITS_PER_ARM};
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

    /// Whether the decision ends the experiment.
    pub fn is_terminal(self) -> bool {
        self != Self::Continue
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
    /// Night a terminal decision was taken.
    pub decided_on: Option<PartitionDate>,
}

/// The smallest always-valid p-value seen on each side of a null.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sides {
    /// Estimates on the good side of the null (better than the control / within the
    /// guardrail's margin).
    good: f64,
    /// Estimates on the bad side.
    bad: f64,
}

impl Default for Sides {
    fn default() -> Self {
        Self { good: 1.0, bad: 1.0 }
    }
}

impl Sides {
    fn update(&mut self, p: f64, good_side: bool) {
        let side = if good_side { &mut self.good } else { &mut self.bad };
        *side = side.min(p);
    }
}

/// What the ledger remembers of one treatment.
#[derive(Debug, Clone, Default)]
struct TreatmentState {
    primary: Sides,
    /// Running intersection of the primary's confidence sequence.
    running_low: Option<f64>,
    running_high: Option<f64>,
    guardrails: BTreeMap<String, Sides>,
}

/// The ledger of one experiment.
#[derive(Debug, Clone, Default)]
struct Ledger {
    treatments: BTreeMap<String, TreatmentState>,
    nights_counted: u32,
    decided: Option<Promotion>,
}

fn lower_is_better(row: &StoredRow) -> bool {
    row.direction == "lower_is_better"
}

impl Ledger {
    /// Adds a night that passed the readiness rules.
    fn record(&mut self, experiment: &Experiment, rows: &[&StoredRow]) {
        self.nights_counted += 1;
        let primary = experiment.primary_metric.as_str();
        for r in rows {
            let state = self.treatments.entry(r.treatment_variant.clone()).or_default();
            if r.metric == primary {
                if let (Some(p), Some(estimate)) = (r.seq_p_value, r.estimate) {
                    state.primary.update(p, (estimate < 0.0) == lower_is_better(r));
                }
                if let (Some(low), Some(high)) = (r.seq_ci_low, r.seq_ci_high) {
                    state.running_low = Some(state.running_low.map_or(low, |l: f64| l.max(low)));
                    state.running_high = Some(state.running_high.map_or(high, |h: f64| h.min(high)));
                }
            } else if r.metric_role == "guardrail" {
                let sides = state.guardrails.entry(r.metric.clone()).or_default();
                if let (Some(p), Some(lift), Some(margin)) = (r.guardrail_seq_p_value, r.relative_lift, r.guardrail_margin) {
                    let worse_by = if lower_is_better(r) { lift } else { -lift };
                    sides.update(p, worse_by < margin);
                }
            }
        }
    }
}

/// Holm-adjusted p-values in input order (a family of one is itself).
fn holm(p: &[f64]) -> Vec<f64> {
    if p.is_empty() {
        return Vec::new();
    }
    hive_stats::multiple::holm(p).unwrap_or_else(|_| vec![1.0; p.len()])
}

/// The evidence of the night the decision was taken on, from the ledger as it stood then.
fn evidence(experiment: &Experiment, rows: &[&StoredRow], ledger: &Ledger) -> serde_json::Value {
    let mut names: Vec<&str> = rows.iter().map(|r| r.treatment_variant.as_str()).collect();
    names.dedup();
    let running: Vec<f64> = names
        .iter()
        .map(|t| ledger.treatments.get(*t).map_or(1.0, |s| s.primary.good.min(s.primary.bad)))
        .collect();
    let adjusted: BTreeMap<&str, f64> = names.iter().copied().zip(holm(&running)).collect();
    let mut treatments = BTreeMap::new();
    for r in rows {
        let state = ledger.treatments.get(&r.treatment_variant);
        let entry = treatments.entry(r.treatment_variant.clone()).or_insert_with(|| {
            json!({
                "version": r.treatment_version,
                "units": r.units_treatment,
                "running_seq_ci": state.map(|s| [s.running_low, s.running_high]),
                "running_seq_p_value": state.map(|s| json!({"better": s.primary.good, "worse": s.primary.bad})),
                "holm_seq_p_value": adjusted.get(r.treatment_variant.as_str()),
            })
        });
        entry[r.metric.as_str()] = json!({
            "role": r.metric_role,
            "estimate": r.estimate,
            "relative_lift": r.relative_lift,
            "seq_ci": [r.seq_ci_low, r.seq_ci_high],
            "seq_p_value": r.seq_p_value,
            "p_value": r.p_value,
            "chance_to_win": r.chance_to_win,
            "seq_mde": r.seq_mde,
            "seq_power_at_target": r.seq_power_at_target,
            "guardrail_margin": r.guardrail_margin,
            "guardrail_status": r.guardrail_status,
            "guardrail_running_p_value": state
                .and_then(|s| s.guardrails.get(&r.metric))
                .map(|g| json!({"within": g.good, "worse": g.bad})),
            "note": r.note,
        });
    }
    let first = rows.first();
    json!({
        "days_running": first.map(|r| r.days_running),
        "min_runtime_days": experiment.min_runtime_days,
        "units_control": first.map(|r| r.units_control),
        "min_units_per_variant": units_needed(experiment),
        "nights_in_ledger": ledger.nights_counted,
        "srm_p_value": first.and_then(|r| r.srm_p_value),
        "routing_mismatches": first.map(|r| r.routing_mismatches),
        "primary_metric": experiment.primary_metric.as_str(),
        "treatments": treatments,
    })
}

/// Projects every arm needs before a night enters the ledger (rule 2).
pub fn units_needed(experiment: &Experiment) -> i64 {
    (experiment.min_units_per_variant as i64).max(SEQUENTIAL_MIN_UNITS_PER_ARM)
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
    let needed = units_needed(experiment);
    let fewest = rows.iter().map(|r| r.units_control.min(r.units_treatment)).min().unwrap_or(0);
    if fewest < needed {
        return Some((
            Decision::Continue,
            format!("{fewest} projects in the smallest arm, {needed} needed"),
        ));
    }
    None
}

/// The night `date` is the first on which every generation of the experiment is scored.
pub fn ended(experiment: &Experiment, date: PartitionDate, window_days: u32) -> bool {
    date >= experiment.end.plus_days(window_days)
}

/// Decides one experiment on `date` from its `ab_results` nights (`nights`: every
/// analysed night from its start through `date`, any order; rows of other experiments
/// are ignored). `None` when no night has rows for it.
pub fn decide(
    experiment: &Experiment,
    date: PartitionDate,
    window_days: u32,
    nights: &[(PartitionDate, Vec<StoredRow>)],
) -> Option<Promotion> {
    let mut ordered: Vec<(PartitionDate, Vec<&StoredRow>)> = nights
        .iter()
        .filter(|(night, _)| *night <= date)
        .map(|(night, rows)| (*night, rows.iter().filter(|r| r.experiment_id == experiment.id).collect::<Vec<_>>()))
        .filter(|(_, rows)| !rows.is_empty())
        .collect();
    ordered.sort_by_key(|(night, _)| *night);
    let mut ledger = Ledger::default();
    let mut latest = None;
    for (night, rows) in &ordered {
        let mut promotion = decide_night(experiment, *night, window_days, rows, &mut ledger);
        if promotion.decision.is_terminal() {
            promotion.decided_on = Some(*night);
            promotion.evidence = evidence(experiment, rows, &ledger);
            ledger.decided = Some(promotion);
            break;
        }
        latest = Some((promotion, rows));
    }
    let latest = latest.map(|(mut promotion, rows)| {
        promotion.evidence = evidence(experiment, rows, &ledger);
        promotion
    });
    if let Some(mut terminal) = ledger.decided {
        if terminal.decided_on != Some(date) {
            let on = terminal.decided_on.map(|d| d.to_string()).unwrap_or_default();
            terminal.reason = format!("decided on {on}: {}", terminal.reason);
        }
        return Some(terminal);
    }
    latest
}

/// One night of the ledger: rules 1 to 6.
#[allow(
    clippy::too_many_lines,
    reason = "the rules in the order docs/ab-significance.md lists them, read top to bottom"
)]
fn decide_night(experiment: &Experiment, date: PartitionDate, window_days: u32, rows: &[&StoredRow], ledger: &mut Ledger) -> Promotion {
    let mut promotion = Promotion {
        experiment_id: experiment.id.clone(),
        template_id: experiment.template_id.clone(),
        decision: Decision::Continue,
        winner_variant: None,
        winner_version: None,
        control_version: experiment.control_variant().version.clone(),
        reason: String::new(),
        evidence: serde_json::Value::Null,
        decided_on: None,
    };
    let decided = |mut p: Promotion, decision: Decision, reason: String| {
        p.decision = decision;
        p.reason = reason;
        p
    };
    if let Some((decision, reason)) = not_ready(experiment, rows) {
        return decided(promotion, decision, reason);
    }
    ledger.record(experiment, rows);
    let alpha = experiment.alpha;
    let primary = experiment.primary_metric.as_str();
    let mut treatments: Vec<&str> = rows.iter().map(|r| r.treatment_variant.as_str()).collect();
    treatments.dedup();
    let state = |t: &str| ledger.treatments.get(t).cloned().unwrap_or_default();
    // Holm across treatments on the primary's running p-values, each on its smaller side.
    let primary_p: Vec<f64> = treatments.iter().map(|t| state(t).primary.good.min(state(t).primary.bad)).collect();
    let primary_adjusted = holm(&primary_p);
    let adjusted: BTreeMap<String, f64> = treatments
        .iter()
        .zip(&primary_adjusted)
        .map(|(t, p)| ((*t).to_owned(), *p))
        .collect();
    // Holm across every treatment and guardrail on the "worse than the margin" side.
    let guard_keys: Vec<(&str, String)> = treatments
        .iter()
        .flat_map(|t| state(t).guardrails.keys().map(|g| (*t, g.clone())).collect::<Vec<_>>())
        .collect();
    let guard_bad: Vec<f64> = guard_keys.iter().map(|(t, g)| state(t).guardrails[g].bad).collect();
    let guard_bad_adjusted = holm(&guard_bad);

    let mut candidates: Vec<(&str, f64, &StoredRow)> = Vec::new();
    let mut failed = Vec::new();
    let mut worse = Vec::new();
    let mut waiting: Vec<String> = Vec::new();
    for (i, t) in treatments.iter().enumerate() {
        let s = state(t);
        let guardrails: Vec<&&StoredRow> = rows
            .iter()
            .filter(|r| r.treatment_variant == *t && r.metric_role == "guardrail")
            .collect();
        let failing: Vec<&str> = guard_keys
            .iter()
            .zip(&guard_bad_adjusted)
            .filter(|((gt, _), p)| gt == t && **p <= alpha)
            .map(|((_, g), _)| g.as_str())
            .collect();
        if !failing.is_empty() {
            failed.push(format!("{t} ({})", failing.join(", ")));
            continue;
        }
        let shown = primary_adjusted[i] <= alpha;
        let better = shown && s.primary.good <= s.primary.bad;
        if shown && !better {
            worse.push(*t);
            continue;
        }
        if !better {
            continue;
        }
        let mut blocking = Vec::new();
        for g in &guardrails {
            let passed = s.guardrails.get(&g.metric).is_some_and(|sides| sides.good <= alpha);
            if g.guardrail_status.as_deref() == Some(NOT_JUDGED) {
                blocking.push(format!(
                    "{} is not judged ({})",
                    g.metric,
                    g.note.as_deref().unwrap_or("no statistic")
                ));
            } else if !passed {
                blocking.push(format!("{} is not yet shown within its margin", g.metric));
            }
        }
        let Some(p) = rows.iter().find(|r| r.treatment_variant == *t && r.metric == primary) else {
            continue;
        };
        if blocking.is_empty() {
            let gain = if lower_is_better(p) {
                -p.estimate.unwrap_or(0.0)
            } else {
                p.estimate.unwrap_or(0.0)
            };
            candidates.push((t, gain, p));
        } else {
            waiting.push(format!("`{t}` beats the control on {primary} but {}", blocking.join("; ")));
        }
    }
    if let Some((winner, _, row)) = candidates.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        promotion.winner_variant = Some((*winner).to_owned());
        promotion.winner_version = Some(row.treatment_version.clone());
        let st = state(winner);
        let reason = format!(
            "`{winner}` (v{}) beats the control on {primary}: lift {:+.4} ({:+.1}%), running always-valid interval [{:.4}, {:.4}], Holm-adjusted p {:.4}, guardrails pass",
            row.treatment_version,
            row.estimate.unwrap_or(f64::NAN),
            100.0 * row.relative_lift.unwrap_or(f64::NAN),
            st.running_low.unwrap_or(f64::NAN),
            st.running_high.unwrap_or(f64::NAN),
            adjusted.get(*winner).copied().unwrap_or(f64::NAN),
        );
        return decided(promotion, Decision::Promote, reason);
    }
    if !treatments.is_empty() && failed.len() == treatments.len() {
        return decided(
            promotion,
            Decision::Stop,
            format!("every treatment fails a guardrail: {}", failed.join(", ")),
        );
    }
    if !treatments.is_empty() && worse.len() + failed.len() == treatments.len() {
        return decided(
            promotion,
            Decision::Stop,
            format!("every treatment is worse than the control on {primary} or fails a guardrail"),
        );
    }
    let waiting_note = if waiting.is_empty() {
        String::new()
    } else {
        format!(": {}", waiting.join("; "))
    };
    if ended(experiment, date, window_days) {
        return decided(
            promotion,
            Decision::Stop,
            format!(
                "ended on {} and scored through {} without a treatment shown better on {primary} with its guardrails passing{waiting_note}",
                experiment.end,
                experiment.end.plus_days(window_days)
            ),
        );
    }
    let failed_note = if failed.is_empty() {
        String::new()
    } else {
        format!("; out for failing a guardrail: {}", failed.join(", "))
    };
    let reason = if waiting.is_empty() {
        format!("no treatment is yet shown better on {primary} with its guardrails passing{failed_note}")
    } else {
        format!("{}{failed_note}", waiting.join("; "))
    };
    decided(promotion, Decision::Continue, reason)
}

/// Directory of the per-night champions file (`champions/dt=D/champions.json`).
pub const CHAMPIONS: &str = "champions";
/// The champions file in its partition directory.
pub const CHAMPIONS_FILE: &str = "champions.json";

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

/// The `ab_results` nights the ledger of `date` folds: from the first experiment's start
/// through `date`. A night whose ab-significance did not run (or failed) is not in it;
/// tonight's partition must be complete (an error otherwise).
pub fn ledger_nights(
    root: &Path,
    date: PartitionDate,
    config: &ExperimentsConfig,
) -> Result<Vec<(PartitionDate, Vec<StoredRow>)>, CoreError> {
    let first = config.experiments.iter().map(|e| e.start).min().unwrap_or(date);
    let mut nights = Vec::new();
    for night in first.through(date) {
        if night != date && !partition_dir(root, AB_RESULTS, night).join("_SUCCESS").exists() {
            continue;
        }
        let mut rows = Vec::new();
        for part in committed_parts(root, AB_RESULTS, night)? {
            rows.extend(read_rows(&part)?);
        }
        nights.push((night, rows));
    }
    Ok(nights)
}

/// Decides every configured experiment for `date` from its `ab_results` nights and writes
/// `promotions/dt=D/`. `window_days` is the scoring window (an experiment has ended once
/// `end + window_days` has passed).
pub fn run(root: &Path, date: PartitionDate, window_days: u32, config: &ExperimentsConfig) -> Result<PromoteSummary, crate::AbError> {
    let mut summary = PromoteSummary {
        job: "promote-templates",
        date: date.to_string(),
        status: crate::RunStatus::NothingToProcess,
        decisions: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    if !partition_dir(root, AB_RESULTS, date).exists() {
        tracing::warn!(%date, "no `ab_results` partition: nothing to decide");
        return Ok(summary);
    }
    let nights = ledger_nights(root, date, config)?;
    let mut promotions = Vec::new();
    for experiment in &config.experiments {
        let analysed_tonight = nights
            .last()
            .is_some_and(|(_, rows)| rows.iter().any(|r| r.experiment_id == experiment.id));
        if !analysed_tonight {
            continue;
        }
        if let Some(p) = decide(experiment, date, window_days, &nights) {
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
        text(&|p| p.decided_on.map(|d| d.to_string())),
    ];
    let batch = RecordBatch::try_new(part.schema(), columns).map_err(|source| CoreError::Arrow {
        path: "promotions".into(),
        source,
    })?;
    part.write(&batch)?;
    summary.outputs.insert("promotions", part.commit()?.path);
    // The serving contract: tonight's champion per template, for readers without MLflow.
    let champions = crate::serving::champions(&date.to_string(), &promotions);
    let path = partition_dir(root, CHAMPIONS, date).join(CHAMPIONS_FILE);
    let mut text = serde_json::to_string_pretty(&champions).unwrap_or_default();
    text.push('\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    }
    hive_core::lake::write_atomically(&path, text.as_bytes())?;
    summary.outputs.insert("champions", path);
    summary.status = crate::RunStatus::Success;
    Ok(summary)
}
