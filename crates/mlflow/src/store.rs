//! Direct artifact uploads, for tracking servers that do not proxy artifacts.
//!
//! `mlflow server` started with `--default-artifact-root s3://...` (or `gs://`, `wasbs://`,
//! a path) and `--no-serve-artifacts`, as many deployments are, gives runs artifact URIs
//! in the object store itself: clients write there with their own credentials, and the
//! server's `mlflow-artifacts` proxy is off. This module writes an artifact to the place
//! such a URI names, with `object_store` (S3, GCS, Azure, local files).
//!
//! Credentials and endpoints come from the environment the official clients read:
//! `AWS_*` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT`, ...), MLflow's `MLFLOW_S3_ENDPOINT_URL` (an
//! S3-compatible server; `http://` allowed then), `GOOGLE_*` and `AZURE_*`. A put of the
//! same bytes to the same key is idempotent, so a resumed run uploads again harmlessly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use url::Url;

use crate::client::redact;
use crate::error::MlflowError;

/// MLflow's variable for an S3-compatible endpoint (MinIO, moto, Ceph).
pub const MLFLOW_S3_ENDPOINT_URL: &str = "MLFLOW_S3_ENDPOINT_URL";

/// Object stores by bucket, built on first use, and the runtime their clients run on.
#[derive(Default)]
pub struct DirectStores {
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl std::fmt::Debug for DirectStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectStores").finish_non_exhaustive()
    }
}

/// The options `object_store` builders take, from the environment: every `AWS_*`,
/// `GOOGLE_*` and `AZURE_*` variable (lower-cased, as their `from_env` does), plus
/// `MLFLOW_S3_ENDPOINT_URL` as the S3 endpoint.
fn env_options(scheme: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if matches!(scheme, "s3" | "s3a")
        && let Ok(endpoint) = std::env::var(MLFLOW_S3_ENDPOINT_URL)
        && !endpoint.is_empty()
    {
        if endpoint.starts_with("http://") {
            options.push(("aws_allow_http".into(), "true".into()));
        }
        options.push(("aws_endpoint".into(), endpoint));
    }
    options
}

impl DirectStores {
    fn runtime(&self) -> Result<&tokio::runtime::Runtime, MlflowError> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|reason| MlflowError::Client { reason: reason.clone() })
    }

    /// The store holding `uri` and the object path of `uri` in it.
    fn resolve(&self, uri: &str) -> Result<(Arc<dyn ObjectStore>, StorePath), MlflowError> {
        let failed = |reason: String| MlflowError::ArtifactUpload { uri: redact(uri), reason };
        let url = match Url::parse(uri) {
            Ok(u) => u,
            // A plain path (`--default-artifact-root /mnt/artifacts`).
            Err(_) if uri.starts_with('/') => Url::from_file_path(uri).map_err(|()| failed("not an absolute path".into()))?,
            Err(e) => return Err(failed(e.to_string())),
        };
        let (_, path) = object_store::ObjectStoreScheme::parse(&url).map_err(|e| failed(e.to_string()))?;
        let bucket = url[..url::Position::BeforePath].to_owned();
        let mut stores = self.stores.lock().map_err(|_| failed("store cache poisoned".into()))?;
        if let Some(store) = stores.get(&bucket) {
            return Ok((Arc::clone(store), path));
        }
        let (store, path) = object_store::parse_url_opts(&url, env_options(url.scheme())).map_err(|e| failed(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = Arc::from(store);
        stores.insert(bucket, Arc::clone(&store));
        Ok((store, path))
    }

    /// Writes `bytes` as `<artifact_uri>/<path>`.
    pub fn upload(&self, artifact_uri: &str, path: &str, bytes: &[u8]) -> Result<(), MlflowError> {
        let (store, root) = self.resolve(artifact_uri.trim_end_matches('/'))?;
        let mut location = root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            location = location.child(part);
        }
        let payload = object_store::PutPayload::from(bytes.to_vec());
        self.runtime()?
            .block_on(store.put(&location, payload))
            .map(drop)
            .map_err(|e| MlflowError::ArtifactUpload {
                uri: format!("{}/{path}", redact(artifact_uri)),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_artifact_root_gets_the_bytes_under_the_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        let uri = format!("file://{}/1/abc/artifacts", dir.path().display());
        let stores = DirectStores::default();
        stores.upload(&uri, "evidence.json", b"{\"a\":1}").expect("upload");
        stores.upload(&uri, "evidence.json", b"{\"a\":1}").expect("again: idempotent");
        let written = std::fs::read(dir.path().join("1/abc/artifacts/evidence.json")).expect("written");
        assert_eq!(written, b"{\"a\":1}");
        // A plain path, as `--default-artifact-root /mnt/artifacts` gives.
        let plain = format!("{}/2/def/artifacts", dir.path().display());
        stores.upload(&plain, "dir/manifest.json", b"x").expect("upload");
        assert_eq!(
            std::fs::read(dir.path().join("2/def/artifacts/dir/manifest.json")).expect("written"),
            b"x"
        );
    }

    #[test]
    fn an_unknown_scheme_is_a_clear_error() {
        let err = DirectStores::default()
            .upload("hdfs://namenode/mlflow/1/abc/artifacts", "a.json", b"x")
            .expect_err("hdfs is not supported");
        assert!(err.to_string().contains("hdfs://namenode/mlflow/1/abc/artifacts"), "{err}");
    }
}
