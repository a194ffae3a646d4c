//! The nightly experiment report, for the people who decide: per experiment the decision
//! and its reason (promote-templates' rule, computed by [`crate::promote::decide`]), the
//! split and routing checks, each arm's values, the relative lifts with their intervals,
//! the progress toward the planned sample, the night-by-night chart and the exploratory
//! breakdowns. Two renderings of the same figures: `report.md` (for PR comments and
//! terminals) here, and the self-contained `report.html` ([`crate::html`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hive_core::PartitionDate;

use crate::analysis::SampleNeeded;
use crate::breakdown::Breakdown;
use crate::charts::{self, ChartError};
use crate::config::{Experiment, ExperimentsConfig, Metric};
use crate::output::StoredRow;
use crate::promote::{Promotion, units_needed};

/// How many earlier nights the charts show.
pub const HISTORY_DAYS: u32 = 90;

/// What the analysis of one experiment adds to its `ab_results` rows for the report.
#[derive(Debug, Clone)]
pub struct ExperimentExtras {
    /// Tonight's decision (`None`: no night of the experiment has rows).
    pub decision: Option<Promotion>,
    /// The planned sample of each treatment's primary comparison (`None`: not computable,
    /// see [`crate::analysis::sample_needed`]).
    pub samples: BTreeMap<String, Option<SampleNeeded>>,
    /// The breakdowns, or why there are none.
    pub breakdowns: Result<Vec<Breakdown>, String>,
}

impl Default for ExperimentExtras {
    fn default() -> Self {
        Self {
            decision: None,
            samples: BTreeMap::new(),
            breakdowns: Err("not computed".to_owned()),
        }
    }
}

/// Everything one night's report shows.
#[derive(Debug)]
pub struct ReportInput<'a> {
    pub config: &'a ExperimentsConfig,
    pub date: PartitionDate,
    /// `ab_results` nights through `date` (any earlier nights; tonight's included).
    pub nights: &'a [(PartitionDate, Vec<StoredRow>)],
    /// By experiment id.
    pub extras: BTreeMap<String, ExperimentExtras>,
}

impl ReportInput<'_> {
    /// Tonight's rows of `experiment`, in `ab_results` order.
    pub fn today(&self, experiment: &Experiment) -> Vec<&StoredRow> {
        self.nights
            .iter()
            .find(|(d, _)| *d == self.date)
            .map(|(_, rows)| rows.iter().filter(|r| r.experiment_id == experiment.id).collect())
            .unwrap_or_default()
    }

    /// The relative lift of a comparison night by night, over the last [`HISTORY_DAYS`].
    pub fn series(&self, row: &StoredRow) -> Vec<charts::Night> {
        let first = self.date.minus_days(HISTORY_DAYS);
        let mut nights: Vec<charts::Night> = self
            .nights
            .iter()
            .filter(|(d, _)| *d >= first && *d <= self.date)
            .filter_map(|(d, rows)| {
                rows.iter()
                    .find(|x| {
                        x.experiment_id == row.experiment_id && x.treatment_variant == row.treatment_variant && x.metric == row.metric
                    })
                    .map(|x| charts::Night {
                        date: *d,
                        lift: x.relative_lift,
                        low: x.seq_relative_ci_low,
                        high: x.seq_relative_ci_high,
                    })
            })
            .collect();
        nights.sort_by_key(|n| n.date);
        nights
    }
}

/// The file name of a comparison's night-by-night chart.
pub fn chart_name(experiment: &str, treatment: &str) -> String {
    format!("{experiment}-{treatment}.svg")
}

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Escapes text for a Markdown table cell or line.
pub fn md(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A metric's value as people read it: rates and shares in percent, scores as decimals.
pub fn metric_value(metric: &str, value: Option<f64>) -> String {
    match value {
        None => "–".to_owned(),
        Some(v) if metric == Metric::DiffScore.as_str() => format!("{v:.3}"),
        Some(v) => format!("{:.1}%", 100.0 * v),
    }
}

/// A relative change in percent, signed.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{:+.1}%", 100.0 * v))
}

/// An interval of relative changes in percent.
pub fn interval(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("[{:+.1}%, {:+.1}%]", 100.0 * l, 100.0 * h),
        _ => "–".to_owned(),
    }
}

pub fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// One arm's line of the per-arm table: name, version, weight, projects, generations and
/// tonight's value of each metric (in `metrics` order).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmLine {
    pub name: String,
    pub version: String,
    pub weight: f64,
    pub projects: Option<i64>,
    pub generations: Option<i64>,
    pub values: Vec<Option<f64>>,
}

