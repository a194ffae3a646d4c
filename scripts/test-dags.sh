#!/usr/bin/env bash
# The DAG tests (tests/dags/) on real Airflow 3.3: builds the job binaries and the pinned
# Airflow environment (.venv/airflow), then runs pytest. Each test session uses a
# throwaway AIRFLOW_HOME with SQLite (`airflow db migrate` first), so nothing here needs
# a running Airflow. About 2 minutes once the binaries and the venv are built.
#
#   bash scripts/test-dags.sh              # every DAG test
#   bash scripts/test-dags.sh -k sharded   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p hive-jobs --bins
# train-generator (trainer/) lives beside the job binaries, as in a deployment.
ln -sf "$PWD/trainer/train-generator" target/debug/train-generator
bash scripts/setup-venvs.sh airflow
# The JUnit report is this project's integration-test report for its own quality gates
# (scripts/dogfood-gates.sh).
mkdir -p target/pytest
HIVE_TEST_BIN_DIR="$PWD/target/debug" .venv/airflow/bin/python -m pytest tests/dags -p no:cacheprovider \
  --junitxml="$PWD/target/pytest/dags-junit.xml" "$@"
