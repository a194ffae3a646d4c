//! The Parquet artifact of the aggregated mode: one template version's rows of a day.
//!
//! Aggregated runs keep the per-generation detail reachable from MLflow without a run per
//! generation: the rows are re-written, unchanged, as a zstd Parquet file and uploaded
//! through the tracking server's artifact proxy, or straight to the object store (`crate::store`).

use std::path::Path;

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use hive_core::CoreError;

use crate::error::MlflowError;
use crate::tables::{Row, Table};

/// The rows of `table` for which `keep` holds, as Parquet bytes with the table's schema.
pub fn subset_parquet(table: &Table, dir: &Path, keep: &dyn Fn(&Row) -> bool) -> Result<Vec<u8>, MlflowError> {
    let Some(first) = table.batches.first() else {
        return Ok(Vec::new());
    };
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .build();
    let parquet_err = |source| CoreError::Parquet {
        path: dir.to_owned(),
        source,
    };
    let mut writer = ArrowWriter::try_new(Vec::new(), first.schema(), Some(properties)).map_err(parquet_err)?;
    let mut offset = 0;
    for batch in &table.batches {
        let rows = &table.rows[offset..offset + batch.num_rows()];
        offset += batch.num_rows();
        let mask = BooleanArray::from(rows.iter().map(keep).collect::<Vec<bool>>());
        let subset = filter_record_batch(batch, &mask).map_err(|source| CoreError::Arrow {
            path: dir.to_owned(),
            source,
        })?;
        if subset.num_rows() > 0 {
            writer.write(&subset).map_err(parquet_err)?;
        }
    }
    Ok(writer.into_inner().map_err(parquet_err)?)
}
