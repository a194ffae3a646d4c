//! `evaluate-gates`: quality gates from the reports real tools write.
//!
//! For each project, the reports its test types declare in `quality-fabric-config.yaml`
//! ([`config`]) are found by glob under the project's reports directory and parsed
//! ([`reports`]: JUnit, Cobertura, LCOV, JaCoCo, SARIF, Locust CSV, k6 JSON). Their
//! numbers are combined per test type and overall, and every gate is evaluated
//! ([`evaluate`]). The run writes `gate_results`, `test_cases`, `coverage` and
//! `findings` partitions ([`tables`]), a Markdown summary for a PR comment and a JUnit
//! XML of the verdicts ([`output`]), so CI systems show the gates as tests.
//!
//! A malformed report is an input error naming the file (exit 2): a gate must never
//! pass on a report we could not read.
//!
//! Memory: test cases and findings are streamed from the parsers straight into the
//! `test_cases` and `findings` parts, at most one row group ([`ROW_GROUP_ROWS`] rows)
//! of each held at a time; only counts, per-file coverage and the gate verdicts stay
//! in memory for the whole run (docs/quality-gates.md, "Resources").
#![cfg_attr(test, allow(clippy::float_cmp, clippy::format_collect))]

pub mod config;
pub mod environment;
pub mod evaluate;
pub mod output;
pub mod reports;
pub mod tables;
pub mod vocabulary;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use hive_core::lake::{PartWriter, ROW_GROUP_ROWS};
use hive_core::schema::TableSpec;
use hive_core::{CoreError, PartitionDate, Shard};

use config::{ConfigError, QualityConfig, TestType};
use evaluate::{GateResult, GateStatus, Measurements};
use hive_core::schema::gates as gate_tables;
use reports::{Finding, Measured, ReportError, RowSink, TestCase};
use tables::{CoverageRow, FindingRow, TestCaseRow};

/// The job's name (summary field).
pub const JOB: &str = "evaluate-gates";

/// Environment variables of evaluate-gates (documented in `hive_core::env`).
pub mod env {
    pub use hive_core::env::{
        GATES_CONFIG, GATES_JUNIT_OUT, GATES_MAX_REPORT_BYTES, GATES_ON_BLOCKING_FAILURE, GATES_PROJECTS, GATES_PROJECTS_ROOT,
        GATES_RUN_ID, GATES_SUMMARY_MD,
    };
}

/// One project and the directory its report globs are relative to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProjectReports {
    pub project_id: String,
    pub dir: PathBuf,
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct GatesOptions {
    pub config: PathBuf,
    pub projects: Vec<ProjectReports>,
    pub data_root: PathBuf,
    pub date: PartitionDate,
    pub shard: Shard,
    /// Run id; default `<project_id>@<date>`.
    pub run_id: Option<String>,
    pub summary_md: Option<PathBuf>,
    pub junit_out: Option<PathBuf>,
    /// Overrides `defaults.max_report_bytes`.
    pub max_report_bytes: Option<u64>,
}

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum GatesError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("cannot build `{table}` rows")]
    Arrow {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("reports directory `{path}` of project `{project}` is not a directory")]
    NoReportsDir { project: String, path: PathBuf },
}

impl hive_core::exit::Classify for GatesError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        use hive_core::exit::ErrorKind;
        match self {
            Self::Core(e) => e.kind(),
            Self::Arrow { .. } => ErrorKind::Runtime,
            Self::Config(_) | Self::Report(_) | Self::NoReportsDir { .. } => ErrorKind::BadInput,
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every blocking gate passed (`pass`, the gates' own word).
    #[serde(rename = "pass")]
    Passed,
    /// A blocking gate failed or was missing under policy `fail` (exit 1).
    #[serde(rename = "fail")]
    Failed,
    /// No project for this shard (exit 99).
    NothingToProcess,
}

/// The JSON summary line.
#[derive(Debug, Clone, Serialize)]
pub struct GatesSummary {
    pub job: &'static str,
    pub date: String,
    pub shard: String,
    pub status: RunStatus,
    pub projects: u64,
    pub gates: u64,
    pub passed: u64,
    pub failed: u64,
    pub warned: u64,
    pub missing: u64,
    /// `<project>/<gate>` of each result that failed the run.
    pub blocking_failures: Vec<String>,
    pub reports_read: u64,
    pub test_cases: u64,
    pub coverage_files: u64,
    pub findings: u64,
    pub outputs: BTreeMap<&'static str, PathBuf>,
    /// The Markdown summary (also written to `--summary-md` unless that is `-`).
    #[serde(skip)]
    pub markdown: String,
}

impl hive_core::summary::JobSummary for GatesSummary {
    fn exit_status(&self) -> hive_core::ExitStatus {
        match self.status {
            RunStatus::Passed => hive_core::ExitStatus::Success,
            RunStatus::Failed => hive_core::ExitStatus::DataFailure,
            RunStatus::NothingToProcess => hive_core::ExitStatus::NothingToProcess,
        }
    }
}

/// Every project under `root`: one subdirectory per project, named by its id (hidden
/// entries skipped), sorted. A `root` that does not exist is a night on which no
/// project's reports landed: no project (the run then has nothing to process), not an
/// error.
pub fn projects_under(root: &Path) -> Result<Vec<ProjectReports>, GatesError> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(root = %root.display(), "the projects root does not exist: no reports landed");
            return Ok(Vec::new());
        }
        Err(e) => return Err(CoreError::io(root, e).into()),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CoreError::io(root, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') || !entry.path().is_dir() {
            continue;
        }
        out.push(ProjectReports {
            project_id: name,
            dir: entry.path(),
        });
    }
    out.sort();
    Ok(out)
}

