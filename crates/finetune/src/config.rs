//! The dataset recipe: every threshold that decides what becomes a training example.
//!
//! It is read from YAML with unknown keys rejected (a misspelt threshold must not fall
//! back silently to its default), validated once, and copied verbatim into the
//! dataset's `manifest.json`, so a dataset always says how it was made.

use serde::{Deserialize, Serialize};

/// The whole recipe. Every field has a default; a YAML file overrides any subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// The system message of every example.
    pub system_prompt: String,
    /// Files whose rewrite rate (lines removed / lines generated) exceeds this are
    /// wholesale rewrites: the kept file no longer answers the request, so it is left out.
    pub max_rewrite_rate: f64,
    pub tokens: TokenConfig,
    pub quality: QualityConfig,
    pub dedup: DedupConfig,
    pub split: SplitConfig,
    pub secrets: SecretsConfig,
}

/// Token limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// `o200k_base` (GPT-4o and later) or `cl100k_base` (GPT-4, GPT-3.5).
    pub encoding: Encoding,
    /// Largest example, counted as OpenAI counts chat messages (content, role and a
    /// few tokens of framing per message). Longer examples are dropped, never truncated.
    pub max_tokens: usize,
}

/// A tiktoken encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

/// Quality filters on the kept code, after the BigCode (The Stack) filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Longest line allowed, in characters (minified or generated data).
    pub max_line_length: usize,
    /// Largest mean line length, in characters.
    pub max_mean_line_length: f64,
    /// Smallest share of alphanumeric characters (encoded blobs, tables of numbers).
    pub min_alphanum_fraction: f64,
}

/// Deduplication of the kept code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupConfig {
    /// Shingle size in tokens (runs of letters, digits and `_`; each other non-space
    /// character is a token of its own).
    pub shingle_size: usize,
    /// MinHash permutations; must equal `bands * rows` for some whole `rows`.
    pub permutations: usize,
    /// LSH bands. With r = permutations / bands rows, pairs of Jaccard s become
    /// candidates with probability 1 - (1 - s^r)^bands. Every candidate's true Jaccard
    /// is computed before anything is removed, so extra candidates cost time, never
    /// data: the default (32 bands of 4 rows) favours recall, missing a pair at the
    /// 0.7 threshold with probability 1.5e-4.
    pub bands: usize,
    /// Bands a pair must share to become a candidate (the AND-OR construction: a
    /// pair of Jaccard s then becomes one with the probability that a
    /// Binomial(bands, s^r) is at least this). 1, the default, is the plain banding
    /// above; 2 proposes far fewer dissimilar pairs for a higher miss rate at the
    /// threshold (1.7e-3 instead of 1.5e-4 with the default bands and rows), but most
    /// of those the sketch check rules out cheaply anyway, so it is not faster
    /// (docs/build-finetune.md, "Near duplicates at scale").
    pub min_shared_bands: usize,
    /// Candidate pairs whose true Jaccard similarity of shingle sets is at least this
    /// are near duplicates.
    pub threshold: f64,
    /// Seed of the MinHash hash functions' coefficients.
    pub seed: u64,
}

/// The split by project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Salt of the project hash: change it to draw a different split.
    pub salt: String,
    pub train: f64,
    pub validation: f64,
    pub test: f64,
}

/// What to do with secrets and PII.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    pub action: SecretAction,
    /// Bits of Shannon entropy per character an unlabelled string (20+ characters of
    /// mixed case and digits, no name saying what it is) needs to count as a secret
    /// (`high-entropy-string`). Labelled secrets use gitleaks' per-rule thresholds.
    pub min_entropy: f64,
}

/// `drop` (the default) leaves out every example where a secret or personal data was
/// found; `redact` keeps it with each finding replaced by `<REDACTED:rule-id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretAction {
    Redact,
    Drop,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            system_prompt: "You are maestro-hive's code generator. Given a generation request, a template and a file path, \
                            write the complete content of that file as the project's developers would keep it."
                .to_owned(),
            max_rewrite_rate: 0.8,
            tokens: TokenConfig::default(),
            quality: QualityConfig::default(),
            dedup: DedupConfig::default(),
            split: SplitConfig::default(),
            secrets: SecretsConfig::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            encoding: Encoding::O200kBase,
            max_tokens: 8192,
        }
    }
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            max_line_length: 1000,
            max_mean_line_length: 100.0,
            min_alphanum_fraction: 0.25,
        }
    }
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            shingle_size: 5,
            permutations: 128,
            bands: 32,
            min_shared_bands: 1,
            threshold: 0.7,
            seed: 42,
        }
    }
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            salt: "hive-finetune".to_owned(),
            train: 0.9,
            validation: 0.1,
            test: 0.0,
        }
    }
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            action: SecretAction::Drop,
            min_entropy: hive_secrets::DEFAULT_MIN_ENTROPY,
        }
    }
}

