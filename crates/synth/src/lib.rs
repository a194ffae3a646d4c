//! `synth-events`: realistic, deterministic raw exports with planted effects.
//!
//! Tests, demos and benchmarks need data that looks like maestro-hive's exports, with
//! every edge case the jobs must survive and with known answers: a treatment that
//! lowers the rewrite rate by a planted relative amount, a known number of duplicates,
//! late events and broken records. This crate simulates projects one at a time (so
//! memory stays flat from ten to a million generations) and writes the raw exports,
//! `planted.json` (the truth to recover), `truth.ndjson` (per event: which run must
//! handle it and what it must find) and `experiments.yaml` (the experiments config).

pub mod edits;
pub mod output;
pub mod scenario;
pub mod simulate;
pub mod templates;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use serde::Serialize;

pub use output::OutputFormat;
pub use scenario::Scenario;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("scenario `{origin}`: {message}")]
    Scenario { origin: String, message: String },
    #[error("I/O error on `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Parquet error writing `{path}`")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("Arrow error writing `{path}`")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
}

impl hive_core::exit::Classify for SynthError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        match self {
            Self::Scenario { .. } => hive_core::exit::ErrorKind::BadInput,
            Self::Io { .. } | Self::Parquet { .. } | Self::Arrow { .. } => hive_core::exit::ErrorKind::Runtime,
        }
    }
}

/// What to generate and where.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Root to write under (`raw/generations`, `raw/snapshots`, `planted.json`, ...).
    pub out: PathBuf,
    pub format: OutputFormat,
    pub scenario: Scenario,
    /// Also write `truth.ndjson` (one line per event).
    pub truth: bool,
}

/// Counts of what was planted, written to `planted.json` and printed as the summary.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PlantedCounts {
    pub projects: u64,
    pub projects_without_snapshots: u64,
    pub events: u64,
    pub deliveries: u64,
    pub duplicate_deliveries: u64,
    pub late_events: u64,
    pub very_late_events: u64,
    pub broken_events: BTreeMap<String, u64>,
    pub snapshots: u64,
    pub generated_files: u64,
    pub binary_files: u64,
    pub crlf_generated_files: u64,
    pub files_without_final_newline: u64,
    /// Expected outcomes (`edits` or a quarantine reason) by run date.
    pub outcomes_by_run_date: BTreeMap<NaiveDate, BTreeMap<String, u64>>,
}

/// The truth about one experiment arm.
#[derive(Debug, Clone, Serialize)]
pub struct PlantedVariant {
    pub experiment_id: String,
    pub variant: String,
    pub template_version: String,
    pub weight: f64,
    /// Planted relative change of the rewrite rate versus control.
    pub relative_effect: f64,
    /// Expected per-file target rewrite share (baseline x (1 + effect); the per-project
    /// propensity has mean 1, and clamping at 0.95 is ignored).
    pub expected_target_rewrite: f64,
    pub projects: u64,
    pub events: u64,
}

/// `planted.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Planted {
    pub generator: &'static str,
    pub format: OutputFormat,
    pub scenario: Scenario,
    pub counts: PlantedCounts,
    pub variants: Vec<PlantedVariant>,
    pub files: Vec<String>,
}

/// Runs the generator. Returns what was planted.
pub fn run(options: &SynthOptions, mut on_event: impl FnMut(u64)) -> Result<Planted, SynthError> {
    let scenario = &options.scenario;
    scenario.validate("scenario")?;
    let mut writer = output::RawWriter::new(&options.out, options.format);
    let truth_path = options.out.join("truth.ndjson");
    let truth_temp = options.out.join(".truth.ndjson.tmp");
    let mut truth_out = if options.truth {
        fs_err::create_dir_all(&options.out).map_err(|e| SynthError::Io {
            path: options.out.clone(),
            source: e,
        })?;
        let f = std::fs::File::create(&truth_temp).map_err(|e| SynthError::Io {
            path: truth_temp.clone(),
            source: e,
        })?;
        Some(BufWriter::new(f))
    } else {
        None
    };
    let mut counts = PlantedCounts::default();
    let mut variants = planted_variants(scenario);
    let mut projects_per_variant: BTreeMap<(String, String), u64> = BTreeMap::new();

    let mut index = 0u64;
    while counts.events < scenario.generations {
        let history = simulate::simulate_project(scenario, index, scenario.generations - counts.events);
        index += 1;
        counts.projects += 1;
        if history.snapshots.is_empty() {
            counts.projects_without_snapshots += 1;
        }
        for d in &history.deliveries {
            writer.generation(d.arrival, &d.record, d.breakage)?;
            counts.deliveries += 1;
            if let Some(b) = d.breakage {
                let name = serde_json::to_value(b)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                *counts.broken_events.entry(name).or_default() += 1;
            }
        }
        for s in &history.snapshots {
            writer.snapshot(s)?;
            counts.snapshots += 1;
        }
        tally_events(
            scenario,
            &history,
            &mut counts,
            &mut variants,
            &mut projects_per_variant,
            truth_out.as_mut(),
            &truth_temp,
            &mut on_event,
        )?;
        count_files(&history, &mut counts);
    }
    for pv in &mut variants {
        pv.projects = projects_per_variant
            .get(&(pv.experiment_id.clone(), pv.variant.clone()))
            .copied()
            .unwrap_or(0);
    }

    let written = writer.finish()?;
    if let Some(mut out) = truth_out {
        out.flush().map_err(|e| SynthError::Io {
            path: truth_temp.clone(),
            source: e,
        })?;
        drop(out);
        fs_err::rename(&truth_temp, &truth_path).map_err(|e| SynthError::Io {
            path: truth_path.clone(),
            source: e,
        })?;
    }
    let mut files: Vec<String> = written
        .iter()
        .map(|(p, _)| p.strip_prefix(&options.out).unwrap_or(p).to_string_lossy().into_owned())
        .collect();
    files.sort();
    let planted = Planted {
        generator: concat!("synth-events ", env!("CARGO_PKG_VERSION")),
        format: options.format,
        scenario: scenario.clone(),
        counts,
        variants,
        files,
    };
    write_json(&options.out.join("planted.json"), &planted)?;
    write_experiments_config(&options.out.join("experiments.yaml"), scenario)?;
    Ok(planted)
}

