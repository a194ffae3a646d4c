//! The serving contract with maestro-hive: which template version to serve to whom.
//!
//! Two answers, each a plain JSON file the platform reads without knowing this workspace
//! or MLflow (docs/contracts.md):
//!
//! - while an experiment runs, the routing of `experiments.yaml` as a GrowthBook features
//!   file ([`growthbook_features`]): a GrowthBook SDK given it routes every project exactly
//!   as `hive_core::routing` does (hashing version 2, the config's salt and weights);
//! - after a night's decisions, the champion version of each decided template
//!   ([`champions`], written by promote-templates to `champions/dt=D/champions.json`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::ExperimentsConfig;
use crate::promote::{Decision, Promotion};

/// The attribute a GrowthBook SDK must be given the project id in.
pub const HASH_ATTRIBUTE: &str = "id";

/// The experiments config as a GrowthBook features payload (`{"features": {...}}`): one
/// feature per experiment, keyed by the experiment id, whose value is the template
/// version to serve. Its one rule is the experiment: `seed` = the salt, `hashVersion` 2,
/// the variants' versions and weights in config order, coverage 1, and `meta` naming each
/// variant. A project outside any rule (an empty id, which GrowthBook does not enrol)
/// gets the control's version.
pub fn growthbook_features(config: &ExperimentsConfig) -> Value {
    let mut features = serde_json::Map::new();
    for e in &config.experiments {
        let variations: Vec<&str> = e.variants.iter().map(|v| v.version.as_str()).collect();
        let meta: Vec<Value> = e.variants.iter().map(|v| json!({"key": v.name, "name": v.name})).collect();
        features.insert(
            e.id.clone(),
            json!({
                "defaultValue": e.control_variant().version,
                "rules": [{
                    "id": format!("{}-rule", e.id),
                    "key": e.id,
                    "name": e.id,
                    "seed": e.salt,
                    "hashAttribute": HASH_ATTRIBUTE,
                    "hashVersion": 2,
                    "coverage": 1.0,
                    "variations": variations,
                    "weights": e.weights(),
                    "meta": meta,
                }],
            }),
        );
    }
    json!({ "features": features })
}

/// Contract version of `champions.json`.
pub const CHAMPIONS_VERSION: u32 = 1;

/// Why a version is the champion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChampionBasis {
    /// An experiment promoted it (`decision = promote`).
    Promoted,
    /// No experiment promoted a treatment (still running or stopped): the control stays.
    Control,
}

/// The version to serve for one template after a night's decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Champion {
    /// Template (experiments config `template_id`).
    pub template_id: String,
    /// The template version to serve to every project not in a running experiment.
    pub version: String,
    pub basis: ChampionBasis,
    /// The experiment whose decision this is.
    pub experiment_id: String,
    /// That experiment's decision tonight: `promote`, `continue` or `stop`.
    pub decision: String,
    /// Night the promotion or stop was decided; null while the experiment continues.
    pub decided_on: Option<String>,
    /// Registered model in MLflow whose `champion` alias mlflow-sync moves to a promoted
    /// version (for readers who do use MLflow).
    pub mlflow_model: String,
}

/// `champions/dt=D/champions.json`: the champion of each template decided on night `date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(title = "champions.json")]
pub struct Champions {
    /// Contract version of this file (1).
    pub schema_version: u32,
    /// The night (`YYYY-MM-DD`) of the `promotions` partition this was derived from.
    pub date: String,
    /// One entry per template, ordered by `template_id`.
    pub champions: Vec<Champion>,
}

impl Champions {
    /// The JSON Schema of the file (`contracts/champions.schema.json`).
    pub fn json_schema() -> String {
        let mut text = serde_json::to_string_pretty(&schemars::schema_for!(Champions)).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The champion of each template among a night's promotions: the winner of a promoting
/// experiment (the latest `decided_on`, then the larger experiment id, when several
/// promoted), else the control version of the template's experiment decided last.
pub fn champions(date: &str, promotions: &[Promotion]) -> Champions {
    let mut by_template: BTreeMap<&str, Vec<&Promotion>> = BTreeMap::new();
    for p in promotions {
        by_template.entry(p.template_id.as_str()).or_default().push(p);
    }
    let champions = by_template
        .into_iter()
        .filter_map(|(template, mut rows)| {
            rows.sort_by(|a, b| (a.decided_on, &a.experiment_id).cmp(&(b.decided_on, &b.experiment_id)));
            let promoted = rows
                .iter()
                .rev()
                .find(|p| p.decision == Decision::Promote && p.winner_version.is_some());
            let (p, basis, version) = if let Some(p) = promoted {
                (*p, ChampionBasis::Promoted, p.winner_version.clone()?)
            } else {
                let p = *rows.last()?;
                (p, ChampionBasis::Control, p.control_version.clone())
            };
            Some(Champion {
                template_id: template.to_owned(),
                version,
                basis,
                experiment_id: p.experiment_id.clone(),
                decision: p.decision.as_str().to_owned(),
                decided_on: p.decided_on.map(|d| d.to_string()),
                mlflow_model: format!("hive.{template}"),
            })
        })
        .collect();
    Champions {
        schema_version: CHAMPIONS_VERSION,
        date: date.to_owned(),
        champions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hive_core::PartitionDate;

    fn promotion(exp: &str, template: &str, decision: Decision, winner: Option<&str>, decided: Option<&str>) -> Promotion {
        Promotion {
            experiment_id: exp.to_owned(),
            template_id: template.to_owned(),
            decision,
            winner_variant: winner.map(|_| "treatment".to_owned()),
            winner_version: winner.map(str::to_owned),
            control_version: "1.0.0".to_owned(),
            reason: String::new(),
            evidence: json!({}),
            decided_on: decided.map(|d| d.parse::<PartitionDate>().expect("date")),
        }
    }

    #[test]
    fn a_promotion_wins_over_a_running_experiment_and_the_control_stays_otherwise() {
        let rows = [
            promotion("exp-a", "t1", Decision::Promote, Some("2.0.0"), Some("2026-10-08")),
            promotion("exp-b", "t1", Decision::Continue, None, None),
            promotion("exp-c", "t2", Decision::Stop, None, Some("2026-10-09")),
            promotion("exp-d", "t3", Decision::Continue, None, None),
        ];
        let c = champions("2026-10-12", &rows);
        let got: Vec<(&str, &str, ChampionBasis, &str)> = c
            .champions
            .iter()
            .map(|c| (c.template_id.as_str(), c.version.as_str(), c.basis, c.experiment_id.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("t1", "2.0.0", ChampionBasis::Promoted, "exp-a"),
                ("t2", "1.0.0", ChampionBasis::Control, "exp-c"),
                ("t3", "1.0.0", ChampionBasis::Control, "exp-d"),
            ]
        );
        assert_eq!(c.champions[0].decided_on.as_deref(), Some("2026-10-08"));
        assert_eq!(c.champions[0].mlflow_model, "hive.t1");
    }

    /// `contracts/champions.schema.json` is what the type generates.
    #[test]
    fn the_committed_champions_schema_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/champions.schema.json");
        let want = Champions::json_schema();
        if std::env::var_os("HIVE_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).expect("write");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "contracts/champions.schema.json is stale: run `HIVE_UPDATE_SCHEMA=1 cargo test -p hive-ab the_committed_champions_schema` and commit it"
        );
    }
}
