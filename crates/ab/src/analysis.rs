//! The statistics of one experiment on one day: projects are the units, the logged
//! variant is checked against the routing spec, and every treatment is compared with
//! the control on every configured metric (formulas: `hive_stats`, choices:
//! docs/ab-significance.md).

use std::collections::BTreeMap;

use hive_core::PartitionDate;
use hive_stats::bayes::{BayesOptions, posterior};
use hive_stats::cuped::cuped_ratio;
use hive_stats::fixed_horizon::{Reference, TestOptions, sample_ratio_mismatch, two_sample};
use hive_stats::sequential::{SequentialDesign, SequentialOptions, always_valid, p_value_against, sequential_mde, sequential_power};
use hive_stats::{ArmSummary, Difference, Direction, Moments, StatsError};

use crate::config::{Experiment, Metric, MetricRole};
use crate::input::{GateOutcome, Generation};

/// SRM is flagged below this p-value (the usual choice of GrowthBook and others: a real
/// randomisation bug gives far smaller values, and false alarms must stay rare).
pub const SRM_THRESHOLD: f64 = 0.001;

/// No sequential interval or p-value is reported, and so no decision taken, while an arm
/// of the comparison has fewer projects than this (or than the experiment's
/// `min_units_per_variant`, if larger). The confidence sequence is asymptotic: with
/// heavy-tailed line counts and a handful of projects its coverage falls well short (17%
/// of A/A experiments excluded 0 on some night at tuning 100, median 10 projects per arm
/// at the first exclusion); from 50 per arm on, the calibration test
/// (crates/ab/tests/decision_calibration.rs) measures A/A promotion rates within alpha.
pub const SEQUENTIAL_MIN_UNITS_PER_ARM: i64 = 50;

/// Guardrail status of a guardrail row whose statistics could not be computed (no gate
/// results, too few projects, zero variance): it blocks promotion, and says so.
pub const NOT_JUDGED: &str = "not_judged";

/// One `ab_results` row (columns: docs/data-dictionary.md).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultRow {
    pub experiment_id: String,
    pub template_id: String,
    pub metric: &'static str,
    pub metric_role: &'static str,
    pub direction: &'static str,
    pub method: &'static str,
    pub control_variant: String,
    pub treatment_variant: String,
    pub control_version: String,
    pub treatment_version: String,
    pub days_running: i64,
    pub units_control: i64,
    pub units_treatment: i64,
    pub generations_control: i64,
    pub generations_treatment: i64,
    pub control_mean: Option<f64>,
    pub treatment_mean: Option<f64>,
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub relative_lift: Option<f64>,
    pub relative_ci_low: Option<f64>,
    pub relative_ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub p_value_adjusted: Option<f64>,
    pub p_value_bh: Option<f64>,
    pub seq_ci_low: Option<f64>,
    pub seq_ci_high: Option<f64>,
    pub seq_p_value: Option<f64>,
    pub seq_relative_ci_low: Option<f64>,
    pub seq_relative_ci_high: Option<f64>,
    pub chance_to_win: Option<f64>,
    pub expected_loss: Option<f64>,
    pub mde: Option<f64>,
    pub power_at_target: Option<f64>,
    pub seq_mde: Option<f64>,
    pub seq_power_at_target: Option<f64>,
    pub alpha: f64,
    pub srm_p_value: Option<f64>,
    pub srm_flag: bool,
    pub routing_mismatches: i64,
    pub version_mismatches: i64,
    pub cuped_theta: Option<f64>,
    pub variance_reduction: Option<f64>,
    pub guardrail_margin: Option<f64>,
    pub guardrail_status: Option<&'static str>,
    pub guardrail_seq_p_value: Option<f64>,
    pub note: Option<String>,
    /// The unit standard deviation of the primary's sequence (`s`: its standard error at
    /// `N` projects is `s / sqrt(N)`), for [`sample_needed`]. Not written to `ab_results`.
    pub seq_unit_sd: Option<f64>,
}

