"""Harness for the DAG tests: a throwaway Airflow home on SQLite, the real binaries, sample lakes.

Runs on real Airflow 3.3 (`.venv/airflow`, scripts/requirements/airflow.txt). Airflow reads
its configuration when first imported, so the environment is set here, before any test
module imports it, and the metadata database is migrated once per session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
SAMPLE = REPO / "data" / "sample"
BIN_DIR = Path(os.environ.get("HIVE_TEST_BIN_DIR") or REPO / "target" / "debug").resolve()
#: The job binaries the DAG tests run.
REQUIRED_BINARIES = (
    "extract-edits",
    "score-diffs",
    "ab-significance",
    "promote-templates",
    "build-finetune",
    "evaluate-gates",
    "mlflow-sync",
)

_home = Path(tempfile.mkdtemp(prefix="hive-airflow-home-"))
#: Connections of the session, read by Airflow's LocalFilesystemBackend on every lookup
#: (as VaultBackend would be read in production): empty unless a test sets some.
CONNECTIONS_FILE = _home / "connections.json"
CONNECTIONS_FILE.write_text("{}")
os.environ.update(
    {
        "AIRFLOW_HOME": str(_home),
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(CONNECTIONS_FILE)}),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # INFO: the task logs carry the jobs' output, which the credential checks search.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)
# Settings and credentials the DAGs would otherwise take from the developer's environment.
for _name in list(os.environ):
    if (
        _name.startswith(("HIVE_", "MLFLOW_TRACKING_", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        and _name != "HIVE_TEST_BIN_DIR"
    ):
        del os.environ[_name]
os.environ["HIVE_AIRFLOW_MODE"] = "bash"
sys.path.insert(0, str(DAGS))

_migrate = subprocess.run(
    [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
    capture_output=True,
    text=True,
)
if _migrate.returncode != 0:
    raise RuntimeError(f"airflow db migrate failed:\n{_migrate.stdout}\n{_migrate.stderr}")


def set_connections(connections: dict) -> None:
    """Defines exactly these connections ({conn_id: Airflow's JSON form}) in the session's
    secrets backend; `{}` removes them all."""
    tmp = CONNECTIONS_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(connections))
    tmp.replace(CONNECTIONS_FILE)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_home, ignore_errors=True)


def load_dag(dag_id: str):
    """A freshly parsed DAG, as the DAG processor sees it (no import errors allowed)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags[dag_id]


def run_dag(dag_id: str, logical_date: str, conf: dict, *, retries: bool = False, retry_delay=None):
    """One `dag.test()` run; returns the DagRun and {task_id: [state per map index]}.

    Retries are switched off unless `retries`: dag.test() waits out the retry delay, which
    `retry_delay` (a timedelta, no backoff) shortens. dag.test() returns normally when the
    run fails, so callers check the states.
    """
    dag = load_dag(dag_id)
    for task in dag.tasks:
        if not retries:
            task.retries = 0
        elif retry_delay is not None:
            task.retry_delay = retry_delay
            task.retry_exponential_backoff = 0
    when = dt.datetime.fromisoformat(logical_date).replace(tzinfo=dt.timezone.utc)
    dr = dag.test(logical_date=when, run_conf=conf)
    states: dict[str, list] = {}
    for ti in sorted(dr.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        states.setdefault(ti.task_id, []).append(str(ti.state) if ti.state else None)
    return dr, states


def xcom(dr, task_id: str, key: str = "return_value", map_index: int = -1):
    """The value a task pushed in this run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dr.dag_id,
                XComModel.run_id == dr.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
                XComModel.map_index == map_index,
            )
        ).first()
        assert row is not None, f"no XCom {key} from {task_id}[{map_index}]"
        return XComModel.deserialize_value(row)


def tree_digest(root: Path, skip=("raw",)) -> dict[str, str]:
    """sha256 of every file under `root` (but raw inputs), by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in skip:
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    missing = [b for b in REQUIRED_BINARIES if not (BIN_DIR / b).exists()]
    if missing:
        pytest.fail(f"binaries not built in {BIN_DIR}: {missing}; run `cargo build -p hive-jobs --bins`")
    return BIN_DIR


def copy_sample(dest: Path) -> Path:
    shutil.copytree(SAMPLE, dest)
    return dest


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON: the base of the tests' fake HTTP APIs."""

    def log_message(self, *_):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
