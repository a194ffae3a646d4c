//! `ab-significance` and `promote-templates`: which template version users rewrite
//! less, with statistics that stay valid when looked at every night.
//!
//! - [`config`]: the experiments file.
//! - [`input`]: `generation_scores` reduced to what the statistics need.
//! - [`analysis`]: projects as units, routing checks, every test per treatment and metric.
//! - [`output`]: `ab_results` rows to Arrow and back.
//! - [`report`]: the nightly report (Markdown), [`html`] (the same as one page),
//!   [`charts`] (plotters SVG) and [`breakdown`] (exploratory breakdowns).
//! - [`promote`]: promotion decisions from `ab_results`.

pub mod analysis;
pub mod breakdown;
pub mod charts;
pub mod config;
pub mod html;
pub mod input;
pub mod output;
pub mod promote;
pub mod report;
pub mod serving;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use hive_core::lake::{PartWriter, write_atomically};
use hive_core::quarantine::QuarantineWriter;
use hive_core::schema::ab_results_spec;
use hive_core::{CoreError, PartitionDate, Shard};

use crate::config::{ConfigError, ExperimentsConfig};

/// The job's name.
pub const JOB: &str = "ab-significance";

/// Options of one `ab-significance` run.
#[derive(Debug, Clone)]
pub struct AbOptions {
    pub data_root: PathBuf,
    pub date: PartitionDate,
    pub config: PathBuf,
    /// Also read `gate_results` (for the `gate_pass_rate` metric).
    pub gate_results: bool,
    /// The scoring window (`extract-edits --window-days`): a generation of day `g` is
    /// scored on `g + window_days`. The CUPED pre-period ends `window_days` before the
    /// start, so no pre-period score saw the treatment.
    pub window_days: u32,
}

/// extract-edits' default window, the default here too.
pub const DEFAULT_WINDOW_DAYS: u32 = 7;

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum AbError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
}

impl hive_core::exit::Classify for AbError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        match self {
            Self::Core(e) => e.kind(),
            Self::Config(e) => e.kind(),
            Self::Chart(_) => hive_core::exit::ErrorKind::Runtime,
        }
    }
}

pub use hive_core::summary::RunStatus;

/// The JSON summary line.
#[derive(Debug, Clone, Serialize)]
pub struct AbSummary {
    pub job: &'static str,
    pub date: String,
    pub status: RunStatus,
    pub experiments_analysed: u64,
    /// Experiments not started yet on this date.
    pub experiments_not_started: u64,
    pub generations_read: u64,
    pub partitions_read: u64,
    /// Days of the read range with no `generation_scores` partition (not scored yet, or
    /// before the lake began).
    pub partitions_missing: u64,
    pub rows_out: u64,
    /// `generation_scores` rows set aside (`quarantine/ab-significance/dt=D/`), by reason.
    pub rows_quarantined: BTreeMap<&'static str, u64>,
    /// Guardrail rows that could not be judged (`guardrail_status = not_judged`): they
    /// block promotion, so they are listed as `experiment/treatment/metric`.
    pub guardrails_not_judged: Vec<String>,
    /// Experiments whose split fails the sample-ratio check.
    pub srm_flags: Vec<String>,
    pub routing_mismatches: u64,
    pub outputs: BTreeMap<&'static str, PathBuf>,
}

impl hive_core::summary::JobSummary for AbSummary {
    /// A sample-ratio mismatch is a data failure (exit 1), which the binary's `--on-srm
    /// warn` may turn into success.
    fn exit_status(&self) -> hive_core::ExitStatus {
        if self.srm_flags.is_empty() {
            self.status.exit_status()
        } else {
            hive_core::ExitStatus::DataFailure
        }
    }
}

