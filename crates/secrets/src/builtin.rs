//! The project's own secret rules, for shapes gitleaks' default set leaves to its
//! entropy-gated generic rule or does not cover: passwords in URLs and in assignments
//! (any entropy: `Summer2024!` is a password), `Authorization` headers, Twilio account
//! SIDs, `.npmrc` auth tokens, private keys cut short, and unlabelled high-entropy
//! strings.
//!
//! Values that are references rather than secrets (`${DB_PASSWORD}`, `os.environ[...]`,
//! `{{ .Values.password }}`, `changeme`) pass gitleaks' global allowlist and a few
//! checks of this module's own, and are not reported.

use std::sync::LazyLock;

use regex::Regex;

use crate::RawFinding;
use crate::gitleaks::Allowlist;

#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in secret patterns compile")
}

/// `scheme://user:password@host`; the password may hold `/` and `@` (the host starts
/// after the last `@` of the authority).
static URL_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)(?-u:\b)[a-z][a-z0-9+.\-]{1,30}://[^\s:/?#@'"<>`]{1,256}:([^\s'"<>`]{1,512})@[A-Za-z0-9\[_%\-]"#));
/// A name that says password or secret, an assignment, and a value: quoted (may hold
/// spaces), or bare to the end of the token.
static PASSWORD_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?-u:\b)([A-Za-z0-9_.\-]*?(?:passw(?:or)?d|passphrase|pass|pwd|secret|passwort|contrase(?:ñ|n)a|mot_de_passe)(?:[_.\-]?[A-Za-z0-9]+)*)["']?[ \t]*(?::=|=>|=|:)[ \t]*(?:"([^"\r\n]{1,300})"|'([^'\r\n]{1,300})'|([^\s"'`,;]{1,300}))"#,
    )
});
/// Line-start assignments (`.env`, YAML, INI, properties): the value runs to the end
/// of the line, so a passphrase with spaces is taken whole.
static PASSWORD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?im)^[ \t]*(?:export[ \t]+|-[ \t]+)?([A-Za-z0-9_.\-]*?(?:passw(?:or)?d|passphrase|pass|pwd|secret)(?:[_.\-]?[A-Za-z0-9]+)*)[ \t]*[=:][ \t]*([^"'\r\n][^\r\n]*?)[ \t]*(?:[ \t]#.*)?$"#,
    )
});
/// Dockerfile `ENV NAME value` / `ARG NAME value` (the form without `=`).
static PASSWORD_DOCKERFILE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?im)^[ \t]*(?:ENV|ARG)[ \t]+([A-Za-z0-9_.\-]*?(?:passw(?:or)?d|passphrase|pass|pwd|secret)[A-Za-z0-9_.\-]*)[ \t]+([^\s=][^\r\n]*?)[ \t]*$",
    )
});
static AUTHORIZATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?-u:\b)(?:proxy-)?authorization["']?[ \t]*[:=,][ \t]*["']?(?:basic|bearer|token|digest|negotiate|apikey)[ \t]+([A-Za-z0-9._~+/\-]{8,}=*)"#,
    )
});
static BEARER: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[Bb]earer[ \t]+([A-Za-z0-9._~+/\-]{20,}=*)"));
static BASIC: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[Bb]asic[ \t]+([A-Za-z0-9+/]{12,}={0,2})(?:[^A-Za-z0-9+/=]|$)"));
static TWILIO_SID: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)(AC[0-9a-f]{32})(?-u:\b)"));
static NPMRC: LazyLock<Regex> = LazyLock::new(|| re(r#"(?-u:\b)_auth(?:Token)?[ \t]*=[ \t]*["']?([^\s"']{8,})"#));
/// A private key header without its `END` line: the base64 (and `\n` escapes) after it.
static PRIVATE_KEY_START: LazyLock<Regex> =
    LazyLock::new(|| re(r"-----BEGIN[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:\\[nr]|[A-Za-z0-9+/=\s:,\-])*"));
static TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9+/_\-]{20,}={0,2}"));

/// Words that name the value's kind or stand in for it.
const PLACEHOLDERS: &[&str] = &[
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "required",
    "optional",
    "str",
    "string",
    "bytes",
    "secret",
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "changeme",
    "change_me",
    "example",
    "redacted",
    "hidden",
    "empty",
    "dummy",
    "placeholder",
    "your_password",
    "yourpassword",
    "your-password",
    "mypassword",
    "secretstr",
    "secretstring",
    "int",
    "bool",
    "char",
    "text",
    "default",
    "env",
    "self",
    "this",
    "value",
    "todo",
    "tbd",
    "unset",
];

/// Whether `value` (assigned to a password-like name) is a reference, a type or a
/// placeholder rather than a literal password.
fn is_not_a_password(value: &str, global: &Allowlist, quoted: bool) -> bool {
    let v = value.trim().trim_end_matches([',', ';', ')']);
    if v.chars().count() < 4 || global.allows_secret(v) {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    let bare = lower.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if PLACEHOLDERS.contains(&bare) || bare.chars().all(|c| c == 'x' || c == '*') {
        return true;
    }
    // References and templates: `$VAR`, `${VAR}`, `%VAR%`, `{{ x }}`, `<password>`,
    // `os.environ["X"]`, `process.env.X`, `getenv(...)`, `ENV[...]`.
    if v.starts_with(['$', '%', '<', '{', '[', '(', '@', '&', '*', '/', '#'])
        || v.contains("{{")
        || v.contains("${")
        || lower.contains("environ")
        || lower.contains("getenv")
        || lower.contains("process.env")
        || lower.contains("env[")
        || lower.contains("secrets.")
        || lower.contains("vault:")
    {
        return true;
    }
    if !quoted {
        // Code, not a literal: a call, an index, a type, an attribute chain or a plain
        // identifier without digits (`form.password`, `getPassword()`, `String`).
        if v.contains(['(', '[', '<', '{'])
            || (v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') && !v.chars().any(|c| c.is_ascii_digit()))
        {
            return true;
        }
        // A number (`password_min_length: 12`).
        if v.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return true;
        }
    }
    false
}

/// Names that hold something about a password, not the password.
fn is_not_a_password_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "length",
        "_len",
        "min",
        "max",
        "url",
        "uri",
        "path",
        "file",
        "field",
        "label",
        "policy",
        "hint",
        "reset",
        "regex",
        "pattern",
        "prompt",
        "placeholder",
        "_id",
        "name",
        "type",
        "enabled",
        "required",
        "expir",
        "rotation",
        "strength",
        "confirm",
        "mode",
        "format",
        "changed",
        "count",
        "attempt",
        "_ref",
        "keyref",
        "message",
        "error",
        "valid",
        "input",
        "compass",
        "bypass",
        "passthrough",
        "passenger",
        "password_hash",
        "manager",
    ]
    .iter()
    .any(|w| n.contains(w))
}

pub(crate) fn passwords(text: &str, global: &Allowlist, out: &mut Vec<RawFinding>) {
    let lower_has = |t: &str| {
        let l = t.to_ascii_lowercase();
        ["pass", "pwd", "secret", "contrase"].iter().any(|k| l.contains(k))
    };
    if !lower_has(text) {
        return;
    }
    for c in PASSWORD_ASSIGNMENT.captures_iter(text) {
        let Some(name) = c.get(1) else { continue };
        if is_not_a_password_name(name.as_str()) {
            continue;
        }
        let (value, quoted) = match (c.get(2), c.get(3), c.get(4)) {
            (Some(v), _, _) | (_, Some(v), _) => (v, true),
            (_, _, Some(v)) => (v, false),
            _ => continue,
        };
        // `password == other` is a comparison; `password: str = ...` a type annotation.
        if text[value.start()..].starts_with('=') {
            continue;
        }
        if !is_not_a_password(value.as_str(), global, quoted) {
            out.push(RawFinding::new("password-assignment", value.range()));
        }
    }
    for c in PASSWORD_DOCKERFILE.captures_iter(text) {
        let (Some(name), Some(value)) = (c.get(1), c.get(2)) else {
            continue;
        };
        if !is_not_a_password_name(name.as_str()) && !is_not_a_password(value.as_str(), global, true) {
            out.push(RawFinding::new("password-assignment", value.range()));
        }
    }
    for c in PASSWORD_LINE.captures_iter(text) {
        let (Some(name), Some(value)) = (c.get(1), c.get(2)) else {
            continue;
        };
        if is_not_a_password_name(name.as_str()) {
            continue;
        }
        let v = value.as_str();
        // Only plain values with a space: a single token was handled above.
        if !v.contains(' ') || v.starts_with(['|', '>', '&']) {
            continue;
        }
        if !is_not_a_password(v, global, true) {
            out.push(RawFinding::new("password-assignment", value.range()));
        }
    }
}

pub(crate) fn url_passwords(text: &str, global: &Allowlist, out: &mut Vec<RawFinding>) {
    if !text.contains("://") {
        return;
    }
    for c in URL_PASSWORD.captures_iter(text) {
        let Some(pw) = c.get(1) else { continue };
        let v = pw.as_str();
        let lower = v.to_ascii_lowercase();
        if global.allows_secret(v)
            || v.starts_with(['$', '%', '<', '{'])
            || PLACEHOLDERS.contains(&lower.as_str())
            || v.chars().all(|c| c == '*' || c == 'x')
        {
            continue;
        }
        out.push(RawFinding::new("url-credentials", pw.range()));
    }
}

pub(crate) fn headers(text: &str, out: &mut Vec<RawFinding>) {
    let lower = text.to_ascii_lowercase();
    if lower.contains("authorization") {
        for c in AUTHORIZATION.captures_iter(text) {
            if let Some(v) = c.get(1) {
                out.push(RawFinding::new("authorization-header", v.range()));
            }
        }
    }
    if lower.contains("bearer") {
        for c in BEARER.captures_iter(text) {
            if let Some(v) = c.get(1) {
                out.push(RawFinding::new("authorization-header", v.range()));
            }
        }
    }
    if lower.contains("basic") {
        for c in BASIC.captures_iter(text) {
            let Some(v) = c.get(1) else { continue };
            // Base64 of `user:password` has digits or mixed case; prose does not.
            let s = v.as_str();
            if s.chars().any(|c| c.is_ascii_digit() || c == '=' || c == '+' || c == '/') && crate::entropy(s) > 3.0 {
                out.push(RawFinding::new("authorization-header", v.range()));
            }
        }
    }
}

pub(crate) fn misc(text: &str, out: &mut Vec<RawFinding>) {
    if text.contains("AC") {
        for c in TWILIO_SID.captures_iter(text) {
            if let Some(v) = c.get(1) {
                out.push(RawFinding::new("twilio-account-sid", v.range()));
            }
        }
    }
    if text.contains("_auth") {
        for c in NPMRC.captures_iter(text) {
            let Some(v) = c.get(1) else { continue };
            if !v.as_str().starts_with(['$', '{', '<']) {
                out.push(RawFinding::new("npmrc-auth-token", v.range()));
            }
        }
    }
    if text.contains("PRIVATE KEY") {
        for m in PRIVATE_KEY_START.find_iter(text) {
            out.push(RawFinding::new("private-key", m.range()));
        }
    }
}

/// Strings that look random and are not a hash: 20+ characters of base64/base64url
/// with upper case, lower case and digits, and at least `min_entropy` bits per
/// character (and 80% of the most a string of that length can have).
pub(crate) fn high_entropy(text: &str, min_entropy: f64, out: &mut Vec<RawFinding>) {
    for m in TOKEN.find_iter(text) {
        let s = m.as_str();
        let core = s.trim_end_matches('=');
        let n = core.chars().count();
        if n > 1024 {
            continue;
        }
        let (upper, lower, digit) = (
            core.bytes().filter(u8::is_ascii_uppercase).count(),
            core.bytes().filter(u8::is_ascii_lowercase).count(),
            core.bytes().filter(u8::is_ascii_digit).count(),
        );
        if upper == 0 || lower == 0 || digit < 2 {
            continue;
        }
        // Paths and identifiers (`src/main/java`, `my-long_variable-name2`): mostly
        // lower-case words joined by separators.
        let parts: Vec<&str> = core.split(['/', '_', '-', '.']).filter(|p| !p.is_empty()).collect();
        let wordlike = |p: &&str| {
            let rest = p.get(1..).unwrap_or_default();
            rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                || p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        if parts.len() > 2 && parts.iter().all(wordlike) {
            continue;
        }
        let e = crate::entropy(core);
        if e < min_entropy || e < 0.8 * (n as f64).log2().min(6.0) {
            continue;
        }
        // Subresource integrity and checksums (`sha512-...`, `sha256:...`), base64 data
        // URIs: hashes and content, not credentials.
        let before = &text[..m.start()];
        let head = &before[crate::floor_boundary(before, before.len().saturating_sub(24))..].to_ascii_lowercase();
        let prefix_hash = [
            "sha1-",
            "sha256-",
            "sha384-",
            "sha512-",
            "sha256:",
            "sha512:",
            "base64,",
            "md5-",
            "h1:",
            "integrity",
            "checksum",
            "hash",
        ]
        .iter()
        .any(|p| head.contains(p));
        if prefix_hash {
            continue;
        }
        out.push(RawFinding::new("high-entropy-string", m.range()));
    }
}
