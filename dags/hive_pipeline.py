"""The two pipelines as plain data: which job runs after which, with what command.

Both DAGs (`template_evolution.py`, `quality_gates.py`) are built from the step lists
below, and so is the local runner behind the README's main command
(`scripts/run-sample.sh`). The runner imports this module with a bare `python3`, so it
must not import Airflow; it only needs the standard library.

Every task runs the same small POSIX shell script (`shell_script`): the job binary with
its flags read from `HIVE_*` environment variables, stdout collected and printed last so
that the job's JSON summary line is the final line of the log (BashOperator pushes it to
XCom) and, on Kubernetes, written to `/airflow/xcom/return.json`. Exit codes pass
through unchanged (`hive_exit_codes`, generated from the jobs' table): 0 success, 1 data
failure and 2 bad input (the task fails at once), 3 runtime failure (retried), 99
nothing to process (Airflow marks the task skipped).

Which partition a run processes: Airflow 3's `@daily` run for logical date D starts at
00:00 UTC of D, with `ds` = D, when day D has not happened yet. A run therefore processes
the day that has just closed, `ds - 1` (`partition_for`). A run's `partition_date` param
overrides this for a manual run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os

import hive_credentials
import hive_exit_codes
import shlex
from dataclasses import dataclass
from typing import Callable, Mapping

#: Trigger rules used by the steps (Airflow's names).
ALL_SUCCESS = "all_success"
NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"


@dataclass(frozen=True)
class Step:
    """One job of a pipeline: a task in the DAG, a command in the local runner."""

    task_id: str
    binary: str
    #: Arguments after the binary; `$VAR` references are expanded by the shell from the
    #: task's environment (`job_env`), so the command itself never changes between runs.
    args: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    #: Mapped over `--shard k/n` (dynamic task mapping in the DAG).
    sharded: bool = False
    trigger_rule: str = ALL_SUCCESS
    #: Exits 99 unless `train_mode` is set (the generator's training, docs/training.md).
    optional: bool = False
    #: Airflow Connections whose credentials this job gets, resolved when the task runs
    #: (`hive_credentials`, docs/secrets.md). Only the steps that need one get it.
    connections: tuple[str, ...] = ()
    doc: str = ""


_COMMON = ("--data-root", "$HIVE_DATA_ROOT", "--date", "$HIVE_DATE")

EVOLUTION: tuple[Step, ...] = (
    Step(
        "extract_edits",
        "extract-edits",
        _COMMON + ("--shard", "$HIVE_SHARD"),
        sharded=True,
        doc="Pairs each generated file whose observation window closed on the partition date "
        "with what the user kept; writes `edits` and `quarantine/extract-edits`.",
    ),
    Step(
        "score_diffs",
        "score-diffs",
        _COMMON + ("--shard", "$HIVE_SHARD"),
        upstream=("extract_edits",),
        sharded=True,
        doc="Line and character metrics per file and per generation: `diff_scores`, `generation_scores`.",
    ),
    Step(
        "ab_significance",
        "ab-significance",
        # `--on-srm warn`: a sample-ratio mismatch must not keep promote-templates from
        # deciding the night (it stops the broken experiment and decides the others);
        # the `srm_alarm` task fails the run instead.
        # `--gate-results` comes from the `gate_results` setting (HIVE_GATE_RESULTS).
        _COMMON + ("--config", "$HIVE_EXPERIMENTS_CONFIG", "--on-srm", "warn"),
        upstream=("score_diffs",),
        doc="Experiment statistics from every `generation_scores` partition since each "
        "experiment started: `ab_results` and the report. A sample-ratio mismatch is "
        "listed in the summary's `srm_flags` and raised by `srm_alarm`.",
    ),
    Step(
        "promote_templates",
        "promote-templates",
        _COMMON + ("--config", "$HIVE_EXPERIMENTS_CONFIG"),
        upstream=("ab_significance",),
        doc="Promote / continue / stop per experiment: `promotions`.",
    ),
    Step(
        "build_finetune",
        "build-finetune",
        _COMMON + ("--days", "$HIVE_FINETUNE_DAYS"),
        upstream=("score_diffs",),
        doc="SFT and preference datasets from the `finetune_days` days ending on the partition: "
        "`finetune/dt=D/` (recipe: `HIVE_FINETUNE_CONFIG`).",
    ),
    Step(
        "train_generator",
        "train-generator",
        _COMMON + ("--mode", "$HIVE_TRAIN_MODE"),
        upstream=("build_finetune",),
        optional=True,
        connections=(hive_credentials.MLFLOW, hive_credentials.TRAINING_CLUSTER),
        doc="Fine-tunes the generator on the night's dataset: a Kubeflow Trainer TrainJob named from the "
        "dataset digest (`train_mode` kubernetes; a rerun waits for the same job) or torchrun on the worker "
        "(`local`), then the gated promotion in MLflow (docs/training.md). Skipped when `train_mode` is "
        "unset or the train split is empty (99).",
    ),
    Step(
        "mlflow_sync",
        "mlflow-sync",
        _COMMON + ("--tables", "generation_scores,ab_results,promotions,finetune"),
        upstream=("promote_templates", "build_finetune"),
        trigger_rule=NONE_FAILED_MIN_ONE_SUCCESS,
        connections=(hive_credentials.MLFLOW,),
        doc="Logs the night's tables to MLflow (idempotent); skipped (99) when no tracking server is "
        "configured (connection `hive_mlflow` or setting `mlflow_tracking_uri`). Runs when its upstreams "
        "succeeded or were skipped.",
    ),
)

QUALITY: tuple[Step, ...] = (
    Step(
        "evaluate_gates",
        "evaluate-gates",
        _COMMON
        + (
            # The projects' reports are read from the lake's `raw/quality-reports/dt=D/`,
            # a path the job owns (`hive_core::lake::Target`).
            "--config",
            "$HIVE_GATES_CONFIG",
            "--summary-md",
            "-",
            # A failed blocking gate must not keep the night's results from MLflow: the
            # job exits 0 with the failures in its summary and `gates_alarm` fails the run.
            "--on-blocking-failure",
            "warn",
        ),
        doc="Checks every project's reports landed under `raw/quality-reports/dt=D/<project>/` "
        "against quality-fabric-config.yaml: `gate_results`, `test_cases`, `coverage`, "
        "`findings`. A failed blocking gate is listed in the summary's `blocking_failures` "
        "and raised by `gates_alarm`; 99 (skipped) = no project's reports landed that day.",
    ),
    Step(
        "mlflow_sync",
        "mlflow-sync",
        _COMMON + ("--tables", "gate_results"),
        upstream=("evaluate_gates",),
        trigger_rule=NONE_FAILED_MIN_ONE_SUCCESS,
        connections=(hive_credentials.MLFLOW,),
        doc="Logs the gate results to MLflow; skipped when no tracking server is configured.",
    ),
)

PIPELINES = {"template_evolution": EVOLUTION, "quality_gates": QUALITY}


@dataclass(frozen=True)
class Alarm:
    """A task that fails the run when a step succeeded but its summary flags a problem
    that must reach a person without stopping the steps after it."""

    task_id: str
    #: The step whose JSON summary (its XCom) is read; the alarm runs after it succeeds.
    watches: str
    #: A list field of that summary: the alarm fails when it is not empty.
    field: str
    doc: str = ""


ALARMS: dict[str, tuple[Alarm, ...]] = {
    "template_evolution": (
        Alarm(
            "srm_alarm",
            watches="ab_significance",
            field="srm_flags",
            doc="Fails when an experiment's split fails the sample-ratio check: the "
            "assignment is broken, its comparison cannot be trusted, and "
            "promote-templates has stopped it. The rest of the night still runs.",
        ),
    ),
    "quality_gates": (
        Alarm(
            "gates_alarm",
            watches="evaluate_gates",
            field="blocking_failures",
            doc="Fails when a blocking quality gate failed (or its report is missing under "
            "policy `fail`), naming `project/gate`. The results are written and logged to "
            "MLflow first.",
        ),
    ),
}


def alarm_message(alarm: Alarm, summary: object) -> str | None:
    """Why `alarm` fails for the watched step's `summary`, or None when it passes. A
    summary the alarm cannot read fails it too: an unchecked night is not a clean one."""
    if not isinstance(summary, dict) or not isinstance(summary.get(alarm.field), list):
        return f"{alarm.watches}'s summary has no `{alarm.field}` list to check: {summary!r:.300}"
    flagged = summary[alarm.field]
    if not flagged:
        return None
    return f"{alarm.watches} flagged {alarm.field}: {', '.join(map(str, flagged))}"


# --- settings -----------------------------------------------------------------------

#: Every run setting: (environment variable read as the deployment default, built-in default).
#: Resolution order for each: the run's param (if not empty), then the Airflow Variable
#: `hive_<name>`, then the environment variable, then the built-in default.
SETTINGS: dict[str, tuple[str, str]] = {
    "data_root": ("HIVE_DATA_ROOT", ""),
    "bin_dir": ("HIVE_BIN_DIR", ""),
    "image": ("HIVE_IMAGE", "ghcr.io/maestro-hive/template-evolution:latest"),
    "mlflow_tracking_uri": ("MLFLOW_TRACKING_URI", ""),
    "mlflow_mode": ("HIVE_MLFLOW_MODE", "per-generation"),
    "experiments_config": ("HIVE_EXPERIMENTS_CONFIG", ""),
    "finetune_config": ("HIVE_FINETUNE_CONFIG", ""),
    "finetune_days": ("HIVE_FINETUNE_DAYS", "1"),
    # The generator's training (train-generator, docs/training.md): off unless `train_mode`
    # is `kubernetes` or `local`; the others are empty for train-generator's own defaults.
    "train_mode": ("HIVE_TRAIN_MODE", ""),
    "train_base_model": ("HIVE_TRAIN_BASE_MODEL", ""),
    "train_lora_rank": ("HIVE_TRAIN_LORA_RANK", ""),
    "train_epochs": ("HIVE_TRAIN_EPOCHS", ""),
    "train_nodes": ("HIVE_TRAIN_NODES", ""),
    "train_gpus_per_node": ("HIVE_TRAIN_GPUS_PER_NODE", ""),
    "train_namespace": ("HIVE_TRAIN_NAMESPACE", ""),
    "train_image": ("HIVE_TRAIN_IMAGE", ""),
    "gates_config": ("HIVE_GATES_CONFIG", ""),
    "gate_results": ("HIVE_GATE_RESULTS", "false"),
    "shards": ("HIVE_SHARDS", "1"),
    "window_days": ("HIVE_WINDOW_DAYS", ""),
}
MAX_SHARDS = 64
MAX_FINETUNE_DAYS = 366


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it and where to set it."""


