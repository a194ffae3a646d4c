"""`dag.test()` runs of the DAGs on the sample lake with the real binaries.

dag.test() returns normally when a run fails, so every test checks the DagRun state and
the state of every task instance. A run for logical date D processes partition D-1.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN_DIR, DAGS, JsonHandler, copy_sample, run_dag, tree_digest, xcom

NIGHTS = {"2026-10-14": "2026-10-13", "2026-10-15": "2026-10-14"}  # logical date -> partition
EVOLUTION_TABLES = ("edits", "diff_scores", "generation_scores", "ab_results", "promotions")


def expected_evolution_states(shards: int) -> dict:
    return {
        "plan": ["success"],
        "shards": ["success"],
        "extract_edits": ["success"] * shards,
        "score_diffs": ["success"] * shards,
        "ab_significance": ["success"],
        "srm_alarm": ["success"],
        "promote_templates": ["success"],
        "build_finetune": ["success"],
        "train_generator": ["skipped"],
        "mlflow_sync": ["skipped"],  # no tracking URI: exit 99
    }


@pytest.fixture(scope="module")
def nights(tmp_path_factory, bin_dir):
    """Two consecutive nights of template_evolution, one shard, on a copy of the sample."""
    lake = copy_sample(tmp_path_factory.mktemp("single") / "lake")
    conf = {"data_root": str(lake), "bin_dir": str(bin_dir)}
    runs = {}
    for logical in NIGHTS:
        runs[logical] = run_dag("template_evolution", logical, conf)
    return lake, conf, runs


def test_two_consecutive_nights_produce_their_partitions(nights):
    lake, _conf, runs = nights
    for logical, partition in NIGHTS.items():
        dr, states = runs[logical]
        assert states == expected_evolution_states(1), logical
        assert str(dr.state) == "success"
        for table in EVOLUTION_TABLES:
            part = lake / table / f"dt={partition}"
            assert (part / "_SUCCESS").is_file(), part
            assert list(part.glob("part-*.parquet")), part
        assert (lake / "finetune" / f"dt={partition}" / "manifest.json").is_file()
        assert (lake / "reports" / "ab-significance" / f"dt={partition}" / "report.md").is_file()
    # Each run processed the day before its logical date, and only that day.
    # (Partitions only: `.locks` beside them holds the writers' lock files.)
    partitions = sorted(p.name for p in (lake / "edits").iterdir() if p.name.startswith("dt="))
    assert partitions == [f"dt={p}" for p in NIGHTS.values()]


def test_each_job_pushes_its_json_summary_to_xcom(nights):
    _lake, conf, runs = nights
    dr, _states = runs["2026-10-15"]
    summary = xcom(dr, "extract_edits", map_index=0)
    assert (summary["job"], summary["date"], summary["shard"]) == ("extract-edits", "2026-10-14", "0/1")
    assert summary["reconciled"] is True
    assert xcom(dr, "score_diffs", map_index=0)["job"] == "score-diffs"
    assert xcom(dr, "promote_templates")["job"] == "promote-templates"
    assert xcom(dr, "build_finetune")["job"] == "build-finetune"
    plan_env = xcom(dr, "plan", key="env")
    assert plan_env["HIVE_DATE"] == "2026-10-14"
    assert plan_env["HIVE_DATA_ROOT"] == conf["data_root"]


def test_local_runner_gets_the_same_environment_as_the_dag_tasks(nights):
    """The README's runner and the DAG give the jobs the same environment for a partition."""
    lake, conf, runs = nights
    dr, _states = runs["2026-10-15"]
    out = subprocess.run(
        [
            sys.executable,
            str(DAGS / "hive_local_runner.py"),
            "--print-plan",
            "--data-root",
            conf["data_root"],
            "--bin-dir",
            conf["bin_dir"],
            "2026-10-14",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    runner = {item["task_id"]: item for item in json.loads(out.stdout)["2026-10-14"]}
    assert runner["ab_significance"]["envs"] == [xcom(dr, "plan", key="env")]
    assert runner["extract_edits"]["envs"] == xcom(dr, "shards")


def test_rerun_of_a_night_leaves_byte_identical_outputs(nights):
    lake, conf, _runs = nights
    before = tree_digest(lake)
    edits = lake / "edits" / "dt=2026-10-14" / "part-0-of-1.parquet"
    mtime = edits.stat().st_mtime_ns
    dr, states = run_dag("template_evolution", "2026-10-15", conf)
    assert states == expected_evolution_states(1)
    assert str(dr.state) == "success"
    assert edits.stat().st_mtime_ns != mtime, "the rerun did not rewrite the partition"
    assert tree_digest(lake) == before


def test_sharded_run_equals_the_single_run(nights, tmp_path, bin_dir):
    import pyarrow.parquet as pq

    single, _conf, _runs = nights
    lake = copy_sample(tmp_path / "lake")
    dr, states = run_dag(
        "template_evolution", "2026-10-14", {"data_root": str(lake), "bin_dir": str(bin_dir), "shards": 3}
    )
    assert states == expected_evolution_states(3)
    assert str(dr.state) == "success"
    labels = sorted(ti.rendered_map_index for ti in dr.get_task_instances() if ti.task_id == "extract_edits")
    assert labels == ["0/3", "1/3", "2/3"]
    partition = "dt=2026-10-13"
    for table in ("edits", "diff_scores", "generation_scores", "quarantine/extract-edits", "quarantine/score-diffs"):
        sharded_dir, single_dir = lake / table / partition, single / table / partition
        success = json.loads((sharded_dir / "_SUCCESS").read_text())
        assert success["shards"] == 3 and len(success["parts"]) == 3, table
        sharded = pq.ParquetDataset(sharded_dir).read().to_pylist()
        whole = pq.ParquetDataset(single_dir).read().to_pylist()
        key = lambda row: json.dumps(row, sort_keys=True, default=str)  # noqa: E731
        assert sorted(sharded, key=key) == sorted(whole, key=key), table
        assert len(whole) == json.loads((single_dir / "_SUCCESS").read_text())["rows"]
    # Everything downstream of the sharded jobs is byte-identical.
    for table in ("ab_results", "promotions", "reports/ab-significance"):
        assert tree_digest(lake / table / partition) == tree_digest(single / table / partition), table
    # The fine-tuning dataset too, but for its lineage, which names the input parts
    # (part-k-of-3 against part-0-of-1) and the rows in them.
    assert_same_dataset(lake / "finetune" / partition, single / "finetune" / partition)


LINEAGE_FILES = {"sources-train.parquet", "sources-validation.parquet", "sources-test.parquet", "excluded.parquet"}


def assert_same_dataset(sharded: Path, whole: Path) -> None:
    import pyarrow.parquet as pq

    got, want = tree_digest(sharded), tree_digest(whole)
    assert got.keys() == want.keys()
    for name in sorted(got):
        if name in LINEAGE_FILES:
            a, b = (
                pq.read_table(d / name).drop_columns(["source_file", "source_row"]).to_pylist()
                for d in (sharded, whole)
            )
            if name == "excluded.parquet":  # in input order, which the part layout changes
                a, b = (sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str)) for rows in (a, b))
            assert a == b, name
        elif name == "README.md":
            a, b = (
                [line for line in (d / name).read_text().splitlines() if not any(f in line for f in LINEAGE_FILES)]
                for d in (sharded, whole)
            )
            assert a == b, name
        elif name == "manifest.json":
            a, b = (json.loads((d / name).read_text()) for d in (sharded, whole))
            edits_rows = [sum(i["rows"] for i in m["inputs"] if i["table"] == "edits") for m in (a, b)]
            assert edits_rows[0] == edits_rows[1] > 0, edits_rows
            for m in (a, b):
                m.pop("inputs", None)
                for lineage in LINEAGE_FILES:
                    m.get("files", {}).pop(lineage, None)
            assert a == b, name
        else:
            assert got[name] == want[name], name


