//! `extract-edits`: pairs every generated file with what the user kept at the end of
//! its observation window.
//!
//! The run for date `ds` owns the generations whose window (`generated_at + window`)
//! closes on `ds`. It reads the raw generation exports of `ds - window - 1 ..= ds` (late
//! deliveries inside the window are found; one extra day absorbs exporter clock skew),
//! keeps the first delivery of each `event_id`, and compares each generated file with the
//! project's latest snapshot captured in `[generated_at, window_end]`. Rows that arrive
//! in partition `ds` after their own window closed (`late_event`), rows of partition `ds`
//! generated so long after they arrived that no run would read them (`future_event`), and
//! rows of partition `ds` that cannot be read at all, are quarantined by this run, so
//! every raw row is accounted for by exactly one run. The output depends only on partitions up to `ds`: reruns and
//! backfills give byte-identical files.

pub mod compare;
pub mod contract;
pub mod language;
pub mod records;
pub mod spill;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use hive_core::lake::{InputFile, raw_input_files};
use hive_core::progress::Progress;
use hive_core::quarantine::{QuarantineRecord, QuarantineTally, QuarantineWriter};
use hive_core::schema::{RAW_GENERATIONS, RAW_SNAPSHOTS};
use hive_core::{CoreError, PartitionDate, Shard};

use compare::{EditsWriter, SnapshotFiles};
use records::{LightRow, RawTable, RowKeys, RowProblem, read_light, relative};
use spill::{SnapshotLoc, SnapshotStore, Stored};

/// The job's name: quarantine directory and summary field.
pub const JOB: &str = "extract-edits";

/// Options of one run.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub data_root: PathBuf,
    pub date: PartitionDate,
    pub shard: Shard,
    /// Observation window in days.
    pub window_days: u32,
    /// Largest file content accepted (either side), in bytes.
    pub max_file_bytes: u64,
    /// How much one read of a raw input may decode ([`records::ReadLimits`]).
    pub read_limits: records::ReadLimits,
    /// Largest share of this run's rows that may be quarantined before the run counts
    /// as a data failure.
    pub max_quarantine_ratio: f64,
    /// Snapshot file content held in memory for pass 2, in bytes; the rest spills to an
    /// unnamed file in `spill_dir`.
    pub snapshot_memory_bytes: u64,
    pub spill_dir: PathBuf,
    /// Worker threads decoding raw Parquet row groups (0: one per core). Outputs are the
    /// same for any number.
    pub threads: usize,
    /// No progress bar.
    pub quiet: bool,
}

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An internal invariant broke (a bug, not the input): retried, and reported.
    #[error("internal error: {0}")]
    Internal(String),
}

impl hive_core::exit::Classify for ExtractError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        match self {
            Self::Core(e) => e.kind(),
            Self::Internal(_) => hive_core::exit::ErrorKind::Runtime,
        }
    }
}

pub use hive_core::summary::RunStatus;

/// The JSON summary line.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractSummary {
    pub job: &'static str,
    pub date: String,
    pub shard: String,
    pub status: RunStatus,
    pub window_days: u32,
    pub generation_files: usize,
    pub snapshot_files: usize,
    /// Every raw generation row read from the partitions in reach.
    pub rows_read: u64,
    /// Rows that belong to another run (another window, or an earlier partition).
    pub rows_for_other_runs: u64,
    /// Rows of projects owned by another shard.
    pub rows_for_other_shards: u64,
    /// Generations written to `edits`.
    pub generations_out: u64,
    /// Rows (files) written to `edits`.
    pub edit_rows_out: u64,
    /// Generation rows quarantined by this run.
    pub rows_quarantined: u64,
    /// `rows_read == rows_for_other_runs + rows_for_other_shards + generations_out +
    /// rows_quarantined`.
    pub reconciled: bool,
    pub snapshot_rows_read: u64,
    pub snapshot_rows_quarantined: u64,
    /// Chosen snapshots whose files waited on disk (over `--snapshot-memory-bytes`).
    pub snapshots_spilled: u64,
    /// Bytes those took in the spill file.
    pub snapshot_bytes_spilled: u64,
    /// Quarantined rows (generations and snapshots) by reason code.
    pub quarantine_reasons: BTreeMap<String, u64>,
    pub changes: BTreeMap<String, u64>,
    pub outputs: BTreeMap<&'static str, PathBuf>,
    /// Generations handled (written or quarantined) across every shard of the partition,
    /// when this run completed the partition; the quarantine ratio is judged on these.
    pub partition_generations_handled: Option<u64>,
    /// Generation rows quarantined across every shard of the partition, when this run
    /// completed it.
    pub partition_rows_quarantined: Option<u64>,
}

