//! What every job of the template-evolution workspace shares.
//!
//! The jobs are small standalone binaries that exchange Parquet partitions. For the lake
//! to stay trustworthy they must all agree on the same handful of conventions: where a
//! table's partition lives, how a file becomes visible (temp file, rename, `_SUCCESS`
//! last), how a row that cannot be processed is kept (quarantine with a reason), which
//! exit code means what, and how a job reports what it did (one JSON line on stdout).
//! This crate owns those conventions so that no job re-invents them.

pub mod cli;
pub mod columns;
pub mod date;
pub mod env;
pub mod error;
pub mod exit;
pub mod lake;
pub mod logging;
pub mod ndjson;
pub mod progress;
pub mod quarantine;
pub mod routing;
pub mod schema;
pub mod shard;
pub mod spill;
pub mod summary;
pub mod temp;
pub mod yaml;

pub use date::PartitionDate;
pub use error::CoreError;
pub use exit::ExitStatus;
pub use shard::Shard;