def test_bad_input_fails_extract_edits_and_nothing_downstream_runs(tmp_path, bin_dir):
    lake = copy_sample(tmp_path / "lake")
    # A generations export inside partition 2026-10-13's observation window is corrupt.
    corrupt = lake / "raw" / "generations" / "dt=2026-10-10" / "part-00000.parquet"
    corrupt.write_bytes(b"not a parquet file")
    dr, states = run_dag("template_evolution", "2026-10-14", {"data_root": str(lake), "bin_dir": str(bin_dir)})
    assert str(dr.state) == "failed"
    assert states == {
        "plan": ["success"],
        "shards": ["success"],
        "extract_edits": ["failed"],
        "score_diffs": ["upstream_failed"],
        "ab_significance": ["upstream_failed"],
        "srm_alarm": ["upstream_failed"],
        "promote_templates": ["upstream_failed"],
        "build_finetune": ["upstream_failed"],
        "train_generator": ["upstream_failed"],
        "mlflow_sync": ["upstream_failed"],
    }
    for table in EVOLUTION_TABLES:
        assert not (lake / table / "dt=2026-10-13").exists(), table


def _tries(dr, task_id: str) -> tuple[int, int]:
    """(max_tries, try_number) of an unmapped task in this run."""
    (ti,) = [t for t in dr.get_task_instances() if t.task_id == task_id]
    return ti.max_tries, ti.try_number


