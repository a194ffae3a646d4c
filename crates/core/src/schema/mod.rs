//! The schemas of the tables the jobs write and of the raw exports they read.
//!
//! Each column carries its description in the Arrow field metadata (key `description`),
//! so the Parquet files document themselves and `docs/data-dictionary.md` can be checked
//! against the code. A schema's version is written into every file's key-value metadata
//! (`hive.schema_version`); bump it on any change a reader could notice.

pub mod contract;
pub mod gates;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Parquet key-value metadata key holding the schema version.
pub const SCHEMA_VERSION_KEY: &str = "hive.schema_version";
/// Parquet key-value metadata key holding the table name.
pub const TABLE_NAME_KEY: &str = "hive.table";
/// Arrow field metadata key holding a column's description.
pub const DESCRIPTION_KEY: &str = "description";

/// A table: its name (the directory under the lake root), schema and schema version.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub name: String,
    pub version: u32,
    pub schema: SchemaRef,
}

/// The timestamp type used for every instant: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A column with its description in the field metadata (under [`DESCRIPTION_KEY`]), as
/// every table's columns carry one.
pub fn col(name: &str, data_type: DataType, nullable: bool, description: &str) -> Field {
    Field::new(name, data_type, nullable).with_metadata(HashMap::from([(DESCRIPTION_KEY.to_owned(), description.to_owned())]))
}

/// A column's description, from the field metadata.
pub fn description(field: &Field) -> Option<&str> {
    field.metadata().get(DESCRIPTION_KEY).map(String::as_str)
}

/// `edits`: one row per generated file, with what the user kept.
pub const EDITS: &str = "edits";

/// Schema version of `edits`.
pub const EDITS_VERSION: u32 = 2;

/// The binary-file flag of `edits` and `diff_scores`. Version 1 of both tables called it
/// `binary`, a reserved word in SQL engines (DuckDB needs it quoted); readers still accept
/// that name in partitions written before version 2 ([`binary_column`]).
pub const IS_BINARY: &str = "is_binary";
/// The name [`IS_BINARY`] had in schema version 1.
pub const LEGACY_BINARY: &str = "binary";

/// The binary-file flag column of a batch of `edits` or `diff_scores`, under its current
/// name or its version-1 name.
pub fn binary_column(batch: &arrow::record_batch::RecordBatch) -> Option<&arrow::array::ArrayRef> {
    batch.column_by_name(IS_BINARY).or_else(|| batch.column_by_name(LEGACY_BINARY))
}

