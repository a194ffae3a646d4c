"""Harness for the trainer tests (tests/python/trainer, run by scripts/test-trainer.sh with
.venv/trainer): the sample's fine-tuning dataset, built by the real jobs, and a real MLflow
server (.venv/mlflow, SQLite store, one worker), as the mlflow-sync tests start it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TRAINER = REPO / "trainer"
BIN_DIR = Path(os.environ.get("HIVE_TEST_BIN_DIR") or REPO / "target" / "debug").resolve()
SAMPLE_DATE = "2026-10-17"
SAMPLE_DAYS = 12
sys.path.insert(0, str(TRAINER))
# No hub: every model and tokenizer comes from local folders.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("MLFLOW_TRACKING_URI", None)


def binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"`{path}` is not built: run `cargo build -p hive-jobs --bins`")
    return str(path)


@pytest.fixture(scope="session")
def work() -> Path:
    path = Path(tempfile.mkdtemp(prefix="hive-trainer-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def sample_lake(work: Path) -> Path:
    """The sample lake after the nightly jobs and a 12-day build-finetune for 2026-10-17
    (the dataset docs/build-finetune.md describes: 968 train, 72 validation examples)."""
    lake = work / "lake"
    shutil.copytree(REPO / "data" / "sample", lake)
    planted = json.loads((lake / "planted.json").read_text())
    dates = sorted(d for d, o in planted["counts"]["outcomes_by_run_date"].items() if "edits" in o)
    for date in dates:
        for job in ("extract-edits", "score-diffs"):
            subprocess.run(
                [binary(job), "--data-root", str(lake), "--date", date, "--quiet"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    subprocess.run(
        [
            binary("build-finetune"),
            "--data-root",
            str(lake),
            "--date",
            SAMPLE_DATE,
            "--days",
            str(SAMPLE_DAYS),
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return lake


@pytest.fixture(scope="session")
def sample_dataset(sample_lake: Path) -> Path:
    return sample_lake / "finetune" / f"dt={SAMPLE_DATE}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """A real `mlflow server` from .venv/mlflow; stopped (with its workers) at the end."""

    def __init__(self, root: Path):
        exe = REPO / ".venv" / "mlflow" / "bin" / "mlflow"
        if not exe.exists():
            pytest.fail(f"`{exe}` is missing: run `bash scripts/setup-venvs.sh mlflow`")
        root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = root / "server.log"
        self.proc = subprocess.Popen(
            [
                str(exe),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
            ],
            stdout=open(self.log, "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"mlflow server not healthy in time; log:\n{self.log.read_text()}")

    def stop(self) -> None:
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def mlflow_server(work: Path):
    server = MlflowServer(work / "mlflow")
    yield server
    server.stop()