def _corrupt_an_export(lake: Path, monkeypatch) -> None:
    # Exit 2: a generations export inside partition 2026-10-13's window is not Parquet.
    (lake / "raw" / "generations" / "dt=2026-10-10" / "part-00000.parquet").write_bytes(b"PAR1 broken")


def _quarantine_most_generations(lake: Path, monkeypatch) -> None:
    # Exit 1: every file of the sample is over 64 bytes, so extract-edits quarantines the
    # generations whose files changed, far over its 10% ratio (outputs written). The
    # workers' environment reaches the job.
    monkeypatch.setenv("HIVE_MAX_FILE_BYTES", "64")


@pytest.mark.parametrize("break_the_night", [_corrupt_an_export, _quarantine_most_generations])
def test_bad_input_and_data_failures_are_not_retried(tmp_path, bin_dir, monkeypatch, break_the_night):
    """Exit 2 (bad input) and exit 1 (the data failed a check: a retry would read the
    same data) fail the task at once although it has retries left."""
    lake = copy_sample(tmp_path / "lake")
    break_the_night(lake, monkeypatch)
    dr, states = run_dag(
        "template_evolution",
        "2026-10-14",
        {"data_root": str(lake), "bin_dir": str(bin_dir)},
        retries=True,
        retry_delay=dt.timedelta(0),  # were it retried, the test would fail at once
    )
    assert str(dr.state) == "failed"
    assert states["extract_edits"] == ["failed"]
    assert states["score_diffs"] == ["upstream_failed"]
    assert _tries(dr, "extract_edits") == (2, 1)
    quarantined = (lake / "quarantine" / "extract-edits" / "dt=2026-10-13").is_dir()
    assert quarantined == (break_the_night is _quarantine_most_generations)


@pytest.mark.parametrize(
    "dag_id, setting, task_id",
    [
        ("template_evolution", "data_root", "extract_edits"),
        ("template_evolution", "experiments_config", "ab_significance"),
        ("template_evolution", "finetune_config", "build_finetune"),
        ("quality_gates", "gates_config", "evaluate_gates"),
    ],
)
def test_a_misconfiguration_fails_the_night_at_once(tmp_path, bin_dir, dag_id, setting, task_id):
    """A data root or config file that does not exist is exit 2 naming the path: the task
    fails at once (no retry), the run fails. Never a skipped, green night."""
    if dag_id == "quality_gates":
        conf = _gates_lake(tmp_path / "lake", failures=0)
    else:
        conf = {"data_root": str(copy_sample(tmp_path / "lake")), "bin_dir": str(bin_dir)}
    conf[setting] = str(tmp_path / "nowhere" / "not-there")
    dr, states = run_dag(dag_id, "2026-10-14", conf, retries=True, retry_delay=dt.timedelta(0))
    assert str(dr.state) == "failed"
    assert states[task_id] == ["failed"], states
    assert _tries(dr, task_id) == (2, 1)
    assert "skipped" not in states[task_id]