/// Files matching `patterns` under `dir`, sorted, each once.
fn find_reports(dir: &Path, patterns: &[String]) -> Vec<PathBuf> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let base = glob::Pattern::escape(&dir.to_string_lossy());
    let mut found = BTreeSet::new();
    for p in patterns {
        // Patterns were validated when the config was parsed.
        let Ok(paths) = glob::glob_with(&format!("{base}/{p}"), options) else {
            continue;
        };
        for path in paths.flatten() {
            // Symlinks are kept here so that parsing refuses them by name (a report
            // that silently vanished would turn into a `missing` gate instead).
            if path.is_file() || path.is_symlink() {
                found.insert(path);
            }
        }
    }
    found.into_iter().collect()
}

/// Everything measured and decided for the projects of one run, except the test cases
/// and findings, which went to their [`RowStreams`].
#[derive(Debug, Default)]
pub struct Evaluation {
    pub results: Vec<GateResult>,
    pub coverage: Vec<CoverageRow>,
    pub reports_read: u64,
}

type ToBatch<T> = fn(&TableSpec, &[T]) -> Result<arrow::array::RecordBatch, arrow::error::ArrowError>;

/// The rows of one table on their way to its part: held until there are a row
/// group's worth ([`ROW_GROUP_ROWS`]), then written, so that memory holds at most one
/// row group of them however many the reports have.
pub struct TableStream<T> {
    spec: TableSpec,
    writer: PartWriter,
    held: Vec<T>,
    to_batch: ToBatch<T>,
    /// The first write error; rows pushed after it are dropped, and the run fails.
    error: Option<GatesError>,
}

impl<T> TableStream<T> {
    fn create(options: &GatesOptions, spec: TableSpec, to_batch: ToBatch<T>) -> Result<Self, GatesError> {
        let writer = PartWriter::create(&options.data_root, spec.clone(), options.date, options.shard)?;
        Ok(Self {
            spec,
            writer,
            held: Vec::new(),
            to_batch,
            error: None,
        })
    }

    fn push(&mut self, row: T) {
        if self.error.is_some() {
            return;
        }
        self.held.push(row);
        if self.held.len() >= ROW_GROUP_ROWS
            && let Err(e) = self.flush()
        {
            self.error = Some(e);
        }
    }

    fn flush(&mut self) -> Result<(), GatesError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let batch = (self.to_batch)(&self.spec, &self.held).map_err(|source| GatesError::Arrow {
            table: self.spec.name.clone(),
            source,
        })?;
        self.writer.write(&batch)?;
        self.held.clear();
        Ok(())
    }

    /// The first write error since the last check.
    fn check(&mut self) -> Result<(), GatesError> {
        self.error.take().map_or(Ok(()), Err)
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.writer.rows() + self.held.len() as u64
    }

    fn commit(mut self) -> Result<PathBuf, GatesError> {
        self.check()?;
        self.flush()?;
        Ok(self.writer.commit()?.path)
    }
}

/// The `test_cases` and `findings` rows of a run, streamed to their parts.
pub struct RowStreams {
    pub test_cases: TableStream<TestCaseRow>,
    pub findings: TableStream<FindingRow>,
}