/// The `edits` table.
pub fn edits_spec() -> TableSpec {
    let fields = vec![
        col(
            "event_id",
            DataType::Utf8,
            false,
            "Unique id of the generation event (maestro-hive).",
        ),
        col(
            "project_id",
            DataType::Utf8,
            false,
            "Project the generation belongs to; the unit of randomisation.",
        ),
        col("template_id", DataType::Utf8, false, "Template that generated the files."),
        col("template_version", DataType::Utf8, false, "Version of the template."),
        col(
            "experiment_id",
            DataType::Utf8,
            true,
            "A/B experiment the generation was routed by, if any.",
        ),
        col("variant", DataType::Utf8, true, "Variant the project was routed to, if any."),
        col("generated_at", timestamp_type(), false, "When the files were generated (UTC)."),
        col(
            "window_end",
            timestamp_type(),
            false,
            "generated_at + observation window: the moment the kept state is taken.",
        ),
        col(
            "snapshot_id",
            DataType::Utf8,
            false,
            "Snapshot compared against: the project's latest in [generated_at, window_end].",
        ),
        col(
            "snapshot_captured_at",
            timestamp_type(),
            false,
            "When that snapshot was captured (UTC).",
        ),
        col(
            "request",
            DataType::LargeUtf8,
            true,
            "What the generator was asked (free text, or JSON rendered as text).",
        ),
        col(
            "path",
            DataType::Utf8,
            false,
            "Path of the generated file inside the project (a leading `./` removed).",
        ),
        col(
            "language",
            DataType::Utf8,
            false,
            "Language guessed from the path (e.g. `rust`, `python`, `dockerfile`, `other`).",
        ),
        col(
            "change",
            DataType::Utf8,
            false,
            "`unchanged` (byte-identical), `modified`, or `deleted` (path absent from the snapshot).",
        ),
        col(
            IS_BINARY,
            DataType::Boolean,
            false,
            "Either side has a NUL byte in its first 8000 bytes (git's rule); contents are then null.",
        ),
        col("generated_bytes", DataType::Int64, false, "Size of the generated content in bytes."),
        col(
            "final_bytes",
            DataType::Int64,
            true,
            "Size of the kept content in bytes; null when deleted.",
        ),
        col(
            "generated_content",
            DataType::LargeUtf8,
            true,
            "Generated text; null for binary files.",
        ),
        col(
            "final_content",
            DataType::LargeUtf8,
            true,
            "Text in the snapshot; null when deleted or binary.",
        ),
    ];
    TableSpec {
        name: EDITS.to_owned(),
        version: EDITS_VERSION,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// The columns `diff_scores` and `generation_scores` carry over from `edits`.
pub const GENERATION_KEYS: [&str; 7] = [
    "event_id",
    "project_id",
    "template_id",
    "template_version",
    "experiment_id",
    "variant",
    "generated_at",
];

/// The further columns `diff_scores` carries over from `edits`, one file each.
pub const FILE_KEYS: [&str; 5] = ["snapshot_id", "path", "language", "change", IS_BINARY];

fn generation_key_columns() -> Vec<Field> {
    let edits = edits_spec();
    GENERATION_KEYS
        .iter()
        .filter_map(|name| edits.schema.field_with_name(name).ok().cloned())
        .collect()
}

/// `diff_scores`: one row per generated file, with line and character metrics.
pub const DIFF_SCORES: &str = "diff_scores";
/// Schema version of `diff_scores`.
pub const DIFF_SCORES_VERSION: u32 = 2;

/// The `diff_scores` table.
pub fn diff_scores_spec() -> TableSpec {
    let edits = edits_spec();
    let mut fields = generation_key_columns();
    for name in FILE_KEYS {
        if let Ok(f) = edits.schema.field_with_name(name) {
            fields.push(f.clone());
        }
    }
    let count = |name: &str, doc: &str| col(name, DataType::Int64, true, doc);
    let ratio = |name: &str, doc: &str| col(name, DataType::Float64, true, doc);
    fields.extend([
        count("lines_generated", "G: lines of the generated file, as git counts them (a last line without newline counts). Null for binary files."),
        count("lines_final", "F: lines of the kept file; 0 when deleted. Null for binary files."),
        count("lines_kept", "K: lines equal in both, from a histogram line diff identical to `git diff --numstat --diff-algorithm=histogram`. 0 when deleted."),
        count("lines_added", "A = F - K: lines the user added (git numstat's first column)."),
        count("lines_removed", "R = G - K: generated lines the user removed or rewrote (git numstat's second column)."),
        ratio("rewrite_rate", "R / G. Null when G = 0 or binary."),
        ratio("similarity", "2K / (G + F); 1 when both sides are empty. Null for binary files."),
        ratio("diff_score", "1 - similarity."),
        ratio("char_retention", "1 - distance / max(chars), the distance being the sum of the Levenshtein distances of the line diff's hunks (default) or the whole-file Levenshtein distance (`--char-distance whole-file`); 0 when deleted, 1 when both empty. Null for binary files."),
        col("char_retention_method", DataType::Utf8, true, "`exact` (the whole-file distance: measured, or one hunk), `hunks` (two or more hunks: a lower bound on the whole-file retention) or `line_bound` (a hunk over budget counted as its longer side: a lower bound on both; see docs/score-diffs.md)."),
    ]);
    TableSpec {
        name: DIFF_SCORES.to_owned(),
        version: DIFF_SCORES_VERSION,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// `generation_scores`: one row per generation, sums over its text files.
pub const GENERATION_SCORES: &str = "generation_scores";
/// Schema version of `generation_scores`.
pub const GENERATION_SCORES_VERSION: u32 = 1;

/// The `generation_scores` table.
pub fn generation_scores_spec() -> TableSpec {
    let mut fields = generation_key_columns();
    let count = |name: &str, doc: &str| col(name, DataType::Int64, false, doc);
    fields.extend([
        count("files", "Generated files of the generation (text and binary)."),
        count("binary_files", "Binary files, excluded from the line metrics."),
        count("deleted_files", "Files the user deleted."),
        count("lines_generated", "Sum of G over text files."),
        count("lines_kept", "Sum of K over text files."),
        count("lines_removed", "Sum of R over text files."),
        count("lines_added", "Sum of A over text files."),
        col(
            "rewrite_rate",
            DataType::Float64,
            true,
            "Sum R / sum G (line-weighted). Null when sum G = 0.",
        ),
        col(
            "diff_score",
            DataType::Float64,
            true,
            "1 - 2 sum K / (sum G + sum F). Null when the generation has no text lines.",
        ),
        col(
            "rewritten",
            DataType::Boolean,
            true,
            "rewrite_rate > the threshold (--rewritten-threshold, default 0.5). Null when rewrite_rate is.",
        ),
    ]);
    TableSpec {
        name: GENERATION_SCORES.to_owned(),
        version: GENERATION_SCORES_VERSION,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// Schema version of every `quarantine/<job>` table.
pub const QUARANTINE_VERSION: u32 = 1;

/// `ab_results`: one row per experiment x metric x treatment variant and analysis day.
pub const AB_RESULTS: &str = "ab_results";
/// Schema version of `ab_results`.
/// Schema version of `ab_results` (2: `seq_mde`, `seq_power_at_target`,
/// `guardrail_seq_p_value` added; `guardrail_status` may be `not_judged`).
pub const AB_RESULTS_VERSION: u32 = 2;

/// The `ab_results` table.
#[allow(clippy::too_many_lines, reason = "one line per column: the table is wide")]
pub fn ab_results_spec() -> TableSpec {
    let text = |name: &str, nullable: bool, doc: &str| col(name, DataType::Utf8, nullable, doc);
    let count = |name: &str, doc: &str| col(name, DataType::Int64, false, doc);
    let real = |name: &str, doc: &str| col(name, DataType::Float64, true, doc);
    let fields = vec![
        text("experiment_id", false, "Experiment (experiments config)."),
        text("template_id", false, "Template under test."),
        text("metric", false, "`rewrite_rate`, `diff_score` or `rewritten_share`."),
        text("metric_role", false, "`primary`, `secondary` or `guardrail`."),
        text("direction", false, "`lower_is_better` or `higher_is_better`."),
        text(
            "method",
            false,
            "Test used: `delta_ratio`, `delta_ratio+cuped`, `welch_t` or `proportion_delta` (see docs/ab-significance.md).",
        ),
        text("control_variant", false, "Control variant name."),
        text("treatment_variant", false, "Treatment variant name compared with the control."),
        text("control_version", false, "Template version of the control."),
        text("treatment_version", false, "Template version of the treatment."),
        count(
            "days_running",
            "Days from the experiment's start through the analysis day (capped at its end).",
        ),
        count("units", "Projects (the unit of analysis) in the two arms."),
        count("units_control", "Projects in the control."),
        count("units_treatment", "Projects in the treatment."),
        count("generations_control", "Generations in the control."),
        count("generations_treatment", "Generations in the treatment."),
        real("control_mean", "Control's metric (for a ratio, sum over sum)."),
        real("treatment_mean", "Treatment's metric."),
        real(
            "estimate",
            "Absolute lift: treatment - control (CUPED-adjusted when `method` says so).",
        ),
        real("ci_low", "Lower bound of the fixed-horizon (1 - alpha) interval of `estimate`."),
        real("ci_high", "Upper bound of that interval."),
        real(
            "relative_lift",
            "(treatment - control) / control. Under CUPED (`method` `delta_ratio+cuped`) the CUPED-adjusted difference over the unadjusted control mean (`control_mean`), gbstats' convention; the relative intervals use the same denominator.",
        ),
        real(
            "relative_ci_low",
            "Lower bound of the fixed-horizon interval of `relative_lift` (delta method).",
        ),
        real("relative_ci_high", "Upper bound of that interval."),
        real(
            "p_value",
            "Fixed-horizon two-sided p-value. Valid only at a horizon fixed in advance: use the `seq_` columns for nightly decisions.",
        ),
        real(
            "p_value_adjusted",
            "Holm-adjusted `p_value` across this experiment's treatments and metrics.",
        ),
        real("p_value_bh", "Benjamini-Hochberg-adjusted `p_value`, same family."),
        real(
            "seq_ci_low",
            "Lower bound of the always-valid confidence sequence of `estimate` (asymptotic CS, GrowthBook's).",
        ),
        real("seq_ci_high", "Upper bound of the confidence sequence."),
        real(
            "seq_p_value",
            "Always-valid p-value: safe to look at every night; null while an arm has fewer than 50 projects (or `min_units_per_variant`), where the asymptotic sequence under-covers.",
        ),
        real(
            "seq_relative_ci_low",
            "Lower bound of the confidence sequence of `relative_lift` (guardrails use it).",
        ),
        real("seq_relative_ci_high", "Upper bound of that sequence."),
        real(
            "chance_to_win",
            "Posterior probability that the treatment is better (flat prior, relative lift, gbstats).",
        ),
        real("expected_loss", "Posterior expected relative loss of choosing the treatment."),
        real(
            "mde",
            "Minimum detectable absolute effect at `alpha` and the configured power, at the current sample size.",
        ),
        real(
            "power_at_target",
            "Power to detect the configured `target_relative_effect` at the current sample size.",
        ),
        real(
            "seq_mde",
            "Primary metric: smallest absolute effect the nightly sequential rule detects with the configured power by `end + window_days` (planned looks; docs/ab-significance.md).",
        ),
        real(
            "seq_power_at_target",
            "Primary metric: probability that the nightly sequential rule detects `target_relative_effect` by `end + window_days`.",
        ),
        col("alpha", DataType::Float64, false, "Significance level of every test and interval."),
        real(
            "srm_p_value",
            "Chi-square p-value of the projects per variant against the configured weights (whole experiment).",
        ),
        col(
            "srm_flag",
            DataType::Boolean,
            false,
            "`srm_p_value` < 0.001: the split is broken; do not trust the comparison.",
        ),
        count(
            "routing_mismatches",
            "Projects whose logged variant differs from the routing spec (docs/routing.md), or logged in several variants; excluded.",
        ),
        count(
            "version_mismatches",
            "Generations whose template_version is not their variant's version.",
        ),
        real("cuped_theta", "CUPED coefficient when the pre-experiment rewrite rate was used."),
        real("variance_reduction", "1 - variance with CUPED / variance without."),
        real("guardrail_margin", "Relative non-inferiority margin (guardrails only)."),
        text(
            "guardrail_status",
            true,
            "`pass` (the sequence shows the treatment is not worse beyond the margin), `fail` (it shows it is), `inconclusive`, or `not_judged` (no data or no statistic; `note` says why): blocks promotion.",
        ),
        real(
            "guardrail_seq_p_value",
            "Always-valid p-value of the null `worse by exactly the margin` (guardrails only); promote-templates applies Holm to it.",
        ),
        text("note", true, "Why some statistics are null (too few units, zero variance, ...)."),
    ];
    TableSpec {
        name: AB_RESULTS.to_owned(),
        version: AB_RESULTS_VERSION,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// `promotions`: one decision per experiment and analysis day.
pub const PROMOTIONS: &str = "promotions";
/// Schema version of `promotions` (2: `registry_alias` dropped; mlflow-sync registers
/// promoted versions and moves the `champion` alias from this table).
/// 3: `decided_on` added; a `promote` or `stop` is repeated every night after it was
/// taken.
pub const PROMOTIONS_VERSION: u32 = 3;

/// The `promotions` table.
pub fn promotions_spec() -> TableSpec {
    let text = |name: &str, nullable: bool, doc: &str| col(name, DataType::Utf8, nullable, doc);
    let fields = vec![
        text("experiment_id", false, "Experiment decided on."),
        text("template_id", false, "Template under test."),
        text("decision", false, "`promote`, `continue` or `stop`."),
        text("winner_variant", true, "Variant to promote (promote only)."),
        text("winner_version", true, "Its template version: the version to serve to everyone."),
        text("control_version", false, "The version served by the control."),
        text("reason", false, "Why, in one sentence."),
        text("evidence", false, "JSON: the figures each rule was checked against."),
        text(
            "decided_on",
            true,
            "Night the terminal `promote` or `stop` was taken (it is repeated every night after); null for `continue`.",
        ),
    ];
    TableSpec {
        name: PROMOTIONS.to_owned(),
        version: PROMOTIONS_VERSION,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// `quarantine/<job>`: rows a job could not use, with the reason and the raw record.
pub fn quarantine_spec(job: &str) -> TableSpec {
    let fields = vec![
        col("job", DataType::Utf8, false, "Job that quarantined the row."),
        col(
            "source_file",
            DataType::Utf8,
            false,
            "Input file the row came from, relative to the data root.",
        ),
        col(
            "source_row",
            DataType::UInt64,
            false,
            "1-based row (Parquet) or line (NDJSON) number within source_file.",
        ),
        col(
            "record_key",
            DataType::Utf8,
            true,
            "Key of the record when it could be read (event_id, snapshot_id).",
        ),
        col("project_id", DataType::Utf8, true, "Project of the record when it could be read."),
        col(
            "reason_code",
            DataType::Utf8,
            false,
            "Stable machine-readable reason, e.g. `no_snapshot`, `duplicate_event_id`.",
        ),
        col(
            "reason",
            DataType::Utf8,
            false,
            "Human-readable reason naming the field or value at fault.",
        ),
        col(
            "payload",
            DataType::LargeBinary,
            true,
            "The record as read: the NDJSON line, or the Parquet row as JSON.",
        ),
    ];
    TableSpec {
        name: format!("quarantine/{job}"),
        version: QUARANTINE_VERSION,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// `raw/generations`: what maestro-hive exports per generation.
pub const RAW_GENERATIONS: &str = "raw/generations";

/// Version of the raw export contract (`contracts/`, docs/contracts.md) that this
/// workspace reads. An NDJSON record carries it in the field [`RAW_VERSION_FIELD`], a
/// Parquet export in its key-value metadata under [`SCHEMA_VERSION_KEY`]; a record or
/// file without it is version 1 (exports from before the field existed). Readers accept
/// versions `1..=RAW_EXPORT_VERSION` and quarantine any other, naming the version.
pub const RAW_EXPORT_VERSION: u32 = 1;
/// The NDJSON field holding a raw record's contract version.
pub const RAW_VERSION_FIELD: &str = "schema_version";

/// build-finetune's dataset directory (JSONL, Parquet, manifest, card; not a Parquet table).
pub const FINETUNE: &str = "finetune";
/// `raw/snapshots`: full project trees captured over time.
pub const RAW_SNAPSHOTS: &str = "raw/snapshots";

/// The `files` column type of raw exports: `list<struct<path: utf8, content: binary>>`.
/// Readers also accept `large_list`, `utf8`/`large_utf8` content, and string views.
pub fn raw_files_type() -> DataType {
    let entry = DataType::Struct(
        vec![
            Field::new("path", DataType::Utf8, true),
            Field::new("content", DataType::Binary, true),
        ]
        .into(),
    );
    DataType::List(Arc::new(Field::new("item", entry, true)))
}

/// Schema of `raw/generations` Parquet exports (as `synth-events` writes them).
pub fn raw_generations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        col("event_id", DataType::Utf8, true, "Unique id of the generation event."),
        col("generated_at", timestamp_type(), true, "When the files were generated (UTC)."),
        col("project_id", DataType::Utf8, true, "Project the generation belongs to."),
        col("template_id", DataType::Utf8, true, "Template used."),
        col("template_version", DataType::Utf8, true, "Template version used."),
        col("experiment_id", DataType::Utf8, true, "Experiment that routed the project, if any."),
        col("variant", DataType::Utf8, true, "Variant the project was routed to, if any."),
        col("request", DataType::LargeUtf8, true, "What the generator was asked."),
        col("files", raw_files_type(), true, "Generated files: list of {path, content}."),
    ]))
}

/// Schema of `raw/snapshots` Parquet exports.
pub fn raw_snapshots_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        col("snapshot_id", DataType::Utf8, true, "Unique id of the snapshot."),
        col("project_id", DataType::Utf8, true, "Project captured."),
        col("captured_at", timestamp_type(), true, "When the tree was captured (UTC)."),
        col("files", raw_files_type(), true, "The full project tree: list of {path, content}."),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_described() {
        let specs = [
            edits_spec(),
            diff_scores_spec(),
            generation_scores_spec(),
            ab_results_spec(),
            promotions_spec(),
            quarantine_spec("x"),
        ];
        for spec in specs {
            for field in spec.schema.fields() {
                assert!(
                    description(field).is_some_and(|d| !d.is_empty()),
                    "{}.{} has no description",
                    spec.name,
                    field.name()
                );
            }
        }
    }

    /// The README shows the architecture: its layout lists every crate (and
    /// docs/architecture.md describes each), its lake tree every table.
    #[test]
    fn readme_lists_every_crate_and_every_table() {
        let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let readme = std::fs::read_to_string(format!("{repo}/README.md")).expect("README.md");
        let architecture = std::fs::read_to_string(format!("{repo}/docs/architecture.md")).expect("architecture.md");
        for entry in std::fs::read_dir(format!("{repo}/crates")).expect("crates/") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            assert!(
                readme.contains(&format!("\ncrates/{name} ")),
                "README's layout does not list crates/{name}"
            );
            assert!(
                architecture.contains(&format!("| `hive-{name}` |")),
                "docs/architecture.md does not describe hive-{name}"
            );
        }
        let tables = [
            EDITS,
            DIFF_SCORES,
            GENERATION_SCORES,
            AB_RESULTS,
            PROMOTIONS,
            FINETUNE,
            gates::GATE_RESULTS,
            gates::TEST_CASES,
            gates::COVERAGE,
            gates::FINDINGS,
            RAW_GENERATIONS,
            RAW_SNAPSHOTS,
            "quarantine/<job>",
        ];
        for table in tables {
            assert!(
                readme.contains(&format!("  {table}/dt=")),
                "README's lake tree does not list `{table}`"
            );
        }
    }

    #[test]
    fn data_dictionary_documents_every_column() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/data-dictionary.md");
        let doc = std::fs::read_to_string(path).expect("docs/data-dictionary.md exists");
        for spec in [
            edits_spec(),
            diff_scores_spec(),
            generation_scores_spec(),
            ab_results_spec(),
            promotions_spec(),
            quarantine_spec("x"),
            gates::gate_results_spec(),
            gates::test_cases_spec(),
            gates::coverage_spec(),
            gates::findings_spec(),
        ] {
            let heading = if spec.name.starts_with("quarantine") {
                "## `quarantine/<job>`".to_owned()
            } else {
                format!("## `{}`", spec.name)
            };
            let start = doc.find(&heading).unwrap_or_else(|| panic!("no section {heading}"));
            let section = &doc[start..];
            let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
            assert!(section.contains(&format!("schema version {}", spec.version)), "{heading}: version");
            for field in spec.schema.fields() {
                assert!(
                    section.contains(&format!("| `{}` |", field.name())),
                    "{heading} does not document `{}`",
                    field.name()
                );
            }
        }
    }
}