def test_a_runtime_failure_is_retried(tmp_path, bin_dir, monkeypatch):
    """Exit 3 (here MLflow unreachable) is retried: the server may be back."""
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = _gates_lake(tmp_path / "lake", failures=0) | {"mlflow_tracking_uri": f"http://127.0.0.1:{port}"}
    monkeypatch.setenv("HIVE_MLFLOW_MAX_ATTEMPTS", "1")
    dr, states = run_dag("quality_gates", "2026-10-14", conf, retries=True, retry_delay=dt.timedelta(0))
    assert states["evaluate_gates"] == ["success"]
    assert states["mlflow_sync"] == ["failed"]
    assert _tries(dr, "mlflow_sync") == (2, 3)


def test_a_night_with_nothing_to_process_is_skipped(tmp_path, bin_dir):
    lake = copy_sample(tmp_path / "lake")
    # No observation window closes on 2026-10-07 in the sample: extract-edits exits 99.
    dr, states = run_dag("template_evolution", "2026-10-08", {"data_root": str(lake), "bin_dir": str(bin_dir)})
    assert str(dr.state) == "success"
    assert states["extract_edits"] == ["skipped"]
    for task in (
        "score_diffs",
        "ab_significance",
        "srm_alarm",
        "promote_templates",
        "build_finetune",
        "train_generator",
        "mlflow_sync",
    ):
        assert states[task] == ["skipped"], task


