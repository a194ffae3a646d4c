//! Secret and PII detection shared by every job: what must never reach a training set,
//! a log line or an error message.
//!
//! [`Scanner`] runs three families of detectors over a text:
//!
//! - gitleaks' default rule set ([`gitleaks`]), vendored as data with its licence and
//!   commit, compiled with the `regex` crate and pre-filtered by the rules' keywords in
//!   one aho-corasick pass, so a rule's regex runs only on text that names it;
//! - the project's own rules ([`builtin`]): passwords in URLs and assignments at any
//!   entropy, `Authorization` headers, and unlabelled high-entropy strings;
//! - personal data ([`pii`]): e-mail, phone numbers (libphonenumber's rules), IPv4/IPv6,
//!   US SSNs, Luhn-checked card numbers.
//!
//! Findings are byte ranges labelled with a rule id; [`Scanner::redact`] merges
//! overlapping ones and replaces each with `<REDACTED:rule-id>`. The values themselves
//! never leave this crate. [`scrub_for_log`] and [`redact_url`] make text safe to put in
//! a log line or an error. A `Scanner` is immutable after construction (`Send + Sync`):
//! one instance is shared by every thread.

pub mod builtin;
pub mod corpus;
pub mod gitleaks;
pub mod pii;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

pub use gitleaks::{GITLEAKS_COMMIT, RuleError, SkippedRule};

/// Default bits of Shannon entropy per character an unlabelled string needs to be
/// reported as `high-entropy-string`.
pub const DEFAULT_MIN_ENTROPY: f64 = 4.0;

/// The rule ids of the project's own detectors, secrets first, then personal data.
pub const BUILTIN_RULES: &[&str] = &[
    "url-credentials",
    "password-assignment",
    "authorization-header",
    "twilio-account-sid",
    "npmrc-auth-token",
    "private-key",
    "high-entropy-string",
    "email",
    "phone-number",
    "ip-address",
    "ipv6-address",
    "us-ssn",
    "credit-card",
];

/// The personal-data rule ids (the rest are secrets).
pub const PII_RULES: &[&str] = &["email", "phone-number", "ip-address", "ipv6-address", "us-ssn", "credit-card"];

/// A finding before merging: a rule id and the byte range of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFinding {
    rule: &'static str,
    range: Range<usize>,
}

impl RawFinding {
    pub(crate) fn new(rule: &'static str, range: Range<usize>) -> Self {
        Self { rule, range }
    }
}

/// One secret found: the rule that found it and where it is (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<'s> {
    pub rule: &'s str,
    pub range: Range<usize>,
}

/// A text with its findings replaced, and how many were found per rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub found: BTreeMap<String, u64>,
}

impl Redacted {
    pub fn is_clean(&self) -> bool {
        self.found.is_empty()
    }
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// The largest char boundary of `s` at or below `i`.
pub(crate) fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The secret detector.
pub struct Scanner {
    rules: gitleaks::RuleSet,
    /// Keyword automaton; pattern `k` belongs to the rules `keyword_rules[k]`.
    keywords: AhoCorasick,
    keyword_rules: Vec<Vec<usize>>,
    /// Rules without keywords: run on every text.
    unconditional: Vec<usize>,
    min_entropy: f64,
}

static DEFAULT: LazyLock<Scanner> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Scanner::new(DEFAULT_MIN_ENTROPY).expect("the vendored gitleaks rules parse (tested)")
});

