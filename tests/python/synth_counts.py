"""Counts what synth-events wrote, reading the raw exports independently of the Rust
code (pyarrow for Parquet, the json module for NDJSON), and prints one JSON line for
the Rust test to compare with planted.json."""

import base64
import glob
import json
import os
import sys
from collections import Counter

import pyarrow.parquet as pq

root, fmt = sys.argv[1], sys.argv[2]


def rows(table):
    for path in sorted(glob.glob(f"{root}/raw/{table}/dt=*/part-*.{fmt}")):
        day = os.path.basename(os.path.dirname(path))[3:]
        if fmt == "parquet":
            for row in pq.read_table(path).to_pylist():
                yield day, row
        else:
            for line in open(path, "rb"):
                try:
                    row = json.loads(line)
                except ValueError:
                    yield day, None
                    continue
                for f in row.get("files") or []:
                    if "content_base64" in f:
                        f["content"] = base64.b64decode(f["content_base64"])
                    elif isinstance(f.get("content"), str):
                        f["content"] = f["content"].encode()
                yield day, row


ids = Counter()
unreadable = 0
binary = 0
after_day = 0
mismatches = 0
versions = {}
generation_rows = 0
for day, row in rows("generations"):
    generation_rows += 1
    if row is None:
        unreadable += 1
        continue
    ids[row["event_id"]] += 1
    generated_day = str(row["generated_at"])[:10]
    if day > generated_day:
        after_day += 1
    for f in row["files"]:
        content = f.get("content") or b""
        if isinstance(content, str):
            content = content.encode()
        if b"\0" in content[:8000]:
            binary += 1
    if row.get("variant"):
        key = (row["experiment_id"], row["variant"])
        versions.setdefault(key, set()).add(row["template_version"])
mismatches = sum(1 for v in versions.values() if len(v) != 1)

snapshot_rows = 0
projects = set()
for _, row in rows("snapshots"):
    snapshot_rows += 1
    projects.add(row["project_id"])

print(
    json.dumps(
        {
            "generation_rows": generation_rows,
            "snapshot_rows": snapshot_rows,
            "distinct_event_ids": len(ids),
            "repeated_event_ids": sum(n - 1 for n in ids.values()),
            "unreadable_lines": unreadable,
            "binary_files": binary,
            "rows_after_generation_day": after_day,
            "projects_with_snapshots": len(projects),
            "variant_version_mismatches": mismatches,
        }
    )
)
