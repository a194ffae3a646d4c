"""
# template_evolution

Nightly evolution of the code templates, one day's partition per run:

```
plan -> shards -> extract_edits[k/n] -> score_diffs[k/n] -> ab_significance -> promote_templates --> mlflow_sync
                                                            ab_significance -> srm_alarm
                                                score_diffs -> build_finetune -> train_generator (optional)
                                                               build_finetune ------------------------> mlflow_sync
```

**Which partition.** The `@daily` run for logical date D starts at 00:00 UTC of D
(`ds` = D). It processes the day that has just closed, **`ds - 1`**: extract-edits takes the
generations whose observation window closed that day. A manual run may set the
`partition_date` param instead.

**Exit codes** (`hive_exit_codes`, generated from the jobs' own table). 0 success;
1 data failure (too many rows quarantined: outputs are written for inspection, the task
fails at once, no retry); 2 bad input or misconfiguration (a wrong data root, a missing
config or input table: fails at once); 3 runtime failure (I/O, disk full, the MLflow
server: retried); 99 nothing to process in an existing, empty partition (the task is
**skipped**, and so are the tasks that need its output). Each task pushes the job's JSON
summary line to XCom; a failed job's last line is a summary too (`status`, `error`).

**Sample-ratio mismatch.** ab-significance runs with `--on-srm warn`, so a broken split
does not stop the night: promote-templates stops that experiment (and decides the
others), mlflow-sync logs it, and `srm_alarm` fails, naming the experiments, so the run
is marked failed.

**Settings** (run params, else Variables `hive_<name>`, else the workers' environment):
`data_root`, `bin_dir` (bash mode), `image` (kubernetes mode, `HIVE_AIRFLOW_MODE`),
`mlflow_tracking_uri`, `experiments_config`, `finetune_config`, `finetune_days`,
`gate_results` (`true` when an experiment has a `gate_pass_rate` guardrail), `shards`,
`window_days`, and the generator's training (`train_mode`: empty = off, `kubernetes` or
`local`; `train_base_model`, `train_lora_rank`, `train_epochs`, `train_nodes`,
`train_gpus_per_node`, `train_namespace`, `train_image`; docs/training.md).

Runbook: docs/operations.md. Reruns and backfills are idempotent: every job rewrites its
partition atomically with byte-identical output.
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
    dag_id="template_evolution",
    description="extract-edits -> score-diffs -> ab-significance -> promote-templates; build-finetune; mlflow-sync",
    doc_md=__doc__,
    schedule="@daily",
    start_date=hive_tasks.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=8),
    default_args=hive_tasks.DEFAULT_ARGS,
    params=hive_tasks.params(),
    tags=["template-evolution", "hive", "nightly"],
) as dag:
    the_plan = hive_tasks.plan(partition=hive_tasks.PARTITION_TEMPLATE)
    jobs = hive_tasks.job_tasks(hive_pipeline.EVOLUTION, the_plan)
    hive_tasks.alarm_tasks(hive_pipeline.ALARMS["template_evolution"], jobs)
