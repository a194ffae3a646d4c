"""
# quality_gates

Nightly quality gates, one day's partition per run:

```
plan -> evaluate_gates -> mlflow_sync
        evaluate_gates -> gates_alarm
```

`evaluate_gates` checks every project's test, coverage, security and performance reports
landed under `<data_root>/raw/quality-reports/dt=<partition>/<project_id>/` against
`quality-fabric-config.yaml` (`gates_config`), and writes `gate_results`, `test_cases`,
`coverage` and `findings`. The Markdown summary is in the task log; the JSON summary in
XCom. A blocking gate that fails does not fail `evaluate_gates` (it runs with
`--on-blocking-failure warn`): the results are written and `mlflow_sync` logs them, then
`gates_alarm` fails the run, naming each `project/gate`. No reports landed that day:
skipped.

**Which partition.** As in `template_evolution`: the run for logical date D processes
**`ds - 1`**, the day that has just closed (or the `partition_date` param).

Settings, modes and the runbook: see `template_evolution` and docs/operations.md.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

# The helper modules live beside this file (Airflow also puts the DAGs folder on sys.path).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hive_pipeline  # noqa: E402
import hive_tasks  # noqa: E402
from airflow.sdk import DAG  # noqa: E402

with DAG(
    dag_id="quality_gates",
    description="evaluate-gates over the reports landed for the day, then mlflow-sync",
    doc_md=__doc__,
    schedule="@daily",
    start_date=hive_tasks.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=4),
    default_args=hive_tasks.DEFAULT_ARGS,
    params=hive_tasks.params(),
    tags=["quality", "hive", "nightly"],
) as dag:
    the_plan = hive_tasks.plan(partition=hive_tasks.PARTITION_TEMPLATE)
    jobs = hive_tasks.job_tasks(hive_pipeline.QUALITY, the_plan)
    hive_tasks.alarm_tasks(hive_pipeline.ALARMS["quality_gates"], jobs)
