//! The life of one synthetic project: its generations, its users' edits over time, and
//! the snapshots of its tree, plus the truth an extractor must recover.
//!
//! Each project draws from its own random stream (seeded by the scenario seed and the
//! project's index), so a project's history does not depend on how many projects came
//! before it, and memory holds one project at a time.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, LogNormal};
use serde::Serialize;

use crate::edits::{self, EditKind};
use crate::scenario::{ExperimentPlan, Scenario, TemplateUse};
use crate::templates::{self, RenderedFile};

/// A file as exported: path and raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub path: String,
    pub content: Vec<u8>,
}

/// A generation event as maestro-hive exports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRecord {
    pub event_id: String,
    pub generated_at: DateTime<Utc>,
    /// `None` only in a deliberately broken copy.
    pub project_id: Option<String>,
    pub template_id: String,
    pub template_version: String,
    pub experiment_id: Option<String>,
    pub variant: Option<String>,
    pub request: String,
    pub files: Vec<FileRecord>,
}

/// A snapshot of a project's full tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub snapshot_id: String,
    pub project_id: String,
    pub captured_at: DateTime<Utc>,
    pub files: Vec<FileRecord>,
}

/// How a delivered copy of an event is broken, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakage {
    /// The record cannot be read (NDJSON: cut-off JSON; Parquet: null `project_id`).
    MalformedRecord,
    /// A file entry has an empty path.
    MalformedFileEntry,
    /// A text file's content is not valid UTF-8 (and has no NUL byte).
    InvalidUtf8,
}

/// One delivery of an event into the raw export of day `arrival`.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub arrival: NaiveDate,
    pub record: GenerationRecord,
    pub breakage: Option<Breakage>,
}

/// What an extractor with the scenario's window must make of an event.
#[derive(Debug, Clone, Serialize)]
pub struct EventTruth {
    pub event_id: String,
    pub project_id: String,
    pub template_id: String,
    pub template_version: String,
    pub experiment_id: Option<String>,
    pub variant: Option<String>,
    pub generated_at: DateTime<Utc>,
    /// The run (`--date`) that must handle the event.
    pub run_date: NaiveDate,
    /// `edits`, or the quarantine reason code.
    pub outcome: String,
    /// Extra quarantine rows the event causes in `run_date` (duplicate copies).
    pub duplicate_copies: u32,
    /// The snapshot the extractor must pick, when the outcome is `edits`.
    pub snapshot_id: Option<String>,
    /// Planted target share of rewritten lines of this generation's text files.
    pub target_rewrite: f64,
    /// Expected change per generated path, when the outcome is `edits`.
    pub files: Vec<FileTruth>,
}

/// Expected state of one generated file at the chosen snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct FileTruth {
    pub path: String,
    pub change: &'static str,
    pub binary: bool,
    pub edit: EditKind,
    pub lines_rewritten: usize,
}

/// Everything one project contributes.
#[derive(Debug, Default)]
pub struct ProjectHistory {
    pub deliveries: Vec<Delivery>,
    pub snapshots: Vec<SnapshotRecord>,
    pub truths: Vec<EventTruth>,
}

/// A generated file's life after generation.
struct FileLife {
    generated_at: DateTime<Utc>,
    path: String,
    generated: Vec<u8>,
    changed_at: DateTime<Utc>,
    /// `None`: deleted at `changed_at`.
    kept: Option<Vec<u8>>,
    edit: EditKind,
    lines_rewritten: usize,
}

/// A file the user wrote by hand.
struct UserFile {
    created_at: DateTime<Utc>,
    path: String,
    content: Vec<u8>,
}

/// Derives a stable 64-bit value from the seed and a stream number (splitmix64).
pub fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hex_id(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!("{prefix}{:016x}{:08x}", rng.random::<u64>(), rng.random::<u32>())
}

fn days(d: f64) -> Duration {
    Duration::milliseconds((d * 86_400_000.0).round() as i64)
}

/// Share of generated text files users leave alone (before any planted effect).
const UNTOUCHED: f64 = 0.35;

