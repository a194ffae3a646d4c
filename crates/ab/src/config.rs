//! The experiments config: which template versions are compared, how traffic is split,
//! what is measured and when a winner may be promoted.
//!
//! One YAML file lists every experiment (format: docs/experiments.md). Parsing is strict
//! because a typo here silently changes a decision: unknown keys, wrong types and
//! out-of-range values are errors naming the line; rules spanning several fields
//! (weights summing to 1, the control being a variant) name the experiment and the line
//! where it starts.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, de};

use hive_core::PartitionDate;

/// A metric the analysis knows how to compute from `generation_scores`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Line-weighted rewrite rate per project: sum removed / sum generated lines, a ratio
    /// metric (delta method). Lower is better.
    RewriteRate,
    /// Mean `diff_score` of a project's generations (Welch on project means). Lower is
    /// better.
    DiffScore,
    /// Share of generations rewritten (`rewritten`), a proportion clustered by project.
    /// Lower is better.
    RewrittenShare,
    /// Share of a project's quality-gate evaluations that pass (`gate_results`, read when
    /// `ab-significance --gate-results` is given), clustered by project. Higher is
    /// better; meant as a guardrail.
    GatePassRate,
}

/// Which way a metric improves.
pub use hive_stats::Direction;

impl Metric {
    /// Every metric, in a fixed order.
    pub const ALL: [Self; 4] = [Self::RewriteRate, Self::DiffScore, Self::RewrittenShare, Self::GatePassRate];

    /// The name used in the config and in `ab_results.metric`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RewriteRate => "rewrite_rate",
            Self::DiffScore => "diff_score",
            Self::RewrittenShare => "rewritten_share",
            Self::GatePassRate => "gate_pass_rate",
        }
    }

    /// Which way the metric improves.
    pub fn direction(self) -> Direction {
        match self {
            Self::RewriteRate | Self::DiffScore | Self::RewrittenShare => Direction::LowerIsBetter,
            Self::GatePassRate => Direction::HigherIsBetter,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Name logged in `generation_scores.variant`.
    pub name: String,
    /// Template version served to this arm (`template_version`).
    pub version: String,
    /// Share of projects routed here; the weights of an experiment sum to 1.
    pub weight: UnitInterval,
}

/// A guardrail: a metric the treatment must not make worse by more than a margin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrail {
    pub metric: Metric,
    /// Non-inferiority margin, relative to the control's value (0.05: at most 5% worse).
    pub margin: UnitInterval,
}

/// A number in `[0, 1]`, checked while parsing so the error names the line.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct UnitInterval(pub f64);

impl<'de> Deserialize<'de> for UnitInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(de::Error::invalid_value(de::Unexpected::Float(v), &"a number in [0, 1]"))
        }
    }
}

/// A probability strictly between 0 and 1 (alpha, power).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct OpenUnit(pub f64);

impl<'de> Deserialize<'de> for OpenUnit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v > 0.0 && v < 1.0 {
            Ok(Self(v))
        } else {
            Err(de::Error::invalid_value(
                de::Unexpected::Float(v),
                &"a number strictly between 0 and 1",
            ))
        }
    }
}

/// A positive, finite number (sequential tuning).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Positive(pub f64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v > 0.0 && v.is_finite() {
            Ok(Self(v))
        } else {
            Err(de::Error::invalid_value(de::Unexpected::Float(v), &"a positive number"))
        }
    }
}

fn default_alpha() -> OpenUnit {
    OpenUnit(0.05)
}
fn default_power() -> OpenUnit {
    OpenUnit(0.8)
}
/// gbstats' default tuning, used when neither `sequential_tuning` nor
/// `expected_projects_per_day` is given.
pub const FALLBACK_TUNING: f64 = 5000.0;
fn default_min_runtime_days() -> u32 {
    7
}
fn default_min_units() -> u64 {
    100
}
fn default_cuped_lookback_days() -> u32 {
    28
}

