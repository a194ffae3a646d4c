#!/usr/bin/env bash
# The trainer's tests (tests/python/trainer/) in .venv/trainer: TrainJob rendering against
# the Kubeflow Trainer CRD and submission against an in-memory API, then one real local
# fine-tuning run (torchrun, CPU) of a tiny model on the sample dataset against a real
# MLflow server (.venv/mlflow). Builds the job binaries and both environments first.
#
#   bash scripts/test-trainer.sh               # every trainer test
#   bash scripts/test-trainer.sh -k trainjob   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p hive-jobs --bins
bash scripts/setup-venvs.sh trainer mlflow
mkdir -p target/pytest
HF_HUB_OFFLINE=1 HIVE_TEST_BIN_DIR="$PWD/target/debug" .venv/trainer/bin/python -m pytest tests/python/trainer \
  -p no:cacheprovider --junitxml="$PWD/target/pytest/trainer-junit.xml" "$@"
