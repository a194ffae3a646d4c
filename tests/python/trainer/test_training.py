"""A real fine-tuning run: train-generator in local mode (torchrun, one CPU process) trains a
tiny model made here (tokenizer trained with `tokenizers` on the sample dataset, random
Llama weights; no hub) on the sample's build-finetune dataset, against a real MLflow
server, then the promotion gate and the rerun.

What is checked against independent sources: the dataset lineage against the manifest
build-finetune wrote and the run mlflow-sync created for it; the loss going down against
the per-step history MLflow stored; perplexity against exp(loss); the registered
adapter by loading it back from the registry and evaluating it again on the held-out
split (the gate's re-evaluation of the champion must reproduce the loss recorded when it
was trained).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from conftest import SAMPLE_DATE, TRAINER, binary

STEPS = 12
# A few steps of a tiny model; a learning rate high enough that 12 steps move it.
TRAIN_FLAGS = [
    "--max-steps",
    str(STEPS),
    "--max-length",
    "256",
    "--learning-rate",
    "1e-2",
    "--lora-rank",
    "8",
    "--batch-size",
    "2",
]


@pytest.fixture(scope="module")
def tiny_model(sample_dataset, work):
    from hive_trainer import tiny

    return tiny.make(sample_dataset, work / "tiny-model")


def train_generator(lake, uri, base_model, *extra) -> tuple[int, dict, str]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "PYTHONPATH": str(TRAINER),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hive_trainer.submit",
            "--mode",
            "local",
            "--data-root",
            str(lake),
            "--date",
            SAMPLE_DATE,
            "--mlflow-tracking-uri",
            uri,
            "--base-model",
            str(base_model),
            "--timeout",
            "900",
            *TRAIN_FLAGS,
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1000,
    )
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    return done.returncode, summary, done.stdout + done.stderr


def state(client):
    """Everything the trainer writes: runs with params, tags and metric histories, versions, aliases."""
    from mlflow.entities import ViewType

    exp = client.get_experiment_by_name("hive/generator-training")
    runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL) if exp else []
    model = client.get_registered_model("hive.generator")
    versions = client.search_model_versions("name = 'hive.generator'")
    return {
        "runs": sorted(
            (r.info.run_id, r.info.status, tuple(sorted(r.data.params.items())), tuple(sorted(r.data.metrics.items())))
            for r in runs
        ),
        "versions": sorted((v.version, tuple(sorted(v.tags.items()))) for v in versions),
        "aliases": dict(model.aliases),
    }


def test_local_training_logs_lineage_lowers_the_loss_and_promotes_through_the_gate(
    sample_lake, sample_dataset, tiny_model, mlflow_server
):
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.uri)
    manifest = json.loads((sample_dataset / "manifest.json").read_text())
    # mlflow-sync publishes the dataset's run, as the DAG does before training finishes.
    subprocess.run(
        [
            binary("mlflow-sync"),
            "--data-root",
            str(sample_lake),
            "--date",
            SAMPLE_DATE,
            "--tables",
            "finetune",
            "--tracking-uri",
            mlflow_server.uri,
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (build_run,) = client.search_runs(
        [client.get_experiment_by_name("hive/finetune-datasets").experiment_id],
        filter_string=f"tags.`hive.key` = 'finetune/{SAMPLE_DATE}'",
    )

    code, summary, log = train_generator(sample_lake, mlflow_server.uri, tiny_model, "--dpo", "true")
    assert code == 0, log
    assert summary["status"] == "succeeded", log
    trained = json.loads([l for l in log.splitlines() if l.startswith('{"job": "train"')][-1])
    run = client.get_run(trained["run_id"])
    assert run.info.status == "FINISHED"

    # Parameters and lineage.
    assert run.data.params["base_model"] == str(tiny_model)
    assert run.data.params["sft_train_examples"] == str(manifest["sft_examples"]["train"])
    assert run.data.params["max_steps"] == str(STEPS) and run.data.params["world_size"] == "1"
    assert run.data.tags["hive.dataset_digest"] == manifest["digest"]
    assert run.data.tags["hive.finetune_run_id"] == build_run.info.run_id
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == f"finetune/dt={SAMPLE_DATE}"
    assert dataset_input.dataset.digest == manifest["digest"][:36]
    input_tags = {t.key: t.value for t in dataset_input.tags}
    assert input_tags["mlflow.data.context"] == "training"
    assert input_tags["hive.dataset_digest"] == manifest["digest"]
    assert json.loads(dataset_input.dataset.source) == {"uri": str(sample_dataset.resolve())}
    # The dataset mlflow-sync logged for the build-finetune run is the same one: same
    # name, digest and source, so MLflow's lineage joins the two runs.
    (built,) = client.get_run(build_run.info.run_id).inputs.dataset_inputs
    assert {t.key: t.value for t in built.tags}["mlflow.data.context"] == "source"
    for field in ("name", "digest", "source_type"):
        assert getattr(built.dataset, field) == getattr(dataset_input.dataset, field), field
    assert json.loads(built.dataset.source) == json.loads(dataset_input.dataset.source)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "dataset")}
    assert artifacts == {"dataset/manifest.json", "dataset/README.md"}

    # Per-step training metrics: every SFT step and the DPO stage after it, and the loss went down.
    sft_loss = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "sft/loss"))
    assert [s for s, _ in sft_loss] == list(range(1, STEPS + 1))
    # Batches differ from step to step (about 0.1 nats of noise here); the mean of the last
    # four steps must be below the first four's (measured: 7.11 -> 6.87).
    first, last = [v for _, v in sft_loss[:4]], [v for _, v in sft_loss[-4:]]
    assert sum(last) / 4 < sum(first) / 4 - 0.1, sft_loss
    dpo_loss = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "dpo/loss"))
    assert [s for s, _ in dpo_loss] == list(range(STEPS + 1, 2 * STEPS + 1))
    eval_loss = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "eval/loss"))
    # Held-out: the base model at step 0, after SFT, after DPO (the final adapter).
    assert [s for s, _ in eval_loss] == [0, STEPS, 2 * STEPS]
    # The same held-out examples before and after SFT: the drop is not noise (measured:
    # 7.23 -> 6.78). DPO optimises preferences, not this loss (measured: back to 7.10).
    assert eval_loss[1][1] < eval_loss[0][1] - 0.2, eval_loss
    assert eval_loss[2][1] < eval_loss[0][1], eval_loss
    ppl = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "eval/perplexity")}
    assert ppl[2 * STEPS] == pytest.approx(math.exp(eval_loss[2][1]), rel=1e-9)
    assert 0 < run.data.metrics["eval/token_accuracy"] < 1
    assert run.data.metrics["eval/examples"] == manifest["sft_examples"]["validation"]

    # The adapter: a logged model, registered as version 1 and champion (no champion before).
    v1 = client.get_model_version("hive.generator", "1")
    assert v1.run_id == run.info.run_id
    assert v1.tags["hive.dataset_digest"] == manifest["digest"]
    assert float(v1.tags["hive.eval_loss"]) == pytest.approx(eval_loss[2][1], rel=1e-12)
    assert (v1.tags["hive.gate.decision"], v1.tags["hive.gate.reason"]) == ("promoted", "no champion yet")
    assert client.get_model_version_by_alias("hive.generator", "champion").version == "1"
    logged = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert [m.source_run_id for m in logged] == [run.info.run_id]

    # A rerun of the same dataset and recipe changes nothing.
    before = state(client)
    code, summary, log = train_generator(sample_lake, mlflow_server.uri, tiny_model, "--dpo", "true")
    assert code == 0 and "already holds training" in log, log
    assert state(client) == before

    # A weaker challenger (no real training: learning rate near zero) on the same split
    # is registered with the evidence, and champion stays.
    code, summary, log = train_generator(sample_lake, mlflow_server.uri, tiny_model, "--learning-rate", "1e-9")
    assert code == 0, log
    v2 = client.get_model_version("hive.generator", "2")
    assert v2.tags["hive.gate.decision"] == "kept_champion", v2.tags
    assert v2.tags["hive.gate.champion_version"] == "1"
    assert v2.tags["hive.gate.split"] == v1.tags["hive.eval_key"] == f"{manifest['digest']}/validation/256"
    assert float(v2.tags["hive.gate.challenger_loss"]) > float(v2.tags["hive.gate.champion_loss"])
    # The champion, loaded back from the registry and evaluated again, gives the loss it was
    # registered with: the registered adapter is the one that was trained and evaluated.
    assert float(v2.tags["hive.gate.champion_loss"]) == pytest.approx(float(v1.tags["hive.eval_loss"]), rel=1e-5)
    assert client.get_model_version_by_alias("hive.generator", "champion").version == "1"

    # Two processes (torch.distributed over gloo, as torchrun starts them on a GPU node):
    # each rank evaluates every other example and the sums are reduced, so the base
    # model's held-out loss must equal the one-process run's (the same model and split).
    code, summary, log = train_generator(
        sample_lake, mlflow_server.uri, tiny_model, "--max-steps", "2", "--nproc-per-node", "2"
    )
    assert code == 0, log
    ddp = client.get_run(json.loads([l for l in log.splitlines() if l.startswith('{"job": "train"')][-1])["run_id"])
    assert ddp.data.params["world_size"] == "2"
    ddp_eval = sorted((m.step, m.value) for m in client.get_metric_history(ddp.info.run_id, "eval/loss"))
    assert [s for s, _ in ddp_eval] == [0, 2]
    assert ddp_eval[0][1] == pytest.approx(eval_loss[0][1], rel=1e-9)
    assert [m.step for m in client.get_metric_history(ddp.info.run_id, "sft/loss")] == [1, 2]