/// A project's sums over its generations in the experiment (and before it, for CUPED).
#[derive(Debug, Clone, Default)]
struct Unit {
    variant: usize,
    generations: u64,
    removed: f64,
    generated: f64,
    diff_score_sum: f64,
    diff_score_count: u64,
    rewritten: f64,
    rewritten_known: f64,
    pre_removed: f64,
    pre_generated: f64,
    gates_passed: f64,
    gates_evaluated: f64,
}

/// Projects of one experiment after the routing checks.
#[derive(Debug, Default)]
pub struct Units {
    projects: BTreeMap<String, Unit>,
    /// Whether `gate_results` were read (`--gate-results`).
    pub gate_results_read: bool,
    pub routing_mismatches: i64,
    pub version_mismatches: i64,
}

impl Units {
    /// Each analysed project with the index of its arm (projects excluded by the routing
    /// checks are not in it), in project order.
    pub fn assignment(&self) -> impl Iterator<Item = (&str, usize)> {
        self.projects.iter().map(|(project, unit)| (project.as_str(), unit.variant))
    }

    /// Projects per variant.
    pub fn counts(&self, variants: usize) -> Vec<u64> {
        let mut counts = vec![0; variants];
        for unit in self.projects.values() {
            counts[unit.variant] += 1;
        }
        counts
    }
}

/// Groups the experiment's generations by project. A project whose logged variant is
/// unknown, differs from the routing spec, or changes between generations is excluded
/// and counted: comparing wrongly routed projects would compare the wrong groups.
/// `pre` are the same template's generations before the start (for CUPED).
/// `gates` are the projects' quality-gate outcomes during the experiment (may be empty).
/// `gates` is `None` when gate results were not read.
pub fn units(experiment: &Experiment, generations: &[&Generation], pre: &[&Generation], gates: Option<&[GateOutcome]>) -> Units {
    let weights = experiment.weights();
    let mut out = Units {
        gate_results_read: gates.is_some(),
        ..Units::default()
    };
    let mut logged: BTreeMap<&str, Result<usize, ()>> = BTreeMap::new();
    for g in generations {
        let variant = g
            .variant
            .as_deref()
            .and_then(|name| experiment.variants.iter().position(|v| v.name == name));
        let entry = logged.entry(g.project_id.as_str()).or_insert(variant.ok_or(()));
        if *entry != variant.ok_or(()) {
            *entry = Err(());
        }
    }
    for (project, variant) in &logged {
        let expected = hive_core::routing::assign(&experiment.salt, project, &weights).ok();
        match variant {
            Ok(v) if Some(*v) == expected => {
                out.projects.insert(
                    (*project).to_owned(),
                    Unit {
                        variant: *v,
                        ..Unit::default()
                    },
                );
            }
            _ => out.routing_mismatches += 1,
        }
    }
    for g in generations {
        let Some(unit) = out.projects.get_mut(&g.project_id) else {
            continue;
        };
        if g.template_version != experiment.variants[unit.variant].version {
            out.version_mismatches += 1;
        }
        unit.generations += 1;
        unit.removed += g.lines_removed as f64;
        unit.generated += g.lines_generated as f64;
        if let Some(d) = g.diff_score {
            unit.diff_score_sum += d;
            unit.diff_score_count += 1;
        }
        if let Some(r) = g.rewritten {
            unit.rewritten += f64::from(u8::from(r));
            unit.rewritten_known += 1.0;
        }
    }
    for g in pre {
        if let Some(unit) = out.projects.get_mut(&g.project_id) {
            unit.pre_removed += g.lines_removed as f64;
            unit.pre_generated += g.lines_generated as f64;
        }
    }
    for gate in gates.unwrap_or_default() {
        if let Some(unit) = out.projects.get_mut(&gate.project_id) {
            unit.gates_passed += f64::from(u8::from(gate.passed));
            unit.gates_evaluated += 1.0;
        }
    }
    out
}

/// The arm summaries of one metric, and how they were made.
struct Arms {
    control: ArmSummary,
    treatment: ArmSummary,
    method: &'static str,
    cuped_theta: Option<f64>,
    variance_reduction: Option<f64>,
    /// Unadjusted arm values (for the row's means and the relative lift).
    control_raw: ArmSummary,
    treatment_raw: ArmSummary,
}

/// Reads one per-project sum.
type UnitValue = fn(&Unit) -> f64;

