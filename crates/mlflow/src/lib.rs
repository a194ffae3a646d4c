//! hive-mlflow: a small MLflow REST client and the mlflow-sync logic built on it.
//!
//! The conductor platform's MLflow server is where people look at template evolution:
//! runs per generation (or per template version and day), A/B results, promotions as
//! registered model versions behind a `champion` alias, gate results per build and
//! fine-tune dataset manifests. This crate owns talking to that server (client, batch
//! limits, retries) and mirroring a date's lake tables into it idempotently (sync).
//! docs/mlflow-sync.md describes the mapping.

pub mod artifact;
pub mod batch;
pub mod client;
pub mod error;
pub mod lineage;
pub mod store;
pub mod sync;
pub mod tables;

pub use client::{Auth, Client, Config, Retry};
pub use error::MlflowError;
pub use sync::{Mode, Source, Sync, SyncOptions, SyncSummary};