impl DedupConfig {
    /// Rows per LSH band (`permutations / bands`).
    pub fn rows(&self) -> usize {
        self.permutations / self.bands.max(1)
    }
}

impl FinetuneConfig {
    /// Parses YAML (unknown keys are errors) and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let config: Self = hive_core::yaml::from_str_strict(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and the consistency between fields.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("`{name}` must be in [0, 1], got {v}"))
            }
        };
        unit("max_rewrite_rate", self.max_rewrite_rate)?;
        unit("quality.min_alphanum_fraction", self.quality.min_alphanum_fraction)?;
        unit("dedup.threshold", self.dedup.threshold)?;
        for (name, v) in [
            ("split.train", self.split.train),
            ("split.validation", self.split.validation),
            ("split.test", self.split.test),
        ] {
            unit(name, v)?;
        }
        if (self.split.train + self.split.validation + self.split.test - 1.0).abs() > 1e-9 {
            return Err("`split.train + split.validation + split.test` must be 1".to_owned());
        }
        if self.tokens.max_tokens == 0 {
            return Err("`tokens.max_tokens` must be positive".to_owned());
        }
        if self.dedup.min_shared_bands == 0 || self.dedup.min_shared_bands > self.dedup.bands {
            return Err(format!(
                "`dedup.min_shared_bands` ({}) must be between 1 and `dedup.bands` ({})",
                self.dedup.min_shared_bands, self.dedup.bands
            ));
        }
        if self.dedup.shingle_size == 0 {
            return Err("`dedup.shingle_size` must be positive".to_owned());
        }
        if self.dedup.bands == 0 || self.dedup.permutations == 0 || !self.dedup.permutations.is_multiple_of(self.dedup.bands) {
            return Err(format!(
                "`dedup.permutations` ({}) must be a positive multiple of `dedup.bands` ({})",
                self.dedup.permutations, self.dedup.bands
            ));
        }
        if !(2.0..=6.0).contains(&self.secrets.min_entropy) {
            return Err(format!(
                "`secrets.min_entropy` must be in [2, 6] bits per character, got {}",
                self.secrets.min_entropy
            ));
        }
        if self.system_prompt.trim().is_empty() {
            return Err("`system_prompt` must not be empty".to_owned());
        }
        if self.quality.max_mean_line_length.is_nan() || self.quality.max_mean_line_length <= 0.0 || self.quality.max_line_length == 0 {
            return Err("`quality.max_line_length` and `quality.max_mean_line_length` must be positive".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_yaml_overrides_a_subset() {
        FinetuneConfig::default().validate().expect("defaults");
        let c = FinetuneConfig::from_yaml("max_rewrite_rate: 0.5\nsplit: {train: 0.8, validation: 0.1, test: 0.1}\n").expect("parse");
        assert!((c.max_rewrite_rate - 0.5).abs() < f64::EPSILON);
        assert_eq!(c.dedup, DedupConfig::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(FinetuneConfig::from_yaml("max_rewrite_rat: 0.5\n").is_err());
        assert!(FinetuneConfig::from_yaml("dedup: {bands: 7}\n").is_err());
        assert!(FinetuneConfig::from_yaml("split: {train: 0.5}\n").is_err());
        assert!(FinetuneConfig::from_yaml("secrets: {action: keep}\n").is_err());
    }

    /// Dotted paths of every leaf key of a JSON object.
    fn keys(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        if let serde_json::Value::Object(map) = value {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if v.is_object() {
                    keys(v, &path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }

    fn default_keys() -> Vec<String> {
        let mut out = Vec::new();
        keys(&serde_json::to_value(FinetuneConfig::default()).expect("serialise"), "", &mut out);
        out
    }

    #[test]
    fn the_sample_config_spells_out_every_key_with_its_default() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample/finetune.yaml");
        let text = std::fs::read_to_string(path).expect("data/sample/finetune.yaml");
        assert_eq!(FinetuneConfig::from_yaml(&text).expect("parses"), FinetuneConfig::default());
        let yaml: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
        let mut spelt = Vec::new();
        keys(&yaml, "", &mut spelt);
        spelt.sort();
        let mut expected = default_keys();
        expected.sort();
        assert_eq!(spelt, expected);
    }

    #[test]
    fn the_guide_documents_every_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/build-finetune.md");
        let doc = std::fs::read_to_string(path).expect("docs/build-finetune.md");
        for key in default_keys() {
            assert!(
                doc.contains(&format!("| `{key}` |")),
                "docs/build-finetune.md does not document `{key}`"
            );
        }
    }
}