fn ratio_rows(units: &[&Unit], numerator: UnitValue, denominator: UnitValue) -> Vec<[f64; 2]> {
    units
        .iter()
        .filter(|u| denominator(u) > 0.0)
        .map(|u| [numerator(u), denominator(u)])
        .collect()
}

fn arms(metric: Metric, control: &[&Unit], treatment: &[&Unit]) -> Result<Arms, StatsError> {
    match metric {
        Metric::RewriteRate => {
            let (c, t) = (
                Moments::from_rows(&ratio_rows(control, |u| u.removed, |u| u.generated))?,
                Moments::from_rows(&ratio_rows(treatment, |u| u.removed, |u| u.generated))?,
            );
            let (c_raw, t_raw) = (ArmSummary::from_ratio(&c)?, ArmSummary::from_ratio(&t)?);
            let plain = Arms {
                control: c_raw,
                treatment: t_raw,
                method: "delta_ratio",
                cuped_theta: None,
                variance_reduction: None,
                control_raw: c_raw,
                treatment_raw: t_raw,
            };
            Ok(with_cuped(plain, control, treatment))
        }
        Metric::DiffScore => {
            let mean = |units: &[&Unit]| -> Result<ArmSummary, StatsError> {
                let values: Vec<f64> = units
                    .iter()
                    .filter(|u| u.diff_score_count > 0)
                    .map(|u| u.diff_score_sum / u.diff_score_count as f64)
                    .collect();
                Ok(ArmSummary::from_mean(&Moments::from_values(&values)?))
            };
            let (c, t) = (mean(control)?, mean(treatment)?);
            Ok(Arms {
                control: c,
                treatment: t,
                method: "welch_t",
                cuped_theta: None,
                variance_reduction: None,
                control_raw: c,
                treatment_raw: t,
            })
        }
        Metric::RewrittenShare | Metric::GatePassRate => {
            let (numerator, denominator): (UnitValue, UnitValue) = if metric == Metric::RewrittenShare {
                (|u| u.rewritten, |u| u.rewritten_known)
            } else {
                (|u| u.gates_passed, |u| u.gates_evaluated)
            };
            if metric == Metric::GatePassRate && control.iter().all(|u| u.gates_evaluated == 0.0) {
                return Err(StatsError::Empty {
                    name: "gate_results rows for the control's projects",
                });
            }
            if metric == Metric::GatePassRate && treatment.iter().all(|u| u.gates_evaluated == 0.0) {
                return Err(StatsError::Empty {
                    name: "gate_results rows for the treatment's projects",
                });
            }
            let (c, t) = (
                ArmSummary::from_ratio(&Moments::from_rows(&ratio_rows(control, numerator, denominator))?)?,
                ArmSummary::from_ratio(&Moments::from_rows(&ratio_rows(treatment, numerator, denominator))?)?,
            );
            Ok(Arms {
                control: c,
                treatment: t,
                method: "proportion_delta",
                cuped_theta: None,
                variance_reduction: None,
                control_raw: c,
                treatment_raw: t,
            })
        }
    }
}

/// CUPED with each project's pre-experiment rewrite rate, when enough projects have one
/// in both arms; projects without pre-period lines enter with zero pre sums (the
/// covariate is pre-treatment, so this keeps the estimate unbiased). Falls back to the
/// plain analysis when CUPED cannot be computed.
fn with_cuped(plain: Arms, control: &[&Unit], treatment: &[&Unit]) -> Arms {
    let rows = |units: &[&Unit]| -> Vec<[f64; 4]> {
        units
            .iter()
            .filter(|u| u.generated > 0.0)
            .map(|u| [u.removed, u.generated, u.pre_removed, u.pre_generated])
            .collect()
    };
    let has_pre = |units: &[&Unit]| units.iter().filter(|u| u.pre_generated > 0.0).count() >= 2;
    if !has_pre(control) || !has_pre(treatment) {
        return plain;
    }
    let (Ok(c), Ok(t)) = (Moments::from_rows(&rows(control)), Moments::from_rows(&rows(treatment))) else {
        return plain;
    };
    let Ok(adjusted) = cuped_ratio(&c, &t) else { return plain };
    let variance = |a: &ArmSummary, b: &ArmSummary| a.variance / a.n as f64 + b.variance / b.n as f64;
    let before = variance(&plain.control, &plain.treatment);
    let after = variance(&adjusted.control, &adjusted.treatment);
    Arms {
        control: adjusted.control,
        treatment: adjusted.treatment,
        method: "delta_ratio+cuped",
        cuped_theta: Some(adjusted.theta),
        variance_reduction: (before > 0.0).then(|| 1.0 - after / before),
        ..plain
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::LowerIsBetter => "lower_is_better",
        Direction::HigherIsBetter => "higher_is_better",
    }
}

