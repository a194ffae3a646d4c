"""The generator's fine-tuning: LoRA SFT on the `sft` split (TRL `SFTTrainer`), an optional
DPO stage on the `preference` split (TRL `DPOTrainer`), held-out evaluation, MLflow logging
and the gated promotion of the adapter. The command every TrainJob node runs.

Run it under torchrun: `torchrun --nproc-per-node=N -m hive_trainer.train ...`. Each
process reads RANK / WORLD_SIZE / LOCAL_RANK; the Hugging Face Trainer shards batches
with torch.distributed (NCCL on GPUs, gloo on CPU), so one CPU process in the tests and
many GPUs in production run the same code. Only rank 0 talks to MLflow.

One training is identified by its key, `generator/<dataset digest>/<recipe hash>` (tag
`hive.key` on the run and the model version): when a model version with that key is
already registered the command does nothing and exits 0, so a rerun changes nothing.

Exit codes: 0 trained (or already trained), 2 bad dataset or arguments, 3 runtime failure
(MLflow, I/O, out of memory), 99 no example in the train split.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from . import dataset as ds
from .trainjob import TrainSettings, job_name, training_key

EXIT_OK, EXIT_BAD_INPUT, EXIT_RUNTIME, EXIT_NOTHING = 0, 2, 3, 99
FINETUNE_EXPERIMENT = "hive/finetune-datasets"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hive_trainer.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset-dir", required=True, help="a build-finetune folder, finetune/dt=D")
    p.add_argument("--base-model", required=True, help="Hugging Face model id or local directory")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--max-length", type=int, default=4096, help="tokens per example (longer ones are truncated)")
    p.add_argument("--batch-size", type=int, default=1, help="per device")
    p.add_argument("--max-steps", type=int, default=-1, help="optimizer steps per stage; -1: by epochs")
    p.add_argument("--dpo", action="store_true", help="run the DPO stage on the preference split after SFT")
    p.add_argument("--eval-split", choices=("validation", "test"), default="validation")
    p.add_argument("--experiment", default="hive/generator-training")
    p.add_argument(
        "--finetune-experiment", default=FINETUNE_EXPERIMENT, help="where mlflow-sync logs the dataset's run"
    )
    p.add_argument("--registered-model", default="hive.generator")
    p.add_argument("--output-dir", default=None, help="checkpoints and the adapter (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args(argv)


def settings_of(args: argparse.Namespace) -> TrainSettings:
    return TrainSettings(
        base_model=args.base_model,
        lora_rank=args.lora_rank,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        dpo=args.dpo,
        eval_split=args.eval_split,
        experiment=args.experiment,
        registered_model=args.registered_model,
    ).check()


def log(message: str) -> None:
    print(f"[rank {os.environ.get('RANK', '0')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = settings_of(args)
        data = ds.load(args.dataset_dir)
    except (ds.DatasetError, ValueError) as err:
        log(f"error: {err}")
        return EXIT_BAD_INPUT
    if data.examples("sft", "train") == 0:
        log(f"`{args.dataset_dir}`: no SFT example in the train split: nothing to train")
        return EXIT_NOTHING
    try:
        train_records = data.records("sft", "train")
        eval_records = data.records("sft", args.eval_split)
        pref_records = data.records("preference", "train") if args.dpo else []
    except ds.DatasetError as err:
        log(f"error: {err}")
        return EXIT_BAD_INPUT
    if not eval_records:
        log(
            f"error: `{args.dataset_dir}`: the `{args.eval_split}` split is empty: the model could not be evaluated or gated"
        )
        return EXIT_BAD_INPUT
    rank = int(os.environ.get("RANK", "0"))
    key = training_key(data.digest, settings)
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        done = _registered_version(client, settings.registered_model, key)
    except Exception as err:
        log(f"error: MLflow at `{client.tracking_uri}` failed: {err}")
        return EXIT_RUNTIME
    if done is not None:
        log(f"`{settings.registered_model}` version {done.version} already holds training `{key}`: nothing to do")
        if rank == 0:
            print(
                json.dumps({"job": "train", "status": "already_trained", "key": key, "model_version": done.version}),
                flush=True,
            )
        return EXIT_OK
    try:
        return _train(args, settings, data, key, train_records, eval_records, pref_records, client, rank)
    except Exception:  # MLflow, I/O, CUDA out of memory: a retry may help; the traceback says what
        import traceback

        log(f"error: training `{key}` failed:\n{traceback.format_exc()}")
        return EXIT_RUNTIME


def _registered_version(client, name: str, key: str):
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{name}' and tag.`hive.key` = '{key}'")
    except MlflowException as err:
        if "RESOURCE_DOES_NOT_EXIST" in str(err.error_code):
            return None
        raise
    return versions[0] if versions else None


def _conversational(records: list[dict]) -> list[dict]:
    """SFT rows as TRL prompt-completion conversations: the loss covers the kept file only."""
    return [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records]


def _train(
    args,
    settings: TrainSettings,
    data: ds.FinetuneDataset,
    key: str,
    train_records,
    eval_records,
    pref_records,
    client,
    rank: int,
) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    set_seed(args.seed)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    output_dir = Path(args.output_dir or tempfile.mkdtemp(prefix="hive-trainer-"))
    tokenizer = AutoTokenizer.from_pretrained(settings.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        log(f"error: the tokenizer of `{settings.base_model}` has no chat template")
        return EXIT_BAD_INPUT
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(settings.base_model, dtype=dtype)

    run_id = None
    if rank == 0:
        run_id = _start_run(client, settings, data, key, args, world)
    try:
        return _fit(
            args,
            settings,
            data,
            key,
            train_records,
            eval_records,
            pref_records,
            client,
            rank,
            run_id,
            model,
            tokenizer,
            dtype,
            cuda,
            output_dir,
        )
    except BaseException:
        if run_id is not None:
            client.set_terminated(run_id, "FAILED")
        raise


def _fit(
    args,
    settings,
    data,
    key,
    train_records,
    eval_records,
    pref_records,
    client,
    rank,
    run_id,
    model,
    tokenizer,
    dtype,
    cuda,
    output_dir,
) -> int:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from .evaluate import evaluate
    from .promote import promote

    def log_metrics(metrics: dict[str, float], step: int) -> None:
        if run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = []
        for k, v in sorted(metrics.items()):
            try:  # the Trainer's log values are numbers or numeric strings; others are skipped
                batch.append(Metric(k, float(v), now, step))
            except (TypeError, ValueError):
                continue
        if batch:
            client.log_batch(run_id, metrics=batch)

    class StepLogger(TrainerCallback):
        """Every Trainer log line (loss, learning rate, grad norm, token accuracy) as MLflow metrics at its step."""

        def __init__(self, stage: str, offset: int):
            self.stage, self.offset = stage, offset

        def on_log(self, _args, state, _control, logs=None, **_kw):
            if state.is_world_process_zero and logs:
                log_metrics({f"{self.stage}/{k}": v for k, v in logs.items()}, self.offset + state.global_step)

    common = dict(
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=args.seed,
        bf16=dtype == torch.bfloat16,
        use_cpu=not cuda,
        ddp_find_unused_parameters=False,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=settings.lora_rank,
        lora_alpha=2 * settings.lora_rank,
        lora_dropout=0.05,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    sft = SFTTrainer(
        model=model,
        args=SFTConfig(output_dir=str(output_dir / "sft"), max_length=settings.max_length, **common),
        train_dataset=Dataset.from_list(_conversational(train_records)),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[StepLogger("sft", 0)],
    )
    # Before any step the LoRA update is zero: this is the base model on the held-out split.
    before = evaluate(sft.model, tokenizer, eval_records, settings.max_length)
    log_metrics(before.metrics("eval"), 0)
    sft.train()
    steps = sft.state.global_step
    model = sft.model
    if settings.dpo and pref_records:
        from trl import DPOConfig, DPOTrainer

        # The held-out numbers between the stages show what DPO changed.
        log_metrics(evaluate(model, tokenizer, eval_records, settings.max_length).metrics("eval"), steps)

        # The adapter trained by SFT goes on learning; the reference is the model with the
        # adapter disabled (TRL's default for a peft model without ref_model).
        dpo = DPOTrainer(
            model=model,
            args=DPOConfig(output_dir=str(output_dir / "dpo"), max_length=settings.max_length, **common),
            train_dataset=Dataset.from_list(pref_records),
            processing_class=tokenizer,
            callbacks=[StepLogger("dpo", steps)],
        )
        dpo.train()
        steps += dpo.state.global_step
        model = dpo.model
    after = evaluate(model, tokenizer, eval_records, settings.max_length)
    log_metrics(after.metrics("eval"), steps)
    if rank != 0:
        return EXIT_OK
    adapter_dir = output_dir / "adapter"
    model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    eval_key = f"{data.digest}/{settings.eval_split}/{settings.max_length}"
    version = _log_and_register(client, run_id, settings, data, key, adapter_dir, after, eval_key)

    def evaluate_champion(champion) -> float:
        return _evaluate_version(champion, eval_records, settings.max_length)

    evidence = promote(client, settings.registered_model, version, after.loss, eval_key, evaluate_champion)
    client.set_terminated(run_id, "FINISHED")
    print(
        json.dumps(
            {
                "job": "train",
                "status": "trained",
                "key": key,
                "run_id": run_id,
                "model_version": version,
                "eval_loss": after.loss,
                "eval_loss_before": before.loss,
                "steps": steps,
                "gate": evidence,
            }
        ),
        flush=True,
    )
    return EXIT_OK


def _start_run(client, settings: TrainSettings, data: ds.FinetuneDataset, key: str, args, world: int) -> str:
    import mlflow
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import Param, RunTag

    exp = client.get_experiment_by_name(settings.experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(settings.experiment)
    tags = {"hive.key": key, "hive.dt": data.date, "hive.table": "generator", "hive.dataset_digest": data.digest}
    build = (
        client.search_runs(
            [e.experiment_id for e in [client.get_experiment_by_name(args.finetune_experiment)] if e],
            filter_string=f"tags.`hive.key` = 'finetune/{data.date}'",
            max_results=1,
        )
        if client.get_experiment_by_name(args.finetune_experiment)
        else []
    )
    if build:
        tags["hive.finetune_run_id"] = build[0].info.run_id
    else:
        log(
            f"no run tagged `hive.key = finetune/{data.date}` in `{args.finetune_experiment}` (mlflow-sync has not published the dataset): lineage holds the digest only"
        )
    run = client.create_run(exp_id, run_name=job_name(data.digest, settings), tags=tags)
    params = {
        **settings.recipe(),
        "world_size": world,
        "dataset_date": data.date,
        "dataset_days": data.manifest.get("days"),
        "sft_train_examples": data.examples("sft", "train"),
        "preference_train_pairs": data.examples("preference", "train"),
        f"{settings.eval_split}_examples": data.examples("sft", settings.eval_split),
    }
    client.log_batch(
        run.info.run_id,
        params=[Param(k, str(v)) for k, v in sorted(params.items())],
        tags=[RunTag("mlflow.source.name", "hive_trainer.train")],
    )
    source = f"{data.root.resolve()}"
    # MLflow stores at most 36 characters of a dataset digest; the full one is a tag.
    # Named and sourced as mlflow-sync logs it for the build-finetune run (crates/mlflow
    # lineage.rs), so both runs share one dataset in MLflow's lineage.
    meta = MetaDataset(source=_source(source), name=f"finetune/dt={data.date}", digest=data.digest[:36])
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_input(meta, context="training", tags={"hive.dataset_digest": data.digest})
        mlflow.log_artifact(str(data.root / "manifest.json"), artifact_path="dataset")
        if (data.root / "README.md").exists():
            mlflow.log_artifact(str(data.root / "README.md"), artifact_path="dataset")
    return run.info.run_id


def _source(path: str):
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    return resolve_dataset_source(path)


def _log_and_register(
    client, run_id: str, settings: TrainSettings, data, key: str, adapter_dir: Path, result, eval_key: str
) -> str:
    import mlflow

    from .model import GeneratorAdapter

    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="adapter",
            python_model=GeneratorAdapter(),
            artifacts={"adapter": str(adapter_dir)},
            code_paths=[str(Path(__file__).resolve().parent)],
            pip_requirements=[f"{p}=={_version(p)}" for p in ("torch", "transformers", "peft", "mlflow-skinny")],
            metadata={"base_model": settings.base_model, "dataset_digest": data.digest},
        )
    tags = {
        "hive.key": key,
        "hive.dt": data.date,
        "hive.base_model": settings.base_model,
        "hive.dataset_digest": data.digest,
        "hive.eval_key": eval_key,
        "hive.eval_loss": repr(result.loss),
        "hive.eval_token_accuracy": repr(result.token_accuracy),
    }
    try:
        client.create_registered_model(settings.registered_model)
    except Exception as err:
        if "RESOURCE_ALREADY_EXISTS" not in str(err):
            raise
    mv = client.create_model_version(
        settings.registered_model, info.model_uri, run_id=run_id, tags=tags, model_id=info.model_id
    )
    return str(mv.version)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _evaluate_version(mv, records, max_length: int) -> float:
    """Loads a registered adapter (its base model from the version's tag) and evaluates it."""
    import mlflow
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .evaluate import evaluate

    base = mv.tags["hive.base_model"]
    with tempfile.TemporaryDirectory(prefix="hive-champion-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{mv.name}/{mv.version}", dst_path=tmp))
        adapter = next(p.parent for p in local.rglob("adapter_config.json"))
        tokenizer = AutoTokenizer.from_pretrained(adapter)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        model = PeftModel.from_pretrained(model, adapter)
        return evaluate(model, tokenizer, records, max_length, distributed=False).loss


if __name__ == "__main__":
    sys.exit(main())