impl Scanner {
    /// The shared scanner with the vendored rules and the default entropy threshold.
    pub fn shared() -> &'static Scanner {
        &DEFAULT
    }

    /// A scanner with the vendored rules; `min_entropy` is the threshold of the
    /// unlabelled high-entropy detector.
    pub fn new(min_entropy: f64) -> Result<Self, RuleError> {
        Self::with_rules(gitleaks::GITLEAKS_TOML, min_entropy)
    }

    /// A scanner with another gitleaks configuration.
    pub fn with_rules(toml_text: &str, min_entropy: f64) -> Result<Self, RuleError> {
        let rules = gitleaks::RuleSet::parse(toml_text)?;
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut unconditional = Vec::new();
        for (i, rule) in rules.rules.iter().enumerate() {
            if rule.keywords.is_empty() {
                unconditional.push(i);
            }
            for k in &rule.keywords {
                if let Some(pos) = words.iter().position(|w| w == k) {
                    keyword_rules[pos].push(i);
                } else {
                    words.push(k.clone());
                    keyword_rules.push(vec![i]);
                }
            }
        }
        #[allow(clippy::expect_used)]
        // A DFA: every text is scanned whole for every keyword occurrence, and the
        // contiguous NFA's failure transitions took 10% of build-finetune's read.
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&words)
            .expect("keyword automaton of a few hundred short words builds");
        Ok(Self {
            rules,
            keywords,
            keyword_rules,
            unconditional,
            min_entropy,
        })
    }

    /// The gitleaks rules compiled, in file order.
    pub fn gitleaks_rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.rules.iter().map(|r| r.id.as_str())
    }

    /// The gitleaks rules that could not be compiled, with the reason.
    pub fn skipped_rules(&self) -> &[SkippedRule] {
        &self.rules.skipped
    }

    /// The unlabelled high-entropy threshold, bits per character.
    pub fn min_entropy(&self) -> f64 {
        self.min_entropy
    }

    /// Every secret and piece of personal data in `text`. `path` is the file the text
    /// comes from, when there is one: gitleaks' path rules and allowlists use it.
    /// Findings may overlap; [`Scanner::redact`] merges them.
    pub fn scan<'s>(&'s self, text: &str, path: Option<&str>) -> Vec<Finding<'s>> {
        // Text escaped for a JSON or code string (a notebook cell, `"key=\"...\""`):
        // `\"` ends a token for a reader but not for gitleaks' terminators. Scanning a
        // copy with those backslashes blanked keeps every byte offset.
        let shadow;
        let text = if text.contains("\\\"") || text.contains("\\'") {
            shadow = text.replace("\\\"", " \"").replace("\\'", " '");
            shadow.as_str()
        } else {
            text
        };
        let mut found: Vec<Finding<'s>> = Vec::new();
        self.scan_gitleaks(text, path, &mut found);
        let mut raw = Vec::new();
        let global = &self.rules.global;
        builtin::url_passwords(text, global, &mut raw);
        builtin::passwords(text, global, &mut raw);
        builtin::headers(text, &mut raw);
        builtin::misc(text, &mut raw);
        if !global.allows_path(path) {
            builtin::high_entropy(text, self.min_entropy, &mut raw);
        }
        pii::emails(text, &mut raw);
        pii::ip_addresses(text, &mut raw);
        pii::ssns(text, &mut raw);
        pii::card_numbers(text, &mut raw);
        pii::phone_numbers(text, &mut raw);
        found.extend(raw.into_iter().map(|r| Finding {
            rule: r.rule,
            range: r.range,
        }));
        found
    }

    fn scan_gitleaks<'s>(&'s self, text: &str, path: Option<&str>, found: &mut Vec<Finding<'s>>) {
        // gitleaks skips files its global allowlist names (lockfiles, vendored code,
        // images); the project's own rules still run on them.
        if self.rules.global.allows_path(path) {
            return;
        }
        let mut selected = vec![false; self.rules.rules.len()];
        for &i in &self.unconditional {
            selected[i] = true;
        }
        for m in self.keywords.find_overlapping_iter(text) {
            for &i in &self.keyword_rules[m.pattern().as_usize()] {
                selected[i] = true;
            }
        }
        for (i, rule) in self.rules.rules.iter().enumerate() {
            if !selected[i] {
                continue;
            }
            if let Some(p) = &rule.path {
                if !path.is_some_and(|path| p.is_match(path)) {
                    continue;
                }
                if rule.regex.is_none() {
                    // A path-only rule: the whole file is the secret.
                    found.push(Finding {
                        rule: &rule.id,
                        range: 0..text.len(),
                    });
                    continue;
                }
            }
            let Some(regex) = &rule.regex else { continue };
            for caps in regex.captures_iter(text) {
                let Some(whole) = caps.get(0) else { continue };
                // gitleaks trims newlines off the match before taking the secret.
                let matched = whole.as_str().trim_matches('\n');
                let secret = match rule.secret_group {
                    Some(g) if g > 0 => match caps.get(g) {
                        Some(m) => m,
                        None => continue,
                    },
                    _ => caps.iter().skip(1).flatten().find(|m| !m.as_str().is_empty()).unwrap_or(whole),
                };
                let value = secret.as_str();
                if let Some(min) = rule.entropy {
                    if entropy(value) <= min {
                        continue;
                    }
                    if rule.id.starts_with("generic") && !value.chars().any(|c| c.is_ascii_digit()) {
                        continue;
                    }
                }
                let line_start = text[..whole.start()].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[whole.end()..].find('\n').map_or(text.len(), |i| whole.end() + i);
                let candidate = gitleaks::Candidate {
                    secret: value,
                    matched,
                    line: &text[line_start..line_end],
                    path,
                };
                if self.rules.global.allows_secret(value) || rule.allowlists.iter().any(|a| a.allows(&candidate)) {
                    continue;
                }
                found.push(Finding {
                    rule: &rule.id,
                    range: secret.range(),
                });
            }
        }
    }

    /// `text` with every finding replaced by `<REDACTED:rule-id>`, and the count per
    /// rule. Overlapping findings are merged into one replacement (nothing of either is
    /// left), labelled and counted once, by the most specific rule: a gitleaks rule
    /// before the project's own, `generic-api-key` and `high-entropy-string` last.
    pub fn redact(&self, text: &str, path: Option<&str>) -> Redacted {
        Self::redact_findings(text, self.scan(text, path))
    }

    /// [`Scanner::redact`] for a message that names files: a `high-entropy-string`
    /// finding inside a file path (a temporary directory's random name, a content
    /// hash in a file name) is not redacted, so the message still names its file.
    /// Every labelled rule (gitleaks', passwords, URL credentials, personal data)
    /// still applies inside paths.
    pub fn redact_message(&self, text: &str) -> Redacted {
        let findings = self
            .scan(text, None)
            .into_iter()
            .filter(|f| !(f.rule == "high-entropy-string" && within_path(text, &f.range)))
            .collect();
        Self::redact_findings(text, findings)
    }

    fn redact_findings(text: &str, mut findings: Vec<Finding<'_>>) -> Redacted {
        if findings.is_empty() {
            return Redacted {
                text: text.to_owned(),
                found: BTreeMap::new(),
            };
        }
        findings.sort_by(|a, b| a.range.start.cmp(&b.range.start).then(b.range.end.cmp(&a.range.end)));
        let mut out = String::with_capacity(text.len());
        let mut found: BTreeMap<String, u64> = BTreeMap::new();
        let mut cursor = 0usize;
        let mut i = 0;
        while i < findings.len() {
            let mut range = findings[i].range.clone();
            let mut best = &findings[i];
            let mut j = i + 1;
            while j < findings.len() && findings[j].range.start < range.end {
                range.end = range.end.max(findings[j].range.end);
                if rank(findings[j].rule) < rank(best.rule) {
                    best = &findings[j];
                }
                j += 1;
            }
            let start = floor_boundary(text, range.start.max(cursor));
            out.push_str(&text[cursor..start]);
            out.push_str("<REDACTED:");
            out.push_str(best.rule);
            out.push('>');
            cursor = floor_boundary(text, range.end).max(start);
            *found.entry(best.rule.to_owned()).or_default() += 1;
            i = j;
        }
        out.push_str(&text[cursor..]);
        Redacted { text: out, found }
    }
}

