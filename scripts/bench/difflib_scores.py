"""The straightforward Python baseline for score-diffs: read `edits` with pandas, count
kept / added / removed lines with difflib, write the per-file counts with pandas.

It does less than score-diffs (no character retention: difflib's character matcher is
quadratic and would not finish on the larger files), so the ratio it gives is a lower
bound on the real one. Lines are split at `\\n` with their terminators, as git does.
scripts/bench/night_pandas.py builds the whole night's baseline on `line_counts`.

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


def char_retention(old, new):
    """What a Python script would use for score-diffs' character retention: difflib's
    matcher over characters, 1 - (unmatched characters of the longer side) / its length
    (an approximation: difflib's matches are not a minimal edit script)."""
    longest = max(len(old), len(new))
    if longest == 0:
        return 1.0
    matched = sum(block.size for block in difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks())
    return 1.0 - (longest - matched) / longest


def line_counts(edits, chars=False):
    """Per-file line counts of an `edits` frame (binary files: counts missing), and with
    `chars` the character retention of each text file too."""
    # `is_binary` since edits schema 2 (`binary` before).
    binary = edits["is_binary"] if "is_binary" in edits else edits["binary"]
    rows = []
    for r, is_binary in zip(edits.itertuples(index=False), binary):
        if is_binary:
            rows.append((r.event_id, r.path, None, None, None) + ((None,) if chars else ()))
            continue
        old = git_lines(r.generated_content or "")
        new = [] if r.change == "deleted" else git_lines(r.final_content or "")
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        kept = sum(block.size for block in matcher.get_matching_blocks())
        row = (r.event_id, r.path, len(old), kept, len(new) - kept)
        if chars:
            final = "" if r.change == "deleted" else (r.final_content or "")
            generated = r.generated_content or ""
            row += (1.0 if r.change == "unchanged" else char_retention(generated, final),)
        rows.append(row)
    columns = ["event_id", "path", "lines_generated", "lines_kept", "lines_added"] + (["char_retention"] if chars else [])
    scores = pd.DataFrame(rows, columns=columns)
    scores["lines_removed"] = scores["lines_generated"] - scores["lines_kept"]
    return scores


if __name__ == "__main__":
    lake, date, out = sys.argv[1:4]
    scores = line_counts(pd.read_parquet(f"{lake}/edits/dt={date}"))
    scores.to_parquet(out)
    print(len(scores))
