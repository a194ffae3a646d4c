#!/usr/bin/env bash
# Benchmarks mlflow-sync against a local `mlflow server`: runs per second in
# per-generation mode at several --concurrency values, and in aggregated mode, for one
# date of N generations, with the job's peak memory. The server is production-like by
# default: a PostgreSQL backend store (scripts/postgres-instance.sh, Debian's postgresql)
# and WORKERS uvicorn workers (.venv/mlflow-prod); BACKEND=sqlite WORKERS=1 is the test
# setup. The generation_scores partition is written here with pyarrow (the shape
# score-diffs writes; 40 template versions). Each configuration starts from an empty
# server (and database) so every run is created. Results are recorded in docs/benchmarks.md.
#
#   bash scripts/bench-mlflow-sync.sh                           # N=2000, PostgreSQL, 4 workers, release
#   N=500 PROFILE=debug BACKEND=sqlite WORKERS=1 bash scripts/bench-mlflow-sync.sh
#   CONFIGS="per-generation:16 aggregated:8" bash scripts/bench-mlflow-sync.sh
#   BIN=target/debug/mlflow-sync bash scripts/bench-mlflow-sync.sh   # no build
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-2000}
profile=${PROFILE:-release}
backend=${BACKEND:-postgres}
workers=${WORKERS:-4}
configs=${CONFIGS:-per-generation:4 per-generation:8 per-generation:16 per-generation:32 aggregated:8}
work=$(realpath -m "${WORK:-target/bench-mlflow-sync}")
bash scripts/setup-venvs.sh mlflow-prod >/dev/null
if [ -n "${BIN:-}" ]; then
  bin=$(realpath "$BIN")   # an already built binary (its profile is then whatever built it)
elif [ "$profile" = release ]; then
  cargo build --quiet --release -p hive-jobs --bin mlflow-sync
  bin=$PWD/target/release/mlflow-sync
else
  cargo build --quiet -p hive-jobs --bin mlflow-sync
  bin=$PWD/target/debug/mlflow-sync
fi
py=$PWD/.venv/mlflow-prod/bin/python
mlflow=$PWD/.venv/mlflow-prod/bin/mlflow
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
pg_dir=
stop_server() {
  [ -n "$server_pid" ] && kill -- "-$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=
  [ -n "$pg_dir" ] && { bash scripts/postgres-instance.sh stop "$pg_dir/pg"; rm -rf "$pg_dir"; }; pg_dir=
}
trap stop_server EXIT
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_server() { # dir
  port=$(free_port)
  mkdir -p "$1"
  if [ "$backend" = postgres ]; then
    # Outside target/: the `postgres` user must be able to reach it when run as root.
    pg_dir=$(mktemp -d /tmp/hive-bench-pg.XXXXXX); chmod 755 "$pg_dir"
    store=$(bash scripts/postgres-instance.sh start "$pg_dir/pg" "$(free_port)")
  else
    store="sqlite:///$1/mlflow.db"
  fi
  ( cd "$1" && MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec setsid "$mlflow" server \
      --host 127.0.0.1 --port "$port" --workers "$workers" --backend-store-uri "$store" \
      --artifacts-destination "$1/artifacts" > "$1/server.log" 2>&1 ) &
  server_pid=$!
  for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server did not start; see $1/server.log" >&2; exit 1
}

# CPU seconds used so far by a process tree (live descendants, plus the children it has
# reaped): what the server and PostgreSQL spend per run, the bound on a small machine.
cpu_seconds() { # root pid
  "$py" - "$1" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def stat(pid):
    try:
        text = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), sum(int(f) for f in fields[11:15])  # ppid, utime+stime+cutime+cstime
procs = {int(p): stat(p) for p in os.listdir("/proc") if p.isdigit()}
procs = {p: s for p, s in procs.items() if s}
tree, frontier = {int(sys.argv[1])}, [int(sys.argv[1])]
while frontier:
    parent = frontier.pop()
    for pid, (ppid, _) in procs.items():
        if ppid == parent and pid not in tree:
            tree.add(pid); frontier.append(pid)
print(sum(procs[p][1] for p in tree if p in procs) / tick)
PY
}

printf '%-30s %6s %8s %8s %8s %9s %11s %11s\n' "mode" "runs" "seconds" "runs/s" "gen/s" "peak MiB" "server ms" "postgres ms"
i=0
for spec in $configs; do
  mode=${spec%%:*}; concurrency=${spec##*:}
  i=$((i + 1))
  start_server "$work/server-$i"
  pg_pid=; [ -n "$pg_dir" ] && pg_pid=$(head -1 "$pg_dir/pg/data/postmaster.pid")
  server0=$(cpu_seconds "$server_pid"); pg0=0; [ -n "$pg_pid" ] && pg0=$(cpu_seconds "$pg_pid")
  /usr/bin/time -f %M -o "$work/rss-$i" "$bin" --data-root "$work/lake" --date "$date" \
    --tracking-uri "http://127.0.0.1:$port" --tables generation_scores \
    --mode "$mode" --concurrency "$concurrency" --quiet > "$work/summary-$i.json"
  server1=$(cpu_seconds "$server_pid"); pg1=0; [ -n "$pg_pid" ] && pg1=$(cpu_seconds "$pg_pid")
  "$py" - "$work/summary-$i.json" "$mode (concurrency $concurrency)" "$work/rss-$i" \
    "$server0" "$server1" "$pg0" "$pg1" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
t = s["tables"]["generation_scores"]
rss = int(open(sys.argv[3]).read().split()[-1]) / 1024
runs = max(t["created"], 1)
server_ms = (float(sys.argv[5]) - float(sys.argv[4])) * 1000 / runs
pg_ms = (float(sys.argv[7]) - float(sys.argv[6])) * 1000 / runs
print(f"{sys.argv[2]:<30} {t['created']:>6} {s['seconds']:>8.1f} {t['created'] / s['seconds']:>8.1f} "
      f"{t['rows'] / s['seconds']:>8.0f} {rss:>9.1f} {server_ms:>11.1f} {pg_ms:>11.1f}")
PY
  stop_server
done
echo "(server ms, postgres ms: CPU time per run created; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "($n generations; $profile build; $backend store, $workers server workers; $(nproc) cores; mlflow $("$py" -c 'import mlflow; print(mlflow.__version__)'))"
