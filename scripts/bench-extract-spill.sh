#!/usr/bin/env bash
# extract-edits' peak memory as one window's generated files grow, with snapshot files
# held in memory (no budget: the behaviour before spilling), with the default 512 MiB
# budget, and with none (everything spilled). Lakes of large files come from
# scripts/bench/big_files_lake.py. Results are recorded in docs/benchmarks.md.
#
#   bash scripts/bench-extract-spill.sh              # 2000 and 4000 projects, 256 KiB files
#   PROJECTS="1000 2000" FILE_KIB=128 bash scripts/bench-extract-spill.sh
set -euo pipefail
cd "$(dirname "$0")/.."

projects=${PROJECTS:-"2000 4000"}
file_kib=${FILE_KIB:-256}
work=${WORK:-target/bench-extract-spill}
cargo build --quiet --release -p hive-jobs --bin extract-edits
rm -rf "$work"
mkdir -p "$work"

printf '%-9s %10s %-22s %9s %10s %14s\n' projects "raw MiB" "snapshot memory" seconds "peak MiB" "MiB spilled"
for n in $projects; do
  lake="$work/lake-$n"
  python3 scripts/bench/big_files_lake.py --out "$lake" --projects "$n" --file-kib "$file_kib"
  raw=$(du -sm "$lake/raw" | cut -f1)
  for budget in 18446744073709551615 536870912 0; do
    case $budget in
      18446744073709551615) label="unlimited (no spill)" ;;
      536870912) label="512 MiB (default)" ;;
      *) label="0 (spill all)" ;;
    esac
    /usr/bin/time -f "%e %M" -o "$work/time.txt" target/release/extract-edits --data-root "$lake" \
      --date 2026-03-08 --quiet --snapshot-memory-bytes "$budget" --spill-dir "$work" > "$work/summary.json"
    read -r secs rss < "$work/time.txt"
    spilled=$(python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert s["generations_out"] == int(sys.argv[2]), s; print(s["snapshot_bytes_spilled"] >> 20)' "$work/summary.json" "$n")
    printf '%-9s %10s %-22s %9s %10.0f %14s\n' "$n" "$raw" "$label" "$secs" "$(echo "$rss / 1024" | bc -l)" "$spilled"
  done
  rm -rf "$lake"
done