impl RowStreams {
    /// Opens the `test_cases` and `findings` parts of the run's partition.
    pub fn create(options: &GatesOptions) -> Result<Self, GatesError> {
        Ok(Self {
            test_cases: TableStream::create(options, gate_tables::test_cases_spec(), tables::test_cases_batch)?,
            findings: TableStream::create(options, gate_tables::findings_spec(), tables::findings_batch)?,
        })
    }

    fn check(&mut self) -> Result<(), GatesError> {
        self.test_cases.check()?;
        self.findings.check()
    }
}

/// The rows of one report: each case or finding with the report it came from.
struct ReportRows<'a> {
    streams: &'a mut RowStreams,
    run_id: &'a str,
    project_id: &'a str,
    test_type: TestType,
    report_path: &'a str,
}

impl RowSink for ReportRows<'_> {
    fn test_case(&mut self, case: TestCase) {
        self.streams.test_cases.push(TestCaseRow {
            run_id: self.run_id.to_owned(),
            project_id: self.project_id.to_owned(),
            test_type: self.test_type.to_string(),
            report_path: self.report_path.to_owned(),
            case,
        });
    }

    fn finding(&mut self, finding: Finding) {
        self.streams.findings.push(FindingRow {
            run_id: self.run_id.to_owned(),
            project_id: self.project_id.to_owned(),
            test_type: self.test_type.to_string(),
            report_path: self.report_path.to_owned(),
            finding,
        });
    }
}

/// Reads the reports of `project` and evaluates its gates.
pub fn evaluate_project(
    config: &QualityConfig,
    project: &ProjectReports,
    run_id: &str,
    max_report_bytes: u64,
    out: &mut Evaluation,
    rows: &mut RowStreams,
) -> Result<(), GatesError> {
    if !project.dir.is_dir() {
        return Err(GatesError::NoReportsDir {
            project: project.project_id.clone(),
            path: project.dir.clone(),
        });
    }
    let mut per_type: BTreeMap<TestType, Measurements> = BTreeMap::new();
    for test_type in config.test_types.keys() {
        let scope = per_type.entry(*test_type).or_default();
        for source in config.reports_for(&project.project_id, *test_type) {
            let files = find_reports(&project.dir, &source.paths);
            if files.is_empty() {
                tracing::info!(project = %project.project_id, %test_type, format = source.format.as_str(), "no report found");
            }
            for file in files {
                let rel = file.strip_prefix(&project.dir).unwrap_or(&file).to_string_lossy().into_owned();
                let mut sink = ReportRows {
                    streams: rows,
                    run_id,
                    project_id: &project.project_id,
                    test_type: *test_type,
                    report_path: &rel,
                };
                let measured = reports::parse_streaming(source.format, &file, max_report_bytes, &mut sink)?;
                rows.check()?;
                out.reports_read += 1;
                tracing::debug!(project = %project.project_id, report = %rel, "parsed");
                if let Measured::Findings(f) = &measured
                    && f.suppressed > 0
                {
                    tracing::info!(project = %project.project_id, report = %rel, suppressed = f.suppressed, "suppressed SARIF results left out");
                }
                scope.add_measured(&measured);
            }
        }
        if let Some(cov) = &scope.coverage {
            out.coverage.extend(cov.files.iter().map(|(file, c)| CoverageRow {
                run_id: run_id.to_owned(),
                project_id: project.project_id.clone(),
                test_type: test_type.to_string(),
                file: file.clone(),
                lines_valid: c.lines_valid(),
                lines_covered: c.lines_covered(),
                branches_valid: c.branches_valid(),
                branches_covered: c.branches_covered(),
            }));
        }
    }
    let mut overall = Measurements::default();
    for m in per_type.values() {
        overall.merge(m);
    }
    let environment = project_environment(config, project, max_report_bytes);
    for gate in config.gates_for(&project.project_id) {
        let scope = gate.test_type.and_then(|t| per_type.get(&t)).unwrap_or(&overall);
        let mut result = evaluate::evaluate(run_id, &project.project_id, &gate, scope);
        result.environment.clone_from(&environment);
        out.results.push(result);
    }
    Ok(())
}

/// The check of the config's `environment` against what landed with `project`'s
/// reports; a check that does not verify is logged as a warning.
fn project_environment(config: &QualityConfig, project: &ProjectReports, max_report_bytes: u64) -> Option<environment::EnvironmentCheck> {
    let check = environment::check(config.environment.as_ref()?, &project.dir, max_report_bytes);
    if check.status != environment::EnvironmentStatus::Verified {
        tracing::warn!(
            project = %project.project_id,
            status = check.status.as_str(),
            problem = check.problem.as_deref().unwrap_or_default(),
            "the suites' Compose environment is not verified"
        );
    }
    Some(check)
}

