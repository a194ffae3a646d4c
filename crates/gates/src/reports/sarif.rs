//! SARIF 2.1.0 (ruff `--output-format sarif`, bandit `-f sarif`, CodeQL, semgrep).
//!
//! Every `runs[].results[]` is a finding unless it is suppressed (a non-empty
//! `suppressions` array without a `rejected` status) or its `baselineState` is
//! `absent` (fixed since the baseline). The level is the result's `level`, else the
//! rule's `defaultConfiguration.level`, else `warning` (SARIF §3.27.10). The security
//! severity is the rule's `properties.security-severity` (a number or a numeric
//! string), mapped as GitHub code scanning does (see [`SecuritySeverity`]); the rule is
//! found by `ruleIndex` or `ruleId` in the driver and in `extensions`.
//!
//! Only the fields read are built while parsing ([`Log`]); code flows and the like are
//! skipped, so a large CodeQL log costs memory per result, not per byte.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{CappedReader, Finding, FindingsReport, ReportError, SecuritySeverity, truncate_message};
use crate::config::ReportFormat;

/// The parts of a SARIF log that are read. Everything else (code flows, related
/// locations, fixes, fingerprints, artifacts, invocations, ...) is skipped while parsing
/// without being built, so memory follows the number of results, not the file's size
/// (CodeQL logs are mostly code flows).
#[derive(Deserialize)]
struct Log {
    #[serde(default)]
    version: Option<Value>,
    runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    #[serde(default)]
    tool: Option<Value>,
    #[serde(default)]
    results: Option<Vec<KeptResult>>,
}

/// The fields of a result that are read, each kept as JSON so that odd types are
/// tolerated as before (a numeric string severity, a `ruleIndex` of -1).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeptResult {
    rule_id: Option<Value>,
    rule_index: Option<Value>,
    rule: Option<Value>,
    level: Option<Value>,
    message: Option<Value>,
    locations: Option<Value>,
    suppressions: Option<Value>,
    baseline_state: Option<Value>,
    properties: Option<Value>,
}

impl KeptResult {
    fn into_value(self) -> Value {
        let mut map = serde_json::Map::new();
        for (key, value) in [
            ("ruleId", self.rule_id),
            ("ruleIndex", self.rule_index),
            ("rule", self.rule),
            ("level", self.level),
            ("message", self.message),
            ("locations", self.locations),
            ("suppressions", self.suppressions),
            ("baselineState", self.baseline_state),
            ("properties", self.properties),
        ] {
            if let Some(v) = value {
                map.insert(key.to_owned(), v);
            }
        }
        Value::Object(map)
    }
}