/// One experiment as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    id: String,
    template_id: String,
    /// Routing salt; defaults to the id.
    #[serde(default)]
    salt: Option<String>,
    start: NaiveDate,
    end: NaiveDate,
    control: String,
    variants: Vec<Variant>,
    primary_metric: Metric,
    #[serde(default)]
    secondary_metrics: Vec<Metric>,
    #[serde(default)]
    guardrails: Vec<Guardrail>,
    #[serde(default = "default_alpha")]
    alpha: OpenUnit,
    #[serde(default = "default_power")]
    power: OpenUnit,
    #[serde(default)]
    sequential_tuning: Option<Positive>,
    #[serde(default)]
    expected_projects_per_day: Option<Positive>,
    #[serde(default = "default_min_runtime_days")]
    min_runtime_days: u32,
    #[serde(default = "default_min_units")]
    min_units_per_variant: u64,
    #[serde(default)]
    target_relative_effect: Option<UnitInterval>,
    #[serde(default = "default_cuped_lookback_days")]
    cuped_lookback_days: u32,
    #[serde(default)]
    hypothesis: Option<String>,
    #[serde(default)]
    owner: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    experiments: Vec<RawExperiment>,
}

/// A validated experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: String,
    pub template_id: String,
    /// Salt of the routing hash (`hive_core::routing`).
    pub salt: String,
    /// First and last day generations count (by `generated_at`, UTC), inclusive.
    pub start: PartitionDate,
    pub end: PartitionDate,
    /// Index of the control in `variants`.
    pub control: usize,
    pub variants: Vec<Variant>,
    pub primary_metric: Metric,
    pub secondary_metrics: Vec<Metric>,
    pub guardrails: Vec<Guardrail>,
    /// Significance level of every test and interval (two-sided).
    pub alpha: f64,
    /// Power at which the minimum detectable effect is reported.
    pub power: f64,
    /// Total projects at which the confidence sequence is tightest: as configured, else
    /// [`Experiment::planned_projects`], else [`FALLBACK_TUNING`].
    pub sequential_tuning: f64,
    /// New projects expected per day, all arms together (the planned traffic).
    pub expected_projects_per_day: Option<f64>,
    /// A decision needs at least this many days since `start`.
    pub min_runtime_days: u32,
    /// ... and at least this many projects in every variant.
    pub min_units_per_variant: u64,
    /// Relative effect the experiment was sized for; power at it is reported.
    pub target_relative_effect: Option<f64>,
    /// Days before `start` searched for each project's pre-experiment rewrite rate.
    pub cuped_lookback_days: u32,
    /// What the treatment is expected to change, and why (shown in the report).
    pub hypothesis: Option<String>,
    /// Who decides on the experiment (shown in the report).
    pub owner: Option<String>,
    /// Line of the file where the experiment starts (for messages).
    pub line: usize,
}

impl Experiment {
    /// The control variant.
    pub fn control_variant(&self) -> &Variant {
        &self.variants[self.control]
    }

    /// The routing weights, in variant order.
    pub fn weights(&self) -> Vec<f64> {
        self.variants.iter().map(|v| v.weight.0).collect()
    }

    /// Every metric analysed, with its role, primary first; a metric listed twice is
    /// analysed once. A guardrail is a guardrail even when also listed as secondary.
    pub fn metrics(&self) -> Vec<(Metric, MetricRole)> {
        let mut out: Vec<(Metric, MetricRole)> = Vec::new();
        let all = std::iter::once((self.primary_metric, MetricRole::Primary))
            .chain(self.secondary_metrics.iter().map(|m| (*m, MetricRole::Secondary)))
            .chain(self.guardrails.iter().map(|g| (g.metric, MetricRole::Guardrail)));
        for (metric, role) in all {
            match out.iter_mut().find(|(m, _)| *m == metric) {
                Some((_, existing)) if *existing == MetricRole::Secondary && role == MetricRole::Guardrail => *existing = role,
                Some(_) => {}
                None => out.push((metric, role)),
            }
        }
        out
    }

    /// Days from `start` through `end`, inclusive.
    pub fn runtime_days(&self) -> f64 {
        runtime_days(self.start.date(), self.end.date())
    }

    /// Projects expected by the end: `expected_projects_per_day × runtime_days`, when the
    /// traffic is configured. This is the default `sequential_tuning`.
    pub fn planned_projects(&self) -> Option<f64> {
        self.expected_projects_per_day.map(|t| t * self.runtime_days())
    }