impl ExtractSummary {
    /// The summary of a run that has not read anything yet.
    fn empty(options: &ExtractOptions, generation_files: usize, snapshot_files: usize) -> Self {
        Self {
            job: JOB,
            date: options.date.to_string(),
            shard: options.shard.to_string(),
            status: RunStatus::NothingToProcess,
            window_days: options.window_days,
            generation_files,
            snapshot_files,
            rows_read: 0,
            rows_for_other_runs: 0,
            rows_for_other_shards: 0,
            generations_out: 0,
            edit_rows_out: 0,
            rows_quarantined: 0,
            reconciled: true,
            snapshot_rows_read: 0,
            snapshot_rows_quarantined: 0,
            snapshots_spilled: 0,
            snapshot_bytes_spilled: 0,
            quarantine_reasons: BTreeMap::new(),
            changes: BTreeMap::new(),
            outputs: BTreeMap::new(),
            partition_generations_handled: None,
            partition_rows_quarantined: None,
        }
    }
}

impl hive_core::summary::JobSummary for ExtractSummary {
    fn exit_status(&self) -> hive_core::ExitStatus {
        self.status.exit_status()
    }

    fn reconciliation_error(&self) -> Option<String> {
        (!self.reconciled).then(|| {
            format!(
                "read {} != other runs {} + other shards {} + out {} + quarantined {}",
                self.rows_read, self.rows_for_other_runs, self.rows_for_other_shards, self.generations_out, self.rows_quarantined
            )
        })
    }
}

/// What pass 1 decided for a generation row.
#[derive(Debug, Clone)]
enum Action {
    /// The first delivery of an event this run owns.
    Candidate(RowKeys, Vec<String>),
    /// A later delivery of a candidate. Used instead when every earlier delivery of the
    /// event turned out unusable in pass 2; quarantined as a duplicate otherwise.
    Duplicate {
        keys: RowKeys,
        paths: Vec<String>,
        first: (usize, u64),
    },
    /// Arrived in this partition after its own window closed.
    Late(RowKeys),
    /// Arrived in this partition more than a day before it was generated: its own run
    /// reads partitions from after this one, so no run would ever read it.
    Future(RowKeys),
    /// Unreadable keys; this run owns it because it arrived in partition `ds`.
    Unreadable(RowProblem, Option<String>, Option<String>),
}

/// A row whose keys could not be read: the problem, and the id and project if known.
type UnreadableRow = (RowProblem, Option<String>, Option<String>);

/// Runs extract-edits for one date and shard: pass 1 plans every row from its keys,
/// the snapshots each candidate is compared with are chosen and loaded, and pass 2
/// compares and writes.
pub fn run(options: &ExtractOptions) -> Result<ExtractSummary, ExtractError> {
    hive_core::cli::thread_pool(options.threads)?.install(|| run_in_pool(options))
}

