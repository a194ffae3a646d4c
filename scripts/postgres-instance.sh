#!/usr/bin/env bash
# A throw-away PostgreSQL (Debian's `postgresql` package) for the production-like MLflow
# server of the tests and the benchmark: a fresh cluster in DIR listening on 127.0.0.1:PORT
# (and a Unix socket in DIR), trust authentication, database `mlflow`, fsync off (the data
# is discarded). Run as root it runs the server as the `postgres` user, as PostgreSQL
# refuses root. Prints the SQLAlchemy URI MLflow's --backend-store-uri takes (psycopg2
# driver named: SQLAlchemy 2.1 would otherwise load psycopg 3).
#
#   bash scripts/postgres-instance.sh start DIR PORT   # prints postgresql+psycopg2://mlflow@127.0.0.1:PORT/mlflow
#   bash scripts/postgres-instance.sh stop DIR
set -euo pipefail

bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bindir/initdb" ] || { echo "error: PostgreSQL not installed (apt-get install postgresql)" >&2; exit 2; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    dir=$(realpath -m "$2"); port=$3
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner "$bindir/initdb" --pgdata "$dir/data" --username mlflow --auth trust --encoding UTF8 --no-sync >/dev/null
    as_owner "$bindir/pg_ctl" --pgdata "$dir/data" --log "$dir/postgres.log" --wait --timeout 120 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
    as_owner "$bindir/createdb" --host "$dir" --port "$port" --username mlflow mlflow
    echo "postgresql+psycopg2://mlflow@127.0.0.1:$port/mlflow"
    ;;
  stop)
    dir=$(realpath -m "$2")
    [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" --pgdata "$dir/data" --mode immediate stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
