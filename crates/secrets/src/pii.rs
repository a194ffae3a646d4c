//! Personal data: e-mail addresses, phone numbers (checked with `phonenumber`, a port of
//! Google's libphonenumber), IPv4 and IPv6 addresses, US social security numbers and
//! Luhn-checked payment card numbers.
//!
//! Each detector is a cheap candidate regex followed by a real check (a parser, a
//! checksum, a range), so that numbers in code (ids, timestamps, version strings) are
//! not mistaken for personal data.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use crate::RawFinding;

#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in PII patterns compile")
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?-u:\b)"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?-u:\b)(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?-u:\b)")
});
/// Runs of hex groups and colons; `Ipv6Addr` decides.
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)([0-9]{3})-([0-9]{2})-([0-9]{4})(?-u:\b)"));
/// 13 to 19 digits, optionally in groups split by single spaces or dashes.
static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)"));
/// A phone-number shape: an optional `+` country code, then 2-5 digit groups separated
/// by spaces, dots, dashes or parentheses; `phonenumber` decides.
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:\+[0-9]{1,3}[ .\-]?)?(?:\([0-9]{1,5}\)[ .\-]?)?[0-9]{2,5}(?:[ .\-][0-9]{2,5}){1,4}"));

/// Domains reserved for documentation and tests (RFC 2606, RFC 6761): not a person's
/// address.
fn is_reserved_domain(domain: &str) -> bool {
    let d = domain.to_ascii_lowercase();
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|e| d == *e || d.ends_with(&format!(".{e}")))
        || [".example", ".test", ".invalid", ".localhost", ".local"]
            .iter()
            .any(|t| d.ends_with(t))
}

/// `icon@2x.png`: the retina-asset naming convention, not an address.
fn is_asset_name(domain: &str) -> bool {
    domain
        .split_once('.')
        .is_some_and(|(label, _)| label.len() >= 2 && label.ends_with('x') && label[..label.len() - 1].chars().all(|c| c.is_ascii_digit()))
}

pub(crate) fn emails(text: &str, out: &mut Vec<RawFinding>) {
    if !text.contains('@') {
        return;
    }
    for m in EMAIL.find_iter(text) {
        let Some((local, domain)) = m.as_str().split_once('@') else {
            continue;
        };
        // `git@github.com:org/repo`: an SSH user, not a person.
        if is_asset_name(domain) || is_reserved_domain(domain) || local == "git" {
            continue;
        }
        out.push(RawFinding::new("email", m.range()));
    }
}

/// Addresses that say nothing about a person or a host: loopback, unspecified,
/// broadcast, private and link-local ranges.
fn is_benign_ipv4(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() || ip.is_private() || ip.is_link_local()
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

pub(crate) fn ip_addresses(text: &str, out: &mut Vec<RawFinding>) {
    if text.contains('.') {
        for m in IPV4.find_iter(text) {
            let Ok(ip) = m.as_str().parse::<Ipv4Addr>() else {
                continue;
            };
            if is_benign_ipv4(ip) || is_version_number(text, m.start(), m.end()) {
                continue;
            }
            out.push(RawFinding::new("ip-address", m.range()));
        }
    }
    if text.contains(':') {
        for m in IPV6.find_iter(text) {
            let s = m.as_str();
            // Part of a longer word (`std::vec`, `deadbeef::`): not an address.
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == ':') || after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
            {
                continue;
            }
            let Ok(ip) = s.parse::<Ipv6Addr>() else {
                continue;
            };
            // Global unicast (2000::/3) only: loopback, unspecified, link-local, unique
            // local, multicast and the reserved low range (`a[1::2]` slices) are not hosts.
            if (ip.segments()[0] & 0xe000) == 0x2000 {
                out.push(RawFinding::new("ipv6-address", m.range()));
            }
        }
    }
}

/// US social security numbers that the SSA could issue: area not 000, 666 or 900-999,
/// group not 00, serial not 0000.
pub(crate) fn ssns(text: &str, out: &mut Vec<RawFinding>) {
    if !text.contains('-') {
        return;
    }
    for c in SSN.captures_iter(text) {
        let (Some(m), Some(area), Some(group), Some(serial)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        let area = area.as_str();
        if area == "000" || area == "666" || area.starts_with('9') || group.as_str() == "00" || serial.as_str() == "0000" {
            continue;
        }
        // Inside a longer dashed run (a UUID, a date-time, an ISBN): not an SSN.
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|c| c == '-' || c.is_ascii_alphanumeric()) || after.is_some_and(|c| c == '-' || c.is_ascii_alphanumeric()) {
            continue;
        }
        out.push(RawFinding::new("us-ssn", m.range()));
    }
}

