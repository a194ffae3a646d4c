//! `build-finetune`: leak-free SFT and preference datasets from user edits (see
//! `hive_finetune`); this binary only parses arguments and reports.

use std::path::PathBuf;

use clap::Parser;
use hive_jobs::JobResultExt;

use hive_core::cli::CommonArgs;
use hive_core::{CoreError, ExitStatus, Shard, env};
use hive_finetune::FinetuneOptions;

const JOB: &str = "build-finetune";

/// Build fine-tuning datasets (SFT and preference pairs) from what users kept of generated files.
///
/// Reads the committed `edits` and `diff_scores` partitions of the --days days ending --date, joins
/// them on (event_id, path) and writes `<root>/finetune/dt=D/`: OpenAI chat JSONL (`sft-*.jsonl`),
/// OpenAI preference JSONL (`preference-*.jsonl`), the same records as Parquet in Hugging Face TRL's
/// layout (`sft-*.parquet`, `preference-*.parquet`), lineage (`sources-*.parquet`: the edits row of
/// each example; `excluded.parquet`: every row left out, with its reason), `manifest.json` (counts
/// per reason, token statistics, sha256 of every file, the config) and a dataset card `README.md`.
/// The folder is built aside and swapped in whole; reruns give identical bytes.
///
/// Deleted, binary, empty and wholesale-rewritten files, files failing the quality filters and
/// examples over the token limit are excluded with a counted reason; secrets and PII are redacted
/// (or the example dropped); exact and near duplicates are removed before a split by project, so
/// no project is in two splits. Every JSONL line is validated before it is written. The recipe is
/// a YAML file (--config, see docs/build-finetune.md); without it the documented defaults apply.
///
/// Rows that cannot be processed (a null key, an unknown `change`, no `diff_scores` row) are also
/// written to `quarantine/build-finetune/dt=D/` naming the field, never with their content.
///
/// Exit codes: 0 done; 2 bad input, config or usage (the message names the file and column or
/// key); 3 runtime failure: I/O, or an internal check (rows do not reconcile: outputs kept for
/// inspection; a record failed validation: nothing written); 99 nothing to train on: no
/// `edits` row in the range (no partition: nothing written; empty partitions: an empty
/// dataset is written), or no example reached the train split (the dataset is written).
///
/// Examples:
///   build-finetune --data-root target/sample-run/lake --date 2026-10-17 --days 12 \
///       --config data/sample/finetune.yaml
///   build-finetune --date 2026-10-12 --days 7 --config finetune.yaml --log-format json
///   build-finetune --date 2026-10-12 --days 7 --threads 8 --memory-budget 1073741824 --spill-dir /scratch
///   build-finetune --date 2026-10-12 --days 7 --cache-dir /cache/build-finetune
#[derive(Debug, Parser)]
#[command(name = "build-finetune", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// Days of `edits` read, ending with --date (the output partition).
    #[arg(long, env = env::FINETUNE_DAYS, default_value_t = 1)]
    days: u32,

    /// YAML recipe (token limit, filters, dedup, split, secrets); unknown keys are errors.
    #[arg(long, env = env::FINETUNE_CONFIG, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Worker threads for filtering, secret scanning, token counting and MinHash; 0 uses one
    /// per core. The output bytes do not depend on it.
    #[arg(long, env = env::THREADS, default_value_t = 0)]
    threads: usize,

    /// Bytes held in memory: half for candidate records (kept and generated texts, shingle
    /// sets, lineage), half for the shingle sets of kept files that dedup verifies against;
    /// the rest waits in temporary files in --spill-dir, so the records' memory does not grow
    /// with the days read (about 400 bytes per input row still do). The output bytes do not
    /// depend on it.
    #[arg(long, env = env::FINETUNE_MEMORY_BUDGET, default_value_t = 512 << 20, value_name = "BYTES")]
    memory_budget: u64,

    /// Directory of the temporary spill file (default: the system's temporary directory).
    #[arg(long, env = env::SPILL_DIR, value_name = "DIR")]
    spill_dir: Option<PathBuf>,

    /// Directory of the outcome cache (default: `<data-root>/_cache/build-finetune`). What
    /// each `edits` part's rows became (filtered, scanned, fingerprinted) is kept there
    /// under a digest of the part's and its `diff_scores`' bytes, the recipe and this
    /// program, so the next night replays the days it read before instead of recomputing
    /// them (only with --days 2 or more: a one-day range shares no day with the next). The
    /// output bytes do not depend on it; an entry that does not verify is removed and
    /// recomputed.
    #[arg(long, env = env::FINETUNE_CACHE_DIR, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,

    /// Recompute every part; read and write no outcome cache.
    #[arg(long)]
    no_cache: bool,
}

fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let target = cli.common.target(Shard::ALL).classified()?;
    target.require_table(hive_core::schema::EDITS).classified()?;
    if let Some(path) = &cli.config {
        CoreError::require_file("fine-tuning config", path).classified()?;
    }
    let config = hive_finetune::load_config(cli.config.as_deref()).classified()?;
    let options = FinetuneOptions {
        data_root: target.root().to_owned(),
        date: cli.common.date,
        days: cli.days,
        config,
        quiet: cli.common.log.quiet,
        threads: cli.threads,
        memory_budget: cli.memory_budget,
        spill_dir: cli.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
        cache_dir: (!cli.no_cache).then(|| {
            cli.cache_dir
                .clone()
                .unwrap_or_else(|| target.root().join("_cache").join(hive_finetune::JOB))
        }),
    };
    let summary = hive_finetune::run(&options).job_context(|| format!("building fine-tuning datasets for {}", options.date))?;
    tracing::info!(
        input_rows = summary.input_rows,
        sft_examples = summary.sft_examples,
        preference_pairs = summary.preference_pairs,
        "build-finetune finished"
    );
    hive_jobs::conclude(&summary)
}

fn main() -> std::process::ExitCode {
    let cli: Cli = hive_jobs::parse_args(JOB);
    hive_core::logging::init(&cli.common.log);
    hive_jobs::finish(JOB, Some(cli.common.date.to_string()), run(&cli))
}
