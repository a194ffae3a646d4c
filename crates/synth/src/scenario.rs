//! The scenario a synthetic data set is drawn from: sizes, templates, experiments with
//! planted effects, and the rates of every anomaly the jobs must survive.
//!
//! A scenario is plain YAML (strict: unknown keys are errors) with defaults for every
//! field, so `synth-events` runs with no file at all and a test can override one knob.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::SynthError;

/// Everything that shapes a synthetic data set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Seed of every random draw; the same scenario and seed give identical bytes.
    pub seed: u64,
    /// First day generations happen (UTC).
    pub start_date: NaiveDate,
    /// Number of days generations are spread over.
    pub days: u32,
    /// Number of distinct generation events (duplicates and broken copies come on top).
    pub generations: u64,
    /// Mean number of generations per project (the first is the scaffold).
    pub generations_per_project: f64,
    /// Mean days between two generations of a project.
    pub days_between_generations: f64,
    /// The observation window the edits are simulated for, in days.
    pub window_days: u32,
    /// Mean days between two snapshots of a project.
    pub days_between_snapshots: f64,
    /// Spread of the per-project editing propensity (sigma of a mean-one log-normal):
    /// generations of a project are correlated through it.
    pub project_propensity_sigma: f64,
    /// Rates of anomalies.
    pub anomalies: Anomalies,
    /// Templates in use.
    pub templates: Vec<TemplateUse>,
    /// Experiments, at most one per template.
    pub experiments: Vec<ExperimentPlan>,
}

/// How often each anomaly is planted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Anomalies {
    /// Share of projects that never send a snapshot.
    pub project_without_snapshots: f64,
    /// Share of events delivered twice (identical copy, same day or the next).
    pub duplicate_event: f64,
    /// Share of events that arrive 1 to 3 days late, still inside their window.
    pub late_event: f64,
    /// Share of events that arrive after their observation window closed.
    pub very_late_event: f64,
    /// Share of events delivered broken (bad JSON, missing field, bad file entry,
    /// invalid UTF-8).
    pub broken_event: f64,
    /// Share of generated text files with CRLF line endings.
    pub crlf_generated: f64,
    /// Share of edited files whose editor converted them to CRLF.
    pub crlf_converted: f64,
    /// Share of text files whose final newline is missing (generated or after edit).
    pub missing_final_newline: f64,
    /// Share of edited projects where the user also adds files of their own.
    pub user_added_files: f64,
}

/// A template in use and its baseline editing behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateUse {
    /// Template id (see `templates::TEMPLATES`).
    pub id: String,
    /// Share of new projects using it.
    pub share: f64,
    /// Mean share of generated lines users rewrite (before any planted effect).
    pub baseline_rewrite: f64,
    /// Version used by projects outside an experiment (default: the newest).
    #[serde(default)]
    pub version: Option<String>,
}

/// An experiment on one template, with the truth to recover.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentPlan {
    pub id: String,
    pub template_id: String,
    /// Routing salt (defaults to the experiment id).
    #[serde(default)]
    pub salt: Option<String>,
    /// First variant is the control.
    pub variants: Vec<VariantPlan>,
}

/// One arm of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantPlan {
    pub name: String,
    pub version: String,
    pub weight: f64,
    /// Planted relative change of the rewrite rate versus control (-0.2 = 20% less).
    #[serde(default)]
    pub effect: f64,
}

impl ExperimentPlan {
    /// The routing salt.
    pub fn salt(&self) -> &str {
        self.salt.as_deref().unwrap_or(&self.id)
    }
}

