//! `quality-fabric-config.yaml`: which test types a project has, which tool writes each
//! report and where, and the gates the numbers in those reports must pass.
//!
//! The format is documented in docs/quality-gates.md and as a JSON Schema generated from
//! these types (`quality-fabric-config.schema.json`, checked up to date by a test).
//! Parsing is strict because a typo here silently weakens a gate: unknown keys, wrong
//! types and unknown metric or operator names are errors naming the field, the line and
//! the column; rules spanning fields (a gate on a test type that is not declared, a
//! coverage gate on a test type without a coverage report) name the gate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::vocabulary::{Family, Level, Metric, MissingPolicy, Operator, ReportFormat, TestType};

/// The only format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// Default cap on the size of one report file (256 MiB).
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 256 << 20;

/// One kind of report a test type produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSource {
    /// The report's file format.
    pub format: ReportFormat,
    /// Glob patterns, relative to the project's reports directory (`**` matches any
    /// number of directories). Every matching file is read, in sorted order.
    pub paths: Vec<String>,
    /// The tool that writes the report (documentation; shown in the summary).
    pub tool: String,
}

/// A test type: the reports it produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTypeConfig {
    /// What this test type checks (shown in docs).
    #[serde(default)]
    pub description: Option<String>,
    /// The reports, one entry per format.
    pub reports: Vec<ReportSource>,
    /// Missing-report policy of this test type's gates (overrides `defaults`).
    #[serde(default)]
    pub on_missing: Option<MissingPolicy>,
}

/// A gate: `metric <operator> threshold` must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Unique id, used in outputs and in project overrides.
    pub id: String,
    /// The test type whose reports are measured; absent for an overall gate over every
    /// test type's reports.
    #[serde(default)]
    pub test_type: Option<TestType>,
    pub metric: Metric,
    pub operator: Operator,
    pub threshold: f64,
    /// `blocking` (default) or `warning`.
    #[serde(default)]
    pub level: Level,
    /// Missing-report policy (overrides the test type's and `defaults`).
    #[serde(default)]
    pub on_missing: Option<MissingPolicy>,
    /// Why the gate exists (shown in the summary).
    #[serde(default)]
    pub description: Option<String>,
}

/// Changes to one gate for one project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateOverride {
    #[serde(default)]
    pub operator: Option<Operator>,
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub level: Option<Level>,
    #[serde(default)]
    pub on_missing: Option<MissingPolicy>,
    /// `false` drops the gate for this project.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Per-project changes: other report locations and other gate settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectOverride {
    /// Replaces the reports of a test type for this project.
    #[serde(default, deserialize_with = "unique_keys")]
    pub reports: BTreeMap<TestType, Vec<ReportSource>>,
    /// Changes gates by id.
    #[serde(default, deserialize_with = "unique_keys")]
    pub gates: BTreeMap<String, GateOverride>,
}

/// Where the suites that write the reports run: the contract for the CI that produces
/// them. That CI brings the Compose services up, runs the suites with `env`, and lands the
/// Compose file next to the reports; evaluate-gates checks the landed file (it exists,
/// parses, declares every service) and records the verdict and its sha256 in
/// `gate_results` (`environment_*`). evaluate-gates starts nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Docker Compose file, relative to the project root; the CI lands it at the same
    /// path under the project's reports directory.
    pub compose_file: PathBuf,
    /// Services the tests need up.
    #[serde(default)]
    pub services: Vec<String>,
    /// Environment variables set for the test commands.
    #[serde(default, deserialize_with = "unique_keys")]
    pub env: BTreeMap<String, String>,
}

/// Defaults for every test type and gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub on_missing: MissingPolicy,
    /// Largest report file read, in bytes; a larger one is an input error (exit 2).
    #[serde(default = "default_max_report_bytes")]
    pub max_report_bytes: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            on_missing: MissingPolicy::Fail,
            max_report_bytes: DEFAULT_MAX_REPORT_BYTES,
        }
    }
}

