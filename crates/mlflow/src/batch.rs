//! Metrics, params and tags, checked and split the way MLflow's `runs/log-batch` accepts
//! them.
//!
//! The server takes at most 1000 metrics, 100 params and 100 tags per request, 1000 items
//! in all, and keys of at most 250 characters. It also stores NaN or infinite metric values
//! without complaint, which would poison every chart: they are refused here, before
//! anything is sent, and the sync skips them with a count.

use serde::Serialize;

use crate::error::MlflowError;

/// Most metrics in one log-batch request.
pub const MAX_METRICS: usize = 1000;
/// Most params in one log-batch request.
pub const MAX_PARAMS: usize = 100;
/// Most tags in one log-batch request.
pub const MAX_TAGS: usize = 100;
/// Most items (metrics + params + tags) in one log-batch request.
pub const MAX_ITEMS: usize = 1000;
/// Longest metric, param or tag key.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value MLflow stores.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Longest tag value MLflow stores.
pub const MAX_TAG_VALUE_LEN: usize = 8000;

/// A metric value at a time (ms since the epoch) and step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

/// A param: set once, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    pub key: String,
    pub value: String,
}

/// A tag: may be overwritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// What one run logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// Whether `key` is a name MLflow accepts: letters, digits, `_ - . / : ` and space.
fn check_key(kind: &'static str, key: &str) -> Result<(), MlflowError> {
    let invalid = |reason: &str| MlflowError::InvalidKey {
        kind,
        key: key.chars().take(300).collect(),
        reason: reason.to_owned(),
    };
    if key.is_empty() {
        return Err(invalid("empty"));
    }
    if key.chars().count() > MAX_KEY_LEN {
        return Err(invalid("longer than 250 characters"));
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ' | ':'))
    {
        return Err(invalid("only letters, digits, `_ - . / :` and spaces are allowed"));
    }
    Ok(())
}

/// `raw` made into a valid key: other characters become `_`, and a key too long keeps its
/// first characters plus a hash of the whole, so distinct inputs stay distinct.
pub fn key(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = if cleaned.is_empty() { "_".to_owned() } else { cleaned };
    if cleaned.chars().count() <= MAX_KEY_LEN {
        return cleaned;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(raw.as_bytes());
    let head: String = cleaned.chars().take(MAX_KEY_LEN - 17).collect();
    format!("{head}-{hash:016x}")
}

/// `value` cut to `max` characters (with a marker), for tag and param values.
pub fn truncate(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let mut out: String = value.chars().take(max - 12).collect();
    out.push_str("…[truncated]");
    out
}

impl Batch {
    /// Refuses what MLflow would reject or silently corrupt.
    pub fn validate(&self) -> Result<(), MlflowError> {
        for m in &self.metrics {
            check_key("metric", &m.key)?;
            if !m.value.is_finite() {
                return Err(MlflowError::NonFiniteMetric {
                    key: m.key.clone(),
                    value: m.value,
                });
            }
        }
        for p in &self.params {
            check_key("param", &p.key)?;
        }
        for t in &self.tags {
            check_key("tag", &t.key)?;
        }
        Ok(())
    }

    /// Whether nothing is to be logged.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.params.is_empty() && self.tags.is_empty()
    }

    /// Splits into requests within the per-kind and total limits. Params and tags go
    /// first so a run's descriptive data lands with its first request.
    pub fn chunks(&self) -> Vec<Batch> {
        let (mut m, mut p, mut t) = (0, 0, 0);
        let mut out = Vec::new();
        while m < self.metrics.len() || p < self.params.len() || t < self.tags.len() {
            let np = (self.params.len() - p).min(MAX_PARAMS);
            let nt = (self.tags.len() - t).min(MAX_TAGS);
            let nm = (self.metrics.len() - m).min(MAX_METRICS).min(MAX_ITEMS - np - nt);
            out.push(Batch {
                metrics: self.metrics[m..m + nm].to_vec(),
                params: self.params[p..p + np].to_vec(),
                tags: self.tags[t..t + nt].to_vec(),
            });
            m += nm;
            p += np;
            t += nt;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(metrics: usize, params: usize, tags: usize) -> Batch {
        Batch {
            metrics: (0..metrics)
                .map(|i| Metric {
                    key: format!("m{i}"),
                    value: 1.0,
                    timestamp: 0,
                    step: 0,
                })
                .collect(),
            params: (0..params)
                .map(|i| Param {
                    key: format!("p{i}"),
                    value: "v".into(),
                })
                .collect(),
            tags: (0..tags).map(|i| Tag::new(format!("t{i}"), "v")).collect(),
        }
    }

    #[test]
    fn chunks_respect_every_limit_and_lose_nothing() {
        for (m, p, t) in [(0, 0, 0), (1, 1, 1), (2500, 0, 0), (950, 100, 100), (1000, 250, 30), (10, 0, 345)] {
            let b = batch(m, p, t);
            let chunks = b.chunks();
            for c in &chunks {
                assert!(c.metrics.len() <= MAX_METRICS && c.params.len() <= MAX_PARAMS && c.tags.len() <= MAX_TAGS);
                assert!(c.metrics.len() + c.params.len() + c.tags.len() <= MAX_ITEMS);
                assert!(!c.is_empty());
            }
            let joined = Batch {
                metrics: chunks.iter().flat_map(|c| c.metrics.clone()).collect(),
                params: chunks.iter().flat_map(|c| c.params.clone()).collect(),
                tags: chunks.iter().flat_map(|c| c.tags.clone()).collect(),
            };
            assert_eq!(joined, b, "{m} metrics, {p} params, {t} tags");
        }
    }

    #[test]
    fn non_finite_metrics_are_refused_before_sending() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut b = batch(1, 0, 0);
            b.metrics[0].value = value;
            assert!(matches!(b.validate(), Err(MlflowError::NonFiniteMetric { .. })));
        }
        assert!(batch(3, 3, 3).validate().is_ok());
    }

    #[test]
    fn long_or_odd_keys_are_made_valid_and_stay_distinct() {
        let a = key(&format!("{}a", "x".repeat(300)));
        let b = key(&format!("{}b", "x".repeat(300)));
        assert!(a.chars().count() <= MAX_KEY_LEN && b.chars().count() <= MAX_KEY_LEN);
        assert_ne!(a, b);
        assert_eq!(key("gate#1 (p95)"), "gate_1 _p95_");
        assert!(check_key("metric", &a).is_ok());
        assert!(check_key("metric", &"y".repeat(251)).is_err());
    }
}
