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
//! The log is streamed: each result is read into the few fields the gate needs, turned
//! into a [`Finding`] handed to the caller, and dropped, so memory is one result and
//! the current run's rules (id, default level and severity: at most [`MAX_RULES`] per
//! run), never the list of results. Code flows, related locations, fixes, artifacts,
//! invocations and the like are skipped without being built.
//!
//! JSON objects are unordered: a run whose `results` come before its `tool` cannot be
//! resolved while streaming. Such a run's results are skipped on the first read, its
//! rules kept, and the file is read a second time for those runs only; their findings
//! then follow those of the other runs.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Finding, FindingTotals, ReportError, SecuritySeverity, Source, truncate_message};
use crate::config::ReportFormat;

/// Most rules (driver and extensions together) one run may describe. Real tools
/// describe a few thousand at most (CodeQL's largest suites, semgrep's registry); the
/// cap bounds the memory a hostile `rules` section can take.
pub const MAX_RULES: usize = 100_000;

/// The fields of a result that are read, each kept as JSON so that odd types are
/// tolerated (a numeric string severity, a `ruleIndex` of -1). Other fields (code
/// flows, related locations, fingerprints, ...) are skipped without being built.
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

/// What is kept of a rule (`reportingDescriptor`).
#[derive(Debug, Default)]
struct Rule {
    id: Option<String>,
    default_level: Option<String>,
    security_severity: RuleSeverity,
}

/// A rule's `properties.security-severity`.
#[derive(Debug, Clone, Copy, Default)]
enum RuleSeverity {
    /// None given: the result's own `properties.security-severity` is used.
    #[default]
    Absent,
    /// Given, but not a finite number: no severity (the result's is not consulted).
    Unreadable,
    Score(f64),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    id: Option<Value>,
    default_configuration: Option<Value>,
    properties: Option<RuleProperties>,
}

#[derive(Deserialize)]
struct RuleProperties {
    #[serde(rename = "security-severity")]
    security_severity: Option<Value>,
}

fn severity_score(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|s: &f64| s.is_finite())
}

impl From<RawRule> for Rule {
    fn from(r: RawRule) -> Self {
        Self {
            id: r.id.as_ref().and_then(Value::as_str).map(str::to_owned),
            default_level: r
                .default_configuration
                .as_ref()
                .and_then(|c| c.get("level"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            security_severity: match r.properties.and_then(|p| p.security_severity) {
                None => RuleSeverity::Absent,
                Some(v) => severity_score(&v).map_or(RuleSeverity::Unreadable, RuleSeverity::Score),
            },
        }
    }
}

/// A tool component (`driver` or an extension): its name and its rules, each turned
/// into a [`Rule`] as it is read.
#[derive(Deserialize)]
struct Component {
    name: Option<Value>,
    #[serde(default, deserialize_with = "compact_rules")]
    rules: Vec<Rule>,
}

fn compact_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Rule>, D::Error> {
    struct Rules;
    impl<'de> Visitor<'de> for Rules {
        type Value = Vec<Rule>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of rules")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut rules = Vec::new();
            while let Some(rule) = seq.next_element::<RawRule>()? {
                if rules.len() == MAX_RULES {
                    return Err(de::Error::custom(format!("a tool component describes more than {MAX_RULES} rules")));
                }
                rules.push(Rule::from(rule));
            }
            Ok(rules)
        }
    }
    d.deserialize_any(Rules)
}

#[derive(Deserialize)]
struct RawTool {
    driver: Option<Component>,
    #[serde(default)]
    extensions: Option<Vec<Component>>,
}

/// The rules of one run, found by `ruleIndex` (the driver's) or by `ruleId` (the
/// driver's first, then the extensions').
#[derive(Debug)]
struct Tool {
    name: String,
    rules: Vec<Rule>,
    driver_rules: usize,
    by_id: HashMap<String, usize>,
}

impl Tool {
    fn new(raw: RawTool) -> Result<Option<Self>, String> {
        let Some(driver) = raw.driver else {
            return Ok(None);
        };
        let name = driver.name.as_ref().and_then(Value::as_str).unwrap_or("unknown").to_owned();
        let driver_rules = driver.rules.len();
        let mut rules = driver.rules;
        for extension in raw.extensions.into_iter().flatten() {
            rules.extend(extension.rules);
            if rules.len() > MAX_RULES {
                return Err(format!("the tool describes more than {MAX_RULES} rules"));
            }
        }
        let mut by_id = HashMap::new();
        for (k, rule) in rules.iter().enumerate() {
            if let Some(id) = &rule.id {
                by_id.entry(id.clone()).or_insert(k);
            }
        }
        Ok(Some(Self {
            name,
            rules,
            driver_rules,
            by_id,
        }))
    }
}

/// Which read of the file this is.
enum Pass {
    /// Streams the runs whose tool comes first; keeps the tools of the others.
    First { deferred: BTreeMap<usize, Tool> },
    /// Streams only the runs the first read deferred, with their tools.
    Second { tools: BTreeMap<usize, Tool> },
}

struct Reading<'e> {
    pass: Pass,
    emit: &'e mut dyn FnMut(Finding),
    totals: FindingTotals,
    version: Option<String>,
}

