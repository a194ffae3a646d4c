"""Independent checks of a build-finetune dataset directory with pyarrow.

Usage: check_finetune.py DIR

Reads every Parquet file with pyarrow, checks the TRL layout (``messages``;
``prompt``/``chosen``/``rejected``, each list<struct<role: string, content: string>>),
checks that each Parquet holds exactly the records of its JSONL twin, and that the
manifest's sha256, byte and row counts match the files. Prints one JSON line of counts.
"""

import hashlib
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq

MESSAGES = pa.list_(pa.struct([pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), nullable=False)]))


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main(directory):
    d = pathlib.Path(directory)
    manifest = json.loads((d / "manifest.json").read_text())
    out = {"sft_rows": 0, "preference_rows": 0, "files_checked": 0}
    for name, entry in manifest["files"].items():
        data = (d / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["bytes"]:
            fail(f"{name}: sha256 or size differs from the manifest")
        out["files_checked"] += 1
    for split in ["train", "validation", "test"]:
        for kind, columns in [("sft", ["messages"]), ("preference", ["prompt", "chosen", "rejected"])]:
            table = pq.ParquetFile(d / f"{kind}-{split}.parquet").read()
            if table.column_names != columns:
                fail(f"{kind}-{split}.parquet: columns {table.column_names}")
            for c in columns:
                if not table.schema.field(c).type.equals(MESSAGES, check_metadata=False):
                    # Field names of list items differ between writers; compare the struct.
                    if table.schema.field(c).type.value_type != MESSAGES.value_type:
                        fail(f"{kind}-{split}.parquet: {c} has type {table.schema.field(c).type}")
            lines = [json.loads(line) for line in (d / f"{kind}-{split}.jsonl").read_text().splitlines()]
            rows = table.to_pylist()
            if len(rows) != len(lines) or len(rows) != manifest["files"][f"{kind}-{split}.parquet"]["rows"]:
                fail(f"{kind}-{split}: {len(rows)} parquet rows, {len(lines)} jsonl lines")
            for row, line in zip(rows, lines):
                if kind == "sft":
                    expected = {"messages": line["messages"]}
                else:
                    expected = {
                        "prompt": line["input"]["messages"],
                        "chosen": line["preferred_output"],
                        "rejected": line["non_preferred_output"],
                    }
                if row != expected:
                    fail(f"{kind}-{split}: a Parquet row differs from its JSONL line")
            out[f"{kind}_rows"] += len(rows)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