/// Which label wins when findings overlap (lower first).
fn rank(rule: &str) -> u8 {
    match rule {
        "generic-api-key" => 3,
        "high-entropy-string" => 4,
        r if PII_RULES.contains(&r) => 2,
        r if BUILTIN_RULES.contains(&r) => 1,
        _ => 0,
    }
}

/// Whether `range` lies in a file path of `text`: a token (delimited by white space,
/// quotes or backticks) that has a `/` and is not a URL, whose every character is one
/// a file name usually has (`dt=2026-11-30` partition names included).
fn within_path(text: &str, range: &Range<usize>) -> bool {
    let is_delimiter = |c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | '(' | ')' | ',' | ';');
    let start = text[..range.start.min(text.len())]
        .char_indices()
        .rev()
        .find(|&(_, c)| is_delimiter(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[range.end.min(text.len())..]
        .char_indices()
        .find(|&(_, c)| is_delimiter(c))
        .map_or(text.len(), |(i, _)| range.end + i);
    let token = text[start..end].trim_end_matches([':', '.']);
    token.contains('/')
        && !token.contains("://")
        && token
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '~' | '=' | '@'))
}

/// An error message or log line made safe to print: secrets and personal data
/// redacted as by [`scrub_for_log`], but file paths keep their random-looking parts
/// ([`Scanner::redact_message`]) and nothing is cut (the message is the program's
/// own, with input text already cut where it was quoted). Control characters other
/// than new lines and tabs are replaced, so a message cannot rewrite the log.
pub fn scrub_message(text: &str) -> String {
    let head = &text[..floor_boundary(text, 64 * 1024)];
    let redacted = Scanner::shared().redact_message(head).text;
    let clean: String = redacted
        .chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{fffd}' } else { c })
        .collect();
    if head.len() == text.len() {
        clean
    } else {
        format!("{clean}… ({} bytes in all)", text.len())
    }
}

/// Most characters of input text quoted in a log line or an error message.
pub const LOG_QUOTE_CHARS: usize = 200;

