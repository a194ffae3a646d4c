//! SARIF 2.1.0 (ruff `--output-format sarif`, bandit `-f sarif`, CodeQL, semgrep).
//!
//! Every `runs[].results[]` is a finding unless it is suppressed (a non-empty
//! `suppressions` array without a `rejected` status) or its `baselineState` is
//! `absent` (fixed since the baseline). The level is the result's `level`, else the
//! rule's `defaultConfiguration.level`, else `warning` (SARIF §3.27.10). The security
//! severity is the rule's `properties.security-severity` (a number or a numeric
//! string), mapped as GitHub code scanning does (see [`SecuritySeverity`]); the rule is
//! found by `ruleIndex` or `ruleId` in the driver and in `extensions`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{CappedReader, Finding, FindingsReport, ReportError, SecuritySeverity, truncate_message};
use crate::config::ReportFormat;

/// Parses one SARIF file.
pub fn parse(path: &Path, input: CappedReader) -> Result<FindingsReport, ReportError> {
    let bad = |m: String| ReportError::malformed(path, ReportFormat::Sarif, m);
    let doc: Value = serde_json::from_reader(std::io::BufReader::new(input)).map_err(|e| bad(format!("not JSON: {e}")))?;
    if let Some(v) = doc.get("version").and_then(Value::as_str)
        && !v.starts_with("2.1")
    {
        return Err(bad(format!("SARIF version `{v}` is not 2.1.x")));
    }
    let runs = doc
        .get("runs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `runs` array".into()))?;
    let mut report = FindingsReport::default();
    for (ri, run) in runs.iter().enumerate() {
        let driver = run
            .pointer("/tool/driver")
            .ok_or_else(|| bad(format!("runs[{ri}] has no `tool.driver`")))?;
        let tool = driver.get("name").and_then(Value::as_str).unwrap_or("unknown").to_owned();
        let mut rules: Vec<&Value> = Vec::new();
        let mut by_id: HashMap<&str, &Value> = HashMap::new();
        let components = std::iter::once(driver).chain(run.pointer("/tool/extensions").and_then(Value::as_array).into_iter().flatten());
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
        let Some(results) = run.get("results") else { continue };
        let results = results
            .as_array()
            .ok_or_else(|| bad(format!("runs[{ri}].results is not an array")))?;
        for (i, result) in results.iter().enumerate() {
            if !result.is_object() {
                return Err(bad(format!("runs[{ri}].results[{i}] is not an object")));
            }
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
}