fn run_in_pool(options: &ExtractOptions) -> Result<ExtractSummary, ExtractError> {
    if options.window_days == 0 {
        return Err(CoreError::InvalidOption {
            name: "--window-days",
            reason: "must be at least 1".into(),
        }
        .into());
    }
    hive_core::quarantine::check_max_ratio(options.max_quarantine_ratio).map_err(|reason| CoreError::InvalidOption {
        name: "--max-quarantine-ratio",
        reason,
    })?;
    let root = options.data_root.as_path();
    let ds = options.date;
    let first = ds.minus_days(options.window_days + 1);
    let generation_files = raw_input_files(root, RAW_GENERATIONS, first, ds)?;
    let snapshot_files = raw_input_files(root, RAW_SNAPSHOTS, first, ds)?;
    let mut summary = ExtractSummary::empty(options, generation_files.len(), snapshot_files.len());
    if generation_files.is_empty() {
        tracing::warn!(root = %root.display(), first = %first, last = %ds, "no raw generation files in reach: nothing to process");
        return Ok(summary);
    }

    let mut plan = plan_rows(options, &generation_files, &mut summary)?;
    let owned: usize = plan.actions.iter().map(Vec::len).sum();
    let choice = choose_snapshots(options, &snapshot_files, &plan, &mut summary)?;
    let mut quarantine = if owned > 0 || choice.bad_rows.iter().any(|m| !m.is_empty()) {
        Some(QuarantineWriter::create(root, JOB, ds, options.shard)?)
    } else {
        None
    };
    let snapshots = load_snapshots(options, &snapshot_files, &choice, quarantine.as_mut(), &mut summary)?;

    if owned == 0 {
        if quarantine.is_none() && summary.rows_for_other_shards == 0 {
            tracing::warn!(date = %ds, shard = %options.shard, "no generation row belongs to this run: nothing to process");
            return Ok(summary);
        }
        // Other shards have rows (or this one quarantined snapshot rows): commit empty
        // parts, so that the partition is complete once every shard has committed.
        tracing::info!(date = %ds, shard = %options.shard, "no generation row belongs to this shard: committing empty parts");
        let quarantine = match quarantine {
            Some(q) => q,
            None => QuarantineWriter::create(root, JOB, ds, options.shard)?,
        };
        let edits = EditsWriter::create(root, ds, options.shard, options.max_file_bytes)?;
        summary.outputs.insert("edits", edits.commit()?.path);
        return finish(options, summary, quarantine);
    }
    let Some(mut quarantine) = quarantine else {
        return Err(ExtractError::Internal("the quarantine writer was not opened before pass 2".into()));
    };
    let edits = compare_and_write(
        options,
        &generation_files,
        &mut plan,
        &choice,
        &snapshots,
        &mut quarantine,
        &mut summary,
    )?;
    summary.changes = edits.change_counts().iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    summary.outputs.insert("edits", edits.commit()?.path);
    finish(options, summary, quarantine)
}

/// Pass 1's decisions: per generation file, the rows this run owns and what to do with
/// each.
struct Plan {
    actions: Vec<Vec<(u64, Action)>>,
}

/// Pass 1: decides, from keys only, what this run does with every row in reach.
fn plan_rows(options: &ExtractOptions, generation_files: &[InputFile], summary: &mut ExtractSummary) -> Result<Plan, ExtractError> {
    let ds = options.date;
    let w = options.window_days;
    // The last run that reads partition `ds` is `ds + w + 1`: a row of partition `ds`
    // whose own run is later than that would be read by no run at all.
    let last_reader = ds.plus_days(w + 1);
    let mut actions: Vec<Vec<(u64, Action)>> = vec![Vec::new(); generation_files.len()];
    let mut first_delivery: HashMap<String, (usize, u64)> = HashMap::new();
    let mut progress = Progress::new("generation rows scanned", None, options.quiet);
    for (fi, file) in generation_files.iter().enumerate() {
        let rows = read_light(file, RawTable::Generations, options.read_limits)?;
        progress.inc(rows.len() as u64);
        for LightRow { row, keys, paths } in rows {
            summary.rows_read += 1;
            match keys {
                Err((problem, id, project)) => {
                    let is_ours = project.as_deref().map_or(options.shard.index() == 0, |p| options.shard.owns(p));
                    if file.partition != ds {
                        summary.rows_for_other_runs += 1;
                    } else if !is_ours {
                        summary.rows_for_other_shards += 1;
                    } else {
                        actions[fi].push((row, Action::Unreadable(problem, id, project)));
                    }
                }
                Ok(keys) => {
                    let run_date = PartitionDate::of_timestamp(keys.at).plus_days(w);
                    if !options.shard.owns(&keys.project_id) {
                        summary.rows_for_other_shards += 1;
                    } else if run_date == ds {
                        if let Some(&first) = first_delivery.get(&keys.id) {
                            actions[fi].push((row, Action::Duplicate { keys, paths, first }));
                        } else {
                            first_delivery.insert(keys.id.clone(), (fi, row));
                            actions[fi].push((row, Action::Candidate(keys, paths)));
                        }
                    } else if run_date < ds && file.partition == ds {
                        actions[fi].push((row, Action::Late(keys)));
                    } else if run_date > last_reader && file.partition == ds {
                        actions[fi].push((row, Action::Future(keys)));
                    } else {
                        summary.rows_for_other_runs += 1;
                    }
                }
            }
        }
    }
    progress.finish();
    Ok(Plan { actions })
}

