//! Secret and PII scrubbing: every text that goes into a dataset passes through here.
//!
//! Detectors run in a fixed order, specific before generic, and each replaces what it
//! finds with a typed placeholder (`<REDACTED:aws_access_key>`), so a later detector
//! never sees (or double-counts) an earlier one's match. Only counts per kind leave this
//! module: the matched values are never returned, logged or stored.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// The kinds of secret or PII detected, in the order they are applied.
pub const KINDS: &[&str] = &[
    "private_key",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "jwt",
    "password_in_url",
    "generic_secret",
    "email",
    "ip_address",
];

/// One detector: a pattern and the capture group holding the secret (0: all of it).
struct Detector {
    kind: &'static str,
    regex: Regex,
    group: usize,
}

#[allow(clippy::expect_used)]
static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    let d = |kind: &'static str, pattern: &str, group: usize| Detector {
        kind,
        regex: Regex::new(pattern).expect("secret patterns are valid"),
        group,
    };
    vec![
        d(
            "private_key",
            // To the END line; without one (a key cut short), the base64 run that follows
            // (with `\n` escapes when the key sits in a string literal).
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*)",
            0,
        ),
        d("aws_access_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b", 0),
        d(
            "aws_secret_key",
            r#"(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|aws_?secret|secret_?access_?key)["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})\b"#,
            1,
        ),
        d(
            "github_token",
            r"\b(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
            0,
        ),
        d("gitlab_token", r"\bglpat-[A-Za-z0-9_\-]{20,}", 0),
        d("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0),
        d("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}", 0),
        d("password_in_url", r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:([^\s@/]+)@", 1),
        d(
            "generic_secret",
            r#"(?i)\b[A-Za-z0-9_.\-]*(?:key|secret|password|passwd|pwd|token|credential)[A-Za-z0-9_.\-]*["']?\s*[:=]\s*["']?([A-Za-z0-9/+_\-.=!@#$%^&*~]{12,})"#,
            1,
        ),
        d(
            "email",
            r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
            0,
        ),
        d(
            "ip_address",
            r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b",
            0,
        ),
    ]
});

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

/// Whether a generic `name = value` match is a secret: random-looking, not a reference
/// to another variable or a placeholder.
fn is_generic_secret(value: &str, min_entropy: f64) -> bool {
    let has_digit = value.chars().any(|c| c.is_ascii_digit());
    let has_alpha = value.chars().any(|c| c.is_ascii_alphabetic());
    has_digit && has_alpha && entropy(value) >= min_entropy
}

/// Addresses that say nothing about a person or a host: loopback, unspecified,
/// private ranges and documentation-free defaults that templates write everywhere.
fn is_benign_ip(ip: &str) -> bool {
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    match octets.as_slice() {
        [0, 0, 0, 0] | [255, 255, 255, 255] | [127 | 10, ..] | [192, 168, ..] => true,
        [172, b, ..] => (16..=31).contains(b),
        _ => false,
    }
}

/// Whether the dotted quad at `start..end` of `text` is a version number, not an
/// address: part of a longer dotted run (`1.2.3.4.5`, `v1.2.3.4`), or named a version
/// just before it on the same line (`AssemblyVersion("1.0.0.0")`, `"version": "2.0.0.0"`).
fn is_version_number(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    let after = &text[end..];
    let longer_run = before.ends_with(['v', 'V', '.']) || before.ends_with(|c: char| c.is_ascii_digit());
    let continues = after
        .strip_prefix('.')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    let line = before.rsplit('\n').next().unwrap_or(before);
    // The last 32 characters of the line before the match.
    let near = &line[line.char_indices().rev().nth(31).map_or(0, |(i, _)| i)..];
    longer_run || continues || near.to_ascii_lowercase().contains("version")
}

/// `icon@2x.png`: the retina-asset naming convention, not an address.
fn is_asset_name(email: &str) -> bool {
    email.split_once('@').is_some_and(|(_, domain)| {
        domain.split_once('.').is_some_and(|(label, _)| {
            label.len() >= 2 && label.ends_with('x') && label[..label.len() - 1].chars().all(|c| c.is_ascii_digit())
        })
    })
}

/// Counts of redactions per kind.
pub type SecretCounts = BTreeMap<&'static str, u64>;