const PROJECT_WORDS: &[&str] = &[
    "billing",
    "inventory",
    "search",
    "ledger",
    "notify",
    "catalog",
    "auth",
    "payments",
    "reports",
    "orders",
    "shipping",
    "pricing",
    "metrics",
    "gateway",
    "profile",
    "audit",
    "scheduler",
    "ingest",
    "export",
    "quota",
];
const PROJECT_SUFFIXES: &[&str] = &["api", "service", "app", "worker", "portal", "hub", "pipeline", "core"];

/// Simulates project number `index` with at most `budget` generations.
#[allow(clippy::too_many_lines)]
pub fn simulate_project(scenario: &Scenario, index: u64, budget: u64) -> ProjectHistory {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(scenario.seed, index));
    let project_id = format!("prj-{:012x}", mix(scenario.seed ^ 0xA5A5, index) >> 16);
    let project_name = format!(
        "{}-{}",
        PROJECT_WORDS.choose(&mut rng).copied().unwrap_or("demo"),
        PROJECT_SUFFIXES.choose(&mut rng).copied().unwrap_or("app")
    );
    let template = pick_template(&scenario.templates, &mut rng);
    let experiment = scenario.experiments.iter().find(|e| e.template_id == template.id);
    let (version, experiment_id, variant, effect) = route(template, experiment, &project_id);

    let start = scenario.start_date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = start + Duration::days(i64::from(scenario.days));
    let window = Duration::days(i64::from(scenario.window_days));
    let propensity = LogNormal::new(-scenario.project_propensity_sigma.powi(2) / 2.0, scenario.project_propensity_sigma)
        .map_or(1.0, |d| d.sample(&mut rng));
    let has_snapshots = !rng.random_bool(scenario.anomalies.project_without_snapshots);
    let wants_user_files = rng.random_bool(scenario.anomalies.user_added_files);

    // Generation times: the first uniform over the period, then exponential gaps.
    let mut times = vec![start + days(rng.random::<f64>() * f64::from(scenario.days))];
    let extra_mean = scenario.generations_per_project - 1.0;
    let gap = Exp::new(1.0 / scenario.days_between_generations).ok();
    while (times.len() as u64) < budget && extra_mean > 0.0 && rng.random_bool(extra_mean / (extra_mean + 1.0)) {
        let Some(last) = times.last().copied() else { break };
        let next = last + days(gap.map_or(1.0, |g| g.sample(&mut rng)));
        if next >= end {
            break;
        }
        times.push(next);
    }

    let mean_rewrite = (template.baseline_rewrite * propensity * (1.0 + effect)).clamp(0.0, 0.95);
    let mut history = ProjectHistory::default();
    let mut lives: Vec<FileLife> = Vec::new();
    let mut user_files: Vec<UserFile> = Vec::new();
    let mut used_components: Vec<&str> = Vec::new();
    let mut pending_truths: Vec<(EventTruth, Option<Breakage>, NaiveDate, u32)> = Vec::new();

    for (n, &generated_at) in times.iter().enumerate() {
        let rendered: Vec<RenderedFile> = if n == 0 {
            templates::scaffold(&template.id, &version, &project_name, &mut rng).unwrap_or_default()
        } else {
            let free: Vec<&str> = templates::COMPONENT_NAMES
                .iter()
                .copied()
                .filter(|c| !used_components.contains(c))
                .collect();
            let Some(&component) = free.choose(&mut rng) else { break };
            used_components.push(component);
            templates::component(&template.id, &version, &project_name, component, &mut rng).unwrap_or_default()
        };
        let crlf_generation = rng.random_bool(scenario.anomalies.crlf_generated);
        let files: Vec<FileRecord> = rendered
            .into_iter()
            .map(|f| {
                let mut content = f.content;
                if let Ok(text) = std::str::from_utf8(&content) {
                    let mut text = text.to_owned();
                    if crlf_generation {
                        text = edits::to_crlf(&text);
                    }
                    if rng.random_bool(scenario.anomalies.missing_final_newline) {
                        text = edits::strip_final_newline(&text);
                    }
                    content = text.into_bytes();
                }
                FileRecord { path: f.path, content }
            })
            .collect();

        // The user's edits of this generation's files.
        // Many files are left alone: a share `UNTOUCHED` of files gets no rewrite, the
        // rest a Beta-distributed share whose mean keeps the overall mean at
        // `mean_rewrite`, so the planted effect is an effect on the expected rewrite rate.
        let target_rewrite = mean_rewrite;
        let untouched = if mean_rewrite / (1.0 - UNTOUCHED) < 0.9 { UNTOUCHED } else { 0.0 };
        let edited_mean = mean_rewrite / (1.0 - untouched);
        let beta = Beta::new((edited_mean * 2.0).max(1e-3), ((1.0 - edited_mean) * 2.0).max(1e-3)).ok();
        let mut generation_files = Vec::new();
        for f in &files {
            let changed_at = generated_at + days(rng.random::<f64>() * f64::from(scenario.window_days) * 0.8);
            let (kept, edit, lines_rewritten) = if is_binary(&f.content) {
                if rng.random_bool(0.05) {
                    (None, EditKind::Rewrite, 0)
                } else if rng.random_bool(0.2) {
                    let mut replaced = f.content.clone();
                    for b in replaced.iter_mut().skip(6).step_by(7) {
                        *b = rng.random();
                    }
                    (Some(replaced), EditKind::Rewrite, 0)
                } else {
                    (Some(f.content.clone()), EditKind::Untouched, 0)
                }
            } else {
                let r = if rng.random_bool(untouched) {
                    0.0
                } else {
                    beta.map_or(edited_mean, |b| b.sample(&mut rng))
                };
                let text = String::from_utf8_lossy(&f.content).into_owned();
                let line_count = text.lines().count();
                if r > 0.92 && rng.random_bool(0.5) {
                    (None, EditKind::Rewrite, line_count)
                } else {
                    let language = language_hint(&f.path);
                    let mut edited = edits::edit_text(&text, language, r, &mut rng);
                    if edited.kind != EditKind::Untouched && rng.random_bool(scenario.anomalies.crlf_converted) {
                        edited.text = edits::to_crlf(&edited.text);
                    }
                    (Some(edited.text.into_bytes()), edited.kind, edited.lines_rewritten)
                }
            };
            generation_files.push(FileLife {
                generated_at,
                path: f.path.clone(),
                generated: f.content.clone(),
                changed_at,
                kept,
                edit,
                lines_rewritten,
            });
        }
        lives.extend(generation_files);
        if wants_user_files && rng.random_bool(0.5) {
            let language = ["python", "markdown", "yaml", "text"].choose(&mut rng).copied().unwrap_or("text");
            let count = rng.random_range(5..40);
            let mut content = templates::user_written_lines(language, count, &mut rng).join("\n");
            content.push('\n');
            let ext = match language {
                "python" => "py",
                "markdown" => "md",
                "yaml" => "yaml",
                _ => "txt",
            };
            user_files.push(UserFile {
                created_at: generated_at + days(rng.random::<f64>() * 3.0),
                path: format!("notes/user-{n}-{}.{ext}", rng.random_range(100..999)),
                content: content.into_bytes(),
            });
        }

        let event_id = hex_id(&mut rng, "evt-");
        let request = make_request(&template.id, &project_name, n, &mut rng);
        let record = GenerationRecord {
            event_id: event_id.clone(),
            generated_at,
            project_id: Some(project_id.clone()),
            template_id: template.id.clone(),
            template_version: version.clone(),
            experiment_id: experiment_id.clone(),
            variant: variant.clone(),
            request,
            files,
        };
        let gen_date = generated_at.date_naive();
        let run_date = gen_date + Duration::days(i64::from(scenario.window_days));
        let a = &scenario.anomalies;
        let draw: f64 = rng.random();
        let mut breakage = None;
        let mut arrival = gen_date;
        let mut copies = 0u32;
        if draw < a.broken_event {
            breakage = Some(match rng.random_range(0..3) {
                0 => Breakage::MalformedRecord,
                1 => Breakage::MalformedFileEntry,
                _ => Breakage::InvalidUtf8,
            });
        } else if draw < a.broken_event + a.duplicate_event {
            copies = 1;
        } else if draw < a.broken_event + a.duplicate_event + a.late_event {
            arrival = gen_date + Duration::days(rng.random_range(1..=3).min(i64::from(scenario.window_days)));
        } else if draw < a.broken_event + a.duplicate_event + a.late_event + a.very_late_event {
            arrival = run_date + Duration::days(rng.random_range(1..=4));
        }
        let mut delivered = record.clone();
        match breakage {
            Some(Breakage::MalformedRecord) => delivered.project_id = None,
            Some(Breakage::MalformedFileEntry) => {
                if let Some(f) = delivered.files.first_mut() {
                    f.path = String::new();
                }
            }
            Some(Breakage::InvalidUtf8) => {
                if let Some(f) = delivered.files.iter_mut().find(|f| !is_binary(&f.content)) {
                    f.content.extend_from_slice(&[0xC3, 0x28, 0xFF, b'\n']);
                }
            }
            None => {}
        }
        history.deliveries.push(Delivery {
            arrival,
            record: delivered,
            breakage,
        });
        if copies > 0 {
            let later = (arrival + Duration::days(rng.random_range(0..=1))).min(run_date);
            history.deliveries.push(Delivery {
                arrival: later,
                record: record.clone(),
                breakage: None,
            });
        }
        let truth = EventTruth {
            event_id,
            project_id: project_id.clone(),
            template_id: template.id.clone(),
            template_version: version.clone(),
            experiment_id: experiment_id.clone(),
            variant: variant.clone(),
            generated_at,
            run_date,
            outcome: String::new(),
            duplicate_copies: copies,
            snapshot_id: None,
            target_rewrite,
            files: Vec::new(),
        };
        pending_truths.push((truth, breakage, arrival, copies));
    }

    // Snapshots: exponential gaps from the first generation until every window closed.
    if has_snapshots && let Some(&first) = times.first() {
        let last_window_end = times.last().copied().unwrap_or(first) + window + Duration::days(1);
        let snap_gap = Exp::new(1.0 / scenario.days_between_snapshots).ok();
        let mut t = first + days(snap_gap.map_or(1.0, |g| g.sample(&mut rng)));
        while t <= last_window_end {
            history.snapshots.push(SnapshotRecord {
                snapshot_id: hex_id(&mut rng, "snp-"),
                project_id: project_id.clone(),
                captured_at: t,
                files: tree_at(&lives, &user_files, t),
            });
            t += days(snap_gap.map_or(1.0, |g| g.sample(&mut rng)));
        }
    }

    // The truth, now that the snapshots are known.
    for (mut truth, breakage, arrival, _copies) in pending_truths {
        let window_end = truth.generated_at + window;
        truth.outcome = match breakage {
            Some(Breakage::MalformedRecord) => {
                truth.run_date = arrival;
                "malformed_record".into()
            }
            Some(Breakage::MalformedFileEntry) => "malformed_file_entry".into(),
            Some(Breakage::InvalidUtf8) => "invalid_utf8".into(),
            None if arrival > truth.run_date => {
                truth.run_date = arrival;
                "late_event".into()
            }
            None => {
                let chosen = history
                    .snapshots
                    .iter()
                    .filter(|s| s.captured_at >= truth.generated_at && s.captured_at <= window_end)
                    .max_by(|a, b| a.captured_at.cmp(&b.captured_at).then_with(|| a.snapshot_id.cmp(&b.snapshot_id)));
                match chosen {
                    None => "no_snapshot".into(),
                    Some(s) => {
                        truth.snapshot_id = Some(s.snapshot_id.clone());
                        truth.files = file_truths(&lives, truth.generated_at, s.captured_at);
                        "edits".into()
                    }
                }
            }
        };
        history.truths.push(truth);
    }
    history
}

