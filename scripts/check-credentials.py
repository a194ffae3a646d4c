#!/usr/bin/env python3
"""Compliance check: a planted credential must appear nowhere a DAG run leaves traces.

Why it exists: credentials reach the jobs through Airflow Connections (docs/secrets.md),
and this proves they go no further. It defines the connection `hive_mlflow` with a
planted credential (`--case token`, `password` or `url`: a password in the host's
user-info), runs `airflow dags test`, then searches for the planted values in the DAG
files, the Airflow Variables, every XCom, every rendered task field, the metadata
database file, what `airflow dags test` printed (the task logs with the jobs' stdout
and stderr), any log file under AIRFLOW_HOME, and every file the jobs wrote under the lake
(Parquet decoded too, since compressed pages hide bytes; the raw exports, which no job
writes, are left out). It prints how many places it checked
and exits 1 naming each leak (0: none; 2: bad usage).

Run with Airflow's Python (`.venv/airflow/bin/python`), where `airflow` is on the same
bin directory. `scan` is also used in-process by tests/dags/test_credentials.py.

    .venv/airflow/bin/python scripts/check-credentials.py --dag quality_gates --date 2026-10-14 \\
        --case password --conf '{"data_root": "/abs/lake", "bin_dir": "/abs/target/debug"}'
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets as _random
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]


def forms(value: str) -> set[str]:
    """How a secret may be written: as is, percent-encoded, and base64 (a logged header)."""
    out = {value, quote(value, safe=""), quote(value)}
    out.add(base64.b64encode(value.encode()).decode().rstrip("="))
    return {f for f in out if len(f) >= 6}


class Scan:
    """Counts the places searched and records where a planted value was found."""

    def __init__(self, planted: dict[str, str]):
        self.planted = {label: forms(value) for label, value in planted.items() if value}
        self.checked = 0
        self.leaks: list[str] = []

    def text(self, place: str, text: str) -> None:
        self.checked += 1
        for label, variants in self.planted.items():
            if any(v in text for v in variants):
                self.leaks.append(f"{label} in {place}")

    def data(self, place: str, data: bytes) -> None:
        self.text(place, data.decode("utf-8", errors="replace"))
        # Basic-auth headers hold `login:password` in base64: also decoded forms of the
        # raw bytes are covered by `forms`; UTF-16 and the like are out of scope.

    def file(self, path: Path) -> None:
        data = path.read_bytes()
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            meta = pq.read_metadata(path).metadata or {}
            decoded = json.dumps(table.to_pylist(), default=str) + json.dumps(
                {k.decode(errors="replace"): v.decode(errors="replace") for k, v in meta.items()}
            )
            self.text(f"{path} (decoded)", decoded)
        self.data(str(path), data)

    def tree(self, root: Path, skip: tuple[str, ...] = ()) -> None:
        """Every file under `root`, but the top-level directories in `skip`."""
        for path in sorted(Path(root).rglob("*")):
            rel = path.relative_to(root).parts
            if path.is_file() and "__pycache__" not in rel and rel[0] not in skip:
                self.file(path)

    def lake(self, root: Path) -> None:
        """Every file the jobs wrote under the lake `root`: all but the raw exports under
        `raw/`, the jobs' inputs, which no job writes."""
        self.tree(root, skip=("raw",))

    def airflow_state(self) -> None:
        """Variables, XComs, rendered fields and the metadata database of this AIRFLOW_HOME."""
        from airflow.configuration import conf
        from airflow.models.renderedtifields import RenderedTaskInstanceFields
        from airflow.models.variable import Variable
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            for var in session.scalars(select(Variable)):
                self.text(f"Variable {var.key}", f"{var.key}={var.val}")
            for row in session.scalars(select(XComModel)):
                value = json.dumps(XComModel.deserialize_value(row), default=str)
                self.text(f"XCom {row.dag_id}/{row.run_id}/{row.task_id}[{row.map_index}]/{row.key}", value)
            for row in session.scalars(select(RenderedTaskInstanceFields)):
                self.text(
                    f"rendered fields {row.dag_id}/{row.run_id}/{row.task_id}[{row.map_index}]",
                    json.dumps(row.rendered_fields, default=str) + json.dumps(row.k8s_pod_yaml, default=str),
                )
        for name, value in os.environ.items():
            if name.startswith("AIRFLOW_VAR_"):
                self.text(f"Variable {name} (environment)", value)
        uri = conf.get("database", "sql_alchemy_conn")
        if uri.startswith("sqlite:///"):
            db = Path(uri.removeprefix("sqlite:///"))
            for path in (db, Path(f"{db}-wal")):
                if path.is_file():
                    self.data(f"metadata database {path}", path.read_bytes())
        logs = Path(conf.get("logging", "base_log_folder"))
        if logs.is_dir():
            self.tree(logs)

    def report(self, out=sys.stdout) -> int:
        print(f"credential compliance: {self.checked} places checked, {len(self.leaks)} leaks", file=out)
        for leak in self.leaks:
            print(f"LEAK: {leak}", file=out)
        return 1 if self.leaks else 0


def planted_connection(case: str, url: str, login: str, value: str) -> dict:
    """`hive_mlflow` (Airflow's JSON form) with the planted value in the `case` field."""
    if case == "token":
        return {"conn_type": "http", "host": url, "extra": {"token": value}}
    if case == "password":
        return {"conn_type": "http", "host": url, "login": login, "password": value}
    scheme, rest = url.split("://", 1)
    return {"conn_type": "http", "host": f"{scheme}://{quote(login, safe='')}:{quote(value, safe='')}@{rest}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dag", required=True, choices=("template_evolution", "quality_gates"))
    p.add_argument("--date", required=True, help="logical date of the run (it processes the day before)")
    p.add_argument("--conf", default="{}", help="run conf (JSON); its data_root is the lake searched")
    p.add_argument("--case", choices=("token", "password", "url"), default="password")
    p.add_argument("--mlflow-url", default="http://127.0.0.1:9", help="tracking server (default: nothing listens)")
    p.add_argument("--login", default="admin")
    p.add_argument("--secret", help="the planted value (default: a fresh random one)")
    args = p.parse_args(argv)
    try:
        conf = json.loads(args.conf)
    except ValueError as err:
        print(f"error: --conf is not JSON: {err}", file=sys.stderr)
        return 2
    value = args.secret or f"planted-{args.case}-{_random.token_hex(12)}"
    env = dict(os.environ)
    env["AIRFLOW_CONN_HIVE_MLFLOW"] = json.dumps(planted_connection(args.case, args.mlflow_url, args.login, value))
    airflow = str(Path(sys.executable).parent / "airflow")
    run = subprocess.run(
        [airflow, "dags", "test", args.dag, args.date, "-c", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
    )
    print(f"airflow dags test {args.dag} {args.date}: exit {run.returncode}")
    scan = Scan({f"planted {args.case}": value})
    scan.tree(REPO / "dags")
    scan.text("airflow dags test stdout (task logs, job stdout)", run.stdout)
    scan.text("airflow dags test stderr (task logs, job stderr)", run.stderr)
    scan.airflow_state()
    if conf.get("data_root"):
        scan.lake(Path(conf["data_root"]))
    return scan.report()


if __name__ == "__main__":
    sys.exit(main())