impl<'de> DeserializeSeed<'de> for &mut Reading<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut Reading<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SARIF log object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut saw_runs, mut saw_version) = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "runs" => {
                    if std::mem::replace(&mut saw_runs, true) {
                        return Err(de::Error::duplicate_field("runs"));
                    }
                    map.next_value_seed(Runs(&mut *self))?;
                }
                "version" => {
                    if std::mem::replace(&mut saw_version, true) {
                        return Err(de::Error::duplicate_field("version"));
                    }
                    if let Value::String(v) = map.next_value::<Value>()? {
                        self.version = Some(v);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if saw_runs { Ok(()) } else { Err(de::Error::missing_field("runs")) }
    }
}

struct Runs<'r, 'e>(&'r mut Reading<'e>);

impl<'de> DeserializeSeed<'de> for Runs<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Runs<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of runs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Run {
                reading: &mut *self.0,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

struct Run<'r, 'e> {
    reading: &'r mut Reading<'e>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for Run<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Run<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a run object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ri = self.index;
        let first = matches!(self.reading.pass, Pass::First { .. });
        // The second read already has the tool of a run it streams.
        let mut tool = match &mut self.reading.pass {
            Pass::Second { tools } => tools.remove(&ri),
            Pass::First { .. } => None,
        };
        let (mut saw_tool, mut saw_results, mut results_unread) = (false, false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "tool" => {
                    if std::mem::replace(&mut saw_tool, true) {
                        return Err(de::Error::duplicate_field("tool"));
                    }
                    if first {
                        let raw = map.next_value::<Option<RawTool>>()?;
                        tool = match raw {
                            Some(raw) => Tool::new(raw).map_err(|m| de::Error::custom(format!("runs[{ri}]: {m}")))?,
                            None => None,
                        };
                        if tool.is_none() {
                            return Err(de::Error::custom(format!("runs[{ri}] has no `tool.driver`")));
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                "results" => {
                    if std::mem::replace(&mut saw_results, true) {
                        return Err(de::Error::duplicate_field("results"));
                    }
                    if let Some(t) = &tool {
                        map.next_value_seed(Results {
                            reading: &mut *self.reading,
                            tool: t,
                            run: ri,
                        })?;
                    } else {
                        results_unread = first;
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if first {
            let Some(tool) = tool else {
                return Err(de::Error::custom(format!("runs[{ri}] has no `tool.driver`")));
            };
            if results_unread && let Pass::First { deferred } = &mut self.reading.pass {
                deferred.insert(ri, tool);
            }
        }
        Ok(())
    }
}

struct Results<'r, 'e, 't> {
    reading: &'r mut Reading<'e>,
    tool: &'t Tool,
    run: usize,
}

impl<'de> DeserializeSeed<'de> for Results<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Results<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of results")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while let Some(kept) = seq.next_element::<KeptResult>()? {
            let result = kept.into_value();
            if is_suppressed(&result) {
                self.reading.totals.suppressed += 1;
            } else {
                let finding = finding(self.tool, &result).map_err(|m| de::Error::custom(format!("runs[{}].results[{i}]{m}", self.run)))?;
                self.reading.totals.count(&finding);
                (self.reading.emit)(finding);
            }
            i += 1;
        }
        Ok(())
    }
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

/// The finding of one unsuppressed result; `Err` holds the rest of an error message
/// whose start names the result.
fn finding(tool: &Tool, result: &Value) -> Result<Finding, String> {
    let rule_id = result
        .get("ruleId")
        .and_then(Value::as_str)
        .or_else(|| result.pointer("/rule/id").and_then(Value::as_str))
        .map(str::to_owned);
    let rule = result
        .get("ruleIndex")
        .and_then(Value::as_u64)
        .and_then(|k| usize::try_from(k).ok())
        .filter(|k| *k < tool.driver_rules)
        .or_else(|| rule_id.as_deref().and_then(|id| tool.by_id.get(id).copied()))
        .and_then(|k| tool.rules.get(k));
    let level = result
        .get("level")
        .and_then(Value::as_str)
        .or_else(|| rule.and_then(|r| r.default_level.as_deref()))
        .unwrap_or("warning");
    if !matches!(level, "error" | "warning" | "note" | "none") {
        return Err(format!(".level `{level}` is not error/warning/note/none"));
    }
    let score = match rule.map_or(RuleSeverity::Absent, |r| r.security_severity) {
        RuleSeverity::Score(score) => Some(score),
        RuleSeverity::Unreadable => None,
        RuleSeverity::Absent => result.pointer("/properties/security-severity").and_then(severity_score),
    };
    let location = result.pointer("/locations/0/physicalLocation");
    Ok(Finding {
        tool: tool.name.clone(),
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
    })
}

/// Reads the log once with `reading`; a JSON or SARIF error names the file.
fn read(source: &Source<'_>, reading: &mut Reading<'_>) -> Result<(), ReportError> {
    let path = source.path();
    let bad = |m: String| ReportError::malformed(path, ReportFormat::Sarif, m);
    let input = std::io::BufReader::new(source.open()?);
    let mut de = serde_json::Deserializer::from_reader(input);
    reading.deserialize(&mut de).and_then(|()| de.end()).map_err(|e| {
        if e.is_data() {
            bad(format!("not a SARIF log: {e}"))
        } else {
            bad(format!("not JSON: {e}"))
        }
    })
}

/// Parses one SARIF file, handing each unsuppressed result to `emit` as it is read;
/// returns the counts.
pub(crate) fn parse(source: &Source<'_>, emit: &mut dyn FnMut(Finding)) -> Result<FindingTotals, ReportError> {
    let mut reading = Reading {
        pass: Pass::First { deferred: BTreeMap::new() },
        emit,
        totals: FindingTotals::default(),
        version: None,
    };
    read(source, &mut reading)?;
    if let Some(v) = &reading.version
        && !v.starts_with("2.1")
    {
        return Err(ReportError::malformed(
            source.path(),
            ReportFormat::Sarif,
            format!("SARIF version `{v}` is not 2.1.x"),
        ));
    }
    if let Pass::First { deferred } = std::mem::replace(&mut reading.pass, Pass::Second { tools: BTreeMap::new() })
        && !deferred.is_empty()
    {
        reading.pass = Pass::Second { tools: deferred };
        read(source, &mut reading)?;
    }
    Ok(reading.totals)
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
    use crate::reports::{FindingsReport, Parsed};

    fn parse_file(path: &std::path::Path) -> Result<FindingsReport, ReportError> {
        match crate::reports::parse(ReportFormat::Sarif, path, 1 << 24)? {
            Parsed::Findings(r) => Ok(r),
            other => panic!("{other:?}"),
        }
    }

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
        let r = parse_file(&path).unwrap();
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
        let r = parse_file(&path).unwrap();
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].security_severity, Some(SecuritySeverity::Medium));
        assert_eq!(r.findings[0].level, "warning");
        std::fs::write(
            &path,
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[7]}]}"#,
        )
        .unwrap();
        let e = parse_file(&path).unwrap_err().to_string();
        assert!(e.contains("not a SARIF log") && e.contains("column"), "{e}");
        std::fs::write(&path, r#"{"version":"2.1.0"}"#).unwrap();
        let e = parse_file(&path).unwrap_err().to_string();
        assert!(e.contains("`runs`"), "{e}");
    }

    /// A run whose results come before its tool is read again once its rules are
    /// known: the same findings, after those of the runs that could be streamed.
    #[test]
    fn results_before_the_tool_are_resolved_on_a_second_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sarif");
        std::fs::write(
            &path,
            r#"{"runs":[
 {"results":[{"ruleIndex":0,"message":{"text":"late"}},{"ruleId":"x","message":{"text":"gone"},"suppressions":[{"kind":"external"}]}],
  "tool":{"driver":{"name":"late","rules":[{"id":"x","defaultConfiguration":{"level":"error"},"properties":{"security-severity":"9.1"}}]}}},
 {"tool":{"driver":{"name":"early"}},"results":[{"ruleId":"y","level":"note","message":{"text":"early"},"properties":{"security-severity":5}}]}
],"version":"2.1.0"}"#,
        )
        .unwrap();
        let r = parse_file(&path).unwrap();
        let got: Vec<(&str, Option<&str>, &str, Option<SecuritySeverity>)> = r
            .findings
            .iter()
            .map(|f| (f.tool.as_str(), f.rule_id.as_deref(), f.level.as_str(), f.security_severity))
            .collect();
        assert_eq!(
            got,
            [
                ("early", Some("y"), "note", Some(SecuritySeverity::Medium)),
                ("late", None, "error", Some(SecuritySeverity::Critical)),
            ]
        );
        assert_eq!(r.suppressed, 1);
        // A version seen after the runs is still checked.
        std::fs::write(&path, r#"{"runs":[],"version":"1.0.0"}"#).unwrap();
        let e = parse_file(&path).unwrap_err().to_string();
        assert!(e.contains("`1.0.0` is not 2.1.x"), "{e}");
        std::fs::write(&path, r#"{"version":"2.1.0","runs":[{"results":[]}]}"#).unwrap();
        let e = parse_file(&path).unwrap_err().to_string();
        assert!(e.contains("runs[0] has no `tool.driver`"), "{e}");
    }

    #[test]
    fn a_hostile_rules_section_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sarif");
        let rules = vec![r#"{"id":"r"}"#; MAX_RULES + 1].join(",");
        std::fs::write(
            &path,
            format!(r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"x","rules":[{rules}]}}}},"results":[]}}]}}"#),
        )
        .unwrap();
        let e = parse_file(&path).unwrap_err().to_string();
        assert!(e.contains("more than 100000 rules"), "{e}");
    }
}