def resolve_settings(
    params: Mapping[str, object],
    variable: Callable[[str], str | None] = lambda _name: None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Resolves every setting (see `SETTINGS`) and checks the ones a run needs."""
    out: dict[str, str] = {}
    for name, (env_name, default) in SETTINGS.items():
        value = params.get(name)
        if value is None or str(value).strip() == "":
            value = variable(f"hive_{name}")
        if value is None or str(value).strip() == "":
            value = environ.get(env_name, "")
        if str(value).strip() == "":
            value = default
        out[name] = str(value).strip()
    if not out["data_root"]:
        raise SettingsError(
            "no data root: set the run param `data_root`, the Variable `hive_data_root` "
            "or the environment variable HIVE_DATA_ROOT"
        )
    for name in ("data_root", "bin_dir", "experiments_config", "finetune_config", "gates_config"):
        if out[name] and not os.path.isabs(out[name]):
            # Shown without user-info: `s3://key:secret@bucket` must not reach the log.
            raise SettingsError(f"`{name}` must be an absolute path, got `{hive_credentials.shown(out[name])}`")
    found = hive_credentials.url_credentials(out["mlflow_tracking_uri"]) if out["mlflow_tracking_uri"] else []
    if found:
        # Settings are in the plan's XCom and in Variables: no credential may be one.
        raise SettingsError(
            f"`mlflow_tracking_uri` carries credentials ({', '.join(found)}): give the server's URL alone "
            f"and put the credentials in the Airflow connection `{hive_credentials.MLFLOW}` (docs/secrets.md)"
        )
    if not out["experiments_config"]:
        out["experiments_config"] = f"{out['data_root']}/experiments.yaml"
    if not out["gates_config"]:
        out["gates_config"] = f"{out['data_root']}/config/quality-fabric-config.yaml"
    try:
        shards = int(out["shards"])
    except ValueError:
        raise SettingsError(f"`shards` must be an integer, got `{out['shards']}`") from None
    if not 1 <= shards <= MAX_SHARDS:
        raise SettingsError(f"`shards` must be in 1..={MAX_SHARDS}, got {shards}")
    out["shards"] = str(shards)
    flag = out["gate_results"].lower()
    if flag not in ("true", "false"):
        raise SettingsError(f"`gate_results` must be `true` or `false`, got `{out['gate_results']}`")
    out["gate_results"] = flag
    try:
        days = int(out["finetune_days"])
    except ValueError:
        raise SettingsError(f"`finetune_days` must be an integer, got `{out['finetune_days']}`") from None
    if not 1 <= days <= MAX_FINETUNE_DAYS:
        raise SettingsError(f"`finetune_days` must be in 1..={MAX_FINETUNE_DAYS}, got {days}")
    out["finetune_days"] = str(days)
    if out["train_mode"] not in ("", "kubernetes", "local"):
        raise SettingsError(f"`train_mode` must be empty (off), `kubernetes` or `local`, got `{out['train_mode']}`")
    return out


def partition_for(logical_date: _dt.date | str) -> str:
    """The partition a scheduled run processes: the day before its logical date."""
    if isinstance(logical_date, str):
        logical_date = _dt.date.fromisoformat(logical_date[:10])
    return (logical_date - _dt.timedelta(days=1)).isoformat()


_TRAIN_SETTINGS = tuple(name for name in SETTINGS if name.startswith("train_"))


def job_env(settings: Mapping[str, str], date: str, shard: str = "0/1") -> dict[str, str]:
    """The environment every job of a run gets (the jobs read these variables)."""
    root = settings["data_root"]
    env = {
        "HIVE_DATA_ROOT": root,
        "HIVE_DATE": date,
        "HIVE_SHARD": shard,
        "HIVE_BIN_DIR": settings["bin_dir"],
        "HIVE_LOG_FORMAT": "json",
        "HIVE_EXPERIMENTS_CONFIG": settings["experiments_config"],
        "HIVE_GATES_CONFIG": settings["gates_config"],
        "HIVE_GATE_RESULTS": settings["gate_results"],
        "HIVE_FINETUNE_CONFIG": settings["finetune_config"],
        "HIVE_FINETUNE_DAYS": settings["finetune_days"],
        "HIVE_WINDOW_DAYS": settings["window_days"],
        "MLFLOW_TRACKING_URI": settings["mlflow_tracking_uri"],
        "HIVE_MLFLOW_MODE": settings["mlflow_mode"],
    }
    env.update({f"HIVE_{name.upper()}": settings[name] for name in _TRAIN_SETTINGS})
    return env


#: The variables `job_env` sets, in order (the tasks template each one from the plan).
ENV_KEYS: tuple[str, ...] = tuple(job_env({name: "" for name in SETTINGS}, "2000-01-01"))


def shard_envs(settings: Mapping[str, str], date: str) -> list[dict[str, str]]:
    """One environment per shard `k/n` of a sharded step."""
    n = int(settings["shards"])
    return [job_env(settings, date, f"{k}/{n}") for k in range(n)]


#: Optional variables that must be absent, not empty, when unset (clap ignores empty
#: values, but other readers may not).
_UNSET_WHEN_EMPTY = (
    "HIVE_BIN_DIR",
    "HIVE_FINETUNE_CONFIG",
    *(f"HIVE_{name.upper()}" for name in _TRAIN_SETTINGS),
    "HIVE_WINDOW_DAYS",
    "MLFLOW_TRACKING_URI",
)


def shell_script(step: Step, *, xcom_file: str | None = None) -> str:
    """The POSIX shell script a task runs for `step` (the same in every mode and runner)."""
    lines = ["set -u"]
    lines += [f'[ -n "${{{v}:-}}" ] || unset {v}' for v in _UNSET_WHEN_EMPTY]
    if step.optional:
        lines.append(
            'if [ -z "${HIVE_TRAIN_MODE:-}" ]; then echo "no train_mode configured: skipping" >&2; '
            f"exit {hive_exit_codes.EXIT_NOTHING_TO_PROCESS}; fi"
        )
    words = ['"${HIVE_BIN_DIR:+$HIVE_BIN_DIR/}' + step.binary + '"']
    words += [f'"{a}"' if a.startswith("$") else shlex.quote(a) for a in step.args]
    run = " ".join(words)
    lines += [
        f"out=$(mktemp) || exit {hive_exit_codes.EXIT_RUNTIME_FAILURE}",  # retried
        f'{run} > "$out"',
        "status=$?",
        # stdout last, so that the JSON summary line is the final line of the log.
        'cat "$out"',
    ]
    if xcom_file:
        lines.append(
            f'if [ "$status" -eq 0 ]; then mkdir -p "$(dirname {xcom_file})" && '
            f'(tail -n 1 "$out" | grep . || echo null) > {xcom_file}; fi'
        )
    lines += ['rm -f "$out"', 'exit "$status"']
    return "\n".join(lines) + "\n"


def parse_summary(output: str) -> object:
    """The job's JSON summary line (the last line of its output), for XCom."""
    last = output.strip().splitlines()[-1] if output.strip() else ""
    try:
        return json.loads(last)
    except ValueError:
        return {"unparsed_output": last}


def topological(steps: tuple[Step, ...]) -> list[Step]:
    """Steps in an order where every step comes after its upstreams (stable)."""
    done: list[Step] = []
    names: set[str] = set()
    pending = list(steps)
    while pending:
        ready = [s for s in pending if set(s.upstream) <= names]
        if not ready:
            raise ValueError(f"cycle among {[s.task_id for s in pending]}")
        for s in ready:
            done.append(s)
            names.add(s.task_id)
            pending.remove(s)
    return done
