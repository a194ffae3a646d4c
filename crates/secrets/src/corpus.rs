//! The planted-secrets corpus (`corpus/planted.toml`): secrets and personal data as
//! users leave them in code, configs, notebooks, paths and requests, and look-alikes
//! that are not secrets (UUIDs, lockfile hashes, version strings, test fixtures).
//!
//! The file holds no real secret, and no literal one either: values are written as
//! generators (`{alnum:24}`, `{hex:32}`, `{card:4:16}`) expanded here with a fixed seed,
//! so the repository trips no secret scanner and every run plants the same values.
//! `«` and `»` mark what must not survive a scan; a case without marks is a
//! false-positive case. The scanner's tests measure recall and the false-positive rate
//! on it, and build-finetune's end-to-end test plants it in a lake.

use serde::Deserialize;

/// The corpus file.
pub const PLANTED_TOML: &str = include_str!("../corpus/planted.toml");

/// Where a case sits in a generation; the end-to-end test plants it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The file as the user kept it (and as generated).
    Kept,
    /// Only the generated file (the rejected side of a preference pair).
    Generated,
    /// The file path.
    Path,
    /// The generation request.
    Request,
}

#[derive(Debug, Deserialize)]
struct RawCorpus {
    case: Vec<RawCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    kind: String,
    context: String,
    #[serde(default = "kept")]
    place: Place,
    #[serde(default)]
    path: Option<String>,
    text: String,
}

fn kept() -> Place {
    Place::Kept
}

/// One expanded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// What is planted (`stripe-live-key`, `uuid`): a kind of secret, or of look-alike.
    pub kind: String,
    /// How it is written (`call`, `.env`, `yaml`, `notebook`, ...).
    pub context: String,
    pub place: Place,
    /// The file name the text sits in (also what gitleaks' path rules see).
    pub path: Option<String>,
    /// The text, marks removed.
    pub text: String,
    /// The values that must not survive; empty for a false-positive case.
    pub secrets: Vec<String>,
}

impl Case {
    pub fn is_planted(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// The pieces of its secrets that must not appear in an output: each secret, and
    /// for secrets of 12 characters or more, each half (a detector that stops early
    /// leaves half a password behind).
    pub fn leak_needles(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.secrets {
            out.push(s.clone());
            let chars: Vec<char> = s.chars().collect();
            if chars.len() >= 12 {
                let mid = chars.len() / 2;
                out.push(chars[..mid].iter().collect());
                out.push(chars[mid..].iter().collect());
            }
        }
        out
    }
}

/// Errors reading the corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("corpus is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("corpus case {index} (`{kind}`): {reason}")]
    Case { index: usize, kind: String, reason: String },
}

/// A xorshift generator: the corpus needs reproducible, not strong, randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

/// A Luhn-valid number of `len` digits starting with `prefix`.
fn card(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut digits: Vec<u8> = prefix.bytes().collect();
    while digits.len() < len - 1 {
        digits.push(b'0' + (rng.next() % 10) as u8);
    }
    for check in b'0'..=b'9' {
        let mut candidate = digits.clone();
        candidate.push(check);
        if crate::pii::luhn_valid(&candidate) {
            return String::from_utf8_lossy(&candidate).into_owned();
        }
    }
    unreachable!("one check digit always satisfies Luhn")
}

/// Expands one generator (`alnum:24`).
fn generate(rng: &mut Rng, spec: &str) -> Result<String, String> {
    let mut parts = spec.split(':');
    let kind = parts.next().unwrap_or_default();
    let arg = |p: Option<&str>| -> Result<usize, String> {
        p.and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("generator `{{{spec}}}` needs a length"))
    };
    let alphabet: &[u8] = match kind {
        "alnum" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "lower" => b"abcdefghijklmnopqrstuvwxyz0123456789",
        "upper" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "hex" => b"0123456789abcdef",
        "HEX" => b"0123456789ABCDEF",
        "digits" => b"0123456789",
        "alpha" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "b32" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "uuid" => {
            let hex = b"0123456789abcdef";
            return Ok([8, 4, 4, 4, 12].iter().map(|&n| rng.pick(hex, n)).collect::<Vec<_>>().join("-"));
        }
        "b64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "b64url" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        "card" => {
            let prefix = parts.next().ok_or("`{card:PREFIX:LEN}` needs a prefix")?;
            let len = arg(parts.next())?;
            return Ok(card(rng, prefix, len));
        }
        "cardsp" => {
            let prefix = parts.next().ok_or("`{cardsp:PREFIX:LEN}` needs a prefix")?;
            let len = arg(parts.next())?;
            let digits = card(rng, prefix, len);
            let groups: Vec<&str> = digits
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            return Ok(groups.join(" "));
        }
        other => return Err(format!("unknown generator `{other}`")),
    };
    let n = arg(parts.next())?;
    // Random strings must look random: at least two digits and both cases where the
    // alphabet has them (a draw without would be a weaker test, not a different one).
    loop {
        let s = rng.pick(alphabet, n);
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        let ok = match kind {
            "alnum" | "b64" | "b64url" => {
                n < 8 || (digits >= 2 && s.bytes().any(|b| b.is_ascii_uppercase()) && s.bytes().any(|b| b.is_ascii_lowercase()))
            }
            "alpha" => n < 8 || (s.bytes().any(|b| b.is_ascii_uppercase()) && s.bytes().any(|b| b.is_ascii_lowercase())),
            "lower" | "upper" | "hex" | "HEX" => n < 8 || (digits >= 2 && digits < n / 2),
            _ => true,
        };
        if ok {
            return Ok(s);
        }
    }
}

