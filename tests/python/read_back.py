"""Reads extract-edits outputs the way analysts do (pyarrow datasets, DuckDB) and prints
row counts as one JSON line, so the Rust tests can compare them with the job's summary."""

import json
import sys

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

root, date = sys.argv[1], sys.argv[2]
edits_dir = f"{root}/edits"
edits = ds.dataset(edits_dir, format="parquet", partitioning="hive").to_table(filter=ds.field("dt") == date)
quarantine = ds.dataset(f"{root}/quarantine/extract-edits", format="parquet", partitioning="hive").to_table(
    filter=ds.field("dt") == date
)
part = f"{edits_dir}/dt={date}/part-0-of-1.parquet"
meta = pq.read_metadata(part).metadata or {}
con = duckdb.connect()
glob = f"{edits_dir}/*/*.parquet"
edits_duck = con.execute(f"select count(*) from read_parquet('{glob}', hive_partitioning=true) where dt = '{date}'").fetchone()[0]
generations = con.execute(
    f"select count(distinct event_id) from read_parquet('{glob}', hive_partitioning=true) where dt = '{date}'"
).fetchone()[0]
# Timestamps must come back as UTC instants.
first = con.execute(f"select typeof(generated_at) from read_parquet('{part}') limit 1").fetchone()[0]
assert first.startswith("TIMESTAMP WITH TIME ZONE"), first
print(
    json.dumps(
        {
            "edits_rows_pyarrow": edits.num_rows,
            "edits_rows_duckdb": edits_duck,
            "quarantine_rows_pyarrow": quarantine.num_rows,
            "schema_version": meta.get(b"hive.schema_version", b"").decode(),
            "generations_duckdb": generations,
        }
    )
)
