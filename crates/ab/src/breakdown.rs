//! The report's exploratory breakdowns: each arm's rewrite rate by language and by
//! template file, as GrowthBook's dimension analysis shows them. They join three inputs
//! and group the result:
//!
//! - `diff_scores` (one row per generated file, with its `language` and `path`),
//! - the experiment's generations as the analysis kept them (`generation_scores` rows
//!   that passed the input checks; quarantined ones drop out of the join on `event_id`),
//! - the experiment assignment: each analysed project with its checked arm (projects
//!   excluded by the routing checks drop out of the join on `project_id`).
//!
//! The joins are hash lookups and the group-by a `BTreeMap` over one pass of the files,
//! held column by column with every text interned (a file row is about 40 bytes, where
//! owned strings took about 300: a night of 100,000 generations analyses millions):
//! polars was measured for this (lazy engine, feature `lazy` only, arrow-rs reads) and
//! left out: it added about 90 crates and over half of hive-ab's clean-build CPU time
//! (3,600 of 6,700 crate-seconds, 0.55.2) for a few dozen lines, and the per-night
//! volume (an experiment's files) is small. The Parquet is read with arrow-rs, only the
//! columns needed, rows of other experiments dropped while reading.
//!
//! Breakdowns never decide: a dozen dimension values times the arms is a dozen more
//! comparisons, none corrected for multiplicity; the report labels them exploratory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use hive_core::columns::{ColumnKind, TextColumn, TimestampColumn, array, check_columns, typed};
use hive_core::lake::{committed_parts, partition_dir};
use hive_core::schema::DIFF_SCORES;
use hive_core::{CoreError, PartitionDate};

use crate::config::Experiment;
use crate::input::Generation;

/// At most this many values of a dimension are shown (by generations, descending); the
/// rest are counted.
pub const MAX_VALUES: usize = 12;

/// The dimensions broken down by, with their `diff_scores` column.
pub const DIMENSIONS: [(&str, &str); 2] = [("language", "language"), ("template file", "path")];

/// A null text in an interned column.
const NULL: u32 = u32::MAX;

/// Every distinct text of the columns read, stored once, by number.
#[derive(Debug, Default)]
struct Texts {
    numbers: HashMap<Arc<str>, u32>,
    texts: Vec<Arc<str>>,
}

impl Texts {
    /// The number of `text` ([`NULL`] for `None`), given it one if it is new; `None`
    /// past `u32::MAX - 1` distinct texts (never two texts under one number).
    fn intern(&mut self, text: Option<&str>) -> Option<u32> {
        let Some(text) = text else { return Some(NULL) };
        if let Some(&n) = self.numbers.get(text) {
            return Some(n);
        }
        let n = u32::try_from(self.texts.len()).ok().filter(|n| *n < NULL)?;
        let text: Arc<str> = Arc::from(text);
        self.texts.push(Arc::clone(&text));
        self.numbers.insert(text, n);
        Some(n)
    }

    /// The number of `text`, if it was read.
    fn number(&self, text: &str) -> Option<u32> {
        self.numbers.get(text).copied()
    }

    fn text(&self, n: u32) -> Option<&str> {
        self.texts.get(n as usize).map(|t| &**t)
    }
}

/// `diff_scores` text-file rows of the experiments being analysed, column by column,
/// each text column as numbers into [`Texts`].
#[derive(Debug, Default)]
pub struct Files {
    texts: Texts,
    event_id: Vec<u32>,
    project_id: Vec<u32>,
    experiment_id: Vec<u32>,
    /// `generated_at` as days since 1970-01-01 (UTC).
    day: Vec<i32>,
    path: Vec<u32>,
    language: Vec<u32>,
    lines_generated: Vec<i64>,
    lines_removed: Vec<i64>,
    /// Committed `diff_scores` partitions read.
    pub partitions_read: u64,
}

impl Files {
    pub fn len(&self) -> usize {
        self.event_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.event_id.is_empty()
    }
}

const COLUMNS: &[(&str, ColumnKind)] = &[
    ("event_id", ColumnKind::Text),
    ("project_id", ColumnKind::Text),
    ("experiment_id", ColumnKind::Text),
    ("generated_at", ColumnKind::Timestamp),
    ("path", ColumnKind::Text),
    ("language", ColumnKind::Text),
];

