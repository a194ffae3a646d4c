"""Dumps an MLflow tracking server's state as canonical JSON, read with MLflow's own client.

The mlflow-sync integration tests (crates/jobs/tests/mlflow_sync.rs) compare these dumps:
after a rerun the state must be identical and every `hive.key` present exactly once. Run
times and run ids are left out (they differ between servers and attempts); everything a
sync decides (names, keys, statuses, metrics with timestamps, params, tags, model versions,
aliases, artifact listings) is in.

    python tests/python/mlflow_state.py http://127.0.0.1:5000 > state.json
    python tests/python/mlflow_state.py http://127.0.0.1:5000 --times   # run times only

Dataset inputs are read as the UI shows them: name, digest, source, the input's tags, and
the schema parsed by MLflow's own `Schema.from_json` (its column names and types).
"""

import json
import sys

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from mlflow.types import Schema


def dataset_inputs(run) -> list:
    inputs = []
    for di in run.inputs.dataset_inputs if run.inputs else []:
        d = di.dataset
        schema = json.loads(d.schema) if d.schema else None
        columns = None
        if schema is not None:
            parsed = Schema.from_json(json.dumps(schema["mlflow_colspec"]))
            columns = [[c.name, str(c.type)] for c in parsed.inputs]
        inputs.append(
            {
                "name": d.name,
                "digest": d.digest,
                "source_type": d.source_type,
                "source": json.loads(d.source),
                "profile": json.loads(d.profile) if d.profile else None,
                "columns": columns,
                "tags": {t.key: t.value for t in di.tags},
            }
        )
    return sorted(inputs, key=lambda i: i["name"])


def main() -> None:
    client = MlflowClient(tracking_uri=sys.argv[1])
    if "--times" in sys.argv[2:]:
        times = {}
        for exp in client.search_experiments(view_type=ViewType.ALL):
            for run in client.search_runs([exp.experiment_id], max_results=50000, run_view_type=ViewType.ALL):
                times[run.info.run_id] = [run.info.start_time, run.info.end_time]
        json.dump(times, sys.stdout, indent=1, sort_keys=True)
        return
    experiments = []
    for exp in sorted(client.search_experiments(view_type=ViewType.ALL), key=lambda e: e.name):
        if exp.name == "Default":
            continue
        runs = []
        page = client.search_runs([exp.experiment_id], max_results=50000, run_view_type=ViewType.ALL)
        for run in page:
            metrics = {}
            for key in sorted(run.data.metrics):
                history = client.get_metric_history(run.info.run_id, key)
                metrics[key] = sorted((m.value, m.timestamp, m.step) for m in history)
            artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
            entry = {
                "key": run.data.tags.get("hive.key"),
                "name": run.info.run_name,
                "status": run.info.status,
                "start_time_set": bool(run.info.start_time),
                "lifecycle_stage": run.info.lifecycle_stage,
                "params": dict(sorted(run.data.params.items())),
                "tags": {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("mlflow.")},
                "source": {
                    k: run.data.tags.get(k) for k in ("mlflow.source.name", "mlflow.source.type", "mlflow.user")
                },
                "metrics": metrics,
                "artifacts": artifacts,
                "inputs": dataset_inputs(run),
            }
            runs.append(entry)
        runs.sort(key=lambda r: (r["key"] or "", r["status"]))
        experiments.append({"name": exp.name, "lifecycle_stage": exp.lifecycle_stage, "runs": runs})
    models = []
    for model in sorted(client.search_registered_models(), key=lambda m: m.name):
        versions = []
        for mv in client.search_model_versions(f"name = '{model.name}'"):
            versions.append(
                {
                    "version": str(mv.version),
                    "source_set": bool(mv.source),
                    "run_linked": bool(mv.run_id),
                    "tags": dict(sorted(mv.tags.items())),
                }
            )
        versions.sort(key=lambda v: int(v["version"]))
        models.append(
            {
                "name": model.name,
                "aliases": dict(sorted((k, str(v)) for k, v in (model.aliases or {}).items())),
                "versions": versions,
            }
        )
    json.dump({"experiments": experiments, "models": models}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
