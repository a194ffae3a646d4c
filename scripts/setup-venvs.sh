#!/usr/bin/env bash
# Creates the pinned Python environments the tests use, under .venv/<name>, from
# scripts/requirements/<name>.txt. Idempotent: an environment whose requirements file
# has not changed since it was built is left alone.
#
#   bash scripts/setup-venvs.sh oracles        # pyarrow, DuckDB, scipy, statsmodels, gbstats
#   bash scripts/setup-venvs.sh                # every environment
set -euo pipefail
cd "$(dirname "$0")/.."

python=${HIVE_BASE_PYTHON:-python3}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=()
  for f in scripts/requirements/*.txt; do names+=("$(basename "$f" .txt)"); done
fi

for name in "${names[@]}"; do
  req="scripts/requirements/$name.txt"
  [ -f "$req" ] || { echo "error: no requirements file \`$req\`" >&2; exit 2; }
  venv=".venv/$name"
  stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "venv $name: up to date"
    continue
  fi
  echo "venv $name: building from $req"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
done