    /// The guardrail on `metric`, if any.
    pub fn guardrail(&self, metric: Metric) -> Option<&Guardrail> {
        self.guardrails.iter().find(|g| g.metric == metric)
    }
}

/// Why a metric is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricRole {
    Primary,
    Secondary,
    Guardrail,
}

impl MetricRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
            Self::Guardrail => "guardrail",
        }
    }
}

/// Every experiment of a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentsConfig {
    pub path: PathBuf,
    pub experiments: Vec<Experiment>,
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read experiments config `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("experiments config `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl hive_core::exit::Classify for ConfigError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        match self {
            // A config that is named but missing is a misconfiguration, not a retry.
            Self::Read { source, .. } if source.kind() != std::io::ErrorKind::NotFound => hive_core::exit::ErrorKind::Runtime,
            Self::Read { .. } | Self::Invalid { .. } => hive_core::exit::ErrorKind::BadInput,
        }
    }
}

impl ExperimentsConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates config text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let raw: RawConfig = hive_core::yaml::from_str_strict(text).map_err(invalid)?;
        let mut ids = BTreeSet::new();
        let mut experiments = Vec::with_capacity(raw.experiments.len());
        for e in raw.experiments {
            let line = line_of_experiment(text, &e.id);
            let fail = |what: String| invalid(format!("experiment `{}` (line {line}): {what}", e.id));
            if e.id.trim().is_empty() {
                return Err(invalid(format!("an experiment at line {line} has an empty id")));
            }
            if !ids.insert(e.id.clone()) {
                return Err(fail("the id is used twice".into()));
            }
            if e.end < e.start {
                return Err(fail(format!("end {} is before start {}", e.end, e.start)));
            }
            if e.variants.len() < 2 {
                return Err(fail("needs a control and at least one treatment".into()));
            }
            let mut names = BTreeSet::new();
            for v in &e.variants {
                if !names.insert(v.name.as_str()) {
                    return Err(fail(format!("variant `{}` is listed twice", v.name)));
                }
            }
            let weights: Vec<f64> = e.variants.iter().map(|v| v.weight.0).collect();
            hive_core::routing::check_weights(&weights).map_err(|err| fail(err.to_string()))?;
            let Some(control) = e.variants.iter().position(|v| v.name == e.control) else {
                return Err(fail(format!("control `{}` is not one of its variants", e.control)));
            };
            if e.guardrails.iter().any(|g| g.metric == e.primary_metric) {
                return Err(fail(format!("`{}` is the primary metric and a guardrail", e.primary_metric)));
            }
            experiments.push(Experiment {
                salt: e.salt.unwrap_or_else(|| e.id.clone()),
                id: e.id,
                template_id: e.template_id,
                start: PartitionDate::new(e.start),
                end: PartitionDate::new(e.end),
                control,
                variants: e.variants,
                primary_metric: e.primary_metric,
                secondary_metrics: e.secondary_metrics,
                guardrails: e.guardrails,
                alpha: e.alpha.0,
                power: e.power.0,
                sequential_tuning: e.sequential_tuning.map_or_else(
                    || {
                        e.expected_projects_per_day
                            .map_or(FALLBACK_TUNING, |t| t.0 * runtime_days(e.start, e.end))
                    },
                    |t| t.0,
                ),
                expected_projects_per_day: e.expected_projects_per_day.map(|t| t.0),
                min_runtime_days: e.min_runtime_days,
                min_units_per_variant: e.min_units_per_variant,
                target_relative_effect: e.target_relative_effect.map(|t| t.0),
                cuped_lookback_days: e.cuped_lookback_days,
                hypothesis: e.hypothesis,
                owner: e.owner,
                line,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            experiments,
        })
    }
}

fn runtime_days(start: NaiveDate, end: NaiveDate) -> f64 {
    ((end - start).num_days() + 1) as f64
}