/// Counts a project's events into the planted totals and writes their truth lines.
#[allow(clippy::too_many_arguments)]
fn tally_events(
    scenario: &Scenario,
    history: &simulate::ProjectHistory,
    counts: &mut PlantedCounts,
    variants: &mut [PlantedVariant],
    projects_per_variant: &mut BTreeMap<(String, String), u64>,
    mut truth_out: Option<&mut BufWriter<std::fs::File>>,
    truth_temp: &Path,
    on_event: &mut impl FnMut(u64),
) -> Result<(), SynthError> {
    let mut project_counted = false;
    for t in &history.truths {
        counts.events += 1;
        counts.duplicate_deliveries += u64::from(t.duplicate_copies);
        let arrival_of = history
            .deliveries
            .iter()
            .find(|d| d.record.event_id == t.event_id)
            .map(|d| d.arrival);
        if let Some(arrival) = arrival_of {
            let gen_date = t.generated_at.date_naive();
            if arrival > gen_date + Duration::days(i64::from(scenario.window_days)) {
                counts.very_late_events += 1;
            } else if arrival > gen_date {
                counts.late_events += 1;
            }
        }
        *counts
            .outcomes_by_run_date
            .entry(t.run_date)
            .or_default()
            .entry(t.outcome.clone())
            .or_default() += 1;
        if let (Some(e), Some(v)) = (&t.experiment_id, &t.variant) {
            if let Some(pv) = variants.iter_mut().find(|p| &p.experiment_id == e && &p.variant == v) {
                pv.events += 1;
            }
            if !project_counted {
                *projects_per_variant.entry((e.clone(), v.clone())).or_default() += 1;
                project_counted = true;
            }
        }
        if let Some(out) = truth_out.as_deref_mut() {
            let line = serde_json::to_string(t).map_err(|e| SynthError::Io {
                path: truth_temp.to_owned(),
                source: e.into(),
            })?;
            writeln!(out, "{line}").map_err(|e| SynthError::Io {
                path: truth_temp.to_owned(),
                source: e,
            })?;
        }
        on_event(1);
    }
    Ok(())
}

/// Counts each event's generated files once, from its first clean delivery.
fn count_files(history: &simulate::ProjectHistory, counts: &mut PlantedCounts) {
    let mut seen = std::collections::BTreeSet::new();
    for d in history.deliveries.iter().filter(|d| d.breakage.is_none()) {
        if !seen.insert(d.record.event_id.as_str()) {
            continue;
        }
        for f in &d.record.files {
            counts.generated_files += 1;
            if simulate::is_binary(&f.content) {
                counts.binary_files += 1;
            } else {
                counts.crlf_generated_files += u64::from(f.content.windows(2).any(|w| w == b"\r\n"));
                counts.files_without_final_newline += u64::from(!f.content.ends_with(b"\n"));
            }
        }
    }
}

fn planted_variants(scenario: &Scenario) -> Vec<PlantedVariant> {
    let mut out = Vec::new();
    for e in &scenario.experiments {
        let baseline = scenario
            .templates
            .iter()
            .find(|t| t.id == e.template_id)
            .map_or(0.0, |t| t.baseline_rewrite);
        for v in &e.variants {
            out.push(PlantedVariant {
                experiment_id: e.id.clone(),
                variant: v.name.clone(),
                template_version: v.version.clone(),
                weight: v.weight,
                relative_effect: v.effect,
                expected_target_rewrite: baseline * (1.0 + v.effect),
                projects: 0,
                events: 0,
            });
        }
    }
    out
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SynthError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| SynthError::Io {
        path: path.to_owned(),
        source: e.into(),
    })?;
    text.push('\n');
    hive_core::lake::write_atomically(path, text.as_bytes()).map_err(|e| SynthError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Writes the experiments config matching the planted experiments.
fn write_experiments_config(path: &Path, scenario: &Scenario) -> Result<(), SynthError> {
    let end = scenario.start_date + Duration::days(i64::from(scenario.days) - 1);
    let mut text = String::from(
        "# Experiments config written by synth-events for its planted experiments.\n# Format: docs/experiments.md.\nexperiments:\n",
    );
    for e in &scenario.experiments {
        let _ = write!(
            text,
            "  - id: {}\n    template_id: {}\n    salt: {}\n    start: {}\n    end: {}\n    control: {}\n    variants:\n",
            e.id,
            e.template_id,
            e.salt(),
            scenario.start_date,
            end,
            e.variants.first().map_or("control", |v| v.name.as_str()),
        );
        for v in &e.variants {
            let _ = write!(
                text,
                "      - name: {}\n        version: \"{}\"\n        weight: {}\n",
                v.name, v.version, v.weight
            );
        }
        text.push_str("    primary_metric: rewrite_rate\n    secondary_metrics: [diff_score, rewritten_share]\n    alpha: 0.05\n");
    }
    hive_core::lake::write_atomically(path, text.as_bytes()).map_err(|e| SynthError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })
}
