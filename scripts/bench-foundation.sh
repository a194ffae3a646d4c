#!/usr/bin/env bash
# Benchmarks synth-events and extract-edits at two sizes and prints throughput and peak
# memory (max RSS from GNU time), so it shows whether memory stays flat as the input
# grows. Results are recorded in docs/benchmarks.md with the command that produced them.
#
#   bash scripts/bench-foundation.sh            # 5k and 50k generations
#   SIZES="2000 20000" bash scripts/bench-foundation.sh
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${SIZES:-"5000 50000"}
days=${DAYS:-20}
work=${WORK:-target/bench-foundation}
cargo build --quiet --release -p hive-jobs --bins
bin=target/release
rm -rf "$work"
mkdir -p "$work"

measure() { # label, command...: prints "seconds max_rss_kib"
  local out="$work/time.txt"
  /usr/bin/time -f "%e %M" -o "$out" "$@" > "$work/last-summary.json"
  cat "$out"
}

printf '%-14s %12s %10s %12s %14s %12s\n' job generations seconds "rows/s" "MB/s (input)" "peak MiB"
for n in $sizes; do
  lake="$work/lake-$n"
  read -r secs rss < <(measure "$bin/synth-events" --out "$lake" --generations "$n" --days "$days" --format parquet --no-truth --quiet)
  mb=$(du -sm "$lake/raw" | cut -f1)
  printf '%-14s %12s %10s %12.0f %14.1f %12.0f\n' synth-events "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "$mb / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
  # extract-edits for a day in the middle of the range: the busiest kind of run.
  date=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["counts"]["outcomes_by_run_date"]; print(max(d, key=lambda k: d[k].get("edits", 0)))' "$lake/planted.json")
  read -r secs rss < <(measure "$bin/extract-edits" --data-root "$lake" --date "$date" --quiet --max-quarantine-ratio 1)
  rows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows_read"])' "$work/last-summary.json")
  out=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generations_out"])' "$work/last-summary.json")
  inmb=$(du -cm "$lake"/raw/*/dt=* | tail -1 | cut -f1)
  printf '%-14s %12s %10s %12.0f %14.1f %12.0f   (%s generations out of %s rows read, date %s)\n' extract-edits "$n" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(echo "$inmb / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$out" "$rows" "$date"
  # The same run with no memory for snapshot files: every chosen snapshot waits in the
  # spill file (--snapshot-memory-bytes 0), which bounds memory whatever the day's size.
  read -r secs rss < <(measure "$bin/extract-edits" --data-root "$lake" --date "$date" --quiet --max-quarantine-ratio 1 --snapshot-memory-bytes 0)
  spilled=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["snapshots_spilled"], round(s["snapshot_bytes_spilled"] / 2**20, 1))' "$work/last-summary.json")
  printf '%-14s %12s %10s %12.0f %14.1f %12.0f   (all spilled: %s snapshots, %s MiB)\n' "  spill all" "$n" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(echo "$inmb / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)" ${spilled}
done