fn default_max_report_bytes() -> u64 {
    DEFAULT_MAX_REPORT_BYTES
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "quality-fabric-config.yaml")]
pub struct QualityConfig {
    /// Format version; must be 1.
    pub version: u32,
    #[serde(default)]
    pub defaults: Defaults,
    /// The test types and their reports.
    #[serde(deserialize_with = "unique_keys")]
    pub test_types: BTreeMap<TestType, TestTypeConfig>,
    /// The gates, evaluated in this order.
    pub gates: Vec<Gate>,
    /// Per-project overrides, keyed by project id.
    #[serde(default, deserialize_with = "unique_keys")]
    pub projects: BTreeMap<String, ProjectOverride>,
    /// Where the tests run.
    #[serde(default)]
    pub environment: Option<Environment>,
}

/// A gate as it applies to one project, after overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveGate {
    pub id: String,
    pub test_type: Option<TestType>,
    pub metric: Metric,
    pub operator: Operator,
    pub threshold: f64,
    pub level: Level,
    pub on_missing: MissingPolicy,
    pub description: Option<String>,
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read quality config `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("quality config `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl QualityConfig {
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
        let config: Self = hive_core::yaml::from_str_strict(text).map_err(invalid)?;
        config.validate(text).map_err(invalid)?;
        Ok(config)
    }

    fn validate(&self, text: &str) -> Result<(), String> {
        if self.version != CONFIG_VERSION {
            return Err(format!(
                "`version` (line {}): {} is not supported; this build reads version {CONFIG_VERSION}",
                line_of(text, "version", None),
                self.version
            ));
        }
        if self.defaults.max_report_bytes == 0 {
            return Err("`defaults.max_report_bytes` must be positive".into());
        }
        for (test_type, tt) in &self.test_types {
            check_reports(text, *test_type, &tt.reports)?;
        }
        if let Some(problem) = self
            .environment
            .as_ref()
            .and_then(|e| crate::environment::path_problem(&e.compose_file))
        {
            return Err(format!(
                "`environment.compose_file` (line {}) {problem}",
                line_of(text, "compose_file", None)
            ));
        }
        let mut ids = BTreeSet::new();
        for gate in &self.gates {
            let at = || format!("gate `{}` (line {})", gate.id, line_of(text, "id", Some(&gate.id)));
            if gate.id.trim().is_empty() {
                return Err("a gate has an empty id".into());
            }
            if !ids.insert(gate.id.as_str()) {
                return Err(format!("{}: the id is used twice", at()));
            }
            if let Some(problem) = gate.metric.threshold_problem(gate.threshold) {
                return Err(format!("{}: {problem}", at()));
            }
            let family = gate.metric.family();
            match gate.test_type {
                Some(t) => {
                    let Some(tt) = self.test_types.get(&t) else {
                        return Err(format!("{}: test type `{t}` is not declared in `test_types`", at()));
                    };
                    if !tt.reports.iter().any(|r| r.format.family() == family) {
                        return Err(format!(
                            "{}: metric `{}` needs a {family:?} report, and test type `{t}` declares none",
                            at(),
                            gate.metric
                        ));
                    }
                }
                None => {
                    if !self
                        .test_types
                        .values()
                        .flat_map(|t| &t.reports)
                        .any(|r| r.format.family() == family)
                    {
                        return Err(format!(
                            "{}: metric `{}` needs a {family:?} report, and no test type declares one",
                            at(),
                            gate.metric
                        ));
                    }
                }
            }
        }
        for (project, o) in &self.projects {
            let at = || format!("project `{project}` (line {})", line_of(text, project, None));
            for id in o.gates.keys() {
                if !ids.contains(id.as_str()) {
                    return Err(format!("{}: overrides gate `{id}`, which is not defined", at()));
                }
            }
            for (gid, g) in &o.gates {
                let metric = self.gates.iter().find(|d| &d.id == gid).map(|d| d.metric);
                if let (Some(metric), Some(threshold)) = (metric, g.threshold)
                    && let Some(problem) = metric.threshold_problem(threshold)
                {
                    return Err(format!("{}: gate `{gid}`: {problem}", at()));
                }
            }
            for (test_type, reports) in &o.reports {
                if !self.test_types.contains_key(test_type) {
                    return Err(format!("{}: test type `{test_type}` is not declared in `test_types`", at()));
                }
                check_reports(text, *test_type, reports)?;
            }
        }
        Ok(())
    }

    /// The reports of `test_type` for `project` (its override, else the default).
    pub fn reports_for(&self, project: &str, test_type: TestType) -> &[ReportSource] {
        if let Some(r) = self.projects.get(project).and_then(|p| p.reports.get(&test_type)) {
            return r;
        }
        self.test_types.get(&test_type).map_or(&[], |t| t.reports.as_slice())
    }

    /// The gates of `project`, in file order, overrides applied, disabled ones dropped.
    pub fn gates_for(&self, project: &str) -> Vec<EffectiveGate> {
        let overrides = self.projects.get(project);
        self.gates
            .iter()
            .filter_map(|g| {
                let o = overrides.and_then(|p| p.gates.get(&g.id)).cloned().unwrap_or_default();
                if o.enabled == Some(false) {
                    return None;
                }
                let type_policy = g.test_type.and_then(|t| self.test_types.get(&t)).and_then(|t| t.on_missing);
                Some(EffectiveGate {
                    id: g.id.clone(),
                    test_type: g.test_type,
                    metric: g.metric,
                    operator: o.operator.unwrap_or(g.operator),
                    threshold: o.threshold.unwrap_or(g.threshold),
                    level: o.level.unwrap_or(g.level),
                    on_missing: o.on_missing.or(g.on_missing).or(type_policy).unwrap_or(self.defaults.on_missing),
                    description: g.description.clone(),
                })
            })
            .collect()
    }

    /// The JSON Schema of the file, generated from these types.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(QualityConfig);
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Deserialises a mapping, refusing a key given twice: YAML parsers keep the last value
/// silently, and a second `unit:` or project entry would replace the first unseen.
fn unique_keys<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord + fmt::Display,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(std::marker::PhantomData<(K, V)>);

    impl<'de, K, V> serde::de::Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Ord + fmt::Display,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<K>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(Unique(std::marker::PhantomData))
}

