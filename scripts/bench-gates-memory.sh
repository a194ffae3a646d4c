#!/usr/bin/env bash
# evaluate-gates' peak memory and time on the hostile reports of issue 14: a SARIF log of
# 1.5M results (~180 MB) and a JUnit XML of 1.2M cases (~84 MB), written by
# scripts/bench/hostile_reports.py, each evaluated alone and then together. The totals
# are checked against the counts the generator planted. Results are recorded in
# docs/quality-gates.md ("Resources").
#
#   bash scripts/bench-gates-memory.sh
#   SARIF_RESULTS=3000000 JUNIT_CASES=600000 bash scripts/bench-gates-memory.sh
#   BIN=/path/to/evaluate-gates bash scripts/bench-gates-memory.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."

sarif_results=${SARIF_RESULTS:-1500000}
junit_cases=${JUNIT_CASES:-1200000}
work=${WORK:-target/bench-gates-memory}
if [[ -z ${BIN:-} ]]; then
  cargo build --quiet --release -p hive-jobs --bin evaluate-gates
  BIN=target/release/evaluate-gates
fi
rm -rf "$work"
mkdir -p "$work"
python3 scripts/bench/hostile_reports.py --out "$work/reports" \
  --sarif-results "$sarif_results" --junit-cases "$junit_cases" > "$work/planted.json"

printf '%-7s %10s %12s %9s %10s\n' report "file MB" rows seconds "peak MiB"
for kind in sarif junit both; do
  case $kind in
    sarif) types="  security:\n    reports:\n      - {format: sarif, paths: [security/hostile.sarif], tool: t}\n" ;;
    junit) types="  unit:\n    reports:\n      - {format: junit, paths: [unit/junit.xml], tool: t}\n" ;;
    both) types="  security:\n    reports:\n      - {format: sarif, paths: [security/hostile.sarif], tool: t}\n  unit:\n    reports:\n      - {format: junit, paths: [unit/junit.xml], tool: t}\n" ;;
  esac
  printf "version: 1\ntest_types:\n${types}gates: []\n" > "$work/quality.yaml"
  rm -rf "$work/lake"
  mkdir -p "$work/lake"
  HIVE_LOG=warn /usr/bin/time -f "%e %M" -o "$work/time.txt" "$BIN" --data-root "$work/lake" --date 2026-10-12 \
    --config "$work/quality.yaml" --project "hostile=$work/reports" > "$work/summary.json"
  read -r secs rss < "$work/time.txt"
  read -r mb rows < <(python3 - "$work/planted.json" "$work/summary.json" "$kind" <<'EOF'
import json, sys
planted = json.load(open(sys.argv[1]))
summary = json.loads(open(sys.argv[2]).read().splitlines()[-1])
kind = sys.argv[3]
want_findings = planted["sarif"]["total"] if kind in ("sarif", "both") else 0
want_cases = planted["junit"]["tests"] if kind in ("junit", "both") else 0
assert summary["findings"] == want_findings, (summary, want_findings)
assert summary["test_cases"] == want_cases, (summary, want_cases)
size = (planted["sarif_bytes"] if kind != "junit" else 0) + (planted["junit_bytes"] if kind != "sarif" else 0)
print(round(size / 1e6), want_findings + want_cases)
EOF
)
  printf '%-7s %10s %12s %9s %10.0f\n' "$kind" "$mb" "$rows" "$secs" "$(echo "$rss / 1024" | bc -l)"
done
rm -rf "$work/reports" "$work/lake"
