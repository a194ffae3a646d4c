#!/usr/bin/env bash
# Installs the pinned npm tools the tests run (tests/node/<name>/package-lock.json) into
# tests/node/<name>/node_modules with `npm ci`. Idempotent: a tree whose lock file has
# not changed since it was installed is left alone. Needs Node.js >= 18 and npm.
#
#   bash scripts/setup-node.sh        # every tests/node/* tree (today: jest + jest-junit)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v npm >/dev/null || { echo "error: npm not found; install Node.js >= 18 with npm" >&2; exit 2; }
for dir in tests/node/*/; do
  dir=${dir%/}
  lock="$dir/package-lock.json"
  [ -f "$lock" ] || { echo "error: no lock file \`$lock\`" >&2; exit 2; }
  stamp="$dir/node_modules/.lock.sha256"
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "node $(basename "$dir"): up to date"
    continue
  fi
  echo "node $(basename "$dir"): installing from $lock"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
done