/// Analyses one experiment on `date` from its projects. Rows come in config order:
/// for each treatment, each metric (primary first).
///
/// `window_days` is the scoring window: generations of day `g` are scored on `g +
/// window_days`, so on `date` the data reach `date - window_days`; the sequential power is
/// planned on that.
pub fn analyse(experiment: &Experiment, date: PartitionDate, window_days: u32, units: &Units) -> Vec<ResultRow> {
    let counts = units.counts(experiment.variants.len());
    let srm = sample_ratio_mismatch(&counts, &experiment.weights()).ok().map(|s| s.p_value);
    let last = if date < experiment.end { date } else { experiment.end };
    let days_running = (last.date() - experiment.start.date()).num_days() + 1;
    let control_index = experiment.control;
    let by_variant = |i: usize| -> Vec<&Unit> { units.projects.values().filter(|u| u.variant == i).collect() };
    let control_units = by_variant(control_index);
    let control_variant = experiment.control_variant();
    let treatments = experiment.variants.len() - 1;
    let mut rows = Vec::new();
    for (index, treatment) in experiment.variants.iter().enumerate() {
        if index == control_index {
            continue;
        }
        let plan = Plan {
            experiment,
            date,
            window_days,
            treatment: index,
            treatments,
            projects_so_far: units.projects.len() as f64,
        };
        let treatment_units = by_variant(index);
        for (metric, role) in experiment.metrics() {
            let generations = |u: &[&Unit]| u.iter().map(|x| x.generations as i64).sum();
            let mut row = ResultRow {
                experiment_id: experiment.id.clone(),
                template_id: experiment.template_id.clone(),
                metric: metric.as_str(),
                metric_role: role.as_str(),
                direction: direction_name(metric.direction()),
                method: "",
                control_variant: control_variant.name.clone(),
                treatment_variant: treatment.name.clone(),
                control_version: control_variant.version.clone(),
                treatment_version: treatment.version.clone(),
                days_running,
                units_control: control_units.len() as i64,
                units_treatment: treatment_units.len() as i64,
                generations_control: generations(&control_units),
                generations_treatment: generations(&treatment_units),
                alpha: experiment.alpha,
                srm_p_value: srm,
                srm_flag: srm.is_some_and(|p| p < SRM_THRESHOLD),
                routing_mismatches: units.routing_mismatches,
                version_mismatches: units.version_mismatches,
                guardrail_margin: (role == MetricRole::Guardrail)
                    .then(|| experiment.guardrail(metric).map(|g| g.margin.0))
                    .flatten(),
                ..ResultRow::default()
            };
            row.method = match metric {
                Metric::RewriteRate => "delta_ratio",
                Metric::DiffScore => "welch_t",
                Metric::RewrittenShare | Metric::GatePassRate => "proportion_delta",
            };
            let floor = SEQUENTIAL_MIN_UNITS_PER_ARM.max(experiment.min_units_per_variant as i64);
            let sequential_allowed = row.units_control.min(row.units_treatment) >= floor;
            let filled = if metric == Metric::GatePassRate && !units.gate_results_read {
                Err("not judged: ab-significance ran without --gate-results, so gate_pass_rate has no data".to_owned())
            } else {
                fill(
                    &mut row,
                    experiment,
                    metric,
                    &control_units,
                    &treatment_units,
                    sequential_allowed,
                    &plan,
                )
                .map_err(|e| e.to_string())
            };
            if let Err(e) = filled {
                row.note = Some(e);
                if role == MetricRole::Guardrail {
                    row.guardrail_status = Some(NOT_JUDGED);
                }
            } else if !sequential_allowed {
                row.note = Some(format!(
                    "no sequential verdict: {} projects in the smaller arm, {floor} needed (docs/ab-significance.md)",
                    row.units_control.min(row.units_treatment)
                ));
            }
            rows.push(row);
        }
    }
    adjust(&mut rows);
    rows
}