fn epoch_day(date: PartitionDate) -> i32 {
    (date.date() - chrono::NaiveDate::default()).num_days() as i32
}

/// Reads the committed `diff_scores` partitions from `first` through `last`, keeping text
/// files (binary files have no line counts) of the experiments in `experiments`.
pub fn load(root: &Path, first: PartitionDate, last: PartitionDate, experiments: &BTreeSet<&str>) -> Result<Files, CoreError> {
    let mut files = Files::default();
    for date in first.through(last) {
        if !partition_dir(root, DIFF_SCORES, date).exists() {
            continue;
        }
        for part in committed_parts(root, DIFF_SCORES, date)? {
            read_part(&part, experiments, &mut files)?;
        }
        files.partitions_read += 1;
    }
    Ok(files)
}

fn read_part(path: &Path, experiments: &BTreeSet<&str>, out: &mut Files) -> Result<(), CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let parquet = |source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    check_columns(path, builder.schema(), COLUMNS)?;
    let wanted = [
        "event_id",
        "project_id",
        "experiment_id",
        "generated_at",
        "path",
        "language",
        "lines_generated",
        "lines_removed",
    ];
    let indices: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| wanted.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    for batch in builder.with_projection(mask).build().map_err(parquet)? {
        let batch = batch.map_err(|source| CoreError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        read_batch(path, &batch, experiments, out)?;
    }
    Ok(())
}

fn read_batch(path: &Path, batch: &RecordBatch, experiments: &BTreeSet<&str>, out: &mut Files) -> Result<(), CoreError> {
    let text = |name: &str| typed(batch, path, name, ColumnKind::Text, |a| TextColumn::new(a.as_ref()));
    let (event, project, experiment, file_path, language) = (
        text("event_id")?,
        text("project_id")?,
        text("experiment_id")?,
        text("path")?,
        text("language")?,
    );
    let at = typed(batch, path, "generated_at", ColumnKind::Timestamp, |a| {
        TimestampColumn::new(a.as_ref())
    })?;
    let generated: &Int64Array = array(batch, path, "lines_generated", "int64")?;
    let removed: &Int64Array = array(batch, path, "lines_removed", "int64")?;
    for row in 0..batch.num_rows() {
        let Some(experiment_id) = experiment.get(row).filter(|e| experiments.contains(e)) else {
            continue;
        };
        // Binary files (null line counts) are outside the line metrics, as in
        // generation_scores; a row without a readable time cannot be placed in the
        // experiment's days (its generation is quarantined by the analysis too).
        let (Some(Ok(generated_at)), true, true) = (at.get(row), generated.is_valid(row), removed.is_valid(row)) else {
            continue;
        };
        let texts = &mut out.texts;
        let too_many = || CoreError::BadValue {
            path: path.to_owned(),
            row: row as u64,
            column: "event_id".to_owned(),
            message: "more distinct texts than the breakdowns can number (4 billion)".to_owned(),
        };
        out.event_id.push(texts.intern(event.get(row)).ok_or_else(too_many)?);
        out.project_id.push(texts.intern(project.get(row)).ok_or_else(too_many)?);
        out.experiment_id.push(texts.intern(Some(experiment_id)).ok_or_else(too_many)?);
        out.day.push(epoch_day(PartitionDate::of_timestamp(generated_at)));
        out.path.push(texts.intern(file_path.get(row)).ok_or_else(too_many)?);
        out.language.push(texts.intern(language.get(row)).ok_or_else(too_many)?);
        out.lines_generated.push(generated.value(row));
        out.lines_removed.push(removed.value(row));
    }
    Ok(())
}

/// One arm's figures for one value of a dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub projects: u64,
    pub generations: u64,
    pub files: u64,
    pub lines_generated: i64,
    pub lines_removed: i64,
}

impl Cell {
    /// Line-weighted rewrite rate (`None` without generated lines).
    pub fn rewrite_rate(&self) -> Option<f64> {
        (self.lines_generated > 0).then(|| self.lines_removed as f64 / self.lines_generated as f64)
    }
}

