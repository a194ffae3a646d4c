"""Recomputes the report's exploratory breakdowns with DuckDB, independently of the Rust
(polars) code: the experiment's text files in `diff_scores` (generated START..LAST),
of generations `generation_scores` keeps (line counts possible, finite diff_score,
non-null keys), of projects not excluded by routing, grouped by a dimension and variant.

    check_breakdown.py ROOT DATE EXPERIMENT_ID START END EXCLUDED_JSON

EXCLUDED_JSON lists the projects the routing check excludes (the test computes them from
the routing spec). Prints one JSON object: {"language": rows, "path": rows}, each row
[value, variant, projects, generations, files, lines_generated, lines_removed], sorted.
"""

import json
import sys

import duckdb

root, date, experiment, start, end, excluded_path = sys.argv[1:7]
excluded = json.load(open(excluded_path))
last = min(date, end)
con = duckdb.connect()
con.execute("create table excluded (project_id varchar)")
con.executemany("insert into excluded values (?)", [[p] for p in excluded])
scores = f"read_parquet('{root}/generation_scores/dt=*/part-*.parquet', hive_partitioning = true)"
files = f"read_parquet('{root}/diff_scores/dt=*/part-*.parquet', hive_partitioning = true)"
out = {}
for dimension in ["language", "path"]:
    rows = con.execute(
        f"""
        with kept as (
            select event_id from {scores}
            where dt <= cast(? as date) and experiment_id = ?
              and project_id is not null and template_id is not null and template_version is not null
              and lines_removed between 0 and lines_generated
              and (diff_score is null or isfinite(diff_score))
        )
        select coalesce({dimension}, '(none)'), variant,
               count(distinct project_id), count(distinct event_id), count(*),
               sum(lines_generated), sum(lines_removed)
        from {files}
        where dt <= cast(? as date) and experiment_id = ?
          and lines_generated is not null and lines_removed is not null
          and cast(generated_at at time zone 'UTC' as date) between cast(? as date) and cast(? as date)
          and event_id in (select event_id from kept)
          and project_id not in (select project_id from excluded)
        group by all order by all
        """,
        [date, experiment, date, experiment, start, last],
    ).fetchall()
    out[dimension] = [list(r) for r in rows]
print(json.dumps(out))
