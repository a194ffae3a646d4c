//! `route-project`: the variant the routing spec (`hive_core::routing`, docs/routing.md)
//! gives a project, for people checking one project and for the serving side checking
//! many; this binary only parses arguments, reads project ids and prints.

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser};

use hive_ab::config::{Experiment, ExperimentsConfig};
use hive_core::routing;
use hive_core::{ExitStatus, env};
use hive_jobs::JobResultExt;

/// Print the experiment variant the routing spec gives each project, one JSON line per project.
///
/// The spec (docs/routing.md), GrowthBook's hashing version 2:
///   h       = fnv1a32(salt + project_id)                  32-bit FNV-1a over UTF-16 code units
///   bucket  = (fnv1a32(decimal string of h) % 10000) / 10000    in [0, 1), 4 decimals
///   variant = the i whose range [w0 + .. + w(i-1), w0 + .. + wi) holds bucket
/// Weights are added in variant order in 64-bit floating point; ranges are half-open, so a
/// bucket on a boundary goes to the later variant and a zero-weight variant gets nothing.
/// Strings are hashed as given: no trimming, case folding or Unicode normalisation.
/// data/routing-test-vectors.json holds vectors made by the GrowthBook SDK that any other
/// implementation (the serving side) must reproduce.
///
/// Each line has `project_id`, `bucket` and `variant`. With --config and --experiment the
/// salt and weights are the experiment's, `variant` is the variant's name, and the line also
/// has `experiment_id` and `version` (the variant's template version). With --salt and
/// --weights (no config), `variant` is the index of the weight, from 0, and the line also
/// has `salt`. --config may come from HIVE_EXPERIMENTS_CONFIG, which --salt mode ignores.
///
/// Project ids come from the arguments or, when there are none, from stdin: one per line,
/// a line's `\n` or `\r\n` removed and nothing else, so an empty line is the empty id.
/// Output lines follow input order.
///
/// With --growthbook-features (and --config), no project is routed: the whole config is
/// printed as a GrowthBook features payload (one feature per experiment, keyed by its id,
/// valued by template version, hashVersion 2, seed = salt, hashAttribute `id`) that a
/// GrowthBook SDK routes exactly as this spec does (docs/contracts.md).
///
/// Exit codes: 0 done; 2 bad usage, an unreadable or invalid config (the message names the
/// file and line), an unknown experiment, weights that are not a distribution, or stdin
/// that is not UTF-8.
///
/// Examples:
///   route-project --config data/sample/experiments.yaml --experiment exp-axum-2 prj-00000a1b2c3d
///   route-project --salt exp-fastapi-3 --weights 0.5,0.5 prj-00000a1b2c3d prj-0000ffee0011
///   cut -f1 projects.tsv | route-project --config exp.yaml --experiment exp-1 > routes.ndjson
///   route-project --salt s --weights 0.2,0.8 -- -id-starting-with-a-dash
///   route-project --config data/sample/experiments.yaml --growthbook-features > features.json
#[derive(Debug, Parser)]
#[command(name = "route-project", version, verbatim_doc_comment)]
#[command(group(ArgGroup::new("routing").required(true).args(["experiment", "salt", "growthbook_features"])))]
struct Cli {
    /// Experiments config (docs/experiments.md) holding --experiment.
    #[arg(long, env = env::EXPERIMENTS_CONFIG, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Id of the experiment in --config whose salt and variants route the projects.
    #[arg(long, value_name = "ID")]
    experiment: Option<String>,

    /// Salt of the hash when routing without a config (an experiment's salt defaults to its id).
    #[arg(long, value_name = "SALT", requires = "weights")]
    salt: Option<String>,

    /// Variant weights in variant order, comma-separated, summing to 1 (with --salt).
    #[arg(long, value_name = "W,W,..", value_delimiter = ',', requires = "salt")]
    weights: Option<Vec<f64>>,

    /// Print --config as a GrowthBook features payload instead of routing projects.
    #[arg(long, conflicts_with = "project_ids")]
    growthbook_features: bool,

    /// Project ids to route; read from stdin, one per line, when none are given.
    #[arg(value_name = "PROJECT_ID")]
    project_ids: Vec<String>,

    /// Whether --config was given on the command line rather than by the environment.
    #[arg(skip)]
    config_on_command_line: bool,
}

/// What routes the projects: an experiment of the config, or a bare salt and weights.
enum Router {
    Experiment { experiment: Box<Experiment>, weights: Vec<f64> },
    Salt { salt: String, weights: Vec<f64> },
}

