"""Runs the snippets of docs/analysts.md on a real lake and checks that they agree with
each other and with a direct computation from the parts `_SUCCESS` lists.

    check_analysts.py DOC LAKE FIRST LAST

Each snippet (a ```python block after a `<!-- snippet: NAME -->` marker) is executed with
`LAKE`, `FIRST` and `LAST` defined and must leave a pandas DataFrame `week`. Prints one
JSON line: the snippets run and the groups compared. Exits non-zero naming the snippet,
group and column that disagree.
"""

import datetime as dt
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

KEYS = ["template_id", "template_version", "language"]


def snippets(doc: str) -> dict[str, str]:
    found = dict(re.findall(r"<!-- snippet: (\w+) -->\s*```python\n(.*?)```", doc, flags=re.S))
    if not found:
        raise SystemExit("no snippet found in the document")
    return found


def direct(lake: Path, first: str, last: str) -> pd.DataFrame:
    """Reads exactly the parts each day's `_SUCCESS` lists; sums by hand."""
    rows = []
    day = dt.date.fromisoformat(first)
    while day <= dt.date.fromisoformat(last):
        part_dir = lake / "diff_scores" / f"dt={day.isoformat()}"
        marker = part_dir / "_SUCCESS"
        if marker.exists():
            for part in json.loads(marker.read_text())["parts"]:
                rows.append(pq.read_table(part_dir / part["file"]).to_pandas())
        day += dt.timedelta(days=1)
    if not rows:
        raise SystemExit(f"no committed diff_scores partition in {first}..{last}")
    data = pd.concat(rows)
    data = data[~data["is_binary"]]
    out = {}
    for key, group in data.groupby(KEYS):
        generated = int(group["lines_generated"].sum())
        out[key] = {
            "generations": group["event_id"].nunique(),
            "lines_generated": generated,
            "rewrite_rate": group["lines_removed"].sum() / generated if generated else None,
        }
    return out


def main() -> None:
    doc_path, lake, first, last = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    expected = direct(lake, first, last)
    ran = []
    for name, code in snippets(Path(doc_path).read_text()).items():
        scope = {"LAKE": str(lake), "FIRST": first, "LAST": last}
        exec(compile(code, f"{doc_path}:{name}", "exec"), scope)
        week = scope.get("week")
        if not isinstance(week, pd.DataFrame):
            raise SystemExit(f"snippet {name}: `week` is not a pandas DataFrame")
        got = {tuple(r[k] for k in KEYS): r for r in week.to_dict("records")}
        if set(got) != set(expected):
            raise SystemExit(f"snippet {name}: groups {sorted(set(got) ^ set(expected))} differ")
        for key, want in expected.items():
            row = got[key]
            if int(row["generations"]) != want["generations"] or int(row["lines_generated"]) != want["lines_generated"]:
                raise SystemExit(f"snippet {name}: group {key}: {row} != {want}")
            rate, want_rate = row["rewrite_rate"], want["rewrite_rate"]
            if want_rate is None:
                if not pd.isna(rate):
                    raise SystemExit(f"snippet {name}: group {key}: rewrite_rate {rate}, expected null")
            elif pd.isna(rate) or abs(float(rate) - want_rate) > 1e-12:
                raise SystemExit(f"snippet {name}: group {key}: rewrite_rate {rate} != {want_rate}")
        ran.append(name)
    print(json.dumps({"snippets": sorted(ran), "groups": len(expected)}))


if __name__ == "__main__":
    main()
