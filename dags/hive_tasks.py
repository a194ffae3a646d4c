"""Builds the Airflow tasks of a pipeline from `hive_pipeline`'s steps.

Shared by `template_evolution.py` and `quality_gates.py` (listed in `.airflowignore`, so
the DAG processor does not parse it as a DAG file). Importing it is cheap: the
Kubernetes provider is imported only when the Kubernetes mode is chosen.

Modes, chosen by the environment variable `HIVE_AIRFLOW_MODE` of the DAG processor and
the workers (the operator class is part of the DAG's structure, so it cannot be a run
param):

- `bash` (default): `BashOperator` runs the binaries from `bin_dir` on the worker.
- `kubernetes`: `KubernetesPodOperator` runs each job in a pod from the `image` setting,
  with the lake mounted at `data_root` by the pod template (`HIVE_K8S_POD_TEMPLATE`).

Run settings (data root, binaries, image, MLflow URI, configs, shard count) are resolved
once per run by the `plan` task: run param, else Variable `hive_<name>`, else the
worker's environment (see `hive_pipeline.SETTINGS`). Every job task takes its
environment from the plan's XCom, so a run's tasks all see the same settings.

Credentials are never settings: a task whose step names connections
(`hive_pipeline.Step.connections`) looks them up when it runs, through
`BaseHook.get_connection` (so through the configured secrets backend: Vault in
production, docs/secrets.md), registers every secret value with Airflow's secrets
masker, and adds them to its job's environment only (`hive_credentials`). In Kubernetes
mode the secret values reach the pod only from a Kubernetes Secret (`env_from`,
`HIVE_K8S_MLFLOW_SECRET`); the connection gives the pod only the tracking URI.
"""

from __future__ import annotations

import datetime as dt
import functools
import os

import hive_credentials
import hive_exit_codes
import hive_pipeline
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Param, task
from airflow.sdk.exceptions import AirflowFailException

#: The exit codes come from `hive_exit_codes`, generated from the jobs' own table
#: (`hive_core::exit::ExitStatus`). 99: the task is marked skipped.
EXIT_NOTHING_TO_PROCESS = hive_exit_codes.EXIT_NOTHING_TO_PROCESS
#: Why each code of `hive_exit_codes.FAIL_AT_ONCE` fails the task although it has retries
#: left. Everything else (3: a runtime failure such as I/O or the MLflow server, a crash,
#: a kill) is retried.
NOT_RETRIED = {
    hive_exit_codes.EXIT_DATA_FAILURE: "the data failed a check; the outputs are written and a retry would give the same answer",
    hive_exit_codes.EXIT_BAD_INPUT: "bad input, usage or configuration; a retry cannot help",
}
assert set(NOT_RETRIED) == hive_exit_codes.FAIL_AT_ONCE, "hive_exit_codes.FAIL_AT_ONCE changed: say why here"
XCOM_FILE = "/airflow/xcom/return.json"

DEFAULT_ARGS = {
    "owner": "template-evolution",
    "depends_on_past": False,
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": 2.0,
    "execution_timeout": dt.timedelta(hours=3),
}

START_DATE = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)


def mode() -> str:
    """`bash` or `kubernetes`, from `HIVE_AIRFLOW_MODE`."""
    value = os.environ.get("HIVE_AIRFLOW_MODE", "bash").strip().lower() or "bash"
    if value not in ("bash", "kubernetes"):
        raise ValueError(f"HIVE_AIRFLOW_MODE must be `bash` or `kubernetes`, got `{value}`")
    return value