/// An experiment's breakdown by one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// The dimension's name in the report (`language`, `template file`).
    pub dimension: &'static str,
    /// The values shown, most generations first, each with a cell per arm (variant order;
    /// `None` when the arm has no file of that value).
    pub values: Vec<(String, Vec<Option<Cell>>)>,
    /// Values not shown (beyond [`MAX_VALUES`]).
    pub values_left_out: usize,
}

/// Sums of one (value, arm) group of a breakdown, with its distinct projects and
/// generations (interned numbers).
#[derive(Default)]
struct Group {
    projects: HashSet<u32>,
    generations: HashSet<u32>,
    files: u64,
    lines_generated: i64,
    lines_removed: i64,
}

/// The experiment's breakdowns over `files` (its days through `last`): the files of the
/// generations the analysis kept (`kept`), of the projects of `assignment` (project and
/// arm index), by each of [`DIMENSIONS`]. A null dimension value is shown as `(none)`.
pub fn breakdowns<'a>(
    experiment: &Experiment,
    last: PartitionDate,
    files: &Files,
    kept: &[&Generation],
    assignment: impl Iterator<Item = (&'a str, usize)>,
) -> Vec<Breakdown> {
    // The join keys as the files' numbers; a key no file has joins nothing.
    let texts = &files.texts;
    let kept_events: HashSet<u32> = kept
        .iter()
        .filter_map(|g| g.event_id.as_deref().and_then(|e| texts.number(e)))
        .collect();
    let arms: HashMap<u32, usize> = assignment
        .filter_map(|(project, arm)| Some((texts.number(project)?, arm)))
        .collect();
    let Some(experiment_id) = texts.number(&experiment.id) else {
        return DIMENSIONS
            .iter()
            .map(|(dimension, _)| Breakdown {
                dimension,
                values: Vec::new(),
                values_left_out: 0,
            })
            .collect();
    };
    let (first_day, last_day) = (epoch_day(experiment.start), epoch_day(last));
    let mut groups: Vec<BTreeMap<(&str, usize), Group>> = DIMENSIONS.iter().map(|_| BTreeMap::new()).collect();
    for i in 0..files.len() {
        if files.experiment_id[i] != experiment_id || files.day[i] < first_day || files.day[i] > last_day {
            continue;
        }
        let (event, project) = (files.event_id[i], files.project_id[i]);
        if event == NULL || project == NULL {
            continue;
        }
        // The joins: a generation the analysis kept, of a project with a checked arm.
        let Some(&arm) = arms.get(&project).filter(|_| kept_events.contains(&event)) else {
            continue;
        };
        for (d, (_, column)) in DIMENSIONS.iter().enumerate() {
            let value = if *column == "language" { files.language[i] } else { files.path[i] };
            let group = groups[d].entry((texts.text(value).unwrap_or("(none)"), arm)).or_default();
            group.projects.insert(project);
            group.generations.insert(event);
            group.files += 1;
            group.lines_generated += files.lines_generated[i];
            group.lines_removed += files.lines_removed[i];
        }
    }
    DIMENSIONS
        .iter()
        .zip(groups)
        .map(|((dimension, _), grouped)| {
            let mut by_value: BTreeMap<String, Vec<Option<Cell>>> = BTreeMap::new();
            for ((value, arm), g) in grouped {
                let cells = by_value
                    .entry(value.to_owned())
                    .or_insert_with(|| vec![None; experiment.variants.len()]);
                if let Some(slot) = cells.get_mut(arm) {
                    *slot = Some(Cell {
                        projects: g.projects.len() as u64,
                        generations: g.generations.len() as u64,
                        files: g.files,
                        lines_generated: g.lines_generated,
                        lines_removed: g.lines_removed,
                    });
                }
            }
            let mut values: Vec<(String, Vec<Option<Cell>>)> = by_value.into_iter().collect();
            let total = |cells: &[Option<Cell>]| cells.iter().flatten().map(|c| c.generations).sum::<u64>();
            // Most generations first; ties by value (the map's order, kept by a stable sort).
            values.sort_by_key(|(_, cells)| std::cmp::Reverse(total(cells)));
            let values_left_out = values.len().saturating_sub(MAX_VALUES);
            values.truncate(MAX_VALUES);
            Breakdown {
                dimension,
                values,
                values_left_out,
            }
        })
        .collect()
}