fn write_table<T>(
    options: &GatesOptions,
    spec: TableSpec,
    rows: &[T],
    to_batch: fn(&TableSpec, &[T]) -> Result<arrow::array::RecordBatch, arrow::error::ArrowError>,
) -> Result<PathBuf, GatesError> {
    let batch = to_batch(&spec, rows).map_err(|source| GatesError::Arrow {
        table: spec.name.clone(),
        source,
    })?;
    let mut writer = PartWriter::create(&options.data_root, spec, options.date, options.shard)?;
    writer.write(&batch)?;
    Ok(writer.commit()?.path)
}

/// Runs the job: evaluates every project of this shard and writes the outputs.
pub fn run(options: &GatesOptions) -> Result<GatesSummary, GatesError> {
    let config = QualityConfig::load(&options.config)?;
    let max_report_bytes = options.max_report_bytes.unwrap_or(config.defaults.max_report_bytes);
    if max_report_bytes == 0 {
        return Err(CoreError::InvalidOption {
            name: "--max-report-bytes",
            reason: "must be positive".into(),
        }
        .into());
    }
    let mut projects: Vec<&ProjectReports> = options.projects.iter().filter(|p| options.shard.owns(&p.project_id)).collect();
    projects.sort();
    let mut seen = BTreeSet::new();
    if let Some(p) = projects.iter().find(|p| !seen.insert(p.project_id.as_str())) {
        return Err(CoreError::InvalidOption {
            name: "--project",
            reason: format!("project `{}` is given twice", p.project_id),
        }
        .into());
    }
    let mut summary = GatesSummary {
        job: JOB,
        date: options.date.to_string(),
        shard: options.shard.to_string(),
        status: RunStatus::NothingToProcess,
        projects: projects.len() as u64,
        gates: 0,
        passed: 0,
        failed: 0,
        warned: 0,
        missing: 0,
        blocking_failures: Vec::new(),
        reports_read: 0,
        test_cases: 0,
        coverage_files: 0,
        findings: 0,
        outputs: BTreeMap::new(),
        markdown: String::new(),
    };
    if options.projects.is_empty() {
        tracing::warn!("no project to evaluate: nothing to process");
        return Ok(summary);
    }
    // A shard that owns none of the projects still commits (empty) parts, so that the
    // partition completes once every shard has run.
    let mut eval = Evaluation::default();
    let mut rows = RowStreams::create(options)?;
    for project in &projects {
        let run_id = options
            .run_id
            .clone()
            .unwrap_or_else(|| format!("{}@{}", project.project_id, options.date));
        evaluate_project(&config, project, &run_id, max_report_bytes, &mut eval, &mut rows)?;
    }
    summary.test_cases = rows.test_cases.rows();
    summary.findings = rows.findings.rows();
    summary.outputs.insert(
        gate_tables::GATE_RESULTS,
        write_table(options, gate_tables::gate_results_spec(), &eval.results, tables::gate_results_batch)?,
    );
    summary.outputs.insert(gate_tables::TEST_CASES, rows.test_cases.commit()?);
    summary.outputs.insert(
        gate_tables::COVERAGE,
        write_table(options, gate_tables::coverage_spec(), &eval.coverage, tables::coverage_batch)?,
    );
    summary.outputs.insert(gate_tables::FINDINGS, rows.findings.commit()?);
    summary.markdown = output::markdown(&eval.results);
    if let Some(path) = options.summary_md.as_ref().filter(|p| p.as_os_str() != "-") {
        hive_core::lake::write_atomically(path, summary.markdown.as_bytes())?;
        summary.outputs.insert("summary_md", path.clone());
    }
    if let Some(path) = &options.junit_out {
        hive_core::lake::write_atomically(path, output::junit(&eval.results).as_bytes())?;
        summary.outputs.insert("junit", path.clone());
    }
    for r in &eval.results {
        summary.gates += 1;
        match r.status {
            GateStatus::Pass => summary.passed += 1,
            GateStatus::Fail => summary.failed += 1,
            GateStatus::Warn => summary.warned += 1,
            GateStatus::Missing => summary.missing += 1,
        }
        if r.blocks() {
            summary.blocking_failures.push(format!("{}/{}", r.project_id, r.gate_id));
        }
    }
    summary.reports_read = eval.reports_read;
    summary.coverage_files = eval.coverage.len() as u64;
    summary.status = if summary.blocking_failures.is_empty() {
        RunStatus::Passed
    } else {
        RunStatus::Failed
    };
    Ok(summary)
}