/// Expands generators and strips marks; returns the text and the marked values.
fn expand(text: &str, rng: &mut Rng) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut secrets = Vec::new();
    let mut open: Option<usize> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '«' => {
                if open.is_some() {
                    return Err("nested `«`".to_owned());
                }
                open = Some(out.len());
            }
            '»' => {
                let start = open.take().ok_or("`»` without `«`")?;
                secrets.push(out[start..].to_owned());
            }
            '{' if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) && rest.contains('}') => {
                let end = rest.find('}').unwrap_or(rest.len());
                let spec = &rest[1..end];
                if (spec.contains(':') || spec == "uuid") && !spec.contains(char::is_whitespace) {
                    out.push_str(&generate(rng, spec)?);
                    rest = &rest[end + 1..];
                    continue;
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    if open.is_some() {
        return Err("`«` without `»`".to_owned());
    }
    Ok((out, secrets))
}

/// Every case of the corpus, expanded.
pub fn cases() -> Result<Vec<Case>, CorpusError> {
    let raw: RawCorpus = toml::from_str(PLANTED_TOML)?;
    raw.case
        .into_iter()
        .enumerate()
        .map(|(index, c)| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let err = |reason: String| CorpusError::Case {
                index,
                kind: c.kind.clone(),
                reason,
            };
            let (text, secrets) = expand(&c.text, &mut rng).map_err(err)?;
            let path = match &c.path {
                Some(p) => {
                    let (p, mut more) = expand(p, &mut rng).map_err(err)?;
                    let mut all = secrets.clone();
                    all.append(&mut more);
                    return Ok(Case {
                        kind: c.kind,
                        context: c.context,
                        place: c.place,
                        path: Some(p),
                        text,
                        secrets: all,
                    });
                }
                None => None,
            };
            Ok(Case {
                kind: c.kind,
                context: c.context,
                place: c.place,
                path,
                text,
                secrets,
            })
        })
        .collect()
}

/// A case caught or missed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub case: Case,
    /// For a planted case: no leak needle survived redaction. For a false-positive
    /// case: something was reported.
    pub flagged: bool,
    /// Rules that fired.
    pub rules: Vec<String>,
}

/// Recall and false-positive rate of a scanner on the corpus.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub outcomes: Vec<Outcome>,
}

impl Evaluation {
    /// Redacts every case (path and text) with `scanner` and records the outcome.
    pub fn run(scanner: &crate::Scanner, cases: Vec<Case>) -> Self {
        let outcomes = cases
            .into_iter()
            .map(|case| {
                let text = scanner.redact(&case.text, case.path.as_deref());
                let path = case.path.as_deref().map(|p| scanner.redact(p, None));
                let mut rules: Vec<String> = text.found.keys().cloned().collect();
                if let Some(p) = &path {
                    rules.extend(p.found.keys().cloned());
                }
                let flagged = if case.is_planted() {
                    let out = format!("{}\n{}", text.text, path.as_ref().map_or("", |p| p.text.as_str()));
                    case.leak_needles().iter().all(|n| !out.contains(n.as_str()))
                } else {
                    !rules.is_empty()
                };
                Outcome { case, flagged, rules }
            })
            .collect();
        Self { outcomes }
    }

    fn planted(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.case.is_planted())
    }

    fn clean(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.case.is_planted())
    }

    /// (caught, planted cases).
    pub fn recall(&self) -> (usize, usize) {
        (self.planted().filter(|o| o.flagged).count(), self.planted().count())
    }

    /// (flagged, false-positive cases).
    pub fn false_positives(&self) -> (usize, usize) {
        (self.clean().filter(|o| o.flagged).count(), self.clean().count())
    }

    /// Distinct kinds of planted secrets.
    pub fn planted_kinds(&self) -> std::collections::BTreeSet<&str> {
        self.planted().map(|o| o.case.kind.as_str()).collect()
    }

    /// Planted cases that leaked, and false-positive cases that were flagged.
    pub fn failures(&self) -> Vec<&Outcome> {
        self.outcomes.iter().filter(|o| o.case.is_planted() != o.flagged).collect()
    }
}
