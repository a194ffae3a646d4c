#!/usr/bin/env bash
# Benchmarks mlflow-sync against a local `mlflow server` (SQLite store, --workers 1, as in
# the tests): runs per second in per-generation mode at several --concurrency values, and
# in aggregated mode, for one date of N generations. The generation_scores partition is
# written here with pyarrow (the shape score-diffs writes; 40 template versions). Each
# mode starts from an empty server so every run is created. Results are recorded in
# docs/benchmarks.md.
#
#   bash scripts/bench-mlflow-sync.sh                 # N=2000, release build
#   N=500 PROFILE=debug bash scripts/bench-mlflow-sync.sh
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-2000}
profile=${PROFILE:-release}
work=$(realpath -m "${WORK:-target/bench-mlflow-sync}")
bash scripts/setup-venvs.sh mlflow >/dev/null
if [ "$profile" = release ]; then
  cargo build --quiet --release -p hive-jobs --bin mlflow-sync
else
  cargo build --quiet -p hive-jobs --bin mlflow-sync
fi
bin=$PWD/target/$profile/mlflow-sync
py=$PWD/.venv/mlflow/bin/python
mlflow=$PWD/.venv/mlflow/bin/mlflow
rm -rf "$work"
mkdir -p "$work"
date=2026-10-17

"$py" - "$work/lake" "$date" "$n" <<'PY'
import json, os, random, sys
from datetime import datetime, timedelta, timezone
import pyarrow as pa, pyarrow.parquet as pq
root, date, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(7)
d = os.path.join(root, "generation_scores", f"dt={date}")
os.makedirs(d)
at = datetime.fromisoformat(date).replace(tzinfo=timezone.utc) - timedelta(days=7)
rows = []
for i in range(n):
    g = rng.randint(20, 400); r = rng.randint(0, g); a = rng.randint(0, 200)
    rows.append({
        "event_id": f"evt-{i:07d}", "project_id": f"proj-{i // 3:06d}",
        "template_id": f"tmpl-{i % 8}", "template_version": f"1.{i % 5}.0",
        "experiment_id": None, "variant": None,
        "generated_at": at + timedelta(seconds=i),
        "files": 5, "binary_files": 0, "deleted_files": 0,
        "lines_generated": g, "lines_kept": g - r, "lines_removed": r, "lines_added": a,
        "rewrite_rate": r / g, "diff_score": 1 - 2 * (g - r) / (2 * g - r + a), "rewritten": r / g > 0.5,
    })
schema = pa.schema([
    ("event_id", pa.string()), ("project_id", pa.string()), ("template_id", pa.string()),
    ("template_version", pa.string()), ("experiment_id", pa.string()), ("variant", pa.string()),
    ("generated_at", pa.timestamp("us", tz="UTC")),
    ("files", pa.int64()), ("binary_files", pa.int64()), ("deleted_files", pa.int64()),
    ("lines_generated", pa.int64()), ("lines_kept", pa.int64()), ("lines_removed", pa.int64()),
    ("lines_added", pa.int64()), ("rewrite_rate", pa.float64()), ("diff_score", pa.float64()),
    ("rewritten", pa.bool_()),
])
pq.write_table(pa.Table.from_pylist(rows, schema=schema), os.path.join(d, "part-0-of-1.parquet"), compression="zstd")
manifest = {"table": "generation_scores", "dt": date, "schema_version": 1, "shards": 1,
            "parts": [{"file": "part-0-of-1.parquet", "rows": n}], "rows": n}
json.dump(manifest, open(os.path.join(d, "_SUCCESS"), "w"))
PY

server_pid=
stop_server() { [ -n "$server_pid" ] && kill -- "-$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=; }
trap stop_server EXIT
start_server() { # dir
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$1"
  ( cd "$1" && MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec setsid "$mlflow" server \
      --host 127.0.0.1 --port "$port" --workers 1 --backend-store-uri "sqlite:///$1/mlflow.db" \
      --artifacts-destination "$1/artifacts" > "$1/server.log" 2>&1 ) &
  server_pid=$!
  for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server did not start; see $1/server.log" >&2; exit 1
}

printf '%-34s %8s %9s %10s\n' "mode" "runs" "seconds" "runs/s"
i=0
for spec in "per-generation 1" "per-generation 4" "per-generation 8" "per-generation 16" "aggregated 4"; do
  set -- $spec
  i=$((i + 1))
  start_server "$work/server-$i"
  "$bin" --data-root "$work/lake" --date "$date" --tracking-uri "http://127.0.0.1:$port" \
    --mode "$1" --concurrency "$2" --quiet > "$work/summary-$i.json"
  "$py" - "$work/summary-$i.json" "$1 (concurrency $2)" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
t = s["tables"]["generation_scores"]
print(f"{sys.argv[2]:<34} {t['created']:>8} {s['seconds']:>9.1f} {t['created'] / s['seconds']:>10.1f}")
PY
  stop_server
done
echo "($n generations; $profile build; $(nproc) cores; mlflow $("$py" -c 'import mlflow; print(mlflow.__version__)'))"