/// Runs the analysis of every started experiment for `date`, writes `ab_results/dt=D/`
/// and the report under `reports/ab-significance/dt=D/`.
#[allow(
    clippy::too_many_lines,
    reason = "the run's steps in order: read, analyse each experiment, write, report"
)]
pub fn run(options: &AbOptions) -> Result<AbSummary, AbError> {
    let config = ExperimentsConfig::load(&options.config)?;
    let date = options.date;
    let root = options.data_root.as_path();
    let mut summary = AbSummary {
        job: JOB,
        date: date.to_string(),
        status: RunStatus::NothingToProcess,
        experiments_analysed: 0,
        experiments_not_started: 0,
        generations_read: 0,
        partitions_read: 0,
        partitions_missing: 0,
        rows_out: 0,
        rows_quarantined: BTreeMap::new(),
        guardrails_not_judged: Vec::new(),
        srm_flags: Vec::new(),
        routing_mismatches: 0,
        outputs: BTreeMap::new(),
    };
    let started: Vec<&config::Experiment> = config.experiments.iter().filter(|e| e.start <= date).collect();
    summary.experiments_not_started = (config.experiments.len() - started.len()) as u64;
    let window_days = options.window_days;
    // Pre-period generations of [start - window - lookback, start - window) are scored
    // (by window-close day) in partitions [start - lookback, start).
    let Some(first) = started.iter().map(|e| e.start.minus_days(e.cuped_lookback_days)).min() else {
        tracing::warn!(%date, "no experiment has started: nothing to analyse");
        return Ok(summary);
    };
    let templates: std::collections::BTreeSet<&str> = started.iter().map(|e| e.template_id.as_str()).collect();
    let mut loaded = input::load(root, first, date, &|g| templates.contains(g.template_id.as_str()))?;
    summary.generations_read = loaded.generations.len() as u64;
    summary.partitions_read = loaded.partitions_read;
    summary.partitions_missing = loaded.partitions_missing.len() as u64;
    write_quarantine(root, date, std::mem::take(&mut loaded.quarantined), &mut summary)?;
    if loaded.partitions_read == 0 {
        tracing::warn!(%date, "no `generation_scores` partition in range: nothing to analyse");
        return Ok(summary);
    }
    let ids: std::collections::BTreeSet<&str> = started.iter().map(|e| e.id.as_str()).collect();
    let earliest = started.iter().map(|e| e.start).min().unwrap_or(date);
    let files = breakdown::load(root, earliest, date, &ids)?;
    let mut extras: BTreeMap<String, report::ExperimentExtras> = BTreeMap::new();
    let mut rows = Vec::new();
    for experiment in &started {
        let last = if date < experiment.end { date } else { experiment.end };
        let (in_experiment, pre) = select(&loaded.generations, experiment, last, window_days);
        let gates = if options.gate_results {
            Some(input::load_gates(root, experiment.start, last)?)
        } else {
            None
        };
        let units = analysis::units(experiment, &in_experiment, &pre, gates.as_deref());
        let experiment_rows = analysis::analyse(experiment, date, window_days, &units);
        for row in &experiment_rows {
            if row.guardrail_status == Some(analysis::NOT_JUDGED) {
                tracing::warn!(
                    experiment = %experiment.id,
                    treatment = %row.treatment_variant,
                    metric = row.metric,
                    reason = row.note.as_deref().unwrap_or(""),
                    "guardrail not judged: promotion is blocked until it is"
                );
                summary
                    .guardrails_not_judged
                    .push(format!("{}/{}/{}", experiment.id, row.treatment_variant, row.metric));
            }
        }
        if experiment_rows.first().is_some_and(|r| r.srm_flag) {
            summary.srm_flags.push(experiment.id.clone());
        }
        summary.routing_mismatches += units.routing_mismatches as u64;
        tracing::info!(
            experiment = %experiment.id,
            projects = units.counts(experiment.variants.len()).iter().sum::<u64>(),
            routing_mismatches = units.routing_mismatches,
            "analysed"
        );
        let projects_so_far = units.counts(experiment.variants.len()).iter().sum::<u64>() as f64;
        let samples = experiment_rows
            .iter()
            .filter(|r| r.metric_role == "primary")
            .map(|r| {
                let needed = analysis::sample_needed(experiment, date, window_days, r, projects_so_far);
                (r.treatment_variant.clone(), needed)
            })
            .collect();
        let breakdowns = if files.partitions_read == 0 {
            Err("no committed `diff_scores` partition in the experiment's days".to_owned())
        } else if in_experiment.iter().any(|g| g.event_id.is_none()) {
            Err("`generation_scores` rows without `event_id`: files cannot be joined to generations".to_owned())
        } else {
            Ok(breakdown::breakdowns(experiment, last, &files, &in_experiment, units.assignment()))
        };
        extras.insert(
            experiment.id.clone(),
            report::ExperimentExtras {
                decision: None,
                samples,
                breakdowns,
            },
        );
        rows.extend(experiment_rows);
        summary.experiments_analysed += 1;
    }
    let mut part = PartWriter::create(root, ab_results_spec(), date, Shard::ALL)?;
    part.write(&output::to_batch(&rows, part.schema())?)?;
    summary.rows_out = rows.len() as u64;
    summary.outputs.insert("ab_results", part.commit()?.path);

    let report_dir = hive_core::lake::Target::unchecked(root, date, hive_core::Shard::ALL).report_dir(JOB);
    // Tonight's decisions for the report: promote-templates' own rule and ledger over
    // the same `ab_results` (it runs next and writes the same decisions to `promotions`).
    let nights = promote::ledger_nights(root, date, &config)?;
    for experiment in &started {
        if let Some(e) = extras.get_mut(&experiment.id) {
            e.decision = promote::decide(experiment, date, window_days, &nights);
        }
    }
    let input = report::ReportInput {
        config: &config,
        date,
        nights: &nights,
        extras,
    };
    for (name, text) in report::render(&input)? {
        let path = report_dir.join(name);
        write_atomically(&path, text.as_bytes())?;
    }
    summary.outputs.insert("report", report_dir.join("report.md"));
    summary.outputs.insert("report_html", report_dir.join("report.html"));
    if let Some(index) = write_index(root, &input)? {
        summary.outputs.insert("report_index", index);
    }
    summary.status = RunStatus::Success;
    Ok(summary)
}