/// Which snapshot each candidate is compared with, the files each chosen snapshot must
/// load, and the snapshot rows this run quarantines.
struct SnapshotChoice {
    chosen: HashMap<String, SnapshotLoc>,
    paths_by_snapshot: HashMap<SnapshotLoc, BTreeSet<String>>,
    bad_rows: Vec<BTreeMap<u64, UnreadableRow>>,
}

/// Picks, for each candidate, the project's latest snapshot in `[generated_at,
/// window_end]`.
fn choose_snapshots(
    options: &ExtractOptions,
    snapshot_files: &[InputFile],
    plan: &Plan,
    summary: &mut ExtractSummary,
) -> Result<SnapshotChoice, ExtractError> {
    let ds = options.date;
    let window = Duration::days(i64::from(options.window_days));
    let mut wanted_by_project: HashMap<String, Vec<(DateTime<Utc>, String)>> = HashMap::new();
    for (_, action) in plan.actions.iter().flatten() {
        if let Action::Candidate(k, _) = action {
            wanted_by_project
                .entry(k.project_id.clone())
                .or_default()
                .push((k.at, k.id.clone()));
        }
    }
    let mut snapshots_by_project: HashMap<String, Vec<(DateTime<Utc>, String, SnapshotLoc)>> = HashMap::new();
    let mut bad_rows: Vec<BTreeMap<u64, UnreadableRow>> = vec![BTreeMap::new(); snapshot_files.len()];
    for (fi, file) in snapshot_files.iter().enumerate() {
        for LightRow { row, keys, .. } in read_light(file, RawTable::Snapshots, options.read_limits)? {
            summary.snapshot_rows_read += 1;
            match keys {
                Ok(snapshot) => {
                    if wanted_by_project.contains_key(&snapshot.project_id) {
                        snapshots_by_project
                            .entry(snapshot.project_id)
                            .or_default()
                            .push((snapshot.at, snapshot.id, (fi, row)));
                    }
                }
                Err((problem, id, project_id)) => {
                    let is_ours = project_id.as_deref().map_or(options.shard.index() == 0, |p| options.shard.owns(p));
                    if file.partition == ds && is_ours {
                        // A version this reader does not know keeps its own code (docs/contracts.md).
                        let code = if problem.code == "unsupported_schema_version" {
                            problem.code
                        } else {
                            "malformed_snapshot"
                        };
                        let problem = RowProblem::new(code, problem.message);
                        bad_rows[fi].insert(row, (problem, id, project_id));
                    }
                }
            }
        }
    }
    let mut chosen: HashMap<String, SnapshotLoc> = HashMap::new();
    let mut paths_by_snapshot: HashMap<SnapshotLoc, BTreeSet<String>> = HashMap::new();
    for (_, action) in plan.actions.iter().flatten() {
        let Action::Candidate(k, paths) = action else { continue };
        let best = snapshots_by_project.get(&k.project_id).and_then(|snaps| {
            snaps
                .iter()
                .filter(|(at, _, _)| *at >= k.at && *at <= k.at + window)
                .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2)))
        });
        if let Some((_, _, loc)) = best {
            chosen.insert(k.id.clone(), *loc);
            paths_by_snapshot
                .entry(*loc)
                .or_default()
                .extend(paths.iter().map(|p| compare::normalize_path(p).to_owned()));
        }
    }
    // A later delivery stands in when the first is unusable: it is compared with the
    // first delivery's snapshot, so that snapshot also loads the files it names.
    for (_, action) in plan.actions.iter().flatten() {
        let Action::Duplicate { keys, paths, .. } = action else { continue };
        if let Some(loc) = chosen.get(&keys.id) {
            paths_by_snapshot
                .entry(*loc)
                .or_default()
                .extend(paths.iter().map(|p| compare::normalize_path(p).to_owned()));
        }
    }
    Ok(SnapshotChoice {
        chosen,
        paths_by_snapshot,
        bad_rows,
    })
}