def _skew_split(lake: Path, experiment: str, variant: str, keep: int) -> int:
    """Removes every project of `variant` in `experiment` but the first `keep` (sorted)
    from the raw exports, generations and snapshots alike: a broken assignment as the
    sample-ratio check sees it. Returns how many projects were removed."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    generations = sorted((lake / "raw" / "generations").glob("dt=*/*.parquet"))
    projects: set[str] = set()
    for path in generations:
        for row in pq.ParquetFile(path).read(columns=["project_id", "experiment_id", "variant"]).to_pylist():
            if row["experiment_id"] == experiment and row["variant"] == variant:
                projects.add(row["project_id"])
    removed = pa.array(sorted(projects)[keep:], pa.string())
    for path in generations + sorted((lake / "raw" / "snapshots").glob("dt=*/*.parquet")):
        table = pq.ParquetFile(path).read()
        pq.write_table(table.filter(pc.invert(pc.is_in(table["project_id"], value_set=removed))), path)
    return len(removed)


def test_a_sample_ratio_mismatch_raises_the_alarm_and_the_night_still_decides(tmp_path, bin_dir):
    """A broken split must not keep the other experiments from being decided: ab-significance
    succeeds (`--on-srm warn`), promote-templates stops the broken experiment and decides the
    others, and `srm_alarm` fails the run, naming the experiment."""
    lake = copy_sample(tmp_path / "lake")
    assert _skew_split(lake, "exp-fastapi-3", "control", keep=5) > 15
    conf = {"data_root": str(lake), "bin_dir": str(bin_dir)}
    run_dag("template_evolution", "2026-10-14", conf)
    dr, states = run_dag("template_evolution", "2026-10-15", conf)
    assert str(dr.state) == "failed"
    assert states == {**expected_evolution_states(1), "srm_alarm": ["failed"]}
    assert xcom(dr, "ab_significance")["srm_flags"] == ["exp-fastapi-3"]
    decisions = xcom(dr, "promote_templates")["decisions"]
    assert decisions["exp-fastapi-3"] == "stop"
    assert set(decisions) == {"exp-fastapi-3", "exp-axum-2"}
    assert (lake / "promotions" / "dt=2026-10-14" / "_SUCCESS").is_file()


class _TrainJobApi:
    """The TrainJob endpoints of a Kubernetes API server, in memory: created jobs complete."""

    def __init__(self):
        import threading
        from http.server import ThreadingHTTPServer

        self.posts: list[dict] = []
        #: The Authorization header of every TrainJob creation: the credentials the job used.
        self.auth_headers: list[str | None] = []
        jobs: dict[str, dict] = {}
        posts, auth_headers = self.posts, self.auth_headers

        class Handler(JsonHandler):

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                posts.append(body)
                auth_headers.append(self.headers.get("Authorization"))
                name = body["metadata"]["name"]
                if name in jobs:
                    return self._send(409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"})
                jobs[name] = {**body, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
                self._send(201, body)

            def do_GET(self):
                job = jobs.get(self.path.rstrip("/").split("/")[-1])
                self._send(200, job) if job else self._send(404, {"kind": "Status", "code": 404})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, path):
        server = f"http://127.0.0.1:{self.server.server_port}"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "t",
                    "clusters": [{"name": "t", "cluster": {"server": server}}],
                    "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
                    "users": [{"name": "t", "user": {"token": "t"}}],
                }
            )
        )
        return path


def test_train_generator_submits_one_trainjob_for_the_nights_dataset(tmp_path, bin_dir, monkeypatch):
    """train_mode=kubernetes: the real train-generator (trainer/, linked into the bin dir by
    scripts/test-dags.sh) creates the TrainJob for the dataset build_finetune wrote with
    `finetune_days` days; a rerun of the night submits nothing new."""
    if not (bin_dir / "train-generator").exists():
        pytest.fail(f"{bin_dir}/train-generator is missing: scripts/test-dags.sh links trainer/train-generator there")
    api = _TrainJobApi()
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))
    # Submission needs only the Kubernetes client and PyYAML, which Airflow's env has.
    monkeypatch.setenv("HIVE_TRAINER_PYTHON", sys.executable)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    lake = copy_sample(tmp_path / "lake")
    conf = {"data_root": str(lake), "bin_dir": str(bin_dir), "train_mode": "kubernetes", "finetune_days": "3"}
    try:
        dr, states = run_dag("template_evolution", "2026-10-14", conf)
        assert states["build_finetune"] == ["success"] and states["train_generator"] == ["success"], states
        summary = xcom(dr, "train_generator")
        _dr, again = run_dag("template_evolution", "2026-10-14", conf)
        assert again["train_generator"] == ["success"], again
    finally:
        api.server.shutdown()
        api.server.server_close()
    dataset = lake / "finetune" / "dt=2026-10-13"
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["days"] == 3
    assert (summary["status"], summary["submitted"], summary["dataset_digest"]) == (
        "succeeded",
        True,
        manifest["digest"],
    )
    assert [p["metadata"]["name"] for p in api.posts] == [summary["trainjob"]] * 2  # the rerun got 409
    annotations = api.posts[0]["metadata"]["annotations"]
    assert annotations["template-evolution/dataset-dir"] == str(dataset)


QUALITY_CONFIG = """\
version: 1
defaults:
  on_missing: fail
test_types:
  unit:
    reports:
      - format: junit
        tool: pytest
        paths: ["unit/junit*.xml"]
gates:
  - id: unit-pass-rate
    test_type: unit
    metric: pass_rate
    operator: ">="
    threshold: 1.0
