//! gitleaks' default rule set, vendored as data (`rules/gitleaks.toml`), read and
//! compiled with the `regex` crate.
//!
//! gitleaks writes its rules in RE2 syntax, which the `regex` crate shares; a rule whose
//! pattern the crate cannot compile is not dropped silently: it is kept in
//! [`RuleSet::skipped`] with the compiler's reason, and the docs list it. The semantics
//! follow gitleaks' `detect.go`: the secret is `secretGroup`, else the first non-empty
//! capture group, else the whole match; a rule with `entropy` skips secrets of that many
//! bits per character or fewer (and a `generic*` rule skips secrets without a digit);
//! allowlists test the secret, the match or the line (`regexTarget`), stopwords test the
//! secret, and `condition = "AND"` needs every criterion an allowlist sets.

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

/// The vendored rule file.
pub const GITLEAKS_TOML: &str = include_str!("../rules/gitleaks.toml");
/// The gitleaks commit the rule file was taken from (`<sha> <date>`).
pub const GITLEAKS_COMMIT: &str = include_str!("../rules/COMMIT");

/// Errors reading a rule file.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("global allowlist pattern `{pattern}` does not compile: {reason}")]
    GlobalPattern { pattern: String, reason: String },
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    allowlist: Option<RawAllowlist>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    id: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAllowlist {
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
}

/// What an allowlist's regexes are tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Secret,
    Match,
    Line,
}

/// One allowlist: a finding it matches is not reported.
#[derive(Debug)]
pub struct Allowlist {
    and: bool,
    target: Target,
    regexes: Vec<Regex>,
    paths: Vec<Regex>,
    /// Lower-case; a secret containing one is allowed.
    stopwords: Vec<String>,
}

/// What an allowlist is asked about.
pub struct Candidate<'a> {
    pub secret: &'a str,
    pub matched: &'a str,
    pub line: &'a str,
    pub path: Option<&'a str>,
}

impl Allowlist {
    fn compile(raw: RawAllowlist) -> Result<Self, String> {
        let compile_all = |patterns: Vec<String>| -> Result<Vec<Regex>, String> {
            patterns
                .into_iter()
                .map(|p| compile(&p).map_err(|e| format!("`{p}`: {e}")))
                .collect()
        };
        Ok(Self {
            and: raw.condition.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("and")),
            target: match raw.regex_target.as_deref() {
                Some("match") => Target::Match,
                Some("line") => Target::Line,
                _ => Target::Secret,
            },
            regexes: compile_all(raw.regexes)?,
            paths: compile_all(raw.paths)?,
            stopwords: raw.stopwords.into_iter().map(|s| s.to_ascii_lowercase()).collect(),
        })
    }

    /// Whether the path alone is allowed (gitleaks skips such files for every rule).
    pub fn allows_path(&self, path: Option<&str>) -> bool {
        path.is_some_and(|p| self.paths.iter().any(|r| r.is_match(p)))
    }

    /// gitleaks' `isAllowed` for one allowlist.
    pub fn allows(&self, c: &Candidate<'_>) -> bool {
        let target = match self.target {
            Target::Secret => c.secret,
            Target::Match => c.matched,
            Target::Line => c.line,
        };
        let path = (!self.paths.is_empty()).then(|| self.allows_path(c.path));
        let regex = (!self.regexes.is_empty()).then(|| self.regexes.iter().any(|r| r.is_match(target)));
        let stopword = (!self.stopwords.is_empty()).then(|| {
            let lower = c.secret.to_ascii_lowercase();
            self.stopwords.iter().any(|s| lower.contains(s.as_str()))
        });
        let set = [path, regex, stopword];
        if self.and {
            set.iter().any(Option::is_some) && set.iter().all(|v| v.unwrap_or(true))
        } else {
            set.contains(&Some(true))
        }
    }

    /// Whether only a regex or stopword test on the secret decides (used by the
    /// project's own rules, which apply gitleaks' global list to their secrets).
    pub fn allows_secret(&self, secret: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(secret)) || {
            let lower = secret.to_ascii_lowercase();
            self.stopwords.iter().any(|s| lower.contains(s.as_str()))
        }
    }
}

/// One compiled gitleaks rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    /// `None`: a path-only rule (`pkcs12-file`): the file name is the finding.
    pub regex: Option<Regex>,
    pub path: Option<Regex>,
    pub entropy: Option<f64>,
    pub secret_group: Option<usize>,
    /// Lower-case; the rule runs only on text containing one (none: always).
    pub keywords: Vec<String>,
    pub allowlists: Vec<Allowlist>,
}

/// A rule the `regex` crate could not compile, and why.
#[derive(Debug, Clone)]
pub struct SkippedRule {
    pub id: String,
    pub reason: String,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub skipped: Vec<SkippedRule>,
    pub global: Allowlist,
}

/// Compiles a pattern as gitleaks' Go RE2 would: `\w`, `\d`, `\s` and `\b` are ASCII
/// in RE2, so Unicode classes are turned off inside them (`(?-u:...)` is not needed:
/// the builder's `unicode(true)` keeps `.` a whole character).
fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&ascii_classes(pattern)).size_limit(64 << 20).build()
}

