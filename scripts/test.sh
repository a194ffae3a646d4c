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
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --profile "$profile" "$@"
else
  echo "cargo-nextest not found; using cargo test" >&2
  cargo test --workspace "$@"
fi
# The Airflow DAGs on real Airflow 3.3 (tests/dags), against the binaries just tested.
bash scripts/test-dags.sh
# The generator's trainer (tests/python/trainer): TrainJob rendering and one real local
# fine-tuning run against a real MLflow server.
bash scripts/test-trainer.sh
