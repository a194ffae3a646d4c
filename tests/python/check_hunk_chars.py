"""Independent check of score-diffs' character retention (`--char-distance hunks`, the
default): git finds the hunks, rapidfuzz (C++, not the Rust port score-diffs uses)
measures them.

    check_hunk_chars.py GIT_DIR LAKE_ROOT DATE

GIT_DIR holds `old/` and `new/`, the two sides of every pair of the lake. For each file,
`git diff --no-index -U0 --diff-algorithm=histogram` gives the hunks; the expected
distance is the sum over them of Levenshtein(old hunk text, new hunk text), in Unicode
scalar values, and the expected retention 1 - distance / max(len(generated), len(final)).
Every `diff_scores` row must agree:

- `exact` or `hunks`: the retention equals the expected one (to 1e-12), and the method is
  `exact` with at most one hunk, `hunks` with two or more. Except where git's hunks are
  not the histogram diff's own: git post-processes the diff (`xdl_change_compact`: it
  slides changed groups along repeated lines and merges those that meet, with its indent
  heuristic) to make patches read better, and score-diffs measures the unprocessed
  histogram hunks. The line counts are the same; the hunk boundaries, and so the sum,
  can differ. Such a file is counted in `other_hunks` and must still obey the bound every
  hunk sum obeys: distance >= whole-file Levenshtein (rapidfuzz on the whole texts);
- `line_bound`: the retention is between the line bound (each hunk counted as its longer
  side) and the expected one. (Those rows have huge, heavily rewritten hunks: a hunk over
  10^9 cells is bounded below by its length difference rather than measured, which
  keeps this check to seconds; the bound it checks is then weaker, never wrong.)

Prints one JSON line of counts; a failure raises naming the file and both numbers.
"""

import json
import os
import re
import subprocess
import sys

import pyarrow.dataset as ds
from rapidfuzz.distance import Levenshtein

HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


def fail(message):
    raise SystemExit(f"check failed: {message}")


def unquote(name):
    """git's C-style quoting of unusual path names."""
    if not name.startswith(b'"'):
        return name
    body, out, i = name[1:-1], bytearray(), 0
    while i < len(body):
        if body[i : i + 1] == b"\\":
            nxt = body[i + 1 : i + 2]
            if nxt in ESCAPES:
                out.append(ESCAPES[nxt])
                i += 2
            else:
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
        else:
            out.append(body[i])
            i += 1
    return bytes(out)


def git_hunks(git_dir):
    """path (relative to old/) -> list of (old text, new text, header numbers), from git's
    -U0 patch; the numbers are git's (old start, old count, new start, new count)."""
    home = os.path.abspath(git_dir)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    out = subprocess.run(
        ["git", "diff", "--no-index", "--no-renames", "--no-color", "-U0", "--diff-algorithm=histogram", "old", "new"],
        cwd=git_dir,
        env=env,
        capture_output=True,
        check=False,
    )
    if out.returncode not in (0, 1):
        fail(f"git failed: {out.stderr.decode(errors='replace')}")
    files, path, hunk, side = {}, None, None, None
    for line in out.stdout.split(b"\n"):
        if line.startswith(b"diff --git "):
            path, hunk = None, None
        elif line.startswith(b"--- ") and hunk is None:
            name = unquote(line[4:])
            path = name.removeprefix(b"a/old/").decode("utf-8") if name != b"/dev/null" else None
            if path is not None:
                files[path] = []
        elif line.startswith(b"+++ ") and hunk is None:
            continue
        elif line.startswith(b"@@ "):
            if path is None:
                continue
            m = HUNK.match(line)
            numbers = tuple(int(g) if g is not None else 1 for g in m.groups())
            hunk = [bytearray(), bytearray(), numbers]
            files[path].append(hunk)
        elif hunk is not None and line[:1] in (b"-", b"+"):
            side = 0 if line[:1] == b"-" else 1
            hunk[side] += line[1:] + b"\n"
        elif hunk is not None and line.startswith(b"\\ "):
            # "\ No newline at end of file": the previous line had none.
            del hunk[side][-1:]
    return {p: [(o.decode("utf-8"), n.decode("utf-8"), x) for o, n, x in h] for p, h in files.items()}


def main(git_dir, root, date):
    def table(name, columns):
        data = ds.dataset(f"{root}/{name}", format="parquet", partitioning="hive")
        return {r["path"]: r for r in data.to_table(columns=columns, filter=ds.field("dt") == date).to_pylist()}

    edits = table("edits", ["path", "is_binary", "generated_content", "final_content"])
    scores = table("diff_scores", ["path", "is_binary", "change", "char_retention", "char_retention_method"])
    if sorted(edits) != sorted(scores):
        fail("edits and diff_scores name different files")
    hunks = git_hunks(git_dir)
    counts = {"files": 0, "binary": 0, "exact": 0, "hunks": 0, "line_bound": 0, "git_hunks": 0, "multi_hunk_files": 0, "other_hunks": 0}
    for path, row in sorted(scores.items()):
        counts["files"] += 1
        if row["is_binary"]:
            counts["binary"] += 1
            continue
        generated = edits[path]["generated_content"]
        final = edits[path]["final_content"] or ""
        longest = max(len(generated), len(final))
        parts = hunks.get(path, [])
        counts["git_hunks"] += len(parts)
        counts["multi_hunk_files"] += int(len(parts) > 1)
        got, method = row["char_retention"], row["char_retention_method"]
        counts[method] = counts.get(method, 0) + 1
        if method == "line_bound":
            distance = sum(
                Levenshtein.distance(old, new, score_hint=64) if len(old) * len(new) <= 10**9 else abs(len(old) - len(new))
                for old, new, _ in parts
            )
        else:
            distance = sum(Levenshtein.distance(old, new, score_hint=64) for old, new, _ in parts)
        bound = sum(max(len(old), len(new)) for old, new, _ in parts)
        expected = 1.0 if longest == 0 else 1.0 - distance / longest
        lowest = 1.0 if longest == 0 else 1.0 - bound / longest
        if method in ("exact", "hunks"):
            want = "exact" if len(parts) <= 1 else "hunks"
            if method == want and abs(got - expected) <= 1e-12:
                continue
            counts["other_hunks"] += 1
            if len(generated) * len(final) > 4 * 10**9:
                continue  # seconds of C++ per file: the smaller ones are checked
            whole = 1.0 - Levenshtein.distance(generated, final, score_hint=64) / longest
            if not (0.0 <= got <= whole + 1e-12):
                fail(f"{path}: retention {got!r} above the whole-file retention {whole!r}")
            if len(parts) <= 1 and method == "exact":
                # One git hunk: the whole-file distance, whatever the hunks.
                if abs(got - whole) > 1e-12:
                    fail(f"{path}: `exact` retention {got!r} != whole-file {whole!r}")

        elif method == "line_bound":
            if not (lowest - 1e-12 <= got <= expected + 1e-12):
                fail(f"{path}: line_bound retention {got!r} outside [{lowest!r}, {expected!r}]")
        else:
            fail(f"{path}: unknown char_retention_method {method!r}")
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:4])
