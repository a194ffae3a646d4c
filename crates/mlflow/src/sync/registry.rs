//! The model registry side: one model version per promoted template version, the
//! `champion` alias moved only on the night a promotion is decided, and the manual
//! rollback that moves it back.

use std::collections::HashMap;

use serde::Serialize;

use super::{CHAMPION, DATE_TAG, KEY_TAG, Sync, SyncSummary, stable_key};
use crate::batch::{Tag, truncate};
use crate::client::{Client, Retry, RunInfo};
use crate::error::MlflowError;
use crate::tables::{Table, text};

impl Sync<'_> {
    /// Registers each promoted template version once and moves the `champion` alias to it
    /// on the night the promotion was decided.
    ///
    /// promote-templates repeats a `promote` every night after it was taken (`decided_on`
    /// names that night). The model version is keyed by the template version, so the
    /// repetitions find it; the alias moves only when the row's `decided_on` is the date
    /// being synced (rows from before schema 3 have no `decided_on`: the date itself), so
    /// a manual rollback ([`rollback`]) is not undone by the next night's sync.
    pub(super) fn register(&self, table: &Table, runs: &HashMap<String, RunInfo>, summary: &mut SyncSummary) -> Result<(), MlflowError> {
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