fn check_reports(text: &str, test_type: TestType, reports: &[ReportSource]) -> Result<(), String> {
    for r in reports {
        if r.paths.is_empty() {
            return Err(format!(
                "test type `{test_type}`: the {} report lists no `paths`",
                r.format.as_str()
            ));
        }
        for p in &r.paths {
            if let Err(e) = glob::Pattern::new(p) {
                return Err(format!("`{p}` (line {}): not a valid glob: {e}", line_of(text, p, None)));
            }
            if Path::new(p).is_absolute() || p.split('/').any(|c| c == "..") {
                return Err(format!(
                    "`{p}` (line {}): report paths are relative to the project's reports directory and stay inside it",
                    line_of(text, p, None)
                ));
            }
        }
    }
    Ok(())
}

/// 1-based line of the first `key: value` (or `key:` when `value` is None) or, failing
/// that, of the first line mentioning `key` (0 when not found).
fn line_of(text: &str, key: &str, value: Option<&str>) -> usize {
    let exact = text.lines().position(|l| {
        let l = l.trim_start().trim_start_matches("- ").trim();
        let Some(rest) = l.strip_prefix(key).map(str::trim_start) else {
            return false;
        };
        let Some(v) = rest.strip_prefix(':') else { return false };
        value.is_none_or(|want| v.trim().trim_matches(|c| c == '"' || c == '\'') == want)
    });
    exact.or_else(|| text.lines().position(|l| l.contains(key))).map_or(0, |i| i + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    pub(crate) const GOOD: &str = "version: 1
test_types:
  unit:
    reports:
      - {format: junit, paths: [\"unit/*.xml\"], tool: pytest}
      - {format: cobertura, paths: [coverage.xml], tool: coverage.py}
  performance:
    on_missing: warn
    reports:
      - {format: locust_csv, paths: [\"perf/*_stats.csv\"], tool: locust}
gates:
  - id: unit-pass-rate
    test_type: unit
    metric: pass_rate
    operator: \">=\"
    threshold: 1.0
  - id: p95
    test_type: performance
    metric: latency_p95_ms
    operator: \"<=\"
    threshold: 500
    level: warning
projects:
  legacy:
    gates:
      unit-pass-rate: {threshold: 0.9}
      p95: {enabled: false}
";

    fn parse(text: &str) -> Result<QualityConfig, String> {
        QualityConfig::parse(Path::new("q.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn overrides_and_policies_resolve() {
        let c = parse(GOOD).unwrap();
        let default = c.gates_for("other");
        assert_eq!(default.len(), 2);
        assert_eq!(default[0].on_missing, MissingPolicy::Fail);
        assert_eq!(default[1].on_missing, MissingPolicy::Warn);
        let legacy = c.gates_for("legacy");
        assert_eq!(legacy.len(), 1);
        assert_eq!(legacy[0].threshold, 0.9);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_line_and_column() {
        let e = parse(&GOOD.replace("    threshold: 1.0", "    threshold: 1.0\n    treshold: 2")).unwrap_err();
        assert!(e.contains("treshold") && e.contains("line 17, column 5"), "{e}");
        let e = parse(&GOOD.replace("operator: \">=\"", "operator: \"=>\"")).unwrap_err();
        assert!(e.contains("gates[0].operator") && e.contains("line 15, column 5"), "{e}");
        let e = parse(&GOOD.replace("metric: pass_rate", "metric: pass_rat")).unwrap_err();
        assert!(e.contains("line 14"), "{e}");
        let e = parse(&GOOD.replace("format: junit", "format: junit5")).unwrap_err();
        assert!(e.contains("line 5") && e.contains("junit5"), "{e}");
        let e = parse(&GOOD.replace("threshold: 500", "threshold: fast")).unwrap_err();
        assert!(e.contains("line 21, column 5") && e.contains("gates[1].threshold"), "{e}");
    }

    #[test]
    fn ratio_thresholds_outside_0_1_are_config_errors() {
        // GOOD's first gate is a ratio (pass_rate) with threshold 1.0.
        let e = parse(&GOOD.replace("    threshold: 1.0", "    threshold: 80")).unwrap_err();
        assert!(e.contains("ratio in [0, 1]") && e.contains("write 0.8"), "{e}");
        let e = parse(&GOOD.replace("    threshold: 1.0", "    threshold: -0.1")).unwrap_err();
        assert!(e.contains("ratio in [0, 1]"), "{e}");
        let e = parse(&GOOD.replace("unit-pass-rate: {threshold: 0.9}", "unit-pass-rate: {threshold: 90}")).unwrap_err();
        assert!(e.contains("gate `unit-pass-rate`") && e.contains("write 0.9"), "{e}");
        // A count is not a ratio: 500 stays valid.
        assert!(parse(GOOD).is_ok());
    }

    #[test]
    fn duplicate_keys_are_errors_naming_the_second() {
        let e = parse(&GOOD.replace("  performance:\n", "  unit:\n    reports: []\n  performance:\n")).unwrap_err();
        assert!(e.contains("duplicate key `unit`") && e.contains("line 7, column 3"), "{e}");
        let e = parse(&GOOD.replace("      p95: {enabled: false}\n", "      p95: {enabled: false}\n  legacy: {}\n")).unwrap_err();
        assert!(e.contains("duplicate key `legacy`") && e.contains("line 28, column 3"), "{e}");
    }

    #[test]
    fn cross_field_rules_name_the_gate() {
        let e = parse(
            &GOOD
                .replace("metric: pass_rate", "metric: branch_coverage")
                .replace("format: cobertura", "format: junit"),
        )
        .unwrap_err();
        assert!(e.contains("gate `unit-pass-rate` (line 12)") && e.contains("Coverage"), "{e}");
        let e = parse(&GOOD.replace("test_type: unit", "test_type: contract")).unwrap_err();
        assert!(e.contains("`contract` is not declared"), "{e}");
        let e = parse(&GOOD.replace("id: p95", "id: unit-pass-rate")).unwrap_err();
        assert!(e.contains("used twice"), "{e}");
        let e = parse(&GOOD.replace("p95: {enabled", "p96: {enabled")).unwrap_err();
        assert!(e.contains("project `legacy`") && e.contains("`p96`"), "{e}");
        let e = parse(&GOOD.replace("coverage.xml", "../coverage.xml")).unwrap_err();
        assert!(e.contains("stay inside"), "{e}");
        let e = parse(&GOOD.replace("version: 1", "version: 2")).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn the_repository_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../quality-fabric-config.yaml");
        let config = QualityConfig::load(&path).unwrap();
        assert!(!config.gates.is_empty());
    }

    #[test]
    fn the_committed_json_schema_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../quality-fabric-config.schema.json");
        let want = QualityConfig::json_schema();
        if std::env::var_os("HIVE_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `HIVE_UPDATE_SCHEMA=1 cargo test -p hive-gates the_committed_json_schema` and commit it",
            path.display()
        );
    }
}
