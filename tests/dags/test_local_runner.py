"""The README's main command cannot drift from the DAG.

`scripts/run-sample.sh` runs `dags/hive_local_runner.py`, which plans from the same
`hive_pipeline` steps the DAG files are built from. These tests compare the runner's
`--print-plan` with the DAG that Airflow actually loads, and run the main command.
"""

from __future__ import annotations

import json
import subprocess
import sys

import hive_local_runner
import hive_pipeline
import pytest
from conftest import DAGS, REPO, load_dag


def _runner_plan(dag_id: str, tmp_path) -> list[dict]:
    out = subprocess.run(
        [
            sys.executable,
            str(DAGS / "hive_local_runner.py"),
            "--print-plan",
            "--dag",
            dag_id,
            "--data-root",
            str(tmp_path),
            "--bin-dir",
            "/opt/hive/bin",
            "2026-10-13",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)["2026-10-13"]


def _arg(task, name):
    partial = getattr(task, "partial_kwargs", None)
    return partial[name] if partial is not None else getattr(task, name)


@pytest.mark.parametrize("dag_id", ["template_evolution", "quality_gates"])
def test_runner_runs_the_dags_tasks_in_a_valid_order_with_the_same_commands(dag_id, tmp_path):
    dag = load_dag(dag_id)
    jobs = {t.task_id: t for t in dag.tasks if t.task_id not in ("plan", "shards")}
    plan = _runner_plan(dag_id, tmp_path)
    assert [item["task_id"] for item in plan] and {item["task_id"] for item in plan} == set(jobs)
    seen: set[str] = set()
    for item in plan:
        task = jobs[item["task_id"]]
        upstream = set(task.upstream_task_ids) - {"plan", "shards"}
        assert set(item["upstream"]) == upstream, item["task_id"]
        assert upstream <= seen, f"{item['task_id']} runs before {upstream - seen}"
        seen.add(item["task_id"])
        assert item["trigger_rule"] == getattr(task.trigger_rule, "value", task.trigger_rule), item["task_id"]
        if "alarm" in item:
            # A Python task of the DAG, checking the watched step's summary field.
            assert task.task_type == "_PythonDecoratedOperator", item["task_id"]
            assert item["script"] is None
            continue
        assert item["script"] == _arg(task, "bash_command"), item["task_id"]
        assert item["sharded"] == hasattr(task, "expand_input"), item["task_id"]


def test_runner_emulates_airflows_trigger_rules():
    steps = {s.task_id: s for s in hive_pipeline.EVOLUTION}
    decide = hive_local_runner.decide
    assert decide(steps["score_diffs"], {"extract_edits": "success"}) is None
    assert decide(steps["score_diffs"], {"extract_edits": "skipped"}) == "skipped"
    assert decide(steps["score_diffs"], {"extract_edits": "failed"}) == "upstream_failed"
    sync = steps["mlflow_sync"]
    assert decide(sync, {"promote_templates": "success", "build_finetune": "skipped"}) is None
    assert decide(sync, {"promote_templates": "skipped", "build_finetune": "skipped"}) == "skipped"
    assert decide(sync, {"promote_templates": "success", "build_finetune": "upstream_failed"}) == "upstream_failed"


def test_main_command_runs_the_sample_and_prints_a_summary():
    out = subprocess.run(["bash", "scripts/run-sample.sh"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "template_evolution task states per partition" in out.stdout
    assert "line-weighted rewrite rate over the sample" in out.stdout
    assert "promotion decisions on 2026-10-17" in out.stdout
    states = json.loads((REPO / "target" / "sample-run" / "states.json").read_text())
    assert len(states) == 10
    for date, tasks in states.items():
        assert tasks["extract_edits"] == tasks["score_diffs"] == tasks["promote_templates"] == "success", date
        assert tasks["build_finetune"] == "success", date
        assert tasks["train_generator"] == "skipped", date
        # No MLFLOW_TRACKING_URI on a fresh machine: mlflow-sync exits 99.
        assert tasks["mlflow_sync"] == "skipped", date
