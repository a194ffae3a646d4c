"""The straightforward Python baseline for one night of the pipeline, for
scripts/bench-night.sh: what a pandas + difflib + scipy script would do with the same
`edits` partitions. It does less than the jobs, so the ratio it gives is a lower bound:

- scoring: difflib line counts and character retention (difflib's matcher over the
  characters of each modified file, scripts/bench/difflib_scores.py) of the night's
  `edits`, summed per generation into a rewrite rate;
- A/B test: each experiment's generations from every earlier night (the jobs'
  `generation_scores`) and this night (the step above), one line-weighted rewrite rate
  per project, Welch's t-test of each variant against the variant named `control`
  (synth-events' name for it) with scipy; no sequential correction, no guardrails, no
  SRM check;
- fine-tuning data: the modified text files of the last DAYS `edits` partitions, exact
  duplicates dropped by SHA-256 of the kept text, written as JSONL (no near-duplicate
  search, no secret scan, no token counts, no split by project).

    night_pandas.py LAKE DATE DAYS OUT_DIR

Prints one JSON object: seconds per step and in all, and row counts.
"""

import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path

import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from difflib_scores import line_counts  # noqa: E402


def partitions(lake, table, first, last):
    """The committed partitions of `table` from `first` through `last`."""
    out = []
    day = first
    while day <= last:
        path = Path(lake) / table / f"dt={day.isoformat()}"
        if (path / "_SUCCESS").exists():
            out.append(path)
        day += dt.timedelta(days=1)
    return out


def main():
    lake, date, days, out = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    timings, counts = {}, {}

    start = time.perf_counter()
    edits = pd.read_parquet(Path(lake) / "edits" / f"dt={date}")
    files = line_counts(edits, chars=True)
    keys = edits[["event_id", "project_id", "template_id", "template_version", "experiment_id", "variant", "generated_at"]]
    files = files.merge(keys.drop_duplicates("event_id"), on="event_id")
    generations = files.groupby(
        ["event_id", "project_id", "template_id", "template_version", "experiment_id", "variant", "generated_at"],
        dropna=False,
        as_index=False,
    )[["lines_generated", "lines_removed"]].sum()
    generations["rewrite_rate"] = generations["lines_removed"] / generations["lines_generated"].where(generations["lines_generated"] > 0)
    generations.to_parquet(out / "generation_scores.parquet")
    timings["score"] = time.perf_counter() - start
    counts["files"], counts["generations"] = len(files), len(generations)

    start = time.perf_counter()
    earlier = sorted(p for p in (Path(lake) / "generation_scores").glob("dt=*") if p.name < f"dt={date}" and (p / "_SUCCESS").exists())
    columns = ["project_id", "experiment_id", "variant", "lines_generated", "lines_removed"]
    rows = pd.concat([pd.read_parquet(p, columns=columns) for p in earlier] + [generations[columns]], ignore_index=True)
    rows = rows[rows["experiment_id"].notna()]
    tests = []
    for experiment, arms in rows.groupby("experiment_id"):
        per_project = arms.groupby(["variant", "project_id"])[["lines_removed", "lines_generated"]].sum()
        per_project = per_project[per_project["lines_generated"] > 0]
        rate = (per_project["lines_removed"] / per_project["lines_generated"]).rename("rate").reset_index()
        control = rate.loc[rate["variant"] == "control", "rate"]
        for variant, treated in rate[rate["variant"] != "control"].groupby("variant")["rate"]:
            result = stats.ttest_ind(treated, control, equal_var=False)
            tests.append({"experiment_id": experiment, "variant": variant, "projects": len(treated),
                          "lift": treated.mean() / control.mean() - 1, "p_value": result.pvalue})
    pd.DataFrame(tests).to_parquet(out / "ab_results.parquet")
    timings["ab_test"] = time.perf_counter() - start
    counts["comparisons"] = len(tests)

    start = time.perf_counter()
    seen, examples = set(), 0
    with open(out / "sft.jsonl", "w") as sink:
        for path in partitions(lake, "edits", date - dt.timedelta(days=days - 1), date):
            week = pd.read_parquet(path, columns=["event_id", "path", "request", "change", "is_binary", "final_content"])
            week = week[(week["change"] == "modified") & ~week["is_binary"] & week["final_content"].notna()]
            for r in week.itertuples(index=False):
                text = "\n".join(line.rstrip() for line in r.final_content.splitlines() if line.strip())
                digest = hashlib.sha256(text.encode()).digest()
                if digest in seen:
                    continue
                seen.add(digest)
                sink.write(json.dumps({"messages": [{"role": "user", "content": f"{r.request or ''}\n{r.path}"},
                                                    {"role": "assistant", "content": r.final_content}]}) + "\n")
                examples += 1
    timings["finetune"] = time.perf_counter() - start
    counts["examples"] = examples

    print(json.dumps({"seconds": {**timings, "total": sum(timings.values())}, "counts": counts}))


if __name__ == "__main__":
    main()