/// Loads the needed files of the chosen snapshots (spilling over the memory budget) and
/// quarantines the unreadable snapshot rows this run owns.
fn load_snapshots(
    options: &ExtractOptions,
    snapshot_files: &[InputFile],
    choice: &SnapshotChoice,
    mut quarantine: Option<&mut QuarantineWriter>,
    summary: &mut ExtractSummary,
) -> Result<SnapshotStore, ExtractError> {
    let root = options.data_root.as_path();
    let mut store = SnapshotStore::new(options.snapshot_memory_bytes, &options.spill_dir);
    for (fi, file) in snapshot_files.iter().enumerate() {
        let mut wanted: BTreeSet<u64> = choice.paths_by_snapshot.keys().filter(|(f, _)| *f == fi).map(|(_, r)| *r).collect();
        wanted.extend(choice.bad_rows[fi].keys().copied());
        let source = relative(root, &file.path).to_string_lossy().into_owned();
        records::read_full_snapshots(file, &wanted, options.read_limits, |full| {
            if let Some((problem, id, project)) = choice.bad_rows[fi].get(&full.row) {
                summary.snapshot_rows_quarantined += 1;
                if let Some(q) = quarantine.as_deref_mut() {
                    q.push(QuarantineRecord {
                        source_file: source.clone(),
                        source_row: full.row,
                        record_key: id.clone(),
                        project_id: project.clone(),
                        reason_code: problem.code,
                        reason: format!("snapshot row unusable: {}", problem.message),
                        payload: (!full.payload.is_empty()).then(|| full.payload.clone()),
                    })?;
                }
                return Ok(());
            }
            if let Some(needed) = choice.paths_by_snapshot.get(&(fi, full.row)) {
                store.insert((fi, full.row), SnapshotFiles::from_row(full.decoded, needed))?;
            }
            Ok(())
        })?;
    }
    store.finish_writing()?;
    let spilled = store.stats();
    summary.snapshots_spilled = spilled.snapshots_spilled;
    summary.snapshot_bytes_spilled = spilled.bytes_spilled;
    Ok(store)
}

/// Pass 2: decodes the rows this run owns, compares, writes. Deliveries come in pass 1's
/// order, so an event's first delivery is tried before its duplicates; when it is
/// unusable, the next delivery is tried in its place.
fn compare_and_write(
    options: &ExtractOptions,
    generation_files: &[InputFile],
    plan: &mut Plan,
    choice: &SnapshotChoice,
    snapshots: &SnapshotStore,
    quarantine: &mut QuarantineWriter,
    summary: &mut ExtractSummary,
) -> Result<EditsWriter, ExtractError> {
    let root = options.data_root.as_path();
    let ds = options.date;
    let w = options.window_days;
    let window = Duration::days(i64::from(w));
    let owned: usize = plan.actions.iter().map(Vec::len).sum();
    let mut edits = EditsWriter::create(root, ds, options.shard, options.max_file_bytes)?;
    let mut kept: HashMap<String, (usize, u64)> = HashMap::new();
    let mut progress = Progress::new("generations", Some(owned as u64), options.quiet);
    for (fi, file) in generation_files.iter().enumerate() {
        let file_actions: BTreeMap<u64, Action> = std::mem::take(&mut plan.actions[fi]).into_iter().collect();
        if file_actions.is_empty() {
            continue;
        }
        let wanted: BTreeSet<u64> = file_actions.keys().copied().collect();
        let source = relative(root, &file.path).to_string_lossy().into_owned();
        records::read_full_generations(file, &wanted, options.read_limits, |full| {
            progress.inc(1);
            let Some(action) = file_actions.get(&full.row) else { return Ok(()) };
            let mut record = QuarantineRecord {
                source_file: source.clone(),
                source_row: full.row,
                record_key: None,
                project_id: None,
                reason_code: "",
                reason: String::new(),
                payload: Some(full.payload),
            };
            let problem = match action {
                Action::Unreadable(problem, id, project) => {
                    record.record_key.clone_from(id);
                    record.project_id.clone_from(project);
                    problem.clone()
                }
                Action::Late(k) | Action::Future(k) => {
                    record.record_key = Some(k.id.clone());
                    record.project_id = Some(k.project_id.clone());
                    out_of_window_problem(action, k, w, ds)
                }
                Action::Duplicate { keys: k, first, .. } if kept.contains_key(&k.id) => {
                    record.record_key = Some(k.id.clone());
                    record.project_id = Some(k.project_id.clone());
                    let (kept_file, kept_row) = kept[&k.id];
                    let kept_path = relative(root, &generation_files[kept_file].path);
                    let unusable_first = if (kept_file, kept_row) == *first {
                        String::new()
                    } else {
                        let first_path = relative(root, &generation_files[first.0].path);
                        format!(" (the first delivery, `{}` row {}, was unusable)", first_path.display(), first.1)
                    };
                    RowProblem::new(
                        "duplicate_event_id",
                        format!(
                            "event_id `{}` was delivered before in `{}` row {kept_row}; that delivery is kept{unusable_first}",
                            k.id,
                            kept_path.display(),
                        ),
                    )
                }
                // The first delivery of an event, or a later one standing in for earlier
                // deliveries that were all unusable.
                Action::Candidate(k, _) | Action::Duplicate { keys: k, .. } => {
                    record.record_key = Some(k.id.clone());
                    record.project_id = Some(k.project_id.clone());
                    let snapshot = match choice.chosen.get(&k.id) {
                        Some(loc) => snapshots.get(*loc)?,
                        None => None,
                    };
                    let outcome = match full.decoded {
                        Err(problem) => Err(problem),
                        Ok(generation) => edits.add_generation(&generation, snapshot.as_ref().map(Stored::files), window)?,
                    };
                    match outcome {
                        Ok(rows) => {
                            kept.insert(k.id.clone(), (fi, full.row));
                            summary.generations_out += 1;
                            summary.edit_rows_out += rows;
                            return Ok(());
                        }
                        Err(problem) => problem,
                    }
                }
            };
            summary.rows_quarantined += 1;
            record.reason_code = problem.code;
            record.reason = problem.message;
            quarantine.push(record)
        })?;
    }
    progress.finish();
    Ok(edits)
}