/// `text` made safe to quote in a log line or an error: secrets and personal data
/// redacted, then cut to `max_chars` characters (`…` and the number of bytes left out
/// appended). At most 64 KiB are scanned, far more than is shown.
pub fn scrub_for_log(text: &str, max_chars: usize) -> String {
    let head = &text[..floor_boundary(text, 64 * 1024)];
    let redacted = Scanner::shared().redact(head, None).text;
    // Control characters (an escape sequence, a carriage return rewriting the line)
    // would forge log output.
    let clean: String = redacted
        .chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{fffd}' } else { c })
        .collect();
    match clean.char_indices().nth(max_chars) {
        None if head.len() == text.len() => clean,
        None => format!("{clean}… ({} bytes in all)", text.len()),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &clean[..cut], text.len()),
    }
}

/// A record (a JSON line, a raw row) with its secrets redacted, for a quarantine
/// payload. Bytes without a finding come back unchanged, even when they are not UTF-8.
pub fn scrub_bytes(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let redacted = Scanner::shared().redact(&text, None);
    if redacted.is_clean() {
        bytes.to_vec()
    } else {
        redacted.text.into_bytes()
    }
}

/// Query parameters whose values are credentials.
fn is_credential_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "auth",
        "credential",
        "sig",
        "signature",
        "session",
        "code",
        "jwt",
        "apikey",
        "access",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A URL safe to log: user name and password removed, the values of credential-like
/// query parameters (`access_token`, `api_key`, `sig`, ...) replaced by `REDACTED`, and
/// whatever else the scanner finds (a token in the path) redacted. Text that is not a
/// URL is scrubbed as any other text.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return scrub_for_log(url, 2 * LOG_QUOTE_CHARS);
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Cannot fail for URLs with a host (the only ones with userinfo).
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_credential_param(&k) {
                    "REDACTED".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.set_fragment(None);
    scrub_for_log(parsed.as_str(), 2 * LOG_QUOTE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_is_shared_between_threads() {
        fn sync<T: Send + Sync>() {}
        sync::<Scanner>();
    }

    #[test]
    fn redact_merges_overlaps_and_counts_each_secret_once() {
        let s = Scanner::shared();
        let r = s.redact("stripe = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", None);
        assert!(!r.text.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{}", r.text);
        assert_eq!(r.found.values().sum::<u64>(), 1, "{:?}", r.found);
    }

    #[test]
    fn urls_lose_userinfo_and_credential_parameters() {
        let u = redact_url("https://bob:hunter2x@mlflow.internal:5000/api?access_token=abc123def&experiment=7#frag");
        assert_eq!(u, "https://mlflow.internal:5000/api?access_token=REDACTED&experiment=7");
        assert_eq!(redact_url("http://127.0.0.1:5000"), "http://127.0.0.1:5000/");
    }

    #[test]
    fn log_quotes_are_scrubbed_then_cut() {
        let body = format!(
            "{{\"echo\": \"Authorization: Bearer {}\"}}{}",
            "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0",
            "x".repeat(500)
        );
        let q = scrub_for_log(&body, 100);
        assert!(!q.contains("A1b2C3d4E5f6"), "{q}");
        assert!(q.ends_with(&format!("… ({} bytes in all)", body.len())), "{q}");
        assert!(q.chars().count() < 160, "{q}");
        assert_eq!(scrub_for_log("a\u{1b}[2Jb", 10), "a\u{fffd}[2Jb");
    }

    #[test]
    fn messages_keep_their_paths_and_lose_their_secrets() {
        let path = "/tmp/.tmpXq3Zr8Kp2Lw9/raw/generations/dt=2026-11-30/part-7f3a9c1b2e4d5f60a7b8c9d0e1f2a3b4.ndjson";
        let message = format!("reading `{path}`: line 3: field `token`: got \"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\"");
        let scrubbed = scrub_message(&message);
        assert!(scrubbed.contains(path), "{scrubbed}");
        assert!(!scrubbed.contains("ghp_aBcDeF"), "{scrubbed}");
        // The same random-looking part outside a path is still redacted.
        let bare = "value Xq3Zr8Kp2Lw9aT5vB7nM1cD4fG6hJ8kL0zQ2wE4rT6yU8iO";
        assert!(scrub_for_log(bare, 200).contains("<REDACTED:high-entropy-string>"));
        assert!(
            scrub_message(bare).contains("<REDACTED:high-entropy-string>"),
            "{}",
            scrub_message(bare)
        );
        // Labelled rules apply inside paths and URLs, and credentials in a URL are not a path.
        let url = "connecting to https://svc:S3cr3tPassw0rd!x@mlflow.internal/api failed";
        assert!(!scrub_message(url).contains("S3cr3tPassw0rd"), "{}", scrub_message(url));
        let mail = "cannot read `/home/jane.doe@acme-corp.io/raw.ndjson`";
        assert!(!scrub_message(mail).contains("jane.doe@acme-corp.io"), "{}", scrub_message(mail));
        assert_eq!(scrub_message("a\u{1b}[2Jb\nc"), "a\u{fffd}[2Jb\nc");
    }
}
