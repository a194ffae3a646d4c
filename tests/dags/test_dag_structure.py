"""The DAGs as designed: they load, their graphs, defaults, operators and settings."""

from __future__ import annotations

import datetime as dt

import hive_pipeline
import hive_tasks
import pytest
from conftest import DAGS, load_dag

EVOLUTION_UPSTREAM = {
    "plan": set(),
    "shards": {"plan"},
    "extract_edits": {"shards"},
    "score_diffs": {"extract_edits", "shards"},
    "ab_significance": {"score_diffs"},
    "promote_templates": {"ab_significance"},
    "srm_alarm": {"ab_significance"},
    "build_finetune": {"score_diffs"},
    "train_generator": {"build_finetune"},
    "mlflow_sync": {"promote_templates", "build_finetune"},
}
QUALITY_UPSTREAM = {
    "plan": set(),
    "evaluate_gates": {"plan"},
    "mlflow_sync": {"evaluate_gates"},
    "gates_alarm": {"evaluate_gates"},
}


def test_dagbag_loads_both_dags_without_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert sorted(bag.dags) == ["quality_gates", "template_evolution"]
    # The helper modules are listed in .airflowignore, so only the two DAG files are parsed.
    assert sorted(stat.file for stat in bag.dagbag_stats) == ["quality_gates.py", "template_evolution.py"]


@pytest.mark.parametrize(
    ("dag_id", "expected"), [("template_evolution", EVOLUTION_UPSTREAM), ("quality_gates", QUALITY_UPSTREAM)]
)
def test_task_graph_is_as_designed(dag_id, expected):
    dag = load_dag(dag_id)
    assert {t.task_id: set(t.upstream_task_ids) for t in dag.tasks} == expected


def test_heavy_jobs_are_mapped_over_shards():
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = load_dag("template_evolution")
    mapped = sorted(t.task_id for t in dag.tasks if isinstance(t, MappedOperator))
    assert mapped == ["extract_edits", "score_diffs"]


@pytest.mark.parametrize("dag_id", ["template_evolution", "quality_gates"])
def test_dag_settings_and_default_args(dag_id):
    dag = load_dag(dag_id)
    assert dag.doc_md and dag.doc_md.strip().startswith(f"# {dag_id}")
    assert dag.catchup is False
    assert dag.start_date == dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    assert dag.schedule == "@daily"
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None and dag.dagrun_timeout <= dt.timedelta(hours=8)
    assert "hive" in dag.tags and "nightly" in dag.tags
    assert dag.default_args["retries"] == 2
    assert dag.default_args["retry_delay"] == dt.timedelta(minutes=5)
    assert dag.default_args["execution_timeout"] == dt.timedelta(hours=3)
    assert dag.default_args["depends_on_past"] is False
    for task in dag.tasks:
        # A submission must not run twice; an alarm's verdict does not change on a retry.
        assert task.retries == (0 if task.task_id in ("train_generator", "srm_alarm", "gates_alarm") else 2), (
            task.task_id
        )
        assert task.retry_delay == dt.timedelta(minutes=5)


def _job_tasks(dag):
    """The tasks that run a job binary (not the plan, the shard list or an alarm)."""
    alarms = {a.task_id for a in hive_pipeline.ALARMS[dag.dag_id]}
    return [t for t in dag.tasks if t.task_id not in ("plan", "shards", *alarms)]


def _arg(task, name, default=None):
    """An operator argument, whether the task is mapped (`.partial()`) or not."""
    partial = getattr(task, "partial_kwargs", None)
    if partial is not None:
        return partial.get(name, default)
    return getattr(task, name, default)


def _codes(value):
    return [value] if isinstance(value, int) else list(value)


@pytest.mark.parametrize("dag_id", ["template_evolution", "quality_gates"])
def test_bash_mode_maps_99_to_skipped_and_pushes_the_summary(dag_id):
    dag = load_dag(dag_id)
    steps = {s.task_id: s for s in hive_pipeline.PIPELINES[dag_id]}
    for task in _job_tasks(dag):
        assert _codes(_arg(task, "skip_on_exit_code")) == [99], task.task_id
        assert _arg(task, "bash_command") == hive_pipeline.shell_script(steps[task.task_id])
        assert _arg(task, "output_processor") is hive_pipeline.parse_summary
        assert _arg(task, "do_xcom_push", True) is True
        assert task.trigger_rule == steps[task.task_id].trigger_rule
    assert hive_pipeline.parse_summary('log line\n{"job": "x", "rows": 3}\n') == {"job": "x", "rows": 3}