fn file_truths(lives: &[FileLife], generated_at: DateTime<Utc>, at: DateTime<Utc>) -> Vec<FileTruth> {
    lives
        .iter()
        .filter(|l| l.generated_at == generated_at)
        .map(|l| {
            let visible = if at >= l.changed_at { l.kept.as_ref() } else { Some(&l.generated) };
            let change = match visible {
                None => "deleted",
                Some(bytes) if *bytes == l.generated => "unchanged",
                Some(_) => "modified",
            };
            let binary = is_binary(&l.generated) || visible.is_some_and(|v| is_binary(v));
            FileTruth {
                path: l.path.clone(),
                change,
                binary,
                edit: if at >= l.changed_at { l.edit } else { EditKind::Untouched },
                lines_rewritten: if at >= l.changed_at { l.lines_rewritten } else { 0 },
            }
        })
        .collect()
}

/// The project tree at instant `at`, paths sorted.
fn tree_at(lives: &[FileLife], user_files: &[UserFile], at: DateTime<Utc>) -> Vec<FileRecord> {
    let mut tree: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for l in lives.iter().filter(|l| l.generated_at <= at) {
        let visible = if at >= l.changed_at {
            l.kept.as_deref()
        } else {
            Some(l.generated.as_slice())
        };
        match visible {
            Some(bytes) => tree.insert(&l.path, bytes),
            None => tree.remove(l.path.as_str()),
        };
    }
    for u in user_files.iter().filter(|u| u.created_at <= at) {
        tree.insert(&u.path, &u.content);
    }
    tree.into_iter()
        .map(|(path, content)| FileRecord {
            path: path.to_owned(),
            content: content.to_vec(),
        })
        .collect()
}