/// The experiment's generations from its start through `last`, and its template's
/// pre-period generations for CUPED. The pre-period's scores must not see the treatment:
/// a generation of day g is compared with snapshots up to g + window_days, so the
/// pre-period ends window_days before the start.
fn select<'a>(
    generations: &'a [input::Generation],
    experiment: &config::Experiment,
    last: PartitionDate,
    window_days: u32,
) -> (Vec<&'a input::Generation>, Vec<&'a input::Generation>) {
    let pre_end = experiment.start.minus_days(window_days);
    let pre_start = pre_end.minus_days(experiment.cuped_lookback_days);
    let mut in_experiment = Vec::new();
    let mut pre = Vec::new();
    for g in generations {
        let day = PartitionDate::of_timestamp(g.generated_at);
        if g.experiment_id.as_deref() == Some(experiment.id.as_str()) && day >= experiment.start && day <= last {
            in_experiment.push(g);
        }
        if g.template_id == experiment.template_id && day >= pre_start && day < pre_end {
            pre.push(g);
        }
    }
    (in_experiment, pre)
}

/// Writes `quarantine/ab-significance/dt=D/` (always, so a rerun replaces an earlier
/// run's) and counts its rows by reason in the summary.
fn write_quarantine(
    root: &std::path::Path,
    date: PartitionDate,
    records: Vec<hive_core::quarantine::QuarantineRecord>,
    summary: &mut AbSummary,
) -> Result<(), AbError> {
    let mut quarantine = QuarantineWriter::create(root, JOB, date, Shard::ALL)?;
    for record in records {
        quarantine.push(record)?;
    }
    summary.rows_quarantined = quarantine.counts().clone();
    if quarantine.total() > 0 {
        tracing::warn!(quarantined = ?summary.rows_quarantined, "generation_scores rows set aside");
    }
    summary.outputs.insert("quarantine", quarantine.commit()?.path);
    Ok(())
}

/// Writes `reports/ab-significance/index.html` when `date` is the latest night with a
/// report (a backfill of an earlier night leaves the index of the latest one). Returns
/// its path when written.
fn write_index(root: &std::path::Path, input: &report::ReportInput<'_>) -> Result<Option<PathBuf>, AbError> {
    let date = input.date;
    let reports = root.join(hive_core::lake::REPORTS).join(JOB);
    let mut nights: Vec<PartitionDate> = Vec::new();
    let listing = std::fs::read_dir(&reports).map_err(|e| CoreError::io(&reports, e))?;
    for entry in listing {
        let entry = entry.map_err(|e| CoreError::io(&reports, e))?;
        let name = entry.file_name();
        if let Some(night) = name.to_str().and_then(PartitionDate::from_dir_name)
            && entry.path().join("report.html").exists()
        {
            nights.push(night);
        }
    }
    nights.sort();
    if nights.last().is_some_and(|latest| *latest > date) {
        return Ok(None);
    }
    let lines: Vec<html::IndexLine> = input
        .config
        .experiments
        .iter()
        .map(|e| {
            let today = input.today(e);
            let decision = input.extras.get(&e.id).and_then(|x| x.decision.as_ref());
            let (status, reason) = match decision {
                Some(d) => (d.decision.as_str().to_owned(), d.reason.clone()),
                None if e.start > date => ("not started".to_owned(), format!("starts {}", e.start)),
                None => ("not analysed".to_owned(), String::new()),
            };
            html::IndexLine {
                experiment: e.id.clone(),
                template: e.template_id.clone(),
                start: e.start,
                end: e.end,
                status,
                reason,
                days_running: today.first().map(|r| r.days_running),
            }
        })
        .collect();
    let path = reports.join("index.html");
    write_atomically(&path, html::index(date, &lines, &nights).as_bytes())?;
    Ok(Some(path))
}