/// Why a row of partition `ds` that falls outside every window this or a later run reads
/// (`late_event` or `future_event`) is quarantined.
fn out_of_window_problem(action: &Action, k: &RowKeys, w: u32, ds: PartitionDate) -> RowProblem {
    let closes = PartitionDate::of_timestamp(k.at).plus_days(w);
    if matches!(action, Action::Future(_)) {
        RowProblem::new(
            "future_event",
            format!(
                "generated at {}, more than a day after it arrived in partition {ds}: its window closes on {closes}, and that run reads partitions from {} on, so no run would ever read it (check the exporter's clock)",
                k.at.to_rfc3339(),
                closes.minus_days(w + 1)
            ),
        )
    } else {
        RowProblem::new(
            "late_event",
            format!(
                "generated at {}, its window closed on {closes}, but it arrived in partition {ds}; rerun {closes} with this partition present to include it",
                k.at.to_rfc3339()
            ),
        )
    }
}

/// Commits the quarantine part and judges the quarantine ratio. Only the shard whose
/// commit completes the partition judges it, on the counts of every shard.
fn finish(options: &ExtractOptions, mut summary: ExtractSummary, quarantine: QuarantineWriter) -> Result<ExtractSummary, ExtractError> {
    summary.quarantine_reasons = quarantine.counts().iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    let own = QuarantineTally {
        rows_handled: summary.generations_out + summary.rows_quarantined,
        rows_quarantined: summary.rows_quarantined,
    };
    let (quarantine_part, partition) = quarantine.commit_with_tally(own)?;
    summary.outputs.insert("quarantine", quarantine_part.path);
    summary.reconciled = summary.rows_read
        == summary.rows_for_other_runs + summary.rows_for_other_shards + summary.generations_out + summary.rows_quarantined;
    summary.status = RunStatus::Success;
    let Some(total) = partition else {
        tracing::info!(shard = %options.shard, "the shard that completes the partition judges its quarantine ratio");
        return Ok(summary);
    };
    summary.partition_generations_handled = Some(total.rows_handled);
    summary.partition_rows_quarantined = Some(total.rows_quarantined);
    summary.status = total.judge(options.max_quarantine_ratio, "generations");
    Ok(summary)
}
