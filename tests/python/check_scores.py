"""Independent checks of score-diffs outputs, read the way analysts read them (pyarrow
datasets and pandas), for the Rust integration tests.

    check_scores.py check ROOT DATE THRESHOLD  invariants of diff_scores / generation_scores;
                                               prints counts as one JSON line
    check_scores.py corrupt ROOT DATE          damages two edits rows in place; prints their
                                               event ids as JSON
    check_scores.py same-rows ROOT_A ROOT_B DATE
                                               both roots hold the same rows (any part split)

A failed check raises with a message naming the table, row and column.
"""

import json
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def table(root, name, date):
    data = ds.dataset(f"{root}/{name}", format="parquet", partitioning="hive")
    return data.to_table(filter=ds.field("dt") == date).to_pandas().drop(columns=["dt"])


def fail(message):
    raise SystemExit(f"check failed: {message}")


def check(root, date, threshold):
    edits = table(root, "edits", date)
    files = table(root, "diff_scores", date)
    gens = table(root, "generation_scores", date)
    if len(files) != len(edits):
        fail(f"diff_scores has {len(files)} rows, edits {len(edits)}")

    text = files[~files["is_binary"]]
    binary = files[files["is_binary"]]
    metrics = ["lines_generated", "lines_final", "lines_kept", "lines_added", "lines_removed", "rewrite_rate", "similarity", "diff_score", "char_retention"]
    if binary[metrics].notna().any().any():
        fail("a binary file has line metrics")
    for column in ["lines_generated", "lines_final", "lines_kept", "lines_added", "lines_removed", "similarity", "char_retention"]:
        if text[column].isna().any():
            fail(f"diff_scores.{column} is null for a text file (row {int(text[column].isna().idxmax())})")
    g, f, k = text["lines_generated"], text["lines_final"], text["lines_kept"]
    if ((g - k) != text["lines_removed"]).any():
        fail("R != G - K")
    if ((f - k) != text["lines_added"]).any():
        fail("A != F - K")
    deleted = text[text["change"] == "deleted"]
    if (deleted["lines_kept"] != 0).any() or (deleted["lines_removed"] != deleted["lines_generated"]).any():
        fail("a deleted file keeps lines")
    if (deleted["lines_final"] != 0).any():
        fail("a deleted file has final lines")
    unchanged = text[text["change"] == "unchanged"]
    if (unchanged["lines_removed"] != 0).any() or (unchanged["lines_added"] != 0).any() or (unchanged["char_retention"] != 1).any():
        fail("an unchanged file has changes")
    for column in ["rewrite_rate", "similarity", "diff_score", "char_retention"]:
        values = text[column].dropna()
        if ((values < 0) | (values > 1)).any():
            fail(f"diff_scores.{column} outside [0, 1]")
    with_lines = text[g > 0]
    if not np.allclose(with_lines["rewrite_rate"], with_lines["lines_removed"] / with_lines["lines_generated"], rtol=0, atol=1e-15):
        fail("rewrite_rate != R / G")
    expected_similarity = np.where(g + f == 0, 1.0, 2 * k / (g + f).where(g + f > 0, 1))
    if not np.allclose(text["similarity"], expected_similarity, rtol=0, atol=1e-15):
        fail("similarity != 2K / (G + F)")
    if not np.allclose(text["diff_score"], 1 - text["similarity"], rtol=0, atol=1e-15):
        fail("diff_score != 1 - similarity")

    # Generation rows: sums over their files, computed here with pandas.
    sums = (
        files.assign(
            is_binary=files["is_binary"].astype(int),
            is_deleted=(files["change"] == "deleted").astype(int),
            final=files["lines_final"],
        )
        .groupby("event_id")
        .agg(
            files=("path", "size"),
            binary_files=("is_binary", "sum"),
            deleted_files=("is_deleted", "sum"),
            lines_generated=("lines_generated", "sum"),
            lines_kept=("lines_kept", "sum"),
            lines_removed=("lines_removed", "sum"),
            lines_added=("lines_added", "sum"),
            final=("final", "sum"),
        )
    )
    if sorted(gens["event_id"]) != sorted(sums.index):
        fail("generation_scores and diff_scores name different generations")
    if gens["event_id"].duplicated().any():
        fail("a generation appears twice in generation_scores")
    joined = gens.set_index("event_id").join(sums, rsuffix="_files")
    for column in ["files", "binary_files", "deleted_files", "lines_generated", "lines_kept", "lines_removed", "lines_added"]:
        if (joined[column] != joined[f"{column}_files"]).any():
            bad = joined.index[joined[column] != joined[f"{column}_files"]][0]
            fail(f"generation_scores.{column} != sum over files for event {bad}")
    has_lines = joined["lines_generated"] > 0
    rate = joined["lines_removed"] / joined["lines_generated"].where(has_lines)
    if not np.allclose(joined["rewrite_rate"][has_lines], rate[has_lines], rtol=0, atol=1e-15):
        fail("generation rewrite_rate != sum R / sum G")
    if joined["rewrite_rate"][~has_lines].notna().any():
        fail("a generation without text lines has a rewrite rate")
    total = joined["lines_generated"] + joined["final"]
    score = 1 - 2 * joined["lines_kept"] / total.where(total > 0)
    if not np.allclose(joined["diff_score"][total > 0], score[total > 0], rtol=0, atol=1e-15):
        fail("generation diff_score != 1 - 2 sum K / (sum G + sum F)")
    expected_rewritten = (rate > threshold)[has_lines]
    if (joined["rewritten"][has_lines].astype(bool) != expected_rewritten).any():
        fail("rewritten != rewrite_rate > threshold")
    for column in ["rewrite_rate", "diff_score"]:
        values = joined[column].dropna()
        if ((values < 0) | (values > 1)).any():
            fail(f"generation_scores.{column} outside [0, 1]")
    print(
        json.dumps(
            {
                "diff_rows": int(len(files)),
                "generations": int(len(gens)),
                "deleted_files": int(len(deleted)),
                "binary_files": int(len(binary)),
                "modified_files": int((text["change"] == "modified").sum()),
                "rewritten": int(joined["rewritten"].fillna(False).astype(bool).sum()),
            }
        )
    )


def corrupt(root, date):
    path = f"{root}/edits/dt={date}/part-0-of-1.parquet"
    original = pq.read_table(path)
    rows = original.to_pylist()
    text_rows = [i for i, r in enumerate(rows) if not r["is_binary"] and r["change"] == "modified"]
    first, second = text_rows[0], text_rows[-1]
    rows[first]["change"] = "renamed"
    rows[second]["final_content"] = None
    damaged = pa.Table.from_pylist(rows, schema=original.schema)
    pq.write_table(damaged, path, compression="zstd")
    print(json.dumps({"rows": [first + 1, second + 1], "event_ids": [rows[first]["event_id"], rows[second]["event_id"]]}))


def same_rows(root_a, root_b, date):
    for name, keys in [("diff_scores", ["event_id", "path"]), ("generation_scores", ["event_id"])]:
        a = table(root_a, name, date).sort_values(keys).reset_index(drop=True)
        b = table(root_b, name, date).sort_values(keys).reset_index(drop=True)
        if len(a) == 0:
            fail(f"{name} is empty")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    print(json.dumps({"same": True}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "check":
        check(args[0], args[1], float(args[2]))
    elif command == "corrupt":
        corrupt(args[0], args[1])
    elif command == "same-rows":
        same_rows(args[0], args[1], args[2])
    else:
        raise SystemExit(f"unknown command {command}")
