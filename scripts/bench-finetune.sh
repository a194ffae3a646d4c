#!/usr/bin/env bash
# Benchmarks build-finetune --days 7 on synthetic lakes at two sizes (1x and 10x) and
# prints seconds, peak memory (max RSS from GNU time) and input rows per second, so it
# shows whether memory stays flat as the range's input grows. Each lake is made by
# synth-events, then extract-edits and score-diffs run for every day (not timed): what
# build-finetune reads is `edits` and `diff_scores` of its --days range. Results are
# recorded in docs/benchmarks.md ("build-finetune") with the command that produced them.
#
#   bash scripts/bench-finetune.sh                          # 10k and 100k generations over 10 days
#   SIZES="5000 50000" bash scripts/bench-finetune.sh
#   BUDGETS="default 67108864" bash scripts/bench-finetune.sh   # also with --memory-budget 64 MiB
#   FINETUNE=/tmp/old/build-finetune bash scripts/bench-finetune.sh   # time another binary
#
# Lakes are kept in $WORK between runs (KEEP_LAKES=1 reuses them, e.g. to time two
# binaries on the same input). THREADS sets --threads (default 0: one per core).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${SIZES:-"10000 100000"}
days=${DAYS:-10}
range=${RANGE:-7}
budgets=${BUDGETS:-default}
threads=${THREADS:-0}
work=${WORK:-target/bench-finetune}
cargo build --quiet --release -p hive-jobs --bin synth-events --bin extract-edits --bin score-diffs --bin build-finetune
bin=target/release
finetune=${FINETUNE:-$bin/build-finetune}
mkdir -p "$work"

measure() { # command...: prints "seconds max_rss_kib"
  local out="$work/time.txt"
  /usr/bin/time -f "%e %M" -o "$out" "$@" > "$work/last-summary.json" || {
    local code=$?
    # 99: nothing to train on, still a complete run.
    [ "$code" = 99 ] || { echo "failed ($code): $*" >&2; exit "$code"; }
  }
  tail -1 "$out"
}

printf '%-12s %-10s %8s %10s %10s %10s %10s %s\n' generations budget threads "rows in" seconds "rows/s" "peak MiB" "examples"
for n in $sizes; do
  lake="$work/lake-$n"
  if [ "${KEEP_LAKES:-0}" != 1 ] || [ ! -d "$lake/finetune-ready" ]; then
    rm -rf "$lake"
    "$bin/synth-events" --out "$lake" --generations "$n" --days "$days" --no-truth --quiet > /dev/null
    for d in $(ls "$lake/raw/generations" | sed -n 's/^dt=//p' | sort); do
      "$bin/extract-edits" --data-root "$lake" --date "$d" --quiet --max-quarantine-ratio 1 > /dev/null || [ $? = 99 ]
      if [ -d "$lake/edits/dt=$d" ]; then
        "$bin/score-diffs" --data-root "$lake" --date "$d" --quiet > /dev/null || [ $? = 99 ]
      fi
    done
    mkdir -p "$lake/finetune-ready"
  fi
  # The last day with `edits`, and the --days range ending there.
  last=$(ls "$lake/edits" | sed -n 's/^dt=//p' | sort | tail -1)
  for budget in $budgets; do
    args=(--data-root "$lake" --date "$last" --days "$range" --quiet --threads "$threads")
    [ "$budget" = default ] || args+=(--memory-budget "$budget")
    # An older binary may not know --threads / --memory-budget: BARE=1 drops them.
    [ "${BARE:-0}" = 1 ] && args=(--data-root "$lake" --date "$last" --days "$range" --quiet)
    read -r secs rss < <(measure "$finetune" "${args[@]}")
    read -r rows examples < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["input_rows"], s["sft_examples"])' "$work/last-summary.json")
    printf '%-12s %-10s %8s %10s %10s %10.0f %10.0f %s\n' "$n" "$budget" "$threads" "$rows" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$examples"
  done
done
