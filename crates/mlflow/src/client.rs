//! A small blocking client for MLflow's REST API (2.0 paths, as served by MLflow 3.17).
//!
//! It owns what every call needs: the base URL and credentials (MLflow's own variables),
//! retries with exponential backoff and full jitter on connection errors, timeouts, 429 and
//! 5xx, and clear typed errors on 4xx without a retry. Calls that create something are not
//! idempotent on the server, so they are offered as single attempts ([`Retry::Once`]) and
//! the caller looks up its stable key before trying again (see `crate::sync`).
//!
//! Server behaviours this module respects: ids and model versions are JSON strings;
//! `runs/search` with no match answers `{}`; a missing alias answers 400.

use std::time::Duration;

use reqwest::blocking::Client as Http;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::batch::{Batch, Tag};
use crate::error::MlflowError;

/// How to authenticate. Secrets are kept out of `Debug`.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The tracking URI as given (may carry user-info, which becomes basic auth).
    pub tracking_uri: String,
    pub auth: Auth,
    /// Attempts per idempotent request (>= 1).
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, capped at [`MAX_DELAY`], fully jittered.
    pub retry_base: Duration,
    pub timeout: Duration,
}

/// Longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

impl Config {
    /// Settings from MLflow's variables: `MLFLOW_TRACKING_TOKEN`, else
    /// `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD`.
    pub fn auth_from_env() -> Auth {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var(hive_core::env::MLFLOW_TRACKING_TOKEN) {
            return Auth::Bearer(token);
        }
        match (
            var(hive_core::env::MLFLOW_TRACKING_USERNAME),
            var(hive_core::env::MLFLOW_TRACKING_PASSWORD),
        ) {
            (Some(username), password) => Auth::Basic {
                username,
                password: password.unwrap_or_default(),
            },
            _ => Auth::None,
        }
    }
}

/// Whether a request may be repeated by the client itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Safe to repeat (reads, updates, log-batch with the same values, set-alias, PUT).
    Idempotent,
    /// One attempt; a transient failure is returned as [`MlflowError::Transient`].
    Once,
}

/// An experiment.
#[derive(Debug, Clone, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    #[serde(default)]
    pub artifact_location: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
}

/// The parts of a run the sync needs.
#[derive(Debug, Clone, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub artifact_uri: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
}

/// A run with its tags.
#[derive(Debug, Clone)]
pub struct Run {
    pub info: RunInfo,
    pub tags: Vec<Tag>,
}