/// The Luhn checksum of a string of ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether the digits start like a card of a major network, with that network's length
/// (Visa, Mastercard, American Express, Discover, JCB, Diners Club, UnionPay, Maestro).
fn card_network(digits: &[u8]) -> bool {
    let n = digits.len();
    let prefix = |k: usize| -> u32 { std::str::from_utf8(&digits[..k]).ok().and_then(|s| s.parse().ok()).unwrap_or(0) };
    match digits[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => (51..=55).contains(&prefix(2)) && n == 16 || matches!(prefix(2), 50 | 56..=58) && (12..=19).contains(&n),
        b'2' => (2221..=2720).contains(&prefix(4)) && n == 16,
        b'3' => {
            matches!(prefix(2), 34 | 37) && n == 15
                || (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&n)
                || (matches!(prefix(2), 36 | 38 | 39) || (300..=305).contains(&prefix(3))) && (14..=19).contains(&n)
        }
        b'6' => (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) || prefix(2) == 62) && (16..=19).contains(&n),
        _ => false,
    }
}

pub(crate) fn card_numbers(text: &str, out: &mut Vec<RawFinding>) {
    for m in CARD.find_iter(text) {
        let digits: Vec<u8> = m.as_str().bytes().filter(u8::is_ascii_digit).collect();
        // Separators must be consistent: all spaces, all dashes or none.
        let seps: Vec<u8> = m.as_str().bytes().filter(|b| !b.is_ascii_digit()).collect();
        if seps.windows(2).any(|w| w[0] != w[1]) {
            continue;
        }
        let before = text[..m.start()].chars().next_back();
        if before.is_some_and(|c| c == '.' || c == '-' || c.is_ascii_alphanumeric()) {
            continue;
        }
        if card_network(&digits) && luhn_valid(&digits) {
            out.push(RawFinding::new("credit-card", m.range()));
        }
    }
}

pub(crate) fn phone_numbers(text: &str, out: &mut Vec<RawFinding>) {
    use phonenumber::country::Id;
    for m in PHONE.find_iter(text) {
        let s = m.as_str();
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        if !(10..=15).contains(&digits) {
            continue;
        }
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        // Inside a longer token: a version, an address, an identifier, a decimal.
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':'))
            || after.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
            || after.is_some_and(|c| c == '.') && text[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        // Dotted quads are addresses (or versions), not phone numbers.
        if s.split('.').count() == 4 && !s.contains([' ', '-', '(', '+']) {
            continue;
        }
        let international = s.starts_with('+');
        // Written nationally, every group has 3 digits or more (`415 555 0132`,
        // `020 7946 0321`); a date and a time (`2024-01-15 12:30`) do not.
        if !international && s.split([' ', '.', '-', '(', ')']).any(|g| !g.is_empty() && g.len() < 3) {
            continue;
        }
        let valid = if international {
            phonenumber::parse(None, s).is_ok_and(|n| phonenumber::is_valid(&n))
        } else {
            // A national number must be written as one (separators or parentheses), not
            // a bare run of digits.
            [Id::US, Id::GB]
                .into_iter()
                .any(|id| phonenumber::parse(Some(id), s).is_ok_and(|n| phonenumber::is_valid(&n)))
        };
        if valid {
            out.push(RawFinding::new("phone-number", m.range()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: fn(&str, &mut Vec<RawFinding>), text: &str) -> Vec<String> {
        let mut out = Vec::new();
        f(text, &mut out);
        out.iter().map(|r| text[r.range.clone()].to_owned()).collect()
    }

    #[test]
    fn luhn_matches_known_test_numbers() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"378282246310005"));
        assert!(!luhn_valid(b"4111111111111112"));
    }

    #[test]
    fn phone_numbers_need_a_valid_number_not_just_digits() {
        assert_eq!(kinds(phone_numbers, "call +1 415-555-2671 now"), ["+1 415-555-2671"]);
        assert_eq!(kinds(phone_numbers, "tel: (212) 555-0188"), ["(212) 555-0188"]);
        assert_eq!(kinds(phone_numbers, "UK +44 20 7946 0321."), ["+44 20 7946 0321"]);
        assert_eq!(kinds(phone_numbers, "office 020 7946 0321"), ["020 7946 0321"]);
        assert!(kinds(phone_numbers, "id = 1234567890123; ts 1700000000").is_empty());
        assert!(kinds(phone_numbers, "version 10.20.30.40 and 2024-01-15 12:30").is_empty());
    }

    #[test]
    fn ipv6_is_global_unicast_only() {
        assert_eq!(kinds(ip_addresses, "host 2a00:1450:4001:82b::200e"), ["2a00:1450:4001:82b::200e"]);
        assert!(kinds(ip_addresses, "::1 fe80::1 fd00::5 a[1::2] std::vec 12:30:45").is_empty());
    }
}