/// Computes the statistics of one row; on a statistical impossibility (too few units,
/// zero variance) the row keeps what could be computed and says why in `note`.
fn fill(
    row: &mut ResultRow,
    experiment: &Experiment,
    metric: Metric,
    control: &[&Unit],
    treatment: &[&Unit],
    sequential_allowed: bool,
    plan: &Plan<'_>,
) -> Result<(), StatsError> {
    let arms = arms(metric, control, treatment)?;
    row.method = arms.method;
    row.cuped_theta = arms.cuped_theta;
    row.variance_reduction = arms.variance_reduction;
    row.control_mean = Some(arms.control_raw.mean);
    row.treatment_mean = Some(arms.treatment_raw.mean);
    let alpha = experiment.alpha;
    let reference = if metric == Metric::DiffScore {
        Reference::StudentT
    } else {
        Reference::Normal
    };
    let absolute = two_sample(
        &arms.control,
        &arms.treatment,
        &TestOptions {
            alpha,
            difference: Difference::Absolute,
            reference,
        },
    )?;
    row.estimate = Some(absolute.estimate);
    row.ci_low = Some(absolute.ci_low);
    row.ci_high = Some(absolute.ci_high);
    row.p_value = Some(absolute.p_value);
    row.mde = hive_stats::power::minimum_detectable_effect(absolute.std_error, alpha, experiment.power).ok();
    row.power_at_target = experiment
        .target_relative_effect
        .and_then(|t| hive_stats::power::power(t * arms.control_raw.mean, absolute.std_error, alpha).ok());
    let sequential = |difference| {
        always_valid(
            &arms.control,
            &arms.treatment,
            &SequentialOptions {
                alpha,
                tuning: experiment.sequential_tuning,
                difference,
            },
        )
    };
    let seq = sequential(Difference::Absolute)?;
    if row.metric_role == "primary" {
        planned_power(row, plan, &arms, seq.std_error);
    }
    if sequential_allowed {
        row.seq_ci_low = Some(seq.ci_low);
        row.seq_ci_high = Some(seq.ci_high);
        row.seq_p_value = Some(seq.p_value);
    }
    // Relative figures need a non-zero control mean.
    let relative = two_sample(
        &arms.control,
        &arms.treatment,
        &TestOptions {
            alpha,
            difference: Difference::Relative,
            reference,
        },
    )?;
    row.relative_lift = Some(relative.estimate);
    row.relative_ci_low = Some(relative.ci_low);
    row.relative_ci_high = Some(relative.ci_high);
    let seq_relative = sequential(Difference::Relative)?;
    if sequential_allowed {
        row.seq_relative_ci_low = Some(seq_relative.ci_low);
        row.seq_relative_ci_high = Some(seq_relative.ci_high);
    }
    if let Some(margin) = row.guardrail_margin {
        judge_guardrail(
            row,
            experiment,
            metric,
            &arms,
            margin,
            sequential_allowed.then_some((seq_relative.ci_low, seq_relative.ci_high)),
        );
    }
    let bayes = posterior(
        &arms.control,
        &arms.treatment,
        &BayesOptions {
            alpha,
            difference: Difference::Relative,
            direction: metric.direction(),
            prior: None,
        },
    )?;
    row.chance_to_win = Some(bayes.chance_to_win);
    row.expected_loss = Some(bayes.risk_treatment);
    Ok(())
}

