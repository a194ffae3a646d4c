"""The straightforward Python baseline for score-diffs: read `edits` with pandas, count
kept / added / removed lines with difflib, write the per-file counts with pandas.

It does less than score-diffs (no character retention: difflib's character matcher is
quadratic and would not finish on the larger files), so the ratio it gives is a lower
bound on the real one. Lines are split at `\\n` with their terminators, as git does.

    difflib_scores.py LAKE DATE OUT.parquet
"""

import difflib
import sys

import pandas as pd


def git_lines(text):
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


lake, date, out = sys.argv[1:4]
edits = pd.read_parquet(f"{lake}/edits/dt={date}")
rows = []
for r in edits.itertuples(index=False):
    if r.binary:
        rows.append((r.event_id, r.path, None, None, None))
        continue
    old = git_lines(r.generated_content or "")
    new = [] if r.change == "deleted" else git_lines(r.final_content or "")
    kept = sum(block.size for block in difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks())
    rows.append((r.event_id, r.path, len(old), kept, len(new) - kept))
scores = pd.DataFrame(rows, columns=["event_id", "path", "lines_generated", "lines_kept", "lines_added"])
scores["lines_removed"] = scores["lines_generated"] - scores["lines_kept"]
scores.to_parquet(out)
print(len(scores))
