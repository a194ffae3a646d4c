#!/usr/bin/env bash
# The project's test command (README.md): builds the pinned Python environments and npm
# tools the tests compare against, downloads the real source releases the diff tests
# compare with git, then runs every Rust test with cargo-nextest (cargo test when
# nextest is not installed), then the DAG tests on real Airflow, then the trainer's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-venvs.sh   # every scripts/requirements/*.txt environment
bash scripts/setup-node.sh    # jest + jest-junit (tests/node/jest)
bash scripts/fetch-corpora.sh
profile=default
[ -n "${CI:-}" ] && profile=ci
# The hostile-input cases record their outcomes here (crates/jobs/tests/hostile.rs).
rm -rf target/hostile-input
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --profile "$profile" "$@"
else
  echo "cargo-nextest not found; using cargo test" >&2
  cargo test --workspace "$@"
fi
# Totals of the hostile-input and crash cases just run.
if [ -d target/hostile-input ]; then
  python3 - target/hostile-input <<'PY'
import json, pathlib, sys
cases = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
errors = sum(c["outcome"].startswith("exit") for c in cases)
runs = [c for c in cases if c["outcome"] == "accounted"]
untried = [c["case"] for c in cases if c["outcome"] == "not tried"]
print(f"hostile input: {len(cases) - len(untried)} cases tried, {errors} clear errors (exit 2 or 3, naming the file), "
      f"{len(runs)} runs with every row accounted ({sum(c['rows_accounted'] for c in runs)} rows), "
      f"not tried here: {', '.join(untried) or 'none'}")
PY
fi
# The Airflow DAGs on real Airflow 3.3 (tests/dags), against the binaries just tested.
bash scripts/test-dags.sh
# The generator's trainer (tests/python/trainer): TrainJob rendering and one real local
# fine-tuning run against a real MLflow server.
bash scripts/test-trainer.sh