/// A guardrail's status on tonight's relative sequence (`None` below the minimum
/// projects: `inconclusive`), and the always-valid p-value of "worse by exactly the
/// margin" that promote-templates adjusts across treatments and guardrails.
fn judge_guardrail(row: &mut ResultRow, experiment: &Experiment, metric: Metric, arms: &Arms, margin: f64, interval: Option<(f64, f64)>) {
    let Some((low, high)) = interval else {
        row.guardrail_status = Some("inconclusive");
        return;
    };
    row.guardrail_status = Some(guardrail_status(metric.direction(), margin, low, high));
    // The null "worse by exactly the margin", on the relative scale.
    let null = match metric.direction() {
        Direction::LowerIsBetter => margin,
        Direction::HigherIsBetter => -margin,
    };
    row.guardrail_seq_p_value = p_value_against(
        &arms.control,
        &arms.treatment,
        &SequentialOptions {
            alpha: experiment.alpha,
            tuning: experiment.sequential_tuning,
            difference: Difference::Relative,
        },
        null,
    )
    .ok();
}

/// The sequential rule's MDE and power at the target by `end + window_days`, from the
/// standard error `std_error` of tonight's absolute difference.
fn planned_power(row: &mut ResultRow, plan: &Plan<'_>, arms: &Arms, std_error: f64) {
    // s of the sequence: the standard error at N units is s / sqrt(N).
    let unit_sd = std_error * ((arms.control.n + arms.treatment.n) as f64).sqrt();
    row.seq_unit_sd = Some(unit_sd);
    if let Some(design) = plan.design() {
        let experiment = plan.experiment;
        row.seq_mde = standardized_mde(&design, experiment.power).map(|m| m * unit_sd);
        row.seq_power_at_target = experiment
            .target_relative_effect
            .and_then(|t| sequential_power(t * arms.control_raw.mean, unit_sd, &design).ok());
    }
}

/// Non-inferiority on the always-valid relative interval: `fail` when the treatment is
/// shown worse than the control by more than `margin`, `pass` when it is shown not to be.
pub fn guardrail_status(direction: Direction, margin: f64, low: f64, high: f64) -> &'static str {
    // Express "worse" as a positive number whatever the direction.
    let (worse_low, worse_high) = match direction {
        Direction::LowerIsBetter => (low, high),
        Direction::HigherIsBetter => (-high, -low),
    };
    if worse_low > margin {
        "fail"
    } else if worse_high < margin {
        "pass"
    } else {
        "inconclusive"
    }
}

/// Holm and Benjamini-Hochberg across the experiment's rows with a p-value.
fn adjust(rows: &mut [ResultRow]) {
    let indices: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].p_value.is_some()).collect();
    let p: Vec<f64> = indices.iter().filter_map(|&i| rows[i].p_value).collect();
    if p.is_empty() {
        return;
    }
    if let (Ok(holm), Ok(bh)) = (hive_stats::multiple::holm(&p), hive_stats::multiple::benjamini_hochberg(&p)) {
        for (k, &i) in indices.iter().enumerate() {
            rows[i].p_value_adjusted = Some(holm[k]);
            rows[i].p_value_bh = Some(bh[k]);
        }
    }
}

/// What the sequential power of one comparison is planned on.
struct Plan<'a> {
    experiment: &'a Experiment,
    date: PartitionDate,
    window_days: u32,
    treatment: usize,
    treatments: usize,
    /// Projects of the experiment (all arms) analysed tonight.
    projects_so_far: f64,
}

impl Plan<'_> {
    /// The looks at which the rule may decide, from `start` until `end + window_days`:
    /// on the night `start + k - 1 + window_days` the first `k` days are scored, with
    /// `traffic × k` projects in all arms, the comparison's share of them in its two arms.
    /// A look counts when the minimum runtime and the minimum projects per arm are
    /// reached. Traffic is `expected_projects_per_day` when configured, else the rate
    /// seen so far (projects per scored day). The level is `alpha / treatments`, Holm's
    /// first step.
    fn design(&self) -> Option<SequentialDesign> {
        self.schedule().map(|(design, _)| design)
    }

    /// [`Plan::design`] and, for each of its looks, the number of scored days `k`.
    fn schedule(&self) -> Option<(SequentialDesign, Vec<u32>)> {
        let e = self.experiment;
        let runtime = e.runtime_days();
        let traffic = if let Some(t) = e.expected_projects_per_day {
            t
        } else {
            let scored_through = self.date.minus_days(self.window_days).min(e.end);
            let scored_days = (scored_through.date() - e.start.date()).num_days() + 1;
            if scored_days < 1 || self.projects_so_far <= 0.0 {
                return None;
            }
            self.projects_so_far / scored_days as f64
        };
        let weights = e.weights();
        let (wc, wt) = (weights[e.control], weights[self.treatment]);
        let floor = SEQUENTIAL_MIN_UNITS_PER_ARM.max(e.min_units_per_variant as i64) as f64;
        let days: Vec<u32> = (1..=runtime as u32)
            .filter(|&k| {
                let days_running = (f64::from(k) + f64::from(self.window_days)).min(runtime);
                let projects = traffic * f64::from(k);
                days_running >= f64::from(e.min_runtime_days) && projects * wc.min(wt) >= floor
            })
            .collect();
        let looks = days.iter().map(|&k| traffic * f64::from(k) * (wc + wt)).collect();
        Some((
            SequentialDesign {
                alpha: e.alpha / self.treatments as f64,
                tuning: e.sequential_tuning,
                tuning_alpha: e.alpha,
                looks,
            },
            days,
        ))
    }
}

