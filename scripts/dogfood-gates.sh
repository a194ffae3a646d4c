#!/usr/bin/env bash
# Dogfooding: checks this repository's own test results against its own gates
# (quality-fabric-config.yaml, project `template-evolution`) and prints the Markdown
# summary. The reports are the cargo-nextest JUnit that `cargo nextest run --profile ci`
# writes to target/nextest/ci/junit.xml (scripts/test.sh uses that profile when CI=1),
# the DAG tests' pytest JUnit in target/pytest/dags-junit.xml (scripts/test-dags.sh)
# and, when .ci/run could instrument the run, cargo-llvm-cov's LCOV in
# target/coverage/lcov.info (without it the line-coverage gate warns).
#
#   CI=1 bash scripts/test.sh && bash scripts/dogfood-gates.sh
#
# Exit status is evaluate-gates': 0 every blocking gate passed, 1 one failed, 2 bad
# input (no JUnit: run the tests first). Outputs (gate_results & co., the JUnit of the
# verdicts, the JSON summary) go under $HIVE_DOGFOOD_OUT (default target/dogfood-gates).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
junit="$target_dir/nextest/ci/junit.xml"
if [ ! -f "$junit" ]; then
  echo "error: \`$junit\` is missing: run \`cargo nextest run --profile ci\` first (CI=1 bash scripts/test.sh does)" >&2
  exit 2
fi
out=${HIVE_DOGFOOD_OUT:-$target_dir/dogfood-gates}
# evaluate-gates writes its tables under the lake; a data root must exist (a wrong one is exit 2).
mkdir -p "$out/lake"
# The config's report glob is relative to the project's reports directory; point it at
# the directory holding target/nextest/ci/junit.xml (the repository root by default).
reports_dir=$(cd "$target_dir/.." && pwd)

status=0
cargo run --quiet --locked -p hive-jobs --bin evaluate-gates -- \
  --config quality-fabric-config.yaml \
  --project "template-evolution=$reports_dir" \
  --data-root "$out/lake" \
  --date "$(date -u +%F)" \
  --run-id "template-evolution@ci" \
  --summary-md "$out/summary.md" \
  --junit-out "$out/gates-junit.xml" \
  --quiet >"$out/summary.json" || status=$?

if [ -f "$out/summary.md" ]; then
  cat "$out/summary.md"
  # GitHub Actions shows it on the run page.
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"; fi
fi
exit "$status"