impl Run {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

/// A registered model version.
#[derive(Debug, Clone)]
pub struct ModelVersion {
    pub name: String,
    /// A string on the wire ("1"), kept as such.
    pub version: String,
    pub tags: Vec<Tag>,
}

impl ModelVersion {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

/// A dataset as MLflow stores it (`Dataset` of the REST API): the server keeps one per
/// experiment, name and digest, and links it to every run that logs it as an input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dataset {
    pub name: String,
    /// At most [`MAX_DATASET_DIGEST_LEN`] characters (the server's column).
    pub digest: String,
    /// How `source` is to be read: `local` for a path (MLflow's `LocalArtifactDatasetSource`).
    pub source_type: String,
    /// JSON, e.g. `{"uri": "/lake/generation_scores/dt=2026-10-15"}`.
    pub source: String,
    /// JSON `{"mlflow_colspec": [...]}`, as MLflow's own datasets write it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// JSON, e.g. `{"num_rows": 61}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Longest digest MLflow stores (`datasets.digest` is `VARCHAR(36)`; PostgreSQL refuses
/// longer, SQLite would keep it).
pub const MAX_DATASET_DIGEST_LEN: usize = 36;

/// A dataset logged as a run's input, with the input's tags (`mlflow.data.context`, ...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetInput {
    pub tags: Vec<Tag>,
    pub dataset: Dataset,
}

/// The client. Cheap to share between threads (`&Client`).
#[derive(Debug)]
pub struct Client {
    http: Http,
    base: Url,
    /// The base URL without user-info, for messages.
    shown: String,
    auth: Auth,
    max_attempts: u32,
    retry_base: Duration,
}

fn tags_from(value: Option<&Value>) -> Vec<Tag> {
    value
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| {
                    Some(Tag {
                        key: t.get("key")?.as_str()?.to_owned(),
                        value: t.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A string id that MLflow may send as a string (documented) or a number (defensive).
fn id_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Client {
    /// Builds a client. User-info in the URI becomes basic auth (unless `auth` is set) and
    /// is removed from the URL shown in messages.
    pub fn new(config: &Config) -> Result<Self, MlflowError> {
        let mut base = Url::parse(config.tracking_uri.trim()).map_err(|e| MlflowError::InvalidUri {
            uri: redact(&config.tracking_uri),
            reason: e.to_string(),
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(MlflowError::InvalidUri {
                uri: redact(&config.tracking_uri),
                reason: "only http:// and https:// tracking servers are supported".into(),
            });
        }
        let mut auth = config.auth.clone();
        if !base.username().is_empty() {
            if matches!(auth, Auth::None) {
                auth = Auth::Basic {
                    username: base.username().to_owned(),
                    password: base.password().unwrap_or_default().to_owned(),
                };
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        // Shown without credentials: userinfo is gone already; a token passed as a query
        // parameter (`?access_token=...`) is replaced too.
        let shown = hive_secrets::redact_url(base.as_str()).trim_end_matches('/').to_owned();
        // Endpoints are joined onto the path, which drops a query anyway: keep none, so
        // no token sits in the client's `Debug` either.
        base.set_query(None);
        base.set_fragment(None);
        let http = Http::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("hive-mlflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MlflowError::Client {
                reason: e.without_url().to_string(),
            })?;
        Ok(Self {
            http,
            base,
            shown,
            auth,
            max_attempts: config.max_attempts.max(1),
            retry_base: config.retry_base,
        })
    }

    /// The server's base URL, without credentials.
    pub fn base(&self) -> &str {
        &self.shown
    }

    /// Attempts per idempotent request.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Sleeps before attempt `attempt + 1`: full jitter over `base * 2^attempt`, capped.
    pub fn backoff(&self, attempt: u32) {
        let ceiling = self.retry_base.saturating_mul(1u32 << attempt.min(16)).min(MAX_DELAY).as_millis() as u64;
        if ceiling == 0 {
            return;
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let thread = format!("{:?}", std::thread::current().id());
        let noise = xxhash_rust::xxh3::xxh3_64(format!("{seed}{thread}{attempt}").as_bytes());
        std::thread::sleep(Duration::from_millis(noise % (ceiling + 1)));
    }

    fn unavailable(&self, endpoint: &str, attempts: u32, last: String) -> MlflowError {
        MlflowError::Unavailable {
            endpoint: endpoint.to_owned(),
            base: self.shown.clone(),
            attempts,
            last,
        }
    }

    /// One HTTP exchange. `Ok(Err(reason))` is a transient failure.
    fn attempt(
        &self,
        method: &Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Result<Value, String>, MlflowError> {
        let url = self.base.join(endpoint).map_err(|e| MlflowError::InvalidUri {
            uri: format!("{}/{endpoint}", self.shown),
            reason: e.to_string(),
        })?;
        let mut request = self.http.request(method.clone(), url).query(query);
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        };
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Bytes(bytes) => request.header("Content-Type", "application/octet-stream").body(bytes.to_vec()),
        };
        let response = match request.send() {
            Ok(r) => r,
            // Connection refused, reset, timeout: the server may come back.
            Err(e) => return Ok(Err(e.without_url().to_string())),
        };
        let status = response.status();
        let text = match response.text() {
            Ok(t) => t,
            Err(e) => return Ok(Err(format!("reading the response: {}", e.without_url()))),
        };
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(Err(format!("HTTP {} {}", status.as_u16(), snippet(&text))));
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(MlflowError::Unauthorized {
                endpoint: endpoint.to_owned(),
                base: self.shown.clone(),
                status: status.as_u16(),
            });
        }
        let value: Value = if text.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if status.is_success() => json!({}),
                Err(_) => Value::Null,
            }
        };
        if !status.is_success() {
            return Err(MlflowError::Api {
                endpoint: endpoint.to_owned(),
                base: self.shown.clone(),
                status: status.as_u16(),
                code: value.get("error_code").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned(),
                message: value.get("message").and_then(Value::as_str).map_or_else(|| snippet(&text), snippet),
            });
        }
        Ok(Ok(value))
    }

    /// A request with the retry policy `retry`.
    pub fn call(
        &self,
        method: &Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Body<'_>,
        retry: Retry,
    ) -> Result<Value, MlflowError> {
        let attempts = if retry == Retry::Once { 1 } else { self.max_attempts };
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                self.backoff(attempt - 1);
            }
            match self.attempt(method, endpoint, query, body)? {
                Ok(value) => return Ok(value),
                Err(reason) => {
                    tracing::debug!(endpoint, attempt = attempt + 1, %reason, "transient failure");
                    if retry == Retry::Once {
                        return Err(MlflowError::Transient {
                            endpoint: endpoint.to_owned(),
                            base: self.shown.clone(),
                            reason,
                        });
                    }
                    if attempt + 1 < attempts {
                        tracing::warn!(endpoint, attempt = attempt + 1, of = attempts, %reason, "retrying");
                    }
                    last = reason;
                }
            }
        }
        Err(self.unavailable(endpoint, attempts, last))
    }

    fn post(&self, endpoint: &str, body: &Value, retry: Retry) -> Result<Value, MlflowError> {
        self.call(&Method::POST, endpoint, &[], Body::Json(body), retry)
    }

    fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        self.call(&Method::GET, endpoint, query, Body::None, Retry::Idempotent)
    }

    /// `experiments/get-by-name`; `None` when it does not exist.
    pub fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, MlflowError> {
        const EP: &str = "api/2.0/mlflow/experiments/get-by-name";
        match self.get(EP, &[("experiment_name", name)]) {
            Ok(v) => parse(EP, v.get("experiment")).map(Some),
            Err(MlflowError::Api { code, .. }) if code == "RESOURCE_DOES_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `experiments/create`; returns the id (a string).
    pub fn create_experiment(&self, name: &str, tags: &[Tag], retry: Retry) -> Result<String, MlflowError> {
        const EP: &str = "api/2.0/mlflow/experiments/create";
        let v = self.post(EP, &json!({"name": name, "tags": tags}), retry)?;
        id_string(v.get("experiment_id")).ok_or_else(|| bad(EP, "no `experiment_id`"))
    }

    /// The experiment `name`, created if missing. Safe under concurrent creators.
    pub fn ensure_experiment(&self, name: &str, tags: &[Tag]) -> Result<Experiment, MlflowError> {
        if let Some(e) = self.experiment_by_name(name)? {
            return Ok(e);
        }
        match self.create_experiment(name, tags, Retry::Idempotent) {
            Ok(_) | Err(MlflowError::Api { .. }) => {}
            Err(e) => return Err(e),
        }
        self.experiment_by_name(name)?.ok_or_else(|| {
            bad(
                "api/2.0/mlflow/experiments/get-by-name",
                &format!("experiment `{name}` missing after create"),
            )
        })
    }

    /// `runs/create` with an explicit `start_time` (without one MLflow stores 0).
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        tags: &[Tag],
        retry: Retry,
    ) -> Result<RunInfo, MlflowError> {
        const EP: &str = "api/2.0/mlflow/runs/create";
        let v = self.post(
            EP,
            &json!({"experiment_id": experiment_id, "run_name": run_name, "start_time": start_time, "tags": tags}),
            retry,
        )?;
        parse(EP, v.get("run").and_then(|r| r.get("info")))
    }

    /// `runs/update` to a terminal or running status.
    pub fn update_run(&self, run_id: &str, status: &str, end_time: Option<i64>) -> Result<(), MlflowError> {
        let mut body = json!({"run_id": run_id, "status": status});
        if let Some(end) = end_time {
            body["end_time"] = json!(end);
        }
        self.post("api/2.0/mlflow/runs/update", &body, Retry::Idempotent).map(drop)
    }

    /// `runs/search` over `experiment_ids` with `filter`, following every page.
    pub fn search_runs(&self, experiment_ids: &[&str], filter: &str) -> Result<Vec<Run>, MlflowError> {
        const EP: &str = "api/2.0/mlflow/runs/search";
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"experiment_ids": experiment_ids, "filter": filter, "max_results": 1000, "run_view_type": "ACTIVE_ONLY"});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self.post(EP, &body, Retry::Idempotent)?;
            // No match: `{}` without a `runs` key.
            for run in v.get("runs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
                runs.push(Run {
                    info: parse(EP, run.get("info"))?,
                    tags: tags_from(run.get("data").and_then(|d| d.get("tags"))),
                });
            }
            token = next_page_token(&v);
            if token.is_none() {
                return Ok(runs);
            }
        }
    }

    /// `runs/log-batch`, split into chunks within the server's limits. Re-sending the same
    /// values is harmless (identical metric rows are ignored, params are unchanged, tags
    /// overwritten), so each chunk is retried.
    pub fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<(), MlflowError> {
        batch.validate()?;
        for chunk in batch.chunks() {
            self.post(
                "api/2.0/mlflow/runs/log-batch",
                &json!({"run_id": run_id, "metrics": chunk.metrics, "params": chunk.params, "tags": chunk.tags}),
                Retry::Idempotent,
            )?;
        }
        Ok(())
    }

    /// `runs/log-inputs`: links `inputs` to the run. Idempotent on the server (a dataset is
    /// found again by experiment, name and digest, an input by dataset and run), so retried.
    pub fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<(), MlflowError> {
        const EP: &str = "api/2.0/mlflow/runs/log-inputs";
        if inputs.is_empty() {
            return Ok(());
        }
        let body = json!({"run_id": run_id, "datasets": inputs});
        let mut attempt = 0;
        loop {
            match self.post(EP, &body, Retry::Idempotent) {
                // Two runs logging a new dataset at once race to insert it: the loser gets
                // the unique constraint as a 400 (SQLite and PostgreSQL word it
                // differently). Once the winner committed, the dataset is found again.
                Err(MlflowError::Api { status: 400, message, .. })
                    if attempt + 1 < self.max_attempts && (message.contains("UNIQUE constraint") || message.contains("duplicate key")) =>
                {
                    tracing::debug!(run_id, "dataset inserted concurrently; logging the input again");
                    self.backoff(attempt);
                    attempt += 1;
                }
                other => return other.map(drop),
            }
        }
    }

    /// Uploads `bytes` as artifact `path` of `run` through the tracking server's artifact
    /// proxy (`mlflow-artifacts:` URIs). A PUT of the same bytes is idempotent.
    pub fn upload_artifact(&self, run: &RunInfo, path: &str, bytes: &[u8]) -> Result<(), MlflowError> {
        let uri = run.artifact_uri.clone().unwrap_or_default();
        let Some(rest) = uri.strip_prefix("mlflow-artifacts:") else {
            return Err(MlflowError::ArtifactStore {
                run_id: run.run_id.clone(),
                uri: redact(&uri),
            });
        };
        // `mlflow-artifacts:/1/<run>/artifacts` or `mlflow-artifacts://host/1/<run>/artifacts`.
        let rest = rest.strip_prefix("//").map_or(rest, |r| r.find('/').map_or("", |i| &r[i..]));
        let endpoint = format!("api/2.0/mlflow-artifacts/artifacts/{}/{path}", rest.trim_matches('/'));
        self.call(&Method::PUT, &endpoint, &[], Body::Bytes(bytes), Retry::Idempotent)
            .map(drop)
    }

    /// `registered-models/create` unless it exists.
    pub fn ensure_registered_model(&self, name: &str, tags: &[Tag]) -> Result<(), MlflowError> {
        match self.get("api/2.0/mlflow/registered-models/get", &[("name", name)]) {
            Ok(_) => return Ok(()),
            Err(MlflowError::Api { code, .. }) if code == "RESOURCE_DOES_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
        match self.post(
            "api/2.0/mlflow/registered-models/create",
            &json!({"name": name, "tags": tags}),
            Retry::Idempotent,
        ) {
            Err(MlflowError::Api { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            other => other.map(drop),
        }
    }

    /// Every version of registered model `name`, with tags.
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>, MlflowError> {
        const EP: &str = "api/2.0/mlflow/model-versions/search";
        let filter = format!("name = '{}'", name.replace('\'', "\\'"));
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "200")];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let v = self.get(EP, &query)?;
            for mv in v
                .get("model_versions")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                out.push(model_version(EP, mv)?);
            }
            token = next_page_token(&v);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// `model-versions/create`; MLflow requires a `source`.
    pub fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        tags: &[Tag],
        description: &str,
        retry: Retry,
    ) -> Result<ModelVersion, MlflowError> {
        const EP: &str = "api/2.0/mlflow/model-versions/create";
        let mut body = json!({"name": name, "source": source, "tags": tags, "description": description});
        if let Some(run) = run_id {
            body["run_id"] = json!(run);
        }
        let v = self.post(EP, &body, retry)?;
        model_version(EP, v.get("model_version").unwrap_or(&Value::Null))
    }

    /// The version alias `alias` points at; `None` when unset (MLflow answers 400 then).
    pub fn alias(&self, name: &str, alias: &str) -> Result<Option<ModelVersion>, MlflowError> {
        const EP: &str = "api/2.0/mlflow/registered-models/alias";
        match self.get(EP, &[("name", name), ("alias", alias)]) {
            Ok(v) => model_version(EP, v.get("model_version").unwrap_or(&Value::Null)).map(Some),
            Err(MlflowError::Api { status, .. }) if status == 400 || status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Points `alias` of model `name` at `version` (moving it if set elsewhere).
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), MlflowError> {
        self.post(
            "api/2.0/mlflow/registered-models/alias",
            &json!({"name": name, "alias": alias, "version": version}),
            Retry::Idempotent,
        )
        .map(drop)
    }
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    None,
    Json(&'a Value),
    Bytes(&'a [u8]),
}

fn model_version(endpoint: &str, v: &Value) -> Result<ModelVersion, MlflowError> {
    Ok(ModelVersion {
        name: v
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(endpoint, "model version without `name`"))?
            .to_owned(),
        version: id_string(v.get("version")).ok_or_else(|| bad(endpoint, "model version without `version`"))?,
        tags: tags_from(v.get("tags")),
    })
}

fn parse<T: serde::de::DeserializeOwned>(endpoint: &str, value: Option<&Value>) -> Result<T, MlflowError> {
    let value = value.ok_or_else(|| bad(endpoint, "missing object"))?;
    T::deserialize(value).map_err(|e| bad(endpoint, &e.to_string()))
}

fn bad(endpoint: &str, reason: &str) -> MlflowError {
    MlflowError::BadResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A response body (or a server's message) fit for a log line: on one line, secrets and
/// personal data redacted by `hive-secrets` (a proxy that echoes the request would
/// otherwise put `Authorization: Bearer ...` in the task log), at most 300 characters.
fn snippet(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    hive_secrets::scrub_for_log(&one_line, 300)
}

/// `uri` without user-info or credential query parameters, for messages; an
/// unparsable URI is cut at its last `@` and scrubbed.
pub fn redact(uri: &str) -> String {
    if url::Url::parse(uri.trim()).is_ok() {
        return hive_secrets::redact_url(uri.trim());
    }
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            hive_secrets::scrub_for_log(&format!("{}://<redacted>@{}", &uri[..scheme], &uri[at + 1..]), 200)
        }
        _ => hive_secrets::scrub_for_log(uri, 200),
    }
}

/// The `next_page_token` of a paged MLflow response; None on the last page (absent or
/// empty).
fn next_page_token(response: &Value) -> Option<String> {
    response
        .get("next_page_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_becomes_basic_auth_and_leaves_the_shown_url() {
        let client = Client::new(&Config {
            tracking_uri: "http://alice:s3cret@127.0.0.1:5000/prefix".into(),
            auth: Auth::None,
            max_attempts: 1,
            retry_base: Duration::ZERO,
            timeout: Duration::from_secs(1),
        })
        .expect("valid");
        assert_eq!(client.base(), "http://127.0.0.1:5000/prefix");
        assert!(matches!(client.auth, Auth::Basic { ref username, ref password } if username == "alice" && password == "s3cret"));
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    #[test]
    fn query_credentials_never_reach_the_shown_url() {
        let client = Client::new(&Config {
            tracking_uri: "https://mlflow.internal/?access_token=tok_9f8e7d6c5b4a&team=ml".into(),
            auth: Auth::None,
            max_attempts: 1,
            retry_base: Duration::ZERO,
            timeout: Duration::from_secs(1),
        })
        .expect("valid");
        assert_eq!(client.base(), "https://mlflow.internal/?access_token=REDACTED&team=ml");
        assert!(!format!("{client:?}").contains("tok_9f8e7d6c5b4a"));
    }

    #[test]
    fn error_bodies_are_scrubbed_and_cut() {
        let echoed = format!(
            "<html>\n<pre>GET /api HTTP/1.1\nAuthorization: Bearer {}\nAuthorization: Basic YWxpY2U6czNjcmV0UGFzczE=\n</pre>{}</html>",
            "Zt8kQ2mX9vB4nR7wL1pY6cF3hJ5sD0aG",
            "padding ".repeat(200)
        );
        let s = snippet(&echoed);
        assert!(
            !s.contains("Zt8kQ2mX9vB4nR7wL1pY6cF3hJ5sD0aG") && !s.contains("YWxpY2U6czNjcmV0UGFzczE"),
            "{s}"
        );
        assert!(s.chars().count() < 360, "{s}");
    }

    #[test]
    fn unparsable_uris_are_reported_without_credentials() {
        let err = Client::new(&Config {
            tracking_uri: "ftp://bob:hunter2@example".into(),
            auth: Auth::None,
            max_attempts: 1,
            retry_base: Duration::ZERO,
            timeout: Duration::from_secs(1),
        })
        .expect_err("ftp is refused");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(hive_core::exit::Classify::kind(&err), hive_core::exit::ErrorKind::BadInput);
    }
}