/// The sequential MDE of `design` for a unit standard deviation of 1 (the MDE scales
/// with it), remembered per design: it takes a few dozen power evaluations, and the
/// design of a configured experiment is the same every night.
fn standardized_mde(design: &SequentialDesign, power: f64) -> Option<f64> {
    use std::sync::{LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<BTreeMap<Vec<u64>, Option<f64>>>> = LazyLock::new(|| Mutex::new(BTreeMap::new()));
    let key: Vec<u64> = [design.alpha, design.tuning, design.tuning_alpha, power]
        .iter()
        .chain(&design.looks)
        .map(|v| v.to_bits())
        .collect();
    if let Some(hit) = CACHE.lock().ok().and_then(|c| c.get(&key).copied()) {
        return hit;
    }
    let mde = sequential_mde(1.0, design, power).ok().flatten();
    if let Ok(mut cache) = CACHE.lock() {
        cache.insert(key, mde);
    }
    mde
}

/// When a comparison's planned sample is reached: the first night on which the
/// sequential rule that decides (the design of `seq_power_at_target`) has `power` to
/// detect the target effect, had it stopped there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleNeeded {
    /// Days of generations that must be scored.
    pub scored_days: u32,
    /// The night they are (`start + scored_days - 1 + window_days`).
    pub night: PartitionDate,
    /// Projects in the comparison's two arms then, at the planned traffic.
    pub projects: f64,
    /// Power at the target of the rule run through that night.
    pub power: f64,
}