/// Parses one SARIF file.
pub fn parse(path: &Path, input: CappedReader) -> Result<FindingsReport, ReportError> {
    let bad = |m: String| ReportError::malformed(path, ReportFormat::Sarif, m);
    let log: Log = serde_json::from_reader(std::io::BufReader::new(input)).map_err(|e| {
        if e.is_data() {
            bad(format!("not a SARIF log: {e}"))
        } else {
            bad(format!("not JSON: {e}"))
        }
    })?;
    if let Some(v) = log.version.as_ref().and_then(Value::as_str)
        && !v.starts_with("2.1")
    {
        return Err(bad(format!("SARIF version `{v}` is not 2.1.x")));
    }
    let mut report = FindingsReport::default();
    for (ri, run) in log.runs.into_iter().enumerate() {
        let tool_value = run.tool.unwrap_or(Value::Null);
        let driver = tool_value
            .get("driver")
            .ok_or_else(|| bad(format!("runs[{ri}] has no `tool.driver`")))?;
        let tool = driver.get("name").and_then(Value::as_str).unwrap_or("unknown").to_owned();
        let mut rules: Vec<&Value> = Vec::new();
        let mut by_id: HashMap<&str, &Value> = HashMap::new();
        let components = std::iter::once(driver).chain(tool_value.get("extensions").and_then(Value::as_array).into_iter().flatten());
        for (ci, component) in components.enumerate() {
            for rule in component.get("rules").and_then(Value::as_array).into_iter().flatten() {
                if ci == 0 {
                    rules.push(rule);
                }
                if let Some(id) = rule.get("id").and_then(Value::as_str) {
                    by_id.entry(id).or_insert(rule);
                }
            }
        }
        let results: Vec<Value> = run.results.unwrap_or_default().into_iter().map(KeptResult::into_value).collect();
        for (i, result) in results.iter().enumerate() {
            if is_suppressed(result) {
                report.suppressed += 1;
                continue;
            }
            let rule_id = result
                .get("ruleId")
                .and_then(Value::as_str)
                .or_else(|| result.pointer("/rule/id").and_then(Value::as_str))
                .map(str::to_owned);
            let rule = result
                .get("ruleIndex")
                .and_then(Value::as_u64)
                .and_then(|k| rules.get(k as usize).copied())
                .or_else(|| rule_id.as_deref().and_then(|id| by_id.get(id).copied()));
            let level = result
                .get("level")
                .and_then(Value::as_str)
                .or_else(|| rule.and_then(|r| r.pointer("/defaultConfiguration/level")).and_then(Value::as_str))
                .unwrap_or("warning");
            if !matches!(level, "error" | "warning" | "note" | "none") {
                return Err(bad(format!(
                    "runs[{ri}].results[{i}].level `{level}` is not error/warning/note/none"
                )));
            }
            let score = rule
                .and_then(|r| r.pointer("/properties/security-severity"))
                .or_else(|| result.pointer("/properties/security-severity"))
                .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
                .filter(|s: &f64| s.is_finite());
            let location = result.pointer("/locations/0/physicalLocation");
            report.findings.push(Finding {
                tool: tool.clone(),
                rule_id,
                level: level.to_owned(),
                security_severity: score.and_then(SecuritySeverity::from_score),
                security_severity_score: score,
                message: truncate_message(
                    result
                        .pointer("/message/text")
                        .or_else(|| result.pointer("/message/markdown"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                file: location
                    .and_then(|l| l.pointer("/artifactLocation/uri"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                line: location
                    .and_then(|l| l.pointer("/region/startLine"))
                    .and_then(Value::as_u64)
                    .and_then(|l| u32::try_from(l).ok()),
            });
        }
    }
    Ok(report)
}

fn is_suppressed(result: &Value) -> bool {
    if result.get("baselineState").and_then(Value::as_str) == Some("absent") {
        return true;
    }
    result
        .get("suppressions")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty() && s.iter().all(|x| x.get("status").and_then(Value::as_str) != Some("rejected")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::reports::open_capped;

    #[test]
    fn levels_rules_and_security_severity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sarif");
        std::fs::write(
            &path,
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"CodeQL","rules":[
  {"id":"py/sql","defaultConfiguration":{"level":"error"},"properties":{"security-severity":"9.8"}},
  {"id":"py/weak","properties":{"security-severity":7.0}},
  {"id":"py/style"}]}},
 "results":[
  {"ruleId":"py/sql","ruleIndex":0,"message":{"text":"sql"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.py"},"region":{"startLine":3}}}]},
  {"ruleId":"py/weak","level":"warning","message":{"text":"weak"}},
  {"ruleId":"py/style","level":"note","message":{"text":"style"}},
  {"ruleId":"py/style","message":{"text":"suppressed"},"suppressions":[{"kind":"inSource"}]},
  {"ruleId":"py/style","message":{"text":"fixed"},"baselineState":"absent"}]}]}"#,
        )
        .unwrap();
        let r = parse(&path, open_capped(&path, 1 << 20).unwrap()).unwrap();
        assert_eq!(r.suppressed, 2);
        let got: Vec<(&str, Option<SecuritySeverity>)> = r.findings.iter().map(|f| (f.level.as_str(), f.security_severity)).collect();
        assert_eq!(
            got,
            [
                ("error", Some(SecuritySeverity::Critical)),
                ("warning", Some(SecuritySeverity::High)),
                ("note", None)
            ]
        );
        assert_eq!((r.findings[0].file.as_deref(), r.findings[0].line), (Some("a.py"), Some(3)));
    }

    #[test]
    fn unread_parts_are_skipped_and_odd_values_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sarif");
        let flows = format!(
            r#"[{{"threadFlows":[{{"locations":[{}]}}]}}]"#,
            vec![r#"{"location":{"message":{"text":"step"}}}"#; 2000].join(",")
        );
        std::fs::write(
            &path,
            format!(
                r#"{{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"CodeQL","rules":[{{"id":"js/xss","properties":{{"security-severity":"6.1"}}}}]}}}},"artifacts":[{{"location":{{"uri":"a.js"}}}}],"results":[{{"ruleId":"js/xss","ruleIndex":-1,"message":{{"text":"xss"}},"codeFlows":{flows},"relatedLocations":[]}}]}}]}}"#
            ),
        )
        .unwrap();
        let r = parse(&path, open_capped(&path, 1 << 24).unwrap()).unwrap();
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].security_severity, Some(SecuritySeverity::Medium));
        assert_eq!(r.findings[0].level, "warning");
        std::fs::write(
            &path,
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[7]}]}"#,
        )
        .unwrap();
        let e = parse(&path, open_capped(&path, 1 << 20).unwrap()).unwrap_err().to_string();
        assert!(e.contains("not a SARIF log") && e.contains("column"), "{e}");
        std::fs::write(&path, r#"{"version":"2.1.0"}"#).unwrap();
        let e = parse(&path, open_capped(&path, 1 << 20).unwrap()).unwrap_err().to_string();
        assert!(e.contains("`runs`"), "{e}");
    }
}