def test_kubernetes_mode_runs_the_same_scripts_in_pods(monkeypatch):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    monkeypatch.setenv("HIVE_AIRFLOW_MODE", "kubernetes")
    monkeypatch.setenv("HIVE_K8S_NAMESPACE", "hive-jobs")
    dag = load_dag("template_evolution")
    assert {t.task_id: set(t.upstream_task_ids) for t in dag.tasks} == EVOLUTION_UPSTREAM
    steps = {s.task_id: s for s in hive_pipeline.EVOLUTION}
    for task in _job_tasks(dag):
        if steps[task.task_id].sharded:
            assert task.operator_class is hive_tasks.pod_operator_class()
            assert set(task.expand_input.value) == {"env_vars"}
        else:
            assert isinstance(task, hive_tasks.pod_operator_class())
        assert issubclass(hive_tasks.pod_operator_class(), KubernetesPodOperator)
        assert _arg(task, "image") == "{{ ti.xcom_pull(task_ids='plan', key='image') }}"
        assert _arg(task, "cmds") == ["/bin/sh", "-c"]
        script = hive_pipeline.shell_script(steps[task.task_id], xcom_file="/airflow/xcom/return.json")
        assert _arg(task, "arguments") == [script]
        assert _codes(_arg(task, "skip_on_exit_code")) == [99]
        assert _arg(task, "do_xcom_push") is True
        assert _arg(task, "namespace") == "hive-jobs"
    # The scheduler stores the DAG serialized: the operator defined on first use survives it.
    from airflow.serialization.serialized_objects import DagSerialization

    back = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert {t.task_type for t in back.tasks if t.task_id in steps} == {"HivePodOperator"}


def _finished_pod(exit_code: int):
    """A pod as the Kubernetes API returns it once its job container ended."""
    from kubernetes.client import models as k8s

    terminated = k8s.V1ContainerStateTerminated(exit_code=exit_code)
    status = k8s.V1ContainerStatus(
        name="base",
        image="hive-jobs:test",
        image_id="",
        ready=False,
        restart_count=0,
        state=k8s.V1ContainerState(terminated=terminated),
    )
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="hive-extract-edits", namespace="hive-jobs"),
        status=k8s.V1PodStatus(phase="Succeeded" if exit_code == 0 else "Failed", container_statuses=[status]),
    )


