"""How far the default character retention (`--char-distance hunks`) is from the exact
whole-file one, on the same pairs.

    hunks_vs_whole.py LAKE DATE HUNKS_DIFF_SCORES WHOLE_DIFF_SCORES

HUNKS_DIFF_SCORES and WHOLE_DIFF_SCORES are copies of `diff_scores/` written by
`score-diffs` and `score-diffs --char-distance whole-file`. Distances are recovered from
the retentions: d = (1 - retention) * max(len(generated), len(final)). Files compared:
the text files whose whole-file retention is `exact`. Prints a summary line and the same
numbers as JSON.
"""

import json
import sys

import pyarrow.dataset as ds

lake, date, hunks_dir, whole_dir = sys.argv[1:5]


def rows(path, columns):
    data = ds.dataset(path, format="parquet", partitioning="hive")
    return {(r["event_id"], r["path"]): r for r in data.to_table(columns=columns).to_pylist()}


edits = rows(f"{lake}/edits/dt={date}", ["event_id", "path", "is_binary", "generated_content", "final_content"])
cols = ["event_id", "path", "is_binary", "char_retention", "char_retention_method"]
hunks, whole = rows(hunks_dir, cols), rows(whole_dir, cols)
assert hunks.keys() == whole.keys() == edits.keys(), "the runs scored different files"

methods = {"hunks": {}, "whole-file": {}}
compared = differ = 0
retention_diffs, distance_diffs = [], []
for key, h in hunks.items():
    if h["is_binary"]:
        continue
    w = whole[key]
    for name, row in (("hunks", h), ("whole-file", w)):
        methods[name][row["char_retention_method"]] = methods[name].get(row["char_retention_method"], 0) + 1
    if w["char_retention_method"] != "exact":
        continue
    e = edits[key]
    longest = max(len(e["generated_content"]), len(e["final_content"] or ""))
    d_hunks = round((1 - h["char_retention"]) * longest)
    d_whole = round((1 - w["char_retention"]) * longest)
    assert d_hunks >= d_whole, f"{key}: hunk distance {d_hunks} < whole-file {d_whole}"
    compared += 1
    differ += d_hunks != d_whole
    retention_diffs.append(w["char_retention"] - h["char_retention"])
    distance_diffs.append(d_hunks - d_whole)

changed = [i for i, d in enumerate(distance_diffs) if d]
result = {
    "text_files_compared": compared,
    "files_differing": differ,
    "retention_abs_diff_mean": sum(retention_diffs) / compared if compared else 0.0,
    "retention_abs_diff_max": max(retention_diffs, default=0.0),
    "retention_abs_diff_mean_where_differing": sum(retention_diffs[i] for i in changed) / len(changed) if changed else 0.0,
    "distance_diff_mean": sum(distance_diffs) / compared if compared else 0.0,
    "distance_diff_max": max(distance_diffs, default=0),
    "distance_diff_mean_where_differing": sum(distance_diffs[i] for i in changed) / len(changed) if changed else 0.0,
    "methods": methods,
}
print(
    "hunks vs whole-file exact: %d of %d text files differ; retention lower by %.2e on average (max %.4f; %.4f where they differ); "
    "distance higher by %.2f characters on average (max %d; %.1f where they differ)"
    % (
        differ,
        compared,
        result["retention_abs_diff_mean"],
        result["retention_abs_diff_max"],
        result["retention_abs_diff_mean_where_differing"],
        result["distance_diff_mean"],
        result["distance_diff_max"],
        result["distance_diff_mean_where_differing"],
    )
)
print(json.dumps(result, sort_keys=True))