def params() -> dict[str, Param]:
    """The run params: empty means "use the deployment's Variable or environment"."""
    text = {
        "data_root": "Root of the lake (absolute). Empty: Variable hive_data_root, else env HIVE_DATA_ROOT.",
        "bin_dir": "Directory of the job binaries (bash mode). Empty: Variable hive_bin_dir, else env HIVE_BIN_DIR, else PATH.",
        "image": "Container image of the jobs (kubernetes mode). Empty: Variable hive_image, else env HIVE_IMAGE.",
        "mlflow_tracking_uri": "MLflow tracking URI for mlflow-sync. Empty: Variable, else env MLFLOW_TRACKING_URI; unset = skip.",
        "mlflow_mode": "mlflow-sync --mode: per-generation (one run per generation) or aggregated (one per template version and day; "
        "above ~20 000 generations a night, docs/mlflow-sync.md). Empty: Variable/env, else per-generation.",
        "experiments_config": "Experiments YAML. Empty: Variable/env, else <data_root>/experiments.yaml.",
        "finetune_config": "build-finetune recipe YAML. Empty: Variable/env, else the documented defaults.",
        "finetune_days": "Days of edits each fine-tuning dataset covers (build-finetune --days). Empty: Variable/env, else 1.",
        "train_mode": "train_generator: kubernetes (a Kubeflow TrainJob) or local (torchrun). Empty: Variable/env, else off.",
        "train_base_model": "Base model to fine-tune (Hugging Face id or path). Empty: Variable/env, else train-generator's.",
        "train_lora_rank": "LoRA rank. Empty: Variable/env, else train-generator's default (16).",
        "train_epochs": "Epochs per training stage. Empty: Variable/env, else 1.",
        "train_nodes": "TrainJob nodes. Empty: Variable/env, else 1.",
        "train_gpus_per_node": "GPUs (processes) per TrainJob node. Empty: Variable/env, else 1.",
        "train_namespace": "Namespace of the TrainJob. Empty: Variable/env, else hive.",
        "train_image": "Trainer image of the TrainJob. Empty: Variable/env, else train-generator's default.",
        "gates_config": "quality-fabric-config.yaml. Empty: Variable/env, else <data_root>/config/quality-fabric-config.yaml.",
        "gate_results": "`true`: ab-significance reads `gate_results` (needed by a gate_pass_rate guardrail). Empty: Variable/env, else false.",
        "window_days": "extract-edits observation window in days. Empty: Variable/env, else the job's default (7).",
    }
    out = {name: Param("", type="string", description=desc) for name, desc in text.items()}
    out["partition_date"] = Param(
        "",
        type="string",
        pattern=r"^(\d{4}-\d{2}-\d{2})?$",
        description="Partition to process, YYYY-MM-DD. Empty: the day before the logical date.",
    )
    out["shards"] = Param(
        None,
        type=["null", "integer"],
        minimum=1,
        maximum=hive_pipeline.MAX_SHARDS,
        description="Shards of extract-edits and score-diffs. Empty: Variable hive_shards, else env HIVE_SHARDS, else 1.",
    )
    return out


#: The partition, as a `{{ ds }}` template rendered into the plan task's argument.
PARTITION_TEMPLATE = "{{ params.partition_date or macros.ds_add(ds, -1) }}"


@task(multiple_outputs=True)
def plan(partition: str, params: dict | None = None) -> dict:
    """Resolves this run's partition and settings once; every job task reads them from here."""
    from airflow.sdk import Variable

    def variable(name: str) -> str | None:
        return Variable.get(name, default=None)

    try:
        settings = hive_pipeline.resolve_settings(params or {}, variable, os.environ)
    except hive_pipeline.SettingsError as err:
        raise AirflowFailException(str(err)) from err
    try:
        dt.date.fromisoformat(partition)  # a malformed partition fails here, not in every job
    except ValueError as err:
        raise AirflowFailException(f"partition `{partition}` is not a date YYYY-MM-DD") from err
    return {
        "partition": partition,
        "settings": settings,
        "env": hive_pipeline.job_env(settings, partition),
        "image": settings["image"],
    }


@task
def shards(settings: dict, partition: str) -> list[dict]:
    """One job environment per shard `k/n`: what the sharded tasks are mapped over."""
    return hive_pipeline.shard_envs(settings, partition)


def fail_at_once_on(code: int | None, task_id: str, err: BaseException) -> None:
    """Raises `AirflowFailException` (failed, no retry) when a job's exit `code` is one of
    `NOT_RETRIED`; returns otherwise, and the caller re-raises `err` to be retried."""
    if code in NOT_RETRIED:
        raise AirflowFailException(f"{task_id}: exit {code}: {NOT_RETRIED[code]}") from err


def lookup_connection(conn_id: str) -> hive_credentials.ConnectionFields | None:
    """A connection from Airflow (its secrets backends, then the metadata database), or
    None when it is not defined. Called inside a running task, never at parse time."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return hive_credentials.from_airflow(conn)


def mask(secrets) -> None:
    """Registers values with Airflow's secrets masker: task logs show `***` instead."""
    from airflow.sdk.log import mask_secret

    for value in secrets:
        mask_secret(value)


def resolve_credentials(connections, tracking_uri: str) -> hive_credentials.JobCredentials:
    """The job's credentials from its step's connections, masked before anything is logged."""
    try:
        creds = hive_credentials.credentials_for(connections, lookup_connection, {"mlflow_tracking_uri": tracking_uri})
    except hive_credentials.CredentialsError as err:
        raise AirflowFailException(str(err)) from None
    mask(creds.secrets)
    return creds