/// Rewrites `\w`, `\W`, `\d`, `\D`, `\s`, `\S`, `\b`, `\B` to their ASCII forms, as in
/// RE2 (the `regex` crate makes them Unicode-aware, which is slower to build and to
/// run and matches more than the rule's authors meant).
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut chars = pattern.chars().peekable();
    let mut in_class = 0usize;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(&next) = chars.peek() else {
                out.push(c);
                break;
            };
            chars.next();
            let ascii = match next {
                'w' => Some(if in_class > 0 { "[:word:]" } else { "[[:word:]]" }),
                'W' => Some(if in_class > 0 { "[:^word:]" } else { "[^[:word:]]" }),
                'd' => Some(if in_class > 0 { "[:digit:]" } else { "[[:digit:]]" }),
                'D' => Some(if in_class > 0 { "[:^digit:]" } else { "[^[:digit:]]" }),
                's' => Some(if in_class > 0 { "\\t\\n\\f\\r " } else { "[\\t\\n\\f\\r ]" }),
                'b' if in_class == 0 => Some("(?-u:\\b)"),
                'B' if in_class == 0 => Some("(?-u:\\B)"),
                _ => None,
            };
            match ascii {
                // `[:^word:]` is a negated class that cannot be nested as-is: keep `\W`.
                Some(_) if in_class > 0 && matches!(next, 'W' | 'D' | 'S') => {
                    out.push('\\');
                    out.push(next);
                }
                Some(s) => out.push_str(s),
                None => {
                    out.push('\\');
                    out.push(next);
                }
            }
            continue;
        }
        match c {
            '[' if in_class == 0 => {
                in_class = 1;
                out.push(c);
                // A `]` or `^]` right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class > 0 => {
                // A POSIX class `[:alnum:]` inside a bracket expression.
                if chars.peek() == Some(&':') {
                    out.push('[');
                    for d in chars.by_ref() {
                        out.push(d);
                        if d == ']' {
                            break;
                        }
                    }
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class > 0 => {
                in_class = 0;
                out.push(c);
            }
            // RE2 reads a `{` that starts no repetition (`{\d+}`, `${VAR}`) as a
            // literal; the `regex` crate wants it escaped.
            '{' if in_class == 0 && !is_repetition(chars.clone()) => out.push_str("\\{"),
            '}' if in_class == 0 && !out_has_open_repetition(&out) => out.push_str("\\}"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether the characters after a `{` make a counted repetition (`3}`, `3,}`, `3,5}`).
fn is_repetition(mut rest: impl Iterator<Item = char>) -> bool {
    let mut digits = 0;
    let mut comma = false;
    for c in rest.by_ref() {
        match c {
            '0'..='9' => digits += 1,
            ',' if !comma && digits > 0 => comma = true,
            '}' => return digits > 0,
            _ => return false,
        }
    }
    false
}

/// Whether `out` ends inside a counted repetition (`{3,5` written, `}` to come).
fn out_has_open_repetition(out: &str) -> bool {
    let Some(open) = out.rfind('{') else { return false };
    if out[..open].ends_with('\\') {
        return false;
    }
    let inner = &out[open + 1..];
    !inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit() || c == ',')
}

impl RuleSet {
    /// Reads and compiles a gitleaks TOML configuration.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let raw: RawConfig = toml::from_str(text)?;
        let global = Allowlist::compile(raw.allowlist.unwrap_or_default()).map_err(|reason| RuleError::GlobalPattern {
            pattern: "allowlist".to_owned(),
            reason,
        })?;
        let mut rules = Vec::with_capacity(raw.rules.len());
        let mut skipped = Vec::new();
        for r in raw.rules {
            match Self::rule(r) {
                Ok(rule) => rules.push(rule),
                Err(s) => skipped.push(s),
            }
        }
        Ok(Self { rules, skipped, global })
    }

    fn rule(r: RawRule) -> Result<Rule, SkippedRule> {
        let skip = |reason: String| SkippedRule { id: r.id.clone(), reason };
        let regex = r
            .regex
            .as_deref()
            .map(compile)
            .transpose()
            .map_err(|e| skip(format!("regex: {e}")))?;
        let path = r.path.as_deref().map(compile).transpose().map_err(|e| skip(format!("path: {e}")))?;
        if regex.is_none() && path.is_none() {
            return Err(skip("neither a regex nor a path".to_owned()));
        }
        let allowlists = r
            .allowlists
            .into_iter()
            .map(Allowlist::compile)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| skip(format!("allowlist: {e}")))?;
        Ok(Rule {
            keywords: r.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
            id: r.id,
            regex,
            path,
            entropy: r.entropy,
            secret_group: r.secret_group,
            allowlists,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_classes_rewrite_only_escapes_outside_and_inside_brackets() {
        assert_eq!(ascii_classes(r"\w+"), "[[:word:]]+");
        assert_eq!(ascii_classes(r"[\w.-]"), "[[:word:].-]");
        assert_eq!(ascii_classes(r"\\w"), r"\\w");
        assert_eq!(ascii_classes(r"[\s'] \b"), "[\\t\\n\\f\\r '] (?-u:\\b)");
        assert_eq!(ascii_classes(r"[[:alnum:]]{3}"), "[[:alnum:]]{3}");
        assert_eq!(ascii_classes(r"[^]]"), r"[^\]]");
        assert_eq!(ascii_classes(r"^\$(?:\d+|{\d+})$"), r"^\$(?:[[:digit:]]+|\{[[:digit:]]+\})$");
        assert_eq!(ascii_classes(r"a{2,3}b{4}"), "a{2,3}b{4}");
    }

    #[test]
    fn the_vendored_rules_parse_and_compile() {
        let set = RuleSet::parse(GITLEAKS_TOML).expect("vendored rules");
        assert_eq!(set.rules.len() + set.skipped.len(), 222, "{:?}", set.skipped);
        assert!(set.rules.iter().any(|r| r.id == "generic-api-key"));
    }
}