"""


def _junit(failures: int) -> str:
    cases = '<testcase classname="t" name="a" time="0.01"/>'
    cases += (
        '<testcase classname="t" name="b" time="0.01"><failure message="boom"/></testcase>'
        if failures
        else ('<testcase classname="t" name="b" time="0.01"/>')
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
        f'failures="{failures}" skipped="0" tests="2" time="0.02">{cases}</testsuite></testsuites>'
    )


def _gates_lake(root: Path, failures: int) -> dict:
    reports = root / "raw" / "quality-reports" / "dt=2026-10-13" / "web-shop" / "unit"
    reports.mkdir(parents=True)
    (reports / "junit.xml").write_text(_junit(failures))
    config = root / "config" / "quality-fabric-config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(QUALITY_CONFIG)
    return {"data_root": str(root), "bin_dir": str(BIN_DIR)}


def test_quality_gates_night_writes_gate_results(tmp_path, bin_dir):
    conf = _gates_lake(tmp_path / "lake", failures=0)
    dr, states = run_dag("quality_gates", "2026-10-14", conf)
    assert states == {
        "plan": ["success"],
        "evaluate_gates": ["success"],
        "mlflow_sync": ["skipped"],  # no tracking URI: exit 99
        "gates_alarm": ["success"],
    }
    assert str(dr.state) == "success"
    assert (tmp_path / "lake" / "gate_results" / "dt=2026-10-13" / "_SUCCESS").is_file()
    summary = xcom(dr, "evaluate_gates")
    assert (summary["job"], summary["passed"], summary["failed"]) == ("evaluate-gates", 1, 0)


def test_a_failing_blocking_gate_fails_the_night(tmp_path, bin_dir):
    conf = _gates_lake(tmp_path / "lake", failures=1)
    dr, states = run_dag("quality_gates", "2026-10-14", conf)
    assert str(dr.state) == "failed"
    # evaluate-gates runs with --on-blocking-failure warn: the results are written and
    # mlflow_sync runs (it exits 99 here, without a tracking URI), then the alarm fails.
    assert states == {
        "plan": ["success"],
        "evaluate_gates": ["success"],
        "mlflow_sync": ["skipped"],  # no tracking URI: exit 99
        "gates_alarm": ["failed"],
    }
    (sync,) = [t for t in dr.get_task_instances() if t.task_id == "mlflow_sync"]
    assert sync.start_date is not None, "mlflow_sync ran"
    assert xcom(dr, "evaluate_gates")["blocking_failures"] == ["web-shop/unit-pass-rate"]
    assert (tmp_path / "lake" / "gate_results" / "dt=2026-10-13" / "_SUCCESS").is_file()


def test_quality_gates_without_reports_is_skipped(tmp_path, bin_dir):
    # No reports landed for the night: evaluate-gates itself says 99 (nothing to
    # process), which the DAG shows as skipped; nothing is written.
    config = tmp_path / "lake" / "config" / "quality-fabric-config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(QUALITY_CONFIG)
    dr, states = run_dag("quality_gates", "2026-10-14", {"data_root": str(tmp_path / "lake"), "bin_dir": str(bin_dir)})
    assert str(dr.state) == "success"
    assert states == {
        "plan": ["success"],
        "evaluate_gates": ["skipped"],
        "mlflow_sync": ["skipped"],
        "gates_alarm": ["skipped"],
    }
    assert not (tmp_path / "lake" / "gate_results").exists()


def test_a_relative_data_root_fails_the_plan(tmp_path, bin_dir):
    dr, states = run_dag("quality_gates", "2026-10-14", {"data_root": "relative/lake", "bin_dir": str(bin_dir)})
    assert str(dr.state) == "failed"
    assert states == {
        "plan": ["failed"],
        "evaluate_gates": ["upstream_failed"],
        "mlflow_sync": ["upstream_failed"],
        "gates_alarm": ["upstream_failed"],
    }


def test_settings_come_from_variables_when_the_run_sets_no_param(tmp_path, bin_dir):
    from airflow.models.variable import Variable

    (tmp_path / "lake").mkdir()
    Variable.set("hive_data_root", str(tmp_path / "lake"))
    Variable.set("hive_shards", "2")
    try:
        dr, states = run_dag("quality_gates", "2026-10-14", {"bin_dir": str(bin_dir)})
    finally:
        Variable.delete("hive_data_root")
        Variable.delete("hive_shards")
    assert states["plan"] == ["success"]
    settings = xcom(dr, "plan", key="settings")
    assert (settings["data_root"], settings["shards"], settings["bin_dir"]) == (
        str(tmp_path / "lake"),
        "2",
        str(bin_dir),
    )
    assert xcom(dr, "plan", key="partition") == "2026-10-13"
