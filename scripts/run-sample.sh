#!/usr/bin/env bash
# The README's main command: runs the template_evolution DAG's tasks (extract-edits,
# score-diffs, ab-significance, promote-templates, build-finetune, then the optional
# generator training and mlflow-sync) on the bundled sample lake, one partition per day
# whose observation window closes in it, and prints a readable summary.
#
# It needs no Airflow: dags/hive_local_runner.py runs the steps, commands and trigger
# rules that the DAG is built from (dags/hive_pipeline.py), and tests/dags checks that
# they match the DAG Airflow loads. The sample is copied to target/sample-run/lake first
# so the committed data stays untouched; the jobs' JSON summary lines are kept in
# target/sample-run/summaries.ndjson and their logs in target/sample-run/jobs.log.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p hive-jobs --bins
bin=target/debug
# train-generator (trainer/) beside the job binaries, as in a deployment; it runs only
# when HIVE_TRAIN_MODE is set (docs/training.md), else train_generator is skipped.
ln -sf "$PWD/trainer/train-generator" "$bin/train-generator"
work=target/sample-run
rm -rf "$work"
mkdir -p "$work"
cp -r data/sample "$work/lake"

# Partitions: every day on which a planted generation's observation window closes
# (written by synth-events). The DAG run for logical date D processes partition D-1.
dates=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]["outcomes_by_run_date"]; print(" ".join(sorted(d for d, o in c.items() if "edits" in o)))' "$work/lake/planted.json")

summaries="$work/summaries.ndjson"
: > "$summaries"
echo "template_evolution task states per partition (as Airflow would mark them):"
status=0
python3 dags/hive_local_runner.py --dag template_evolution --data-root "$work/lake" --bin-dir "$bin" \
  --summaries "$summaries" --log "$work/jobs.log" --states "$work/states.json" $dates || status=$?
echo

python3 - "$summaries" "$work/lake" <<'PY'
import json, sys
every = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in every if r["job"] == "extract-edits"]
scores = [r for r in every if r["job"] == "score-diffs"]
print(f"{'date':<12}{'status':<22}{'generations':>12}{'files':>8}{'quarantined':>13}  reasons")
for r in rows:
    reasons = ", ".join(f"{k}={v}" for k, v in r.get("quarantine_reasons", {}).items())
    print(f"{r['date']:<12}{r['status']:<22}{r['generations_out']:>12}{r['edit_rows_out']:>8}{r['rows_quarantined']:>13}  {reasons}")
total = {k: sum(r[k] for r in rows) for k in ("generations_out", "edit_rows_out", "rows_quarantined")}
changes = {}
for r in rows:
    for k, v in r.get("changes", {}).items():
        changes[k] = changes.get(k, 0) + v
ok = all(r["reconciled"] for r in rows)
print(f"\n{total['generations_out']} generations ({total['edit_rows_out']} files) paired with what users kept; "
      f"{total['rows_quarantined']} quarantined with a reason; every run reconciled: {ok}")
print("files by change: " + ", ".join(f"{k}={v}" for k, v in sorted(changes.items())))

print(f"\n{'date':<12}{'files scored':>13}{'generations':>12}{'lines':>9}{'removed':>9}{'rewrite rate':>14}")
for r in scores:
    rate = "-" if r["rewrite_rate"] is None else f"{r['rewrite_rate']:.3f}"
    print(f"{r['date']:<12}{r['diff_rows_out']:>13}{r['generations_out']:>12}{r['lines_generated']:>9}{r['lines_removed']:>9}{rate:>14}")
generated = sum(r["lines_generated"] for r in scores)
removed = sum(r["lines_removed"] for r in scores)
print(f"line-weighted rewrite rate over the sample: {removed / generated:.3f} "
      f"({removed} of {generated} generated lines removed); every run reconciled: {all(r['reconciled'] for r in scores)}")

decisions = [r for r in every if r["job"] == "promote-templates" and r["status"] == "success"]
if decisions:
    last = decisions[-1]
    print(f"\npromotion decisions on {last['date']}: " + ", ".join(f"{k}={v}" for k, v in sorted(last["decisions"].items())))
    print(f"experiment report: {sys.argv[2]}/reports/ab-significance/dt={last['date']}/report.md")

finetune = [r for r in every if r["job"] == "build-finetune"]
if finetune:
    sft = sum(r.get("sft_examples", 0) for r in finetune)
    pairs = sum(r.get("preference_pairs", 0) for r in finetune)
    print(f"fine-tuning datasets: {sft} SFT examples and {pairs} preference pairs over {len(finetune)} partitions")
PY
echo "outputs: $work/lake/{edits,diff_scores,generation_scores,ab_results,promotions,finetune,quarantine,reports}; summaries: $summaries; logs: $work/jobs.log"
exit "$status"