impl Router {
    fn from_cli(cli: &Cli) -> anyhow::Result<Self> {
        // The mode is chosen by --experiment or --salt (clap makes it exactly one); the
        // config may come from the environment, where it is ignored in --salt mode.
        if let Some(id) = &cli.experiment {
            let Some(path) = &cli.config else {
                return Err(hive_jobs::usage_error(format!(
                    "--experiment needs --config (or `{}`)",
                    env::EXPERIMENTS_CONFIG
                )));
            };
            let config = ExperimentsConfig::load(path).classified()?;
            let Some(experiment) = config.experiments.iter().find(|e| &e.id == id) else {
                let known: Vec<String> = config.experiments.iter().map(|e| format!("`{}`", e.id)).collect();
                return Err(hive_jobs::usage_error(format!(
                    "experiment `{id}` is not in `{}` (it has: {})",
                    path.display(),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )));
            };
            let weights = experiment.weights();
            return Ok(Self::Experiment {
                experiment: Box::new(experiment.clone()),
                weights,
            });
        }
        let (Some(salt), Some(weights)) = (&cli.salt, &cli.weights) else {
            // clap's argument group makes this unreachable; say so plainly if it is not.
            return Err(hive_jobs::usage_error(
                "give --experiment (with --config), or --salt with --weights",
            ));
        };
        if cli.config_on_command_line {
            return Err(hive_jobs::usage_error(
                "--config is for --experiment; --salt and --weights route without a config",
            ));
        }
        routing::check_weights(weights).job_context(|| "checking --weights")?;
        Ok(Self::Salt {
            salt: salt.clone(),
            weights: weights.clone(),
        })
    }

    /// The JSON line for one project.
    fn line(&self, project_id: &str) -> anyhow::Result<String> {
        let json = |s: &str| serde_json::to_string(s).expect("a string always serialises");
        Ok(match self {
            Self::Experiment { experiment, weights } => {
                let bucket = routing::bucket(&experiment.salt, project_id);
                let variant = &experiment.variants[routing::assign(&experiment.salt, project_id, weights)?];
                format!(
                    r#"{{"experiment_id":{},"project_id":{},"bucket":{},"variant":{},"version":{}}}"#,
                    json(&experiment.id),
                    json(project_id),
                    serde_json::Number::from_f64(bucket).expect("buckets are finite"),
                    json(&variant.name),
                    json(&variant.version),
                )
            }
            Self::Salt { salt, weights } => format!(
                r#"{{"salt":{},"project_id":{},"bucket":{},"variant":{}}}"#,
                json(salt),
                json(project_id),
                serde_json::Number::from_f64(routing::bucket(salt, project_id)).expect("buckets are finite"),
                routing::assign(salt, project_id, weights)?,
            ),
        })
    }
}

/// Prints the config as a GrowthBook features payload.
fn print_growthbook_features(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let Some(path) = &cli.config else {
        return Err(hive_jobs::usage_error(format!(
            "--growthbook-features needs --config (or `{}`)",
            env::EXPERIMENTS_CONFIG
        )));
    };
    let config = ExperimentsConfig::load(path).classified()?;
    let text = serde_json::to_string_pretty(&hive_ab::serving::growthbook_features(&config)).context("rendering the features")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).context("writing to stdout")?;
    Ok(ExitStatus::Success)
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    if cli.growthbook_features {
        return print_growthbook_features(cli);
    }
    let router = Router::from_cli(cli)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // A consumer that stops reading (`| head`) ends the run; that is not an error.
    let mut emit = |project_id: &str| -> anyhow::Result<bool> {
        let line = router.line(project_id)?;
        match writeln!(out, "{line}") {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
        }
    };
    if cli.project_ids.is_empty() {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(hive_jobs::usage_error(
                "no project ids: give them as arguments or pipe them on stdin, one per line",
            ));
        }
        let mut input = stdin.lock();
        let mut buf = Vec::new();
        for number in 1_u64.. {
            buf.clear();
            if input.read_until(b'\n', &mut buf).context("reading project ids from stdin")? == 0 {
                break;
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let project_id =
                std::str::from_utf8(line).map_err(|e| hive_jobs::usage_error(format!("stdin line {number} is not UTF-8: {e}")))?;
            if !emit(project_id)? {
                return Ok(ExitStatus::Success);
            }
        }
    } else {
        for project_id in &cli.project_ids {
            if !emit(project_id)? {
                return Ok(ExitStatus::Success);
            }
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(anyhow::Error::new(e).context("writing to stdout")),
        _ => {}
    }
    Ok(ExitStatus::Success)
}

fn main() -> std::process::ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.config_on_command_line = matches.value_source("config") == Some(ValueSource::CommandLine);
    hive_jobs::finish_tool(run(&cli))
}
