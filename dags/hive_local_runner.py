"""Runs a DAG's steps on one machine without Airflow, for the README's main command.

`scripts/run-sample.sh` uses it to run `template_evolution` over the bundled sample. It
cannot drift from the DAG: the steps, their order, their trigger rules, the shell script
each task runs and its environment all come from `hive_pipeline`, which the DAG files
are built from, and `tests/dags/test_local_runner.py` compares the runner's `--print-plan`
with the tasks of the DAG that Airflow loads.

What it emulates of Airflow: exit 0 = success, 99 = skipped, anything else = failed; a
task runs when its trigger rule allows (`all_success`: every upstream succeeded;
`none_failed_min_one_success`: no upstream failed and one succeeded), else it is
`upstream_failed` or `skipped` as Airflow would mark it; a sharded step runs shard by shard;
an alarm (`hive_pipeline.ALARMS`) reads its step's summary line after the step succeeded.
No retries. Runs only with the standard library (no Airflow needed).

Credentials take the DAG's path (`hive_credentials`): a step's connections are read when
the step runs, from Airflow's own `AIRFLOW_CONN_<ID>` environment variables (JSON or URI,
docs/secrets.md), and go into that job's environment only; `--print-plan` never shows
them. No connection defined: no credentials, and MLflow is whatever
`MLFLOW_TRACKING_URI` says (unset: mlflow-sync is skipped).

    python3 dags/hive_local_runner.py --data-root /abs/lake --bin-dir /abs/bin 2026-10-12 2026-10-13
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hive_credentials  # noqa: E402
import hive_exit_codes  # noqa: E402
import hive_pipeline  # noqa: E402

FAILED = ("failed", "upstream_failed")


def decide(step: hive_pipeline.Step, states: dict[str, str]) -> str | None:
    """None when the step may run, else the state Airflow would give it without running."""
    ups = [states[u] for u in step.upstream]
    if any(s in FAILED for s in ups):
        return "upstream_failed"
    if step.trigger_rule == hive_pipeline.ALL_SUCCESS:
        return None if all(s == "success" for s in ups) else "skipped"
    if step.trigger_rule == hive_pipeline.NONE_FAILED_MIN_ONE_SUCCESS:
        return None if any(s == "success" for s in ups) or not ups else "skipped"
    raise ValueError(f"trigger rule `{step.trigger_rule}` is not emulated")


def plan(dag_id: str, settings: dict[str, str], date: str) -> list[dict]:
    """What each task of the DAG runs for `date`: script, environments (one per shard);
    alarms last, each with the summary field it checks instead of a script."""
    out = []
    for step in hive_pipeline.topological(hive_pipeline.PIPELINES[dag_id]):
        envs = hive_pipeline.shard_envs(settings, date) if step.sharded else [hive_pipeline.job_env(settings, date)]
        out.append(
            {
                "task_id": step.task_id,
                "upstream": list(step.upstream),
                "trigger_rule": step.trigger_rule,
                "sharded": step.sharded,
                "binary": step.binary,
                "script": hive_pipeline.shell_script(step),
                "envs": envs,
            }
        )
    for alarm in hive_pipeline.ALARMS[dag_id]:
        out.append(
            {
                "task_id": alarm.task_id,
                "upstream": [alarm.watches],
                "trigger_rule": hive_pipeline.ALL_SUCCESS,
                "sharded": False,
                "binary": "",
                "script": None,
                "alarm": alarm.field,
            }
        )
    return out


def run_date(dag_id: str, settings: dict[str, str], date: str, summaries, log=None) -> dict[str, str]:
    states: dict[str, str] = {}
    last_summary: dict[str, object] = {}
    steps = {s.task_id: s for s in hive_pipeline.PIPELINES[dag_id]}
    alarms = {a.task_id: a for a in hive_pipeline.ALARMS[dag_id]}
    for item in plan(dag_id, settings, date):
        if item["task_id"] in alarms:
            alarm = alarms[item["task_id"]]
            # An alarm runs as a task with one upstream and `all_success` would.
            verdict = decide(hive_pipeline.Step(alarm.task_id, "", (), upstream=(alarm.watches,)), states)
            if verdict is not None:
                states[alarm.task_id] = verdict
            else:
                message = hive_pipeline.alarm_message(alarm, last_summary.get(alarm.watches))
                if message:
                    print(f"{date} {alarm.task_id}: {message}", file=sys.stderr)
                states[alarm.task_id] = "failed" if message else "success"
            continue
        step = steps[item["task_id"]]
        verdict = decide(step, states)
        if verdict is not None:
            states[step.task_id] = verdict
            continue
        shard_states = []
        for env in item["envs"]:
            try:
                creds = hive_credentials.credentials_for(
                    step.connections, hive_credentials.env_connection_lookup(os.environ), settings
                )
            except hive_credentials.CredentialsError as err:
                print(f"{date} {step.task_id}: {err}", file=sys.stderr)
                shard_states.append("failed")
                continue
            try:
                proc = subprocess.run(
                    ["bash", "-c", item["script"]],
                    env=creds.apply({**os.environ, **env, "HIVE_QUIET": "true"}),
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            finally:
                creds.cleanup()
            if proc.returncode == 0:
                shard_states.append("success")
                lines = proc.stdout.strip().splitlines()
                if lines:
                    last_summary[step.task_id] = hive_pipeline.parse_summary(lines[-1])
                    if summaries is not None:
                        summaries.write(lines[-1] + "\n")
            elif proc.returncode == hive_exit_codes.EXIT_NOTHING_TO_PROCESS:
                shard_states.append("skipped")
            else:
                print(f"{date} {step.task_id} shard {env['HIVE_SHARD']}: exit {proc.returncode}", file=sys.stderr)
                shard_states.append("failed")
        if "failed" in shard_states:
            states[step.task_id] = "failed"
        elif "skipped" in shard_states:
            states[step.task_id] = "skipped"
        else:
            states[step.task_id] = "success"
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dates", nargs="+", help="partition dates YYYY-MM-DD, in order")
    parser.add_argument("--dag", default="template_evolution", choices=sorted(hive_pipeline.PIPELINES))
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--bin-dir", default="")
    parser.add_argument("--shards", default="")
    parser.add_argument("--experiments-config", default="")
    parser.add_argument("--summaries", help="append each job's JSON summary line here")
    parser.add_argument("--log", help="append the jobs' logs (stderr) here instead of the terminal")
    parser.add_argument("--states", help="write the task states per date here, as JSON")
    parser.add_argument("--print-plan", action="store_true", help="print what would run, as JSON, and exit")
    args = parser.parse_args(argv)
    params = {
        "data_root": os.path.abspath(args.data_root),
        "bin_dir": os.path.abspath(args.bin_dir) if args.bin_dir else "",
        "shards": args.shards,
        "experiments_config": os.path.abspath(args.experiments_config) if args.experiments_config else "",
    }
    try:
        settings = hive_pipeline.resolve_settings(params)
    except hive_pipeline.SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return hive_exit_codes.EXIT_BAD_INPUT
    if args.print_plan:
        print(json.dumps({d: plan(args.dag, settings, d) for d in args.dates}, indent=1))
        return 0
    summaries = open(args.summaries, "a") if args.summaries else None
    log = open(args.log, "a") if args.log else None
    every: dict[str, dict[str, str]] = {}
    for date in args.dates:
        every[date] = run_date(args.dag, settings, date, summaries, log)
    if log:
        log.close()
    if summaries:
        summaries.close()
    if args.states:
        with open(args.states, "w") as f:
            json.dump(every, f, indent=1)
    # Task states per date, as Airflow's grid would show them.
    tasks = [s.task_id for s in hive_pipeline.topological(hive_pipeline.PIPELINES[args.dag])]
    tasks += [a.task_id for a in hive_pipeline.ALARMS[args.dag]]
    print(f"{'partition':<12}" + "".join(f"{t:>19}" for t in tasks))
    for date, states in every.items():
        print(f"{date:<12}" + "".join(f"{states[t]:>19}" for t in tasks))
    return 1 if any(s in FAILED for states in every.values() for s in states.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