/// git's rule: a NUL byte in the first 8000 bytes.
pub fn is_binary(content: &[u8]) -> bool {
    content.iter().take(8000).any(|&b| b == 0)
}

fn language_hint(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("rs") => "rust",
        Some("py") => "python",
        Some("ts" | "tsx") => "typescript",
        Some("yaml" | "yml") => "yaml",
        Some("md") => "markdown",
        Some("toml") => "toml",
        Some("json") => "json",
        _ if name == "Dockerfile" => "dockerfile",
        _ => "text",
    }
}

fn pick_template<'a>(templates: &'a [TemplateUse], rng: &mut ChaCha8Rng) -> &'a TemplateUse {
    let total: f64 = templates.iter().map(|t| t.share).sum();
    let mut x = rng.random::<f64>() * total;
    for t in templates {
        if x < t.share {
            return t;
        }
        x -= t.share;
    }
    &templates[templates.len() - 1]
}

/// Version, experiment id, variant and planted effect of a project.
fn route(template: &TemplateUse, experiment: Option<&ExperimentPlan>, project_id: &str) -> (String, Option<String>, Option<String>, f64) {
    if let Some(e) = experiment {
        let weights: Vec<f64> = e.variants.iter().map(|v| v.weight).collect();
        if let Ok(i) = hive_core::routing::assign(e.salt(), project_id, &weights) {
            let v = &e.variants[i];
            return (v.version.clone(), Some(e.id.clone()), Some(v.name.clone()), v.effect);
        }
    }
    let newest = templates::TEMPLATES
        .iter()
        .find(|s| s.id == template.id)
        .and_then(|s| s.versions.last())
        .copied()
        .unwrap_or("1.0.0");
    (template.version.clone().unwrap_or_else(|| newest.to_owned()), None, None, 0.0)
}

fn make_request(template_id: &str, project_name: &str, n: usize, rng: &mut ChaCha8Rng) -> String {
    if n == 0 {
        let ports = [8000, 8080, 3000, 5000];
        serde_json::json!({
            "action": "scaffold",
            "template": template_id,
            "project_name": project_name,
            "options": {"port": ports.choose(rng).copied().unwrap_or(8080), "ci": rng.random_bool(0.7), "docker": true}
        })
        .to_string()
    } else {
        let asks = [
            "Add a component with CRUD endpoints and tests",
            "Generate a new module for this feature, following the project conventions",
            "Create the handler, model and tests for a new resource",
            "Add a processing step with its configuration",
        ];
        asks.choose(rng).copied().unwrap_or(asks[0]).to_owned()
    }
}
