//! `evaluate-gates`: quality gates from real test, coverage, security and performance
//! reports (see `hive_gates`); this binary only parses arguments and reports.

use std::path::PathBuf;

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_core::CoreError;
use hive_core::ExitStatus;
use hive_core::cli::{CommonArgs, OnDataFailure, ShardArgs};
use hive_gates::{GatesOptions, ProjectReports, RunStatus, env};

const JOB: &str = "evaluate-gates";

/// Check a project's test, coverage, security and performance reports against the gates of quality-fabric-config.yaml.
///
/// For each project, the reports its test types declare (JUnit, Cobertura, LCOV, JaCoCo, SARIF,
/// Locust CSV, k6 summary JSON) are found by glob under the project's reports directory, parsed,
/// combined per test type and overall, and every gate `metric <operator> threshold` is evaluated.
/// Writes gate_results/, test_cases/, coverage/ and findings/ partitions for --date, a Markdown
/// summary for a PR comment (--summary-md; `-` prints it on stdout before the JSON line) and a
/// JUnit XML of the verdicts (--junit-out) so CI shows each gate as a test.
///
/// Exit codes: 0 every blocking gate passed; 1 a blocking gate failed, or its report is missing
/// under policy `fail` (outputs are written; 0 with --on-blocking-failure warn); 2 bad config,
/// malformed/oversized report (named) or usage; 3 runtime failure (I/O); 99 nothing to
/// process: no project for this shard, or none under --projects-root (an empty or missing
/// directory: no reports landed).
///
/// Examples:
///   evaluate-gates --date 2026-10-12 --project web-shop=ci/reports --summary-md gates.md
///   evaluate-gates --date 2026-10-12 --projects-root /lake/reports/dt=2026-10-12 --shard 0/4
///   evaluate-gates --date 2026-10-12 --project template-evolution=. --junit-out gates.xml
#[derive(Debug, Parser)]
#[command(name = "evaluate-gates", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    shard: ShardArgs,

    /// The quality config (format: docs/quality-gates.md).
    #[arg(long, env = env::GATES_CONFIG, default_value = "quality-fabric-config.yaml", value_name = "FILE")]
    config: PathBuf,

    /// A project and its reports directory, as ID=DIR; repeatable (the env var takes a comma-separated list).
    #[arg(long = "project", env = env::GATES_PROJECTS, value_delimiter = ',', value_name = "ID=DIR", value_parser = parse_project)]
    projects: Vec<ProjectReports>,

    /// A directory with one reports directory per project, named by project id.
    #[arg(long, env = env::GATES_PROJECTS_ROOT, value_name = "DIR")]
    projects_root: Option<PathBuf>,

    /// Run id written to every row; default `<project_id>@<date>`.
    #[arg(long, env = env::GATES_RUN_ID)]
    run_id: Option<String>,

    /// Write the Markdown summary here (`-`: stdout, before the JSON summary line).
    #[arg(long, env = env::GATES_SUMMARY_MD, value_name = "PATH")]
    summary_md: Option<PathBuf>,

    /// Write a JUnit XML with one test case per gate here.
    #[arg(long, env = env::GATES_JUNIT_OUT, value_name = "PATH")]
    junit_out: Option<PathBuf>,

    /// Largest report file read, in bytes (overrides `defaults.max_report_bytes`).
    #[arg(long, env = env::GATES_MAX_REPORT_BYTES)]
    max_report_bytes: Option<u64>,

    /// When a blocking gate fails: `fail` exits 1, `warn` exits 0. Either way the outputs
    /// are written and the failed gates are listed in the summary's `blocking_failures`
    /// and logged as errors. The nightly DAG uses `warn`, so the night's results still
    /// reach MLflow, and fails its own `gates_alarm` task instead.
    #[arg(long, env = env::GATES_ON_BLOCKING_FAILURE, value_enum, default_value_t = OnDataFailure::Fail)]
    on_blocking_failure: OnDataFailure,
}

fn parse_project(text: &str) -> Result<ProjectReports, String> {
    match text.split_once('=') {
        Some((id, dir)) if !id.trim().is_empty() && !dir.is_empty() => Ok(ProjectReports {
            project_id: id.trim().to_owned(),
            dir: PathBuf::from(dir),
        }),
        _ => Err(format!("`{text}` is not ID=DIR")),
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(cli.shard.shard).classified()?;
    CoreError::require_file("quality config", &cli.config).classified()?;
    let mut projects = cli.projects.clone();
    // Without --project, the night's reports are where the lake keeps them.
    let projects_root = match (&cli.projects_root, projects.is_empty()) {
        (Some(root), _) => Some(root.clone()),
        (None, true) => Some(target.quality_reports()),
        (None, false) => None,
    };
    if let Some(root) = &projects_root {
        projects.extend(hive_gates::projects_under(root).job_context(|| "listing the projects root")?);
    }
    let options = GatesOptions {
        config: cli.config.clone(),
        projects,
        data_root: target.root().to_owned(),
        date: cli.common.date,
        shard: cli.shard.shard,
        run_id: cli.run_id.clone(),
        summary_md: cli.summary_md.clone(),
        junit_out: cli.junit_out.clone(),
        max_report_bytes: cli.max_report_bytes,
    };
    let summary = hive_gates::run(&options).job_context(|| format!("evaluating quality gates for {}", options.date))?;
    tracing::info!(
        gates = summary.gates,
        passed = summary.passed,
        failed = summary.failed,
        warned = summary.warned,
        missing = summary.missing,
        "evaluate-gates finished"
    );
    if cli.summary_md.as_ref().is_some_and(|p| p.as_os_str() == "-") && summary.status != RunStatus::NothingToProcess {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        match out.write_all(summary.markdown.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(anyhow::Error::new(e).context("writing the Markdown summary"));
            }
            _ => {}
        }
    }
    for failure in &summary.blocking_failures {
        tracing::error!(gate = %failure, "blocking gate failed");
    }
    Ok(cli.on_blocking_failure.apply(hive_jobs::conclude(&summary)?))
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