class HiveBashOperator(BashOperator):
    """BashOperator that fails without retrying when a job exits 1 (data failure) or 2
    (bad input or usage): see `NOT_RETRIED`. The credentials of `hive_connections` are
    added to the job's environment when it runs (never to a templated field, so never to
    the rendered fields either)."""

    def __init__(self, *, hive_connections: tuple[str, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.hive_connections = tuple(hive_connections)
        self._credentials: hive_credentials.JobCredentials | None = None

    def get_env(self, context) -> dict:
        env = super().get_env(context)
        if not self.hive_connections:
            return env
        self._credentials = resolve_credentials(self.hive_connections, env.get("MLFLOW_TRACKING_URI", ""))
        return self._credentials.apply(env)

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowFailException:
            raise
        except Exception as err:
            process = getattr(self.subprocess_hook, "sub_process", None)
            fail_at_once_on(process.returncode if process is not None else None, self.task_id, err)
            raise
        finally:
            if self._credentials is not None:
                self._credentials.cleanup()  # a kubeconfig written for the job
                self._credentials = None


def container_exit_code(remote_pod, container: str) -> int | None:
    """The exit code of `container` in a finished pod, if Kubernetes reported one."""
    status = getattr(remote_pod, "status", None)
    for state in getattr(status, "container_statuses", None) or []:
        terminated = state.name == container and state.state and state.state.terminated
        if terminated:
            return terminated.exit_code
    return None


@functools.cache
def pod_operator_class():
    """`KubernetesPodOperator` that fails without retrying when the job container exits 1
    (data failure) or 2 (bad input or usage), as `HiveBashOperator` does. Defined on
    first use: the Kubernetes provider is imported only in Kubernetes mode."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    class HivePodOperator(KubernetesPodOperator):
        __doc__ = pod_operator_class.__doc__

        def __init__(self, *, hive_connections: tuple[str, ...] = (), **kwargs):
            self.hive_connections = tuple(hive_connections)
            mlflow_secret = os.environ.get("HIVE_K8S_MLFLOW_SECRET") or None
            if hive_credentials.MLFLOW in self.hive_connections and mlflow_secret:
                from airflow.providers.cncf.kubernetes.secret import Secret

                # Every key of the Secret becomes a variable (env_from): its keys are
                # MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN.
                kwargs["secrets"] = [*(kwargs.get("secrets") or []), Secret("env", None, mlflow_secret)]
            self.hive_mlflow_secret = mlflow_secret if hive_credentials.MLFLOW in self.hive_connections else None
            super().__init__(**kwargs)

        def build_pod_request_obj(self, context=None, *, dry_run: bool = False):
            pod = super().build_pod_request_obj(context, dry_run=dry_run)
            if self.hive_connections:
                pod_credentials(pod, self.base_container_name, self.hive_connections, self.hive_mlflow_secret)
            return pod

        def cleanup(self, pod, remote_pod, *args, **kwargs):
            # The provider reads the exit code only for skip_on_exit_code; a failed pod
            # becomes a plain AirflowException, which Airflow retries.
            try:
                return super().cleanup(pod, remote_pod, *args, **kwargs)
            except AirflowFailException:
                raise
            except Exception as err:
                fail_at_once_on(container_exit_code(remote_pod, self.base_container_name), self.task_id, err)
                raise

    return HivePodOperator


def pod_credentials(pod, container: str, connections, mlflow_secret: str | None) -> None:
    """Kubernetes mode: the connections of a step as the pod may carry them. A pod spec is
    stored by the API server and shown by `kubectl describe`, so no secret value goes into
    it: the job container gets the tracking URI from `hive_mlflow` as a plain variable
    (checked free of credentials), and the secrets come from the Kubernetes Secret
    `mlflow_secret` (`env_from`). A connection that holds a secret the pod cannot get
    that way fails the task, naming what to set."""
    from kubernetes.client import models as k8s

    (job,) = [c for c in pod.spec.containers if c.name == container]
    env = {e.name: e for e in job.env or []}
    tracking_uri = env["MLFLOW_TRACKING_URI"].value if "MLFLOW_TRACKING_URI" in env else ""
    for conn_id in connections:
        try:
            conn = lookup_connection(conn_id)
            if conn_id == hive_credentials.MLFLOW:
                creds = hive_credentials.mlflow_credentials(conn, tracking_uri or "")
                mask(creds.secrets)
                held = [name for name in hive_credentials.MLFLOW_SECRET_ENV if name in creds.env]
                if held and not mlflow_secret:
                    raise hive_credentials.CredentialsError(
                        f"connection `{conn_id}` holds credentials, and pods get credentials only from a "
                        "Kubernetes Secret: set HIVE_K8S_MLFLOW_SECRET on the DAG processor and workers "
                        "(docs/secrets.md#kubernetes-mode)"
                    )
                if conn is not None:
                    uri = creds.env["MLFLOW_TRACKING_URI"]
                    env["MLFLOW_TRACKING_URI"] = k8s.V1EnvVar(name="MLFLOW_TRACKING_URI", value=uri)
            elif conn_id == hive_credentials.TRAINING_CLUSTER:
                if conn is not None and str(conn.extra.get("in_cluster", "")).lower() not in ("true", "1"):
                    raise hive_credentials.CredentialsError(
                        f"connection `{conn_id}`: in Kubernetes mode train-generator uses its pod's service "
                        "account (the pod template's serviceAccountName); set extra `in_cluster` to true"
                    )
            else:
                raise hive_credentials.CredentialsError(f"no credential handling for connection `{conn_id}`")
        except hive_credentials.CredentialsError as err:
            raise AirflowFailException(str(err)) from None
    job.env = list(env.values())


def job_tasks(steps: tuple[hive_pipeline.Step, ...], the_plan) -> dict:
    """One task per step (mapped over shards when the step is sharded), wired as declared."""
    shard_list = None
    if any(step.sharded for step in steps):
        shard_list = shards(the_plan["settings"], the_plan["partition"])
    tasks = {}
    for step in steps:
        tasks[step.task_id] = _job_task(step, shard_list)
    for step in steps:
        for up in step.upstream:
            tasks[up] >> tasks[step.task_id]
        if not step.upstream and not step.sharded:
            the_plan["env"].operator >> tasks[step.task_id]
    return tasks


def alarm_tasks(alarms: tuple[hive_pipeline.Alarm, ...], tasks: dict) -> dict:
    """One task per alarm, after the step it watches, reading that step's summary XCom."""
    out = {}
    for alarm in alarms:

        @task(task_id=alarm.task_id, retries=0, doc_md=alarm.doc)
        def check(summary, alarm=alarm):
            message = hive_pipeline.alarm_message(alarm, summary)
            if message:
                raise AirflowFailException(message)

        out[alarm.task_id] = check(tasks[alarm.watches].output)
    return out


def _job_task(step: hive_pipeline.Step, shard_list):
    kwargs = {
        "task_id": step.task_id,
        "trigger_rule": step.trigger_rule,
        "doc_md": step.doc,
    }
    if step.connections:
        kwargs["hive_connections"] = step.connections
    if step.optional:
        # Training waits for hours; a retry would only wait for the same TrainJob again
        # (its name comes from the dataset), so a failure is looked at, then cleared.
        kwargs["retries"] = 0
    if mode() == "kubernetes":
        operator_class, env_field = pod_operator_class(), "env_vars"
        kwargs.update(
            image="{{ ti.xcom_pull(task_ids='plan', key='image') }}",
            cmds=["/bin/sh", "-c"],
            arguments=[hive_pipeline.shell_script(step, xcom_file=XCOM_FILE)],
            name=f"hive-{step.task_id.replace('_', '-')}",
            namespace=os.environ.get("HIVE_K8S_NAMESPACE") or None,
            pod_template_file=os.environ.get("HIVE_K8S_POD_TEMPLATE") or None,
            get_logs=True,
            do_xcom_push=True,
            skip_on_exit_code=EXIT_NOTHING_TO_PROCESS,
            on_finish_action="delete_succeeded_pod",
            durable=True,
            labels={"app": "template-evolution", "job": step.binary or step.task_id},
        )
    else:
        operator_class, env_field = HiveBashOperator, "env"
        kwargs.update(
            bash_command=hive_pipeline.shell_script(step),
            append_env=True,
            skip_on_exit_code=EXIT_NOTHING_TO_PROCESS,
            output_processor=hive_pipeline.parse_summary,
        )
    if step.sharded:
        # Dynamic task mapping: one task instance per shard k/n, n from the run's settings.
        return operator_class.partial(map_index_template="{{ task.%s['HIVE_SHARD'] }}" % env_field, **kwargs).expand(
            **{env_field: shard_list}
        )
    # Unmapped tasks template their environment from the plan's XCom, one variable at a
    # time, rather than taking the XCom as an argument: an XCom argument would make `plan`
    # a direct upstream, and `none_failed_min_one_success` (mlflow_sync) would then count
    # the plan as the "one success" and run after a night where every job was skipped.
    env = {key: PLAN_ENV_TEMPLATE % key for key in hive_pipeline.ENV_KEYS}
    return operator_class(**kwargs, **{env_field: env})


PLAN_ENV_TEMPLATE = "{{ ti.xcom_pull(task_ids='plan', key='env')['%s'] }}"
