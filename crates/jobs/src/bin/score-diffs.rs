//! `score-diffs`: line and character metrics per generated file and per generation (see
//! `hive_score`); this binary only parses arguments and reports.

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_core::cli::{CommonArgs, ShardArgs};
use hive_core::{ExitStatus, env};
use hive_score::ScoreOptions;

const JOB: &str = "score-diffs";

/// Score every generated file of an `edits` partition: what the user kept, line by line and character by character.
///
/// Reads `edits/dt=D/` (the parts its `_SUCCESS` lists) and writes `diff_scores/dt=D/` (one row per
/// file: lines generated, final, kept, added, removed as `git diff --numstat --diff-algorithm=histogram`
/// counts them; rewrite_rate = removed / generated; similarity = 2 kept / (generated + final);
/// char_retention = 1 - character distance / max length, the distance being the sum of the Levenshtein
/// distances of the line diff's hunks, or with --char-distance whole-file the whole files') and `generation_scores/dt=D/` (sums per generation;
/// rewrite_rate = sum removed / sum generated; rewritten = rewrite_rate > --rewritten-threshold).
/// Binary files are counted but get no line metrics. Files are scored in parallel.
///
/// Exit codes: 0 done; 1 more of the partition's rows quarantined than --max-quarantine-ratio
/// allows (outputs are written); 2 bad input or usage; 3 runtime failure (I/O: a retry may
/// help); 99 no `edits` partition for this date.
///
/// Examples:
///   score-diffs --data-root data/sample --date 2026-10-12
///   score-diffs --date 2026-10-12 --shard 1/4 --threads 8 --log-format json
#[derive(Debug, Parser)]
#[command(name = "score-diffs", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    shard: ShardArgs,

    /// A generation is `rewritten` when its line-weighted rewrite rate exceeds this.
    #[arg(long, env = env::REWRITTEN_THRESHOLD, default_value_t = 0.5)]
    rewritten_threshold: f64,

    /// Worker threads; 0 uses one per core.
    #[arg(long, env = env::THREADS, default_value_t = 0)]
    threads: usize,

    /// Word operations (64 cells each) an exact character distance may cost, per pair with
    /// `hunks` (shared by its hunks), per phase with `whole-file`. The default makes any
    /// hunk (or pair of texts) up to 65 536 characters exact; a larger, heavily rewritten
    /// one gets the line-hunk bound (`char_retention_method = line_bound`). 0 computes only
    /// the line-hunk bound (fastest).
    #[arg(long, env = env::CHAR_BUDGET, default_value_t = hive_score::chars::DEFAULT_BUDGET)]
    char_budget: u64,

    /// Which character distance char_retention is computed from. `hunks`: the sum of the
    /// Levenshtein distances of the line diff's hunks, at about the line diff's cost; an
    /// upper bound on the whole-file distance, equal to it with at most one hunk
    /// (`char_retention_method = exact`), else flagged `hunks`. `whole-file`: the exact
    /// whole-file distance (several times slower).
    #[arg(long, env = env::CHAR_DISTANCE, value_enum, default_value_t = CharDistance::Hunks)]
    char_distance: CharDistance,

    /// Largest share of the partition's `edits` rows that may be quarantined (a row that
    /// cannot be scored) before the run exits 1; outputs are written either way. Judged on
    /// the whole partition by the shard that completes it.
    #[arg(long, env = env::MAX_QUARANTINE_RATIO, default_value_t = 0.01)]
    max_quarantine_ratio: f64,
}

/// `--char-distance`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CharDistance {
    Hunks,
    WholeFile,
}

impl From<CharDistance> for hive_score::chars::Distance {
    fn from(value: CharDistance) -> Self {
        match value {
            CharDistance::Hunks => Self::Hunks,
            CharDistance::WholeFile => Self::WholeFile,
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(cli.shard.shard).classified()?;
    target.require_table(hive_core::schema::EDITS).classified()?;
    let options = ScoreOptions {
        data_root: target.root().to_owned(),
        date: cli.common.date,
        shard: cli.shard.shard,
        rewritten_threshold: cli.rewritten_threshold,
        threads: cli.threads,
        char_budget: cli.char_budget,
        char_distance: cli.char_distance.into(),
        max_quarantine_ratio: cli.max_quarantine_ratio,
    };
    let summary = hive_score::run(&options).job_context(|| format!("scoring diffs for {} (shard {})", options.date, options.shard))?;
    tracing::info!(
        files = summary.diff_rows_out,
        generations = summary.generations_out,
        quarantined = summary.rows_quarantined,
        "score-diffs finished"
    );
    hive_jobs::conclude(&summary)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
