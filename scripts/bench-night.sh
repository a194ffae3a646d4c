#!/usr/bin/env bash
# Measures one night of the template_evolution pipeline at scale: synthesises a lake of
# 7 full days of N generations each, runs every night before the measured one (not
# timed), then times the measured night's jobs one after the other, as the DAG runs them:
# extract-edits, score-diffs, ab-significance, promote-templates and build-finetune
# --days 7 (with the outcome cache the night before left, and once more with an empty
# one). Prints seconds, peak MiB (max RSS from GNU time) and generations/s per job,
# then the same night through the pandas + difflib + scipy baseline
# (scripts/bench/night_pandas.py) and the ratio. Release build; each job with its
# defaults (all cores). Results are recorded in docs/benchmarks.md.
#
#   bash scripts/bench-night.sh                 # 100 000 generations a night
#   bash scripts/bench-night.sh 10000
#   SKIP_PYTHON=1 bash scripts/bench-night.sh   # without the (slow) baseline
#   KEEP_LAKE=1 bash scripts/bench-night.sh     # reuse target/bench-night/lake-N if complete
#   PREPARE_ONLY=1 bash scripts/bench-night.sh  # build the lake and the earlier nights, stop
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-100000}
days=7
start=2026-01-01
work=$(realpath -m "${WORK:-target/bench-night}")
lake="$work/lake-$n"
cargo build --quiet --release -p hive-jobs --bins
bin=$PWD/target/release
mkdir -p "$work"

measure() { # command...: runs it, prints "seconds max_rss_kib"; its stdout goes to $work/last.out
  if ! /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/last.out" 2> "$work/last.err"; then
    echo "error: \`$*\` failed:" >&2
    tail -n 20 "$work/last.err" >&2
    exit 1
  fi
  tail -n 1 "$work/time.txt"
}
summary() { # field of the last job's JSON summary line
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]).get(sys.argv[2], 0))' "$work/last.out" "$1"
}

# The lake: generations are spread over the 7 days and each is judged when its
# observation window closes, so the nights from the first window close onwards hold
# the 7 days' generations, one day each.
if [ -z "${KEEP_LAKE:-}" ] || [ ! -f "$lake/.complete" ]; then
  rm -rf "$lake"
  echo "synthesising $((n * days)) generations over $days days into $lake ..."
  read -r secs rss < <(measure "$bin/synth-events" --out "$lake" --generations "$((n * days))" --days "$days" \
    --start-date "$start" --format parquet --no-truth --quiet)
  echo "  synth-events: ${secs} s, peak $((rss / 1024)) MiB, $(du -sm "$lake/raw" | cut -f1) MiB of raw exports"
  # The nights: the first $days run dates on which generations' windows close.
  python3 - "$lake/planted.json" "$days" > "$lake/nights.txt" <<'PY'
import json, sys
counts = json.load(open(sys.argv[1]))["counts"]["outcomes_by_run_date"]
nights = sorted(d for d, o in counts.items() if o.get("edits", 0) > 0)[: int(sys.argv[2])]
print(" ".join(nights))
PY
  read -r -a nights < "$lake/nights.txt"
  echo "  nights: ${nights[*]}; running all but the last (not timed) ..."
  for night in "${nights[@]:0:$((days - 1))}"; do
    measure "$bin/extract-edits" --data-root "$lake" --date "$night" --quiet --max-quarantine-ratio 1 > /dev/null
    measure "$bin/score-diffs" --data-root "$lake" --date "$night" --quiet > /dev/null
  done
  touch "$lake/.complete"