impl Default for Anomalies {
    fn default() -> Self {
        Self {
            project_without_snapshots: 0.02,
            duplicate_event: 0.01,
            late_event: 0.05,
            very_late_event: 0.005,
            broken_event: 0.004,
            crlf_generated: 0.02,
            crlf_converted: 0.01,
            missing_final_newline: 0.03,
            user_added_files: 0.3,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            seed: 42,
            start_date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default(),
            days: 14,
            generations: 1000,
            generations_per_project: 4.0,
            days_between_generations: 2.5,
            window_days: 7,
            days_between_snapshots: 1.5,
            project_propensity_sigma: 0.5,
            anomalies: Anomalies::default(),
            templates: vec![
                TemplateUse {
                    id: "py-fastapi-service".into(),
                    share: 0.35,
                    baseline_rewrite: 0.28,
                    version: None,
                },
                TemplateUse {
                    id: "rust-axum-service".into(),
                    share: 0.25,
                    baseline_rewrite: 0.22,
                    version: None,
                },
                TemplateUse {
                    id: "ts-react-app".into(),
                    share: 0.25,
                    baseline_rewrite: 0.35,
                    version: None,
                },
                TemplateUse {
                    id: "data-pipeline".into(),
                    share: 0.15,
                    baseline_rewrite: 0.30,
                    version: None,
                },
            ],
            experiments: vec![
                ExperimentPlan {
                    id: "exp-fastapi-3".into(),
                    template_id: "py-fastapi-service".into(),
                    salt: None,
                    variants: vec![
                        VariantPlan {
                            name: "control".into(),
                            version: "2.4.0".into(),
                            weight: 0.5,
                            effect: 0.0,
                        },
                        VariantPlan {
                            name: "treatment".into(),
                            version: "3.0.0".into(),
                            weight: 0.5,
                            effect: -0.2,
                        },
                    ],
                },
                ExperimentPlan {
                    id: "exp-axum-2".into(),
                    template_id: "rust-axum-service".into(),
                    salt: None,
                    variants: vec![
                        VariantPlan {
                            name: "control".into(),
                            version: "1.1.0".into(),
                            weight: 0.4,
                            effect: 0.0,
                        },
                        VariantPlan {
                            name: "v2".into(),
                            version: "2.0.0".into(),
                            weight: 0.3,
                            effect: 0.0,
                        },
                        VariantPlan {
                            name: "v1".into(),
                            version: "1.0.0".into(),
                            weight: 0.3,
                            effect: 0.15,
                        },
                    ],
                },
            ],
        }
    }
}

impl Scenario {
    /// Parses a scenario from YAML text; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, SynthError> {
        let scenario: Self = serde_yaml::from_str(text).map_err(|e| SynthError::Scenario {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        scenario.validate(origin)?;
        Ok(scenario)
    }

    /// Checks the values that serde cannot.
    pub fn validate(&self, origin: &str) -> Result<(), SynthError> {
        let bad = |message: String| SynthError::Scenario {
            origin: origin.to_owned(),
            message,
        };
        if self.days == 0 {
            return Err(bad("`days` must be at least 1".into()));
        }
        if self.generations_per_project < 1.0 || !self.generations_per_project.is_finite() {
            return Err(bad("`generations_per_project` must be at least 1".into()));
        }
        for (name, v) in [
            ("days_between_generations", self.days_between_generations),
            ("days_between_snapshots", self.days_between_snapshots),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(format!("`{name}` must be positive, got {v}")));
            }
        }
        let a = &self.anomalies;
        for (name, v) in [
            ("project_without_snapshots", a.project_without_snapshots),
            ("duplicate_event", a.duplicate_event),
            ("late_event", a.late_event),
            ("very_late_event", a.very_late_event),
            ("broken_event", a.broken_event),
            ("crlf_generated", a.crlf_generated),
            ("crlf_converted", a.crlf_converted),
            ("missing_final_newline", a.missing_final_newline),
            ("user_added_files", a.user_added_files),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(format!("`anomalies.{name}` must be in [0, 1], got {v}")));
            }
        }
        if self.templates.is_empty() {
            return Err(bad("`templates` is empty".into()));
        }
        for t in &self.templates {
            let Some(spec) = crate::templates::TEMPLATES.iter().find(|s| s.id == t.id) else {
                return Err(bad(format!("unknown template `{}`", t.id)));
            };
            if let Some(v) = &t.version
                && !spec.versions.contains(&v.as_str())
            {
                return Err(bad(format!("template `{}` has no version `{v}`", t.id)));
            }
            if !(0.0..1.0).contains(&t.baseline_rewrite) || t.share < 0.0 {
                return Err(bad(format!(
                    "template `{}`: share must be >= 0 and baseline_rewrite in [0, 1)",
                    t.id
                )));
            }
        }
        for e in &self.experiments {
            let Some(spec) = crate::templates::TEMPLATES.iter().find(|s| s.id == e.template_id) else {
                return Err(bad(format!("experiment `{}`: unknown template `{}`", e.id, e.template_id)));
            };
            let weights: Vec<f64> = e.variants.iter().map(|v| v.weight).collect();
            hive_core::routing::check_weights(&weights).map_err(|err| bad(format!("experiment `{}`: {err}", e.id)))?;
            for v in &e.variants {
                if !spec.versions.contains(&v.version.as_str()) {
                    return Err(bad(format!(
                        "experiment `{}`: template `{}` has no version `{}`",
                        e.id, e.template_id, v.version
                    )));
                }
                if v.effect <= -1.0 {
                    return Err(bad(format!("experiment `{}` variant `{}`: effect must be > -1", e.id, v.name)));
                }
            }
            if self.experiments.iter().filter(|o| o.template_id == e.template_id).count() > 1 {
                return Err(bad(format!("template `{}` has more than one experiment", e.template_id)));
            }
        }
        Ok(())
    }
}