/// The per-arm table of an experiment from tonight's rows: the control's figures are on
/// every row, a treatment's on its own.
pub fn arm_lines(experiment: &Experiment, rows: &[&StoredRow], metrics: &[String]) -> Vec<ArmLine> {
    experiment
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let control = i == experiment.control;
            let mine: Vec<&&StoredRow> = rows.iter().filter(|r| control || r.treatment_variant == v.name).collect();
            let first = mine.first();
            ArmLine {
                name: v.name.clone(),
                version: v.version.clone(),
                weight: v.weight.0,
                projects: first.map(|r| if control { r.units_control } else { r.units_treatment }),
                generations: first.map(|r| if control { r.generations_control } else { r.generations_treatment }),
                values: metrics
                    .iter()
                    .map(|m| {
                        mine.iter()
                            .find(|r| &r.metric == m)
                            .and_then(|r| if control { r.control_mean } else { r.treatment_mean })
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Tonight's metrics of an experiment, in row order, each once.
pub fn metrics_of(rows: &[&StoredRow]) -> Vec<String> {
    let mut metrics: Vec<String> = Vec::new();
    for r in rows {
        if !metrics.contains(&r.metric) {
            metrics.push(r.metric.clone());
        }
    }
    metrics
}

/// The progress of one experiment toward a decision, as sentences (shared by both
/// renderings): the minimum runtime, the smallest arm against the projects the decision
/// rule needs, and each treatment's planned sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Label, done so far, needed, and the sentence.
    pub bars: Vec<(String, f64, f64, String)>,
}

pub fn progress(experiment: &Experiment, date: PartitionDate, rows: &[&StoredRow], extras: &ExperimentExtras) -> Progress {
    let mut bars = Vec::new();
    let Some(first) = rows.first() else { return Progress { bars } };
    let min_days = f64::from(experiment.min_runtime_days);
    let days = first.days_running as f64;
    bars.push((
        "minimum runtime".to_owned(),
        days,
        min_days,
        if days >= min_days {
            format!("day {} of a minimum {}: met", first.days_running, experiment.min_runtime_days)
        } else {
            format!(
                "day {} of a minimum {}: {} to go",
                first.days_running,
                experiment.min_runtime_days,
                days_phrase((min_days - days) as i64)
            )
        },
    ));
    let needed = units_needed(experiment);
    let fewest = rows.iter().map(|r| r.units_control.min(r.units_treatment)).min().unwrap_or(0);
    bars.push((
        "smallest arm".to_owned(),
        fewest as f64,
        needed as f64,
        if fewest >= needed {
            format!("{fewest} projects in the smallest arm, {needed} needed: met")
        } else {
            format!("{fewest} projects in the smallest arm, {needed} needed: {} to go", needed - fewest)
        },
    ));
    for r in rows.iter().filter(|r| r.metric_role == "primary") {
        let label = format!("planned sample, `{}`", r.treatment_variant);
        let so_far = (r.units_control + r.units_treatment) as f64;
        let (needed, sentence) = match (
            experiment.target_relative_effect,
            extras.samples.get(&r.treatment_variant).copied().flatten(),
        ) {
            (None, _) => (
                0.0,
                "no `target_relative_effect` in the config: the sample the experiment needs is not planned".to_owned(),
            ),
            (Some(target), None) => (
                0.0,
                format!(
                    "at the traffic so far, the decision rule does not reach {:.0}% power for a {:+.0}% change by {} (power then {}): extend the experiment or accept a larger effect",
                    100.0 * experiment.power,
                    100.0 * target,
                    experiment.end,
                    number(r.seq_power_at_target, 2)
                ),
            ),
            (Some(target), Some(sample)) => {
                let to_go = (sample.night.date() - date.date()).num_days();
                let when = if to_go > 0 {
                    format!("reached on the night of {} ({} to go)", sample.night, days_phrase(to_go))
                } else {
                    format!("reached (night of {})", sample.night)
                };
                (
                    sample.projects.ceil(),
                    format!(
                        "{} of {:.0} projects in the two arms for {:.0}% power to detect a {:+.0}% change with the sequential rule; {when}",
                        r.units_control + r.units_treatment,
                        sample.projects.ceil(),
                        100.0 * experiment.power,
                        100.0 * target,
                    ),
                )
            }
        };
        bars.push((label, so_far, needed, sentence));
    }
    Progress { bars }
}

fn days_phrase(days: i64) -> String {
    if days == 1 { "1 day".to_owned() } else { format!("{days} days") }
}

/// The verdict's headline: what to do, and on which arm.
pub fn headline(decision: &Promotion) -> String {
    match (decision.decision, &decision.winner_variant) {
        (crate::promote::Decision::Promote, Some(winner)) => {
            format!("Promote `{winner}` (v{})", decision.winner_version.as_deref().unwrap_or("?"))
        }
        (crate::promote::Decision::Promote, None) => "Promote".to_owned(),
        (crate::promote::Decision::Continue, _) => "Continue collecting".to_owned(),
        (crate::promote::Decision::Stop, _) => "Stop the experiment".to_owned(),
    }
}

/// How relative lifts are defined, said once per report.
pub const LIFT_DEFINITION: &str = "Relative lift = (treatment − control) / control. Under CUPED (method `delta_ratio+cuped`) it is the CUPED-adjusted difference divided by the unadjusted control mean, as in GrowthBook's gbstats.";

/// The report files: `report.md`, `report.html` and one `<experiment>-<treatment>.svg`
/// per primary comparison with history.
#[allow(clippy::too_many_lines, reason = "the report's sections, top to bottom")]
pub fn render(input: &ReportInput<'_>) -> Result<Vec<(String, String)>, ChartError> {
    let mut files = Vec::new();
    let mut md_text = String::new();
    let date = input.date;
    let _ = writeln!(md_text, "# Template experiments, {date}\n");
    let _ = writeln!(
        md_text,
        "Lower rewrite rates are better. Decide on the **always-valid** (sequential) interval: it stays valid when read every night; the fixed-horizon interval is valid only at a horizon fixed in advance and is shown for reference. {LIFT_DEFINITION} The same report as a page: [report.html](report.html).\n"
    );
    for experiment in &input.config.experiments {
        let rows = input.today(experiment);
        let _ = writeln!(md_text, "## `{}` (template `{}`)\n", experiment.id, experiment.template_id);
        if let Some(owner) = &experiment.owner {
            let _ = writeln!(md_text, "Owner: {}.", md(owner));
        }
        if let Some(hypothesis) = &experiment.hypothesis {
            let _ = writeln!(md_text, "Hypothesis: {}\n", md(hypothesis));
        }
        let Some(first) = rows.first() else {
            let _ = writeln!(
                md_text,
                "Not analysed on this date (runs {} to {}).\n",
                experiment.start, experiment.end
            );
            continue;
        };
        let extras = input.extras.get(&experiment.id).cloned().unwrap_or_default();
        let _ = writeln!(
            md_text,
            "Day {} of {} to {}.\n",
            first.days_running, experiment.start, experiment.end
        );
        if let Some(decision) = &extras.decision {
            let _ = writeln!(
                md_text,
                "**Decision: {}.** {}: {}\n",
                decision.decision.as_str(),
                headline(decision),
                md(&decision.reason)
            );
        }
        if first.srm_flag {
            let _ = writeln!(
                md_text,
                "**SAMPLE RATIO MISMATCH** (p = {:.2e}): the projects are not split as configured; do not trust any result until routing is fixed.\n",
                first.srm_p_value.unwrap_or(f64::NAN)
            );
        } else {
            let _ = writeln!(
                md_text,
                "Split check: projects are split as configured (sample-ratio p = {}).\n",
                number(first.srm_p_value, 3)
            );
        }
        if first.routing_mismatches > 0 {
            let _ = writeln!(
                md_text,
                "**Routing:** {} projects excluded: their logged variant differs from the routing spec or changed between generations.\n",
                first.routing_mismatches
            );
        }
        let metrics = metrics_of(&rows);
        let _ = writeln!(
            md_text,
            "| arm | version | weight | projects | generations | {} |\n|---|---|---|---|---|{}",
            metrics.join(" | "),
            "---|".repeat(metrics.len())
        );
        for arm in arm_lines(experiment, &rows, &metrics) {
            let _ = writeln!(
                md_text,
                "| {} | {} | {:.0}% | {} | {} | {} |",
                md(&arm.name),
                md(&arm.version),
                100.0 * arm.weight,
                arm.projects.map_or("–".to_owned(), |v| v.to_string()),
                arm.generations.map_or("–".to_owned(), |v| v.to_string()),
                metrics
                    .iter()
                    .zip(&arm.values)
                    .map(|(m, v)| metric_value(m, *v))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        let _ = writeln!(
            md_text,
            "\n| treatment | metric | role | relative lift | always-valid interval | seq. p | fixed-horizon interval | p | abs. lift | P(better) | guardrail | method | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &rows {
            let _ = writeln!(
                md_text,
                "| {} (v{}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&r.treatment_variant),
                md(&r.treatment_version),
                r.metric,
                r.metric_role,
                percent(r.relative_lift),
                interval(r.seq_relative_ci_low, r.seq_relative_ci_high),
                number(r.seq_p_value, 4),
                interval(r.relative_ci_low, r.relative_ci_high),
                number(r.p_value, 4),
                number(r.estimate, 4),
                number(r.chance_to_win, 3),
                r.guardrail_status.as_deref().unwrap_or(""),
                r.method,
                md(r.note.as_deref().unwrap_or(""))
            );
        }
        md_text.push('\n');
        let _ = writeln!(md_text, "Progress toward a decision:\n");
        for (_, _, _, sentence) in progress(experiment, date, &rows, &extras).bars {
            let _ = writeln!(md_text, "- {sentence}");
        }
        md_text.push('\n');
        decision_notes(&mut md_text, experiment, &rows);
        for r in rows.iter().filter(|r| r.metric_role == "primary") {
            let name = chart_name(&experiment.id, &r.treatment_variant);
            let _ = writeln!(
                md_text,
                "![{} vs control, night by night]({name})\n\n*Relative lift of `{}` for `{}` with its always-valid interval, by analysis night.*\n",
                r.treatment_variant, r.metric, r.treatment_variant
            );
            files.push((
                name,
                charts::lift_over_time(
                    &format!("{}: {} vs control, {}", experiment.id, r.treatment_variant, r.metric),
                    &input.series(r),
                )?,
            ));
        }
        breakdown_markdown(&mut md_text, experiment, &extras);
    }
    let html = crate::html::report(input)?;
    files.insert(0, ("report.html".to_owned(), html));
    files.insert(0, ("report.md".to_owned(), md_text));
    Ok(files)
}

/// The sentence every breakdown carries.
pub const EXPLORATORY: &str = "Exploratory: one comparison per value, not corrected for multiplicity, never used to decide.";

fn breakdown_markdown(out: &mut String, experiment: &Experiment, extras: &ExperimentExtras) {
    let _ = writeln!(out, "### Breakdowns (exploratory)\n\n*{EXPLORATORY}*\n");
    let breakdowns = match &extras.breakdowns {
        Ok(b) => b,
        Err(why) => {
            let _ = writeln!(out, "No breakdown: {}.\n", md(why));
            return;
        }
    };
    let control = experiment.control;
    for b in breakdowns {
        let _ = writeln!(
            out,
            "#### Rewrite rate by {}\n\n| {} | arm | projects | generations | files | lines generated | lines removed | rewrite rate | vs control |\n|---|---|---|---|---|---|---|---|---|",
            b.dimension, b.dimension
        );
        for (value, cells) in &b.values {
            let control_rate = cells.get(control).cloned().flatten().and_then(|c| c.rewrite_rate());
            for (i, cell) in cells.iter().enumerate() {
                let Some(cell) = cell else { continue };
                let versus = if i == control {
                    String::new()
                } else {
                    percent(
                        cell.rewrite_rate()
                            .zip(control_rate)
                            .filter(|(_, c)| *c > 0.0)
                            .map(|(t, c)| (t - c) / c),
                    )
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    md(value),
                    md(&experiment.variants[i].name),
                    cell.projects,
                    cell.generations,
                    cell.files,
                    cell.lines_generated,
                    cell.lines_removed,
                    metric_value("rewrite_rate", cell.rewrite_rate()),
                    versus
                );
            }
        }
        if b.values_left_out > 0 {
            let _ = writeln!(out, "\n{} more values with fewer generations are not shown.", b.values_left_out);
        }
        out.push('\n');
    }
}

/// What holds a decision back (a guardrail not judged) and the power of the rule that
/// decides, under the experiment's table.
fn decision_notes(md_text: &mut String, experiment: &Experiment, rows: &[&StoredRow]) {
    for r in rows
        .iter()
        .filter(|r| r.guardrail_status.as_deref() == Some(crate::analysis::NOT_JUDGED))
    {
        let _ = writeln!(
            md_text,
            "**Guardrail `{}` of `{}` is not judged** ({}): promotion is blocked until it is.\n",
            r.metric,
            r.treatment_variant,
            r.note.as_deref().unwrap_or("no statistic")
        );
    }
    for r in rows.iter().filter(|r| r.metric_role == "primary") {
        let _ = writeln!(
            md_text,
            "Power of `{}`: the nightly sequential rule that decides detects the target effect by {} + the scoring window with probability {} (MDE {}); a fixed-horizon test read once at tonight's size would have power {} (MDE {}).\n",
            r.treatment_variant,
            experiment.end,
            number(r.seq_power_at_target, 3),
            number(r.seq_mde, 4),
            number(r.power_at_target, 3),
            number(r.mde, 4)
        );
    }
}