fi
[ -z "${PREPARE_ONLY:-}" ] || { echo "lake ready: $lake"; exit 0; }
read -r -a nights < "$lake/nights.txt"
night=${nights[$((days - 1))]}
# A rerun of the measured night starts from the same state.
rm -rf "$lake"/{edits,diff_scores,generation_scores}/dt="$night" "$lake"/{ab_results,promotions,finetune,champions,reports}/dt="$night" \
  "$lake"/quarantine/*/dt="$night" "$lake/_cache"

echo
echo "== one night ($night) of a lake with $days days of $n generations"
printf '%-34s %10s %10s %16s\n' job seconds "peak MiB" "generations/s"
total=0
generations=0
row() { # label seconds rss_kib
  total=$(echo "$total + $2" | bc -l)
  # GNU time rounds to 0.01 s: a job that fast has no meaningful rate.
  rate=-
  if [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then rate=$(printf '%.0f' "$(echo "$generations / $2" | bc -l)"); fi
  printf '%-34s %10.2f %10.0f %16s\n' "$1" "$2" "$(echo "$3 / 1024" | bc -l)" "$rate"
}
read -r secs rss < <(measure "$bin/extract-edits" --data-root "$lake" --date "$night" --quiet --max-quarantine-ratio 1)
generations=$(summary generations_out)
row extract-edits "$secs" "$rss"
read -r secs rss < <(measure "$bin/score-diffs" --data-root "$lake" --date "$night" --quiet)
row score-diffs "$secs" "$rss"
read -r secs rss < <(measure "$bin/ab-significance" --data-root "$lake" --date "$night" --quiet \
  --config "$lake/experiments.yaml" --on-srm warn)
row ab-significance "$secs" "$rss"
read -r secs rss < <(measure "$bin/promote-templates" --data-root "$lake" --date "$night" --quiet --config "$lake/experiments.yaml")
row promote-templates "$secs" "$rss"
# build-finetune twice. First with an empty outcome cache: every day computed (the first
# night, or the night after a new recipe or binary), entries written. Then the steady
# state: the night before's run cached every day but this one, so only the measured day
# is computed (its entry is removed to make it new again). The night's total counts the
# steady state; the cold run is printed beside it, outside the total.
before=$total
# Its phase times (info lines of hive_finetune; the rest stays quiet) are printed below.
phases() { # the read, dedup and write seconds of the last build-finetune's log
  python3 - "$work/last.err" <<'PY'
import re, sys
seconds = {}
for line in open(sys.argv[1]):
    for phase, message in (("read", "rows read, filtered and fingerprinted"), ("dedup", "deduplicated"), ("write", "dataset written")):
        m = re.search(r"seconds=([0-9.]+)", line)
        if message in line and m:
            seconds[phase] = float(m.group(1))
print(" ".join(f"{p} {seconds[p]:.1f} s" if p in seconds else f"{p} ?" for p in ("read", "dedup", "write")))
PY
}
export HIVE_LOG=warn,hive_finetune=info
read -r cold_secs cold_rss < <(measure "$bin/build-finetune" --data-root "$lake" --date "$night" --quiet --days "$days")
cold_out=$(cat "$work/last.out")
cold_phases=$(phases)
cold_manifest=$(cat "$lake/finetune/dt=$night/manifest.json")
rm -rf "$lake/_cache/build-finetune/dt=$night"
read -r secs rss < <(measure "$bin/build-finetune" --data-root "$lake" --date "$night" --quiet --days "$days")
# The manifest lists every file's sha256: equal manifests, byte-identical datasets.
[ "$cold_out" = "$(cat "$work/last.out")" ] && [ "$cold_manifest" = "$(cat "$lake/finetune/dt=$night/manifest.json")" ] ||
  { echo "error: the cached night's summary or dataset differs from the cold night's" >&2; exit 1; }
rows=$(summary input_rows)
steady_phases=$(phases)
unset HIVE_LOG
row "build-finetune --days $days" "$secs" "$rss"
printf '%-34s %10.2f %10s %16.0f\n' "the night, every job" "$total" - "$(echo "$generations / $total" | bc -l)"
printf '%-34s %10.2f %10.0f %16s\n' "(build-finetune, empty cache)" "$cold_secs" "$(echo "$cold_rss / 1024" | bc -l)" -
printf '%-34s %10.2f %10s %16s\n' "(the night with an empty cache)" "$(echo "$before + $cold_secs" | bc -l)" - -
echo "($generations generations that night; build-finetune read $rows file rows over $days days," \
  "$(du -sm "$lake/_cache" | cut -f1) MiB of outcome cache)"
echo "(build-finetune phases: $steady_phases; with an empty cache: $cold_phases)"

if [ -z "${SKIP_PYTHON:-}" ]; then
  bash scripts/setup-venvs.sh oracles > /dev/null
  echo
  echo "== the same night through pandas + difflib + scipy (scripts/bench/night_pandas.py; less work, see its doc)"
  read -r secs rss < <(measure "$PWD/.venv/oracles/bin/python" scripts/bench/night_pandas.py "$lake" "$night" "$days" "$work/pandas")
  python3 - "$work/last.out" "$secs" "$rss" "$total" <<'PY'
import json, sys
result = json.loads(open(sys.argv[1]).read())
secs, rss, ours = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
steps = ", ".join(f"{k} {v:.1f} s" for k, v in result["seconds"].items() if k != "total")
print(f"pandas + difflib + scipy: {secs:.1f} s ({steps}), peak {rss / 1024:.0f} MiB, {result['counts']}")
print(f"the night with every job is {secs / ours:.1f}x faster than the baseline")
PY
fi