@pytest.mark.parametrize(
    ("exit_code", "outcome"),
    [(0, None), (1, "fail"), (2, "fail"), (3, "retry"), (137, "retry"), (99, "skip")],
)
def test_kubernetes_mode_fails_at_once_on_exit_1_and_2(monkeypatch, exit_code, outcome):
    """The pod operator's own cleanup (the provider's code, with only its calls to the
    Kubernetes API stubbed) turns the job container's exit code into the task's fate."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    operator = hive_tasks.pod_operator_class()(
        task_id="extract_edits", image="hive-jobs:test", name="hive-extract-edits", skip_on_exit_code=99
    )
    for api_call in ("patch_already_checked", "process_pod_deletion", "_read_pod_container_states", "_read_pod_events"):
        monkeypatch.setattr(operator, api_call, lambda *a, **k: None)
    monkeypatch.setattr(operator, "is_istio_enabled", lambda pod: False)
    pod = _finished_pod(exit_code)
    if outcome is None:
        operator.cleanup(pod, pod)
        return
    with pytest.raises(Exception) as caught:
        operator.cleanup(pod, pod)
    if outcome == "fail":
        assert isinstance(caught.value, AirflowFailException), caught.value
        assert f"exit {exit_code}" in str(caught.value)
    elif outcome == "skip":
        assert isinstance(caught.value, AirflowSkipException), caught.value
    else:  # an ordinary failure: Airflow retries it
        assert not isinstance(caught.value, (AirflowFailException, AirflowSkipException)), caught.value
        assert "returned a failure" in str(caught.value)


def test_alarms_check_the_watched_summary_and_never_retry():
    dag = load_dag("template_evolution")
    (alarm,) = hive_pipeline.ALARMS["template_evolution"]
    task = dag.get_task(alarm.task_id)
    assert task.retries == 0 and set(task.upstream_task_ids) == {alarm.watches}
    assert hive_pipeline.alarm_message(alarm, {"srm_flags": []}) is None
    assert hive_pipeline.alarm_message(alarm, {"srm_flags": ["exp-a", "exp-b"]}) == (
        "ab_significance flagged srm_flags: exp-a, exp-b"
    )
    # A summary the alarm cannot read (an unparsed line, no XCom) fails it: an unchecked
    # night is not reported as a clean one.
    for unreadable in ({"unparsed_output": "x"}, None, {"srm_flags": "exp-a"}):
        assert "has no `srm_flags` list to check" in hive_pipeline.alarm_message(alarm, unreadable)


def test_settings_resolve_param_then_variable_then_environment():
    env = {"HIVE_DATA_ROOT": "/env/lake", "HIVE_SHARDS": "4", "MLFLOW_TRACKING_URI": "http://env"}
    variables = {"hive_data_root": "/var/lake", "hive_shards": None}
    got = hive_pipeline.resolve_settings({"data_root": "", "shards": None}, variables.get, env)
    assert (got["data_root"], got["shards"], got["mlflow_tracking_uri"]) == ("/var/lake", "4", "http://env")
    got = hive_pipeline.resolve_settings({"data_root": "/param/lake", "shards": 2}, variables.get, env)
    assert (got["data_root"], got["shards"]) == ("/param/lake", "2")
    assert got["experiments_config"] == "/param/lake/experiments.yaml"
    with pytest.raises(hive_pipeline.SettingsError, match="no data root"):
        hive_pipeline.resolve_settings({}, lambda _n: None, {})
    with pytest.raises(hive_pipeline.SettingsError, match="absolute"):
        hive_pipeline.resolve_settings({"data_root": "data"}, lambda _n: None, {})
    with pytest.raises(hive_pipeline.SettingsError, match="shards"):
        hive_pipeline.resolve_settings({"data_root": "/l", "shards": 0}, lambda _n: None, {})


def test_the_gate_results_setting_reaches_ab_significance():
    """`gate_results` turns on the gate_pass_rate guardrail's input; off by default, and a
    value that is not a boolean is a settings error rather than a silent `false`."""
    off = hive_pipeline.resolve_settings({"data_root": "/l"}, lambda _n: None, {})
    assert hive_pipeline.job_env(off, "2026-10-13")["HIVE_GATE_RESULTS"] == "false"
    on = hive_pipeline.resolve_settings({"data_root": "/l"}, {"hive_gate_results": "True"}.get, {})
    assert hive_pipeline.job_env(on, "2026-10-13")["HIVE_GATE_RESULTS"] == "true"
    with pytest.raises(hive_pipeline.SettingsError, match="gate_results"):
        hive_pipeline.resolve_settings({"data_root": "/l", "gate_results": "yes please"}, lambda _n: None, {})
    assert "HIVE_GATE_RESULTS" in hive_pipeline.ENV_KEYS


def test_exit_codes_come_from_the_generated_table():
    import hive_exit_codes
    import hive_tasks

    assert hive_tasks.EXIT_NOTHING_TO_PROCESS == hive_exit_codes.EXIT_NOTHING_TO_PROCESS == 99
    assert set(hive_tasks.NOT_RETRIED) == hive_exit_codes.FAIL_AT_ONCE == {1, 2}
    script = hive_pipeline.shell_script(hive_pipeline.EVOLUTION[0])
    assert f"exit {hive_exit_codes.EXIT_RUNTIME_FAILURE}" in script


def test_a_scheduled_run_processes_the_day_before_its_logical_date():
    import hive_tasks

    assert hive_pipeline.partition_for("2026-10-14") == "2026-10-13"
    assert hive_pipeline.partition_for(dt.date(2026, 3, 1)) == "2026-02-28"
    assert hive_tasks.PARTITION_TEMPLATE == "{{ params.partition_date or macros.ds_add(ds, -1) }}"
    dag = load_dag("template_evolution")
    assert dag.get_task("plan").op_kwargs["partition"] == hive_tasks.PARTITION_TEMPLATE
