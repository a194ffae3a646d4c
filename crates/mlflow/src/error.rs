//! Typed errors of the MLflow client and of the sync.
//!
//! Messages name the endpoint and the offending value in backticks so that an Airflow log
//! says which call failed; they never contain credentials: the tracking URI is shown without
//! its user-info, and no header is ever formatted.

use std::path::PathBuf;

/// An error talking to MLflow or preparing what to send.
#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    #[error("invalid tracking URI `{uri}`: {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("could not build the HTTP client: {reason}")]
    Client { reason: String },
    #[error("`{endpoint}` on {base}: the server is unreachable or failing after {attempts} attempts (last: {last})")]
    Unavailable {
        endpoint: String,
        base: String,
        attempts: u32,
        last: String,
    },
    /// One attempt failed in a way a retry may fix (connection error, timeout, 5xx, 429).
    /// Only returned by single-attempt calls, whose caller decides how to retry.
    #[error("`{endpoint}` on {base}: transient failure: {reason}")]
    Transient { endpoint: String, base: String, reason: String },
    #[error(
        "`{endpoint}` on {base}: the server refused the credentials (HTTP {status}); check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
    )]
    Unauthorized { endpoint: String, base: String, status: u16 },
    #[error("`{endpoint}` on {base} answered HTTP {status} `{code}`: {message}")]
    Api {
        endpoint: String,
        base: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("`{endpoint}`: unexpected response: {reason}")]
    BadResponse { endpoint: String, reason: String },
    #[error("metric `{key}` has the non-finite value {value}: MLflow would store it silently")]
    NonFiniteMetric { key: String, value: f64 },
    #[error("{kind} key `{key}` is invalid: {reason}")]
    InvalidKey { kind: &'static str, key: String, reason: String },
    #[error("run `{run_id}` has artifact URI `{uri}`, which is not served by the tracking server's artifact proxy (`mlflow-artifacts:`)")]
    ArtifactStore { run_id: String, uri: String },
    #[error("uploading artifact to `{uri}` failed: {reason}")]
    ArtifactUpload { uri: String, reason: String },
    #[error(transparent)]
    Lake(#[from] hive_core::CoreError),
    #[error("`{path}`: {reason}")]
    BadInput { path: PathBuf, reason: String },
    #[error(
        "registered model `{model}` has no version of template version `{template_version}`: only promoted versions can be rolled back to"
    )]
    NotRegistered { model: String, template_version: String },
}

impl MlflowError {
    /// Whether a retry of the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

impl hive_core::exit::Classify for MlflowError {
    fn kind(&self) -> hive_core::exit::ErrorKind {
        use hive_core::exit::ErrorKind;
        match self {
            Self::InvalidUri { .. } | Self::BadInput { .. } | Self::NotRegistered { .. } => ErrorKind::BadInput,
            Self::Lake(e) => e.kind(),
            Self::Client { .. }
            | Self::Unavailable { .. }
            | Self::Transient { .. }
            | Self::Unauthorized { .. }
            | Self::Api { .. }
            | Self::BadResponse { .. }
            | Self::NonFiniteMetric { .. }
            | Self::InvalidKey { .. }
            | Self::ArtifactStore { .. }
            | Self::ArtifactUpload { .. } => ErrorKind::Runtime,
        }
    }
}
