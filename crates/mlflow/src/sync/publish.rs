//! Exactly-once publishing: lists what the server already has for the date, skips
//! finished runs, completes interrupted ones, and creates the rest, looking a run's
//! stable key up again after a transient failure so that a retried create never
//! duplicates.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use super::{DATE_TAG, KEY_TAG, RunSpec, Sync, TABLE_TAG, TableSummary, now_ms};
use crate::batch::Tag;
use crate::client::{Retry, RunInfo};
use crate::error::MlflowError;

impl Sync<'_> {
    /// Publishes `specs` into experiment `name`; returns counts and every run's info by key.
    pub(super) fn publish(
        &self,
        name: &str,
        rows: usize,
        specs: Vec<RunSpec>,
    ) -> Result<(TableSummary, HashMap<String, RunInfo>), MlflowError> {
        let experiment = self.client.ensure_experiment(name, &[Tag::new("hive.source", "mlflow-sync")])?;
        let id = experiment.experiment_id.clone();
        let existing = self.existing_runs(&id)?;
        let mut summary = TableSummary {
            experiment: name.to_owned(),
            rows: rows as u64,
            runs: specs.len() as u64,
            ..TableSummary::default()
        };
        let mut infos: HashMap<String, RunInfo> = existing.iter().map(|(k, r)| (k.clone(), r.info.clone())).collect();
        let mut todo = Vec::new();
        for spec in specs {
            match existing.get(&spec.key) {
                Some(r) if r.info.status.as_deref() == Some("FINISHED") => summary.already_synced += 1,
                Some(r) => todo.push((spec, Some(r.info.clone()))),
                None => todo.push((spec, None)),
            }
        }
        // The first run to log each dataset goes alone, before the others: MLflow inserts a
        // new dataset on the first `log-inputs` naming it, and runs racing to do so collide
        // on its unique key (the client retries that too; this keeps it rare).
        let (todo, serial) = first_users_of_each_dataset_first(todo);
        tracing::info!(experiment = name, runs = summary.runs, to_publish = todo.len(), "publishing");
        let next = AtomicUsize::new(0);
        let done = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let failure: Mutex<Option<MlflowError>> = Mutex::new(None);
        let results: Mutex<Vec<(String, RunInfo, bool)>> = Mutex::new(Vec::new());
        let started = Instant::now();
        let work = |range: std::ops::Range<usize>, workers: usize| {
            next.store(range.start, Ordering::Relaxed);
            std::thread::scope(|scope| {
                for _ in 0..workers.clamp(1, range.len().max(1)) {
                    scope.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= range.end {
                                break;
                            }
                            let Some((spec, previous)) = todo.get(i) else { break };
                            match self.publish_one(&id, spec, previous.as_ref()) {
                                Ok(info) => {
                                    if let Ok(mut r) = results.lock() {
                                        r.push((spec.key.clone(), info, previous.is_some()));
                                    }
                                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                                    if n.is_multiple_of(500) {
                                        let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
                                        tracing::info!(
                                            experiment = name,
                                            published = n,
                                            of = todo.len(),
                                            runs_per_second = format!("{rate:.1}"),
                                            "progress"
                                        );
                                    }
                                }
                                Err(e) => {
                                    stop.store(true, Ordering::Relaxed);
                                    if let Ok(mut f) = failure.lock()
                                        && f.is_none()
                                    {
                                        *f = Some(e);
                                    }
                                }
                            }
                        }
                    });
                }
            });
        };
        work(0..serial, 1);
        work(serial..todo.len(), self.options.concurrency);
        for (k, info, resumed) in results.into_inner().unwrap_or_default() {
            if resumed {
                summary.resumed += 1;
            } else {
                summary.created += 1;
            }
            infos.insert(k, info);
        }
        if let Some(e) = failure.into_inner().ok().flatten() {
            tracing::error!(
                experiment = name,
                published = summary.created + summary.resumed,
                left = todo.len() as u64 - summary.created - summary.resumed,
                "stopping: the rest is left for the next attempt"
            );
            return Err(e);
        }
        Ok((summary, infos))
    }

    /// The runs of experiment `id` already tagged with the date, by key (a finished run
    /// preferred when an earlier attempt left two).
    fn existing_runs(&self, id: &str) -> Result<HashMap<String, crate::client::Run>, MlflowError> {
        let filter = format!("tags.`{DATE_TAG}` = '{}'", self.dt);
        let mut existing: HashMap<String, crate::client::Run> = HashMap::new();
        for run in self.client.search_runs(&[id], &filter)? {
            let Some(k) = run.tag(KEY_TAG).map(str::to_owned) else { continue };
            let finished = |r: &crate::client::Run| r.info.status.as_deref() == Some("FINISHED");
            match existing.get(&k) {
                Some(old) if finished(old) || !finished(&run) => {
                    tracing::warn!(key = %k, run = %run.info.run_id, "a second run carries this key; keeping the first");
                }
                _ => {
                    existing.insert(k, run);
                }
            }
        }
        Ok(existing)
    }

    /// Create (exactly once) or resume, log, upload, finish.
    pub(super) fn publish_one(&self, experiment_id: &str, spec: &RunSpec, previous: Option<&RunInfo>) -> Result<RunInfo, MlflowError> {
        let info = if let Some(info) = previous {
            info.clone()
        } else {
            // The key tags go with the create, so an interrupted run is found next time.
            let key_tags: Vec<Tag> = spec
                .batch
                .tags
                .iter()
                .filter(|t| t.key == KEY_TAG || t.key == DATE_TAG || t.key == TABLE_TAG)
                .cloned()
                .collect();
            self.create_exactly_once(experiment_id, spec, &key_tags)?
        };
        self.client.log_batch(&info.run_id, &spec.batch)?;
        self.client.log_inputs(&info.run_id, &spec.inputs)?;
        if let Some((path, bytes)) = &spec.artifact {
            // Through the server's proxy when it serves artifacts (`mlflow-artifacts:`),
            // else straight to the object store the run's artifact URI names.
            match info.artifact_uri.as_deref() {
                Some(uri) if !uri.is_empty() && !uri.starts_with("mlflow-artifacts:") => self.direct.upload(uri, path, bytes)?,
                _ => self.client.upload_artifact(&info, path, bytes)?,
            }
        }
        self.client.update_run(&info.run_id, "FINISHED", Some(now_ms()))?;
        Ok(info)
    }

    pub(super) fn find_run(&self, experiment_id: &str, stable: &str) -> Result<Option<RunInfo>, MlflowError> {
        let filter = format!("tags.`{KEY_TAG}` = '{stable}'");
        Ok(self
            .client
            .search_runs(&[experiment_id], &filter)?
            .into_iter()
            .next()
            .map(|r| r.info))
    }

    pub(super) fn create_exactly_once(&self, experiment_id: &str, spec: &RunSpec, tags: &[Tag]) -> Result<RunInfo, MlflowError> {
        let attempts = self.client.max_attempts();
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                self.client.backoff(attempt - 1);
                // The failed attempt may have been committed before its answer was lost.
                if let Some(info) = self.find_run(experiment_id, &spec.key)? {
                    return Ok(info);
                }
            }
            match self.client.create_run(experiment_id, &spec.name, now_ms(), tags, Retry::Once) {
                Ok(info) => return Ok(info),
                Err(e) if e.is_transient() => last = e.to_string(),
                Err(e) => return Err(e),
            }
        }
        Err(MlflowError::Unavailable {
            endpoint: "api/2.0/mlflow/runs/create".into(),
            base: self.client.base().to_owned(),
            attempts,
            last,
        })
    }
}

/// `todo` reordered so that the first run naming each dataset comes first, and how many
/// such runs there are (published one at a time before the others).
fn first_users_of_each_dataset_first(todo: Vec<(RunSpec, Option<RunInfo>)>) -> (Vec<(RunSpec, Option<RunInfo>)>, usize) {
    let mut seen = std::collections::HashSet::new();
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for item in todo {
        let mut new = false;
        for i in item.0.inputs.iter() {
            new |= seen.insert((i.dataset.name.clone(), i.dataset.digest.clone()));
        }
        if new {
            first.push(item);
        } else {
            rest.push(item);
        }
    }
    let serial = first.len();
    (first.into_iter().chain(rest).collect(), serial)
}