/// 1-based line of `id: <id>` in the text (0 when not found).
fn line_of_experiment(text: &str, id: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("id:")
                .is_some_and(|v| v.trim().trim_matches(|c| c == '"' || c == '\'') == id)
        })
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    const GOOD: &str = "experiments:
  - id: exp-1
    template_id: t
    start: 2026-10-01
    end: 2026-10-10
    control: control
    variants:
      - {name: control, version: \"1.0\", weight: 0.5}
      - {name: treatment, version: \"2.0\", weight: 0.5}
    primary_metric: rewrite_rate
    guardrails:
      - {metric: diff_score, margin: 0.05}
";

    fn parse(text: &str) -> Result<ExperimentsConfig, String> {
        ExperimentsConfig::parse(Path::new("exp.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_guardrail_listed_as_secondary_stays_a_guardrail() {
        let text = GOOD.replace(
            "    guardrails:",
            "    secondary_metrics: [diff_score, rewritten_share]\n    guardrails:",
        );
        let e = &parse(&text).expect("valid").experiments[0];
        assert_eq!(
            e.metrics(),
            [
                (Metric::RewriteRate, MetricRole::Primary),
                (Metric::DiffScore, MetricRole::Guardrail),
                (Metric::RewrittenShare, MetricRole::Secondary)
            ]
        );
    }

    #[test]
    fn defaults_are_filled() {
        let config = parse(GOOD).expect("valid");
        let e = &config.experiments[0];
        assert_eq!((e.alpha, e.power, e.sequential_tuning), (0.05, 0.8, 5000.0));
        assert_eq!((e.salt.as_str(), e.control, e.line), ("exp-1", 0, 2));
        assert_eq!(
            e.metrics(),
            [
                (Metric::RewriteRate, MetricRole::Primary),
                (Metric::DiffScore, MetricRole::Guardrail)
            ]
        );
    }

    #[test]
    #[allow(clippy::float_cmp, reason = "exact products of small integers")]
    fn the_tuning_defaults_to_the_planned_projects() {
        let planned = GOOD.replace(
            "    primary_metric: rewrite_rate",
            "    primary_metric: rewrite_rate\n    expected_projects_per_day: 40",
        );
        let e = &parse(&planned).expect("valid").experiments[0];
        // 2026-10-01 through 2026-10-10: 10 days of 40 new projects.
        assert_eq!((e.planned_projects(), e.sequential_tuning), (Some(400.0), 400.0));
        let explicit = planned.replace(
            "expected_projects_per_day: 40",
            "expected_projects_per_day: 40\n    sequential_tuning: 900",
        );
        assert_eq!(parse(&explicit).expect("valid").experiments[0].sequential_tuning, 900.0);
    }

    #[test]
    fn the_sample_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/experiments.yaml");
        let config = ExperimentsConfig::load(&path).expect("the sample config is valid");
        assert!(!config.experiments.is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let unknown = GOOD.replace("    primary_metric", "    primary_metrc: x\n    primary_metric");
        let e = parse(&unknown).unwrap_err();
        assert!(e.contains("primary_metrc") && e.contains("line 10"), "{e}");
        let alpha = GOOD.replace(
            "    primary_metric: rewrite_rate",
            "    primary_metric: rewrite_rate\n    alpha: 1.5",
        );
        let e = parse(&alpha).unwrap_err();
        assert!(e.contains("strictly between 0 and 1") && e.contains("line 11"), "{e}");
        let metric = GOOD.replace("primary_metric: rewrite_rate", "primary_metric: speed");
        assert!(parse(&metric).unwrap_err().contains("line 10"));
    }

    #[test]
    fn cross_field_rules_name_the_experiment() {
        let weights = GOOD.replace("weight: 0.5}\n    primary", "weight: 0.4}\n    primary");
        let e = parse(&weights).unwrap_err();
        assert!(e.contains("experiment `exp-1` (line 2)") && e.contains("sum"), "{e}");
        let control = GOOD.replace("control: control", "control: baseline");
        assert!(
            parse(&control)
                .unwrap_err()
                .contains("control `baseline` is not one of its variants")
        );
        let dates = GOOD.replace("end: 2026-10-10", "end: 2026-09-10");
        assert!(parse(&dates).unwrap_err().contains("before start"));
        let guard = GOOD.replace("metric: diff_score", "metric: rewrite_rate");
        assert!(parse(&guard).unwrap_err().contains("primary metric and a guardrail"));
    }
}