/// Replaces every detected secret in `text` with `<REDACTED:kind>` and adds what it
/// found to `counts`. `min_entropy` is the bits per character a generic
/// `key/secret/password/token = value` assignment needs to count as a secret.
pub fn scrub(text: &str, min_entropy: f64, counts: &mut SecretCounts) -> String {
    let mut current = text.to_owned();
    for detector in DETECTORS.iter() {
        let mut found = 0u64;
        let text = current.as_str();
        let replaced = detector.regex.replace_all(text, |caps: &Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str());
            let Some(secret) = caps.get(detector.group) else {
                return whole.to_owned();
            };
            let value = secret.as_str();
            let keep = match detector.kind {
                "generic_secret" => !is_generic_secret(value, min_entropy),
                "ip_address" => is_benign_ip(value) || is_version_number(text, secret.start(), secret.end()),
                "email" => is_asset_name(value),
                _ => false,
            };
            if keep {
                return whole.to_owned();
            }
            found += 1;
            let start = caps.get(0).map_or(0, |m| m.start());
            let (before, after) = (&whole[..secret.start() - start], &whole[secret.end() - start..]);
            format!("{before}<REDACTED:{}>{after}", detector.kind)
        });
        if found > 0 {
            *counts.entry(detector.kind).or_default() += found;
            current = replaced.into_owned();
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, SecretCounts) {
        let mut counts = SecretCounts::new();
        let out = scrub(text, 3.0, &mut counts);
        (out, counts)
    }

    #[test]
    fn every_kind_is_redacted_with_its_placeholder() {
        let cases = [
            (
                "private_key",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            ),
            ("aws_access_key", "id = AKIAIOSFODNN7EXAMPLQ"),
            ("aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            ("github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            ("gitlab_token", "glpat-abcdefghij0123456789"),
            ("slack_token", "xoxb-1234567890-abcdefghij"),
            (
                "jwt",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
            ("password_in_url", "postgres://app:s3cr3tPass@db.internal:5432/app"),
            ("generic_secret", "API_TOKEN = \"Zx9qL2mN8vR4tY7wK3pB\""),
            ("email", "contact jane.doe@corp.example.com"),
            ("ip_address", "host 203.0.113.42"),
        ];
        for (kind, text) in cases {
            let (out, counts) = one(text);
            assert!(out.contains(&format!("<REDACTED:{kind}>")), "{kind}: {out}");
            assert_eq!(counts.get(kind), Some(&1), "{kind}: {counts:?}");
        }
    }

    #[test]
    fn key_block_variants_and_token_shapes_are_caught() {
        for (kind, text, secret) in [
            (
                "private_key",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
                "b3BlbnNzaC1rZXktdjEAAAAA",
            ),
            (
                "private_key",
                "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
                "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            ),
            (
                "private_key",
                "KEY = \"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIBkg4LVWM9nuwNSk\\n-----END EC PRIVATE KEY-----\"",
                "MHcCAQEEIBkg4LVWM9nuwNSk",
            ),
            (
                "private_key",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMx\nH2Mo4lgOEePzNm0t",
                "H2Mo4lgOEePzNm0t",
            ),
            ("aws_access_key", "ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
            (
                "github_token",
                "token: github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
            ),
        ] {
            let (out, counts) = one(text);
            assert!(!out.contains(secret), "{kind}: {out}");
            assert_eq!(counts.get(kind), Some(&1), "{kind}: {counts:?}");
        }
    }

    #[test]
    fn four_part_version_numbers_are_not_addresses() {
        let text =
            "[assembly: AssemblyVersion(\"2.0.0.0\")]\n\"version\": \"1.2.3.4\",\nv10.20.30.40 and 1.2.3.4.5\nFileVersion = 4.8.1.255\n";
        let (out, counts) = one(text);
        assert_eq!(out, text);
        assert!(counts.is_empty(), "{counts:?}");
        // An address on a line that merely mentions a version earlier still counts when
        // it is far from the word, and a bare address always does.
        let (out, counts) = one("version 2 of the service talks to the database at host 203.0.113.42\n203.0.113.7\n");
        assert!(!out.contains("203.0.113.42") && !out.contains("203.0.113.7"), "{out}");
        assert_eq!(counts.get("ip_address"), Some(&2));
    }

    #[test]
    fn ordinary_code_is_left_alone() {
        let text = "let token = get_token();\npassword_field = form.password\nlisten 127.0.0.1:8080\nversion = \"1.2.3\"\n\
                    <img src=\"logo@2x.png\"> host = \"0.0.0.0\"\n";
        let (out, counts) = one(text);
        assert_eq!(out, text);
        assert!(counts.is_empty(), "{counts:?}");
    }
}