/// The planned sample of the primary comparison `row` (needs the experiment's
/// `target_relative_effect`), or `None` when the plan has no look or does not reach the
/// experiment's `power` by `end + window_days` (`seq_power_at_target` then says how far
/// it gets). `projects_so_far` are tonight's projects in every arm.
///
/// Power grows with every look added, so the first sufficient prefix of looks is found by
/// bisection on the same `sequential_power` that gives `seq_power_at_target`.
pub fn sample_needed(
    experiment: &Experiment,
    date: PartitionDate,
    window_days: u32,
    row: &ResultRow,
    projects_so_far: f64,
) -> Option<SampleNeeded> {
    let treatment = experiment.variants.iter().position(|v| v.name == row.treatment_variant)?;
    let plan = Plan {
        experiment,
        date,
        window_days,
        treatment,
        treatments: experiment.variants.len() - 1,
        projects_so_far,
    };
    let (design, days) = plan.schedule()?;
    let effect = experiment.target_relative_effect? * row.control_mean?;
    let unit_sd = row.seq_unit_sd?;
    let power_through = |looks: usize| {
        let prefix = SequentialDesign {
            looks: design.looks[..looks].to_vec(),
            ..design.clone()
        };
        sequential_power(effect, unit_sd, &prefix).ok()
    };
    if days.is_empty() || power_through(days.len())? < experiment.power {
        return None;
    }
    // Smallest `looks` in 1..=len with enough power: power_through(hi) always has it.
    let (mut lo, mut hi) = (0, days.len());
    while hi - lo > 1 {
        let mid = lo.midpoint(hi);
        if power_through(mid)? >= experiment.power {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let scored_days = days[hi - 1];
    Some(SampleNeeded {
        scored_days,
        night: experiment.start.plus_days(scored_days - 1 + window_days),
        projects: design.looks[hi - 1],
        power: power_through(hi)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::ExperimentsConfig;
    use chrono::{Duration, TimeZone, Utc};

    fn experiment(target: f64) -> Experiment {
        let text = format!(
            "experiments:\n  - id: e\n    template_id: t\n    start: 2026-01-01\n    end: 2026-01-28\n    control: a\n    variants:\n      - {{name: a, version: \"1\", weight: 0.5}}\n      - {{name: b, version: \"2\", weight: 0.5}}\n    primary_metric: rewrite_rate\n    expected_projects_per_day: 20\n    min_runtime_days: 7\n    min_units_per_variant: 50\n    target_relative_effect: {target}\n"
        );
        ExperimentsConfig::parse(std::path::Path::new("e.yaml"), &text)
            .unwrap()
            .experiments
            .remove(0)
    }

    /// 200 projects over the first 10 days, a rewrite rate around 0.3 with project noise.
    fn generations(experiment: &Experiment) -> Vec<Generation> {
        let weights = experiment.weights();
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        (0..200_u32)
            .map(|p| {
                let project = format!("p{p:04}");
                let arm = hive_core::routing::assign(&experiment.salt, &project, &weights).unwrap();
                let generated = 100 + i64::from(p % 37) * 5;
                Generation {
                    event_id: Some(format!("g{p}")),
                    project_id: project,
                    template_id: "t".into(),
                    template_version: experiment.variants[arm].version.clone(),
                    experiment_id: Some("e".into()),
                    variant: Some(experiment.variants[arm].name.clone()),
                    generated_at: start + Duration::days(i64::from(p % 10)),
                    lines_generated: generated,
                    lines_removed: generated * i64::from(15 + p % 31) / 100,
                    diff_score: Some(0.2),
                    rewritten: Some(false),
                }
            })
            .collect()
    }

    #[test]
    fn the_planned_sample_is_the_first_look_with_the_configured_power() {
        let date = PartitionDate::new(chrono::NaiveDate::from_ymd_opt(2026, 1, 17).unwrap());
        let mut needed_days = Vec::new();
        for target in [0.1, 0.2] {
            let e = experiment(target);
            let all = generations(&e);
            let refs: Vec<&Generation> = all.iter().collect();
            let units = units(&e, &refs, &[], None);
            let rows = analyse(&e, date, 7, &units);
            let row = rows.iter().find(|r| r.metric_role == "primary").unwrap();
            let so_far = units.projects.len() as f64;
            let plan = Plan {
                experiment: &e,
                date,
                window_days: 7,
                treatment: 1,
                treatments: 1,
                projects_so_far: so_far,
            };
            let (design, days) = plan.schedule().unwrap();
            let effect = target * row.control_mean.unwrap();
            let sd = row.seq_unit_sd.unwrap();
            let power = |looks: usize| {
                let prefix = SequentialDesign {
                    looks: design.looks[..looks].to_vec(),
                    ..design.clone()
                };
                sequential_power(effect, sd, &prefix).unwrap()
            };
            // The whole plan is the design behind seq_power_at_target.
            assert!((power(days.len()) - row.seq_power_at_target.unwrap()).abs() < 1e-12);
            match sample_needed(&e, date, 7, row, so_far) {
                Some(s) => {
                    // A linear scan over the looks finds the same first one.
                    let first = (1..=days.len()).find(|&k| power(k) >= e.power).unwrap();
                    assert_eq!(s.scored_days, days[first - 1]);
                    assert_eq!(s.projects.to_bits(), design.looks[first - 1].to_bits());
                    assert!(s.power >= e.power && (first == 1 || power(first - 1) < e.power));
                    assert_eq!(s.night, e.start.plus_days(s.scored_days - 1 + 7));
                    needed_days.push(s.scored_days);
                }
                None => assert!(power(days.len()) < e.power, "{target}"),
            }
        }
        // A larger target effect needs no more days.
        if let [small, large] = needed_days[..] {
            assert!(large <= small, "{needed_days:?}");
        }
        assert!(!needed_days.is_empty(), "neither target is reachable: the test plans nothing");
    }
}
