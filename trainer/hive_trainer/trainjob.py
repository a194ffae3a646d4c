"""Renders the Kubeflow Trainer `TrainJob` that fine-tunes the generator on one dataset.

The TrainJob (trainer.kubeflow.org/v1alpha1) refers to the `torch-distributed`
ClusterTrainingRuntime, which starts `numNodes` pods that run the trainer's command under
torchrun with `numProcPerNode` processes each. Its name is derived from the dataset's
digest (manifest `digest`) and the training settings, so a rerun or a backfill of the same
night renders the same name and the API server refuses a second copy (409): a dataset is
never trained twice with the same settings. The rendering is pure (no cluster needed) so
the tests can validate it against the CRD's schema and keep the sample rendering in
docs/examples/trainjob-sample.yaml.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields

API_VERSION = "trainer.kubeflow.org/v1alpha1"
KIND = "TrainJob"
GROUP, VERSION = "trainer.kubeflow.org", "v1alpha1"
PLURAL = "trainjobs"
#: Labels the step puts on every TrainJob, to find them with `kubectl get trainjobs -l`.
APP_LABEL = "app.kubernetes.io/part-of"
APP = "template-evolution"
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


#: The settings that change the trained model (and so the TrainJob's name); the others
#: only say where it runs.
RECIPE_KEYS = (
    "base_model",
    "lora_rank",
    "epochs",
    "learning_rate",
    "max_length",
    "batch_size",
    "max_steps",
    "dpo",
    "eval_split",
)


class SettingsError(ValueError):
    """A training setting is invalid; the message names it."""


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides what is trained and where (docs/training.md, Settings)."""

    base_model: str = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    lora_rank: int = 16
    epochs: float = 1.0
    learning_rate: float = 2e-4
    max_length: int = 4096
    batch_size: int = 1
    max_steps: int = -1
    dpo: bool = False
    eval_split: str = "validation"
    nodes: int = 1
    gpus_per_node: int = 1
    namespace: str = "hive"
    image: str = "ghcr.io/maestro-hive/template-evolution-trainer:latest"
    runtime: str = "torch-distributed"
    data_pvc: str = ""
    mlflow_secret: str = ""
    registered_model: str = "hive.generator"
    experiment: str = "hive/generator-training"
    extra: dict = field(default_factory=dict)

    def check(self) -> "TrainSettings":
        if not self.base_model.strip():
            raise SettingsError("`base_model` is empty")
        for name in ("lora_rank", "nodes", "batch_size", "max_length"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise SettingsError(f"`{name}` must be a positive integer, got `{getattr(self, name)}`")
        if not isinstance(self.gpus_per_node, int) or self.gpus_per_node < 0:
            raise SettingsError(f"`gpus_per_node` must be 0 (CPU) or more, got `{self.gpus_per_node}`")
        if not self.epochs > 0:
            raise SettingsError(f"`epochs` must be positive, got `{self.epochs}`")
        if not self.learning_rate > 0:
            raise SettingsError(f"`learning_rate` must be positive, got `{self.learning_rate}`")
        if self.eval_split not in ("validation", "test"):
            raise SettingsError(f"`eval_split` must be `validation` or `test`, got `{self.eval_split}`")
        for name in ("namespace", "runtime"):
            if not _DNS_LABEL.match(getattr(self, name)) or len(getattr(self, name)) > 63:
                raise SettingsError(
                    f"`{name}` must be a DNS label (lowercase letters, digits, `-`), got `{getattr(self, name)}`"
                )
        if not self.image.strip():
            raise SettingsError("`image` is empty")
        return self

    def recipe(self) -> dict:
        """The settings that change the trained model (not where it runs)."""
        return {k: getattr(self, k) for k in RECIPE_KEYS}

    def recipe_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.recipe(), sort_keys=True).encode()).hexdigest()


def job_name(digest: str, settings: TrainSettings) -> str:
    """`hive-gen-<12 hex of the dataset digest>-<8 hex of the recipe>`: stable, a DNS label."""
    return f"hive-gen-{digest[:12]}-{settings.recipe_hash()[:8]}"


def training_key(digest: str, settings: TrainSettings) -> str:
    """The key (`hive.key`) of the training run and model version in MLflow."""
    return f"generator/{digest}/{settings.recipe_hash()[:16]}"


def trainer_args(dataset_dir: str, settings: TrainSettings) -> list[str]:
    """The trainer's arguments after `python -m hive_trainer.train` (the same locally)."""
    args = [
        "--dataset-dir",
        dataset_dir,
        "--base-model",
        settings.base_model,
        "--lora-rank",
        str(settings.lora_rank),
        "--epochs",
        repr(float(settings.epochs)),
        "--learning-rate",
        repr(float(settings.learning_rate)),
        "--max-length",
        str(settings.max_length),
        "--batch-size",
        str(settings.batch_size),
        "--max-steps",
        str(settings.max_steps),
        "--eval-split",
        settings.eval_split,
        "--experiment",
        settings.experiment,
        "--registered-model",
        settings.registered_model,
    ]
    if settings.dpo:
        args.append("--dpo")
    return args


def render(
    *, dataset_dir: str, data_root: str, digest: str, date: str, settings: TrainSettings, mlflow_tracking_uri: str
) -> dict:
    """The TrainJob manifest for one dataset, as a plain dict (apply it as JSON or YAML)."""
    settings.check()
    name = job_name(digest, settings)
    env = [
        {"name": "MLFLOW_TRACKING_URI", "value": mlflow_tracking_uri},
        {"name": "HIVE_DATASET_DIGEST", "value": digest},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    if settings.mlflow_secret:
        for var, key in (("MLFLOW_TRACKING_USERNAME", "username"), ("MLFLOW_TRACKING_PASSWORD", "password")):
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": settings.mlflow_secret, "key": key}}})
    trainer: dict = {
        "image": settings.image,
        "command": ["python", "-m", "hive_trainer.train"],
        "args": trainer_args(dataset_dir, settings),
        "env": env,
        "numNodes": settings.nodes,
    }
    if settings.gpus_per_node > 0:
        trainer["numProcPerNode"] = settings.gpus_per_node
        trainer["resourcesPerNode"] = {
            "limits": {"nvidia.com/gpu": str(settings.gpus_per_node)},
            "requests": {"nvidia.com/gpu": str(settings.gpus_per_node)},
        }
    else:
        trainer["numProcPerNode"] = 1
    spec: dict = {
        "runtimeRef": {"apiGroup": GROUP, "kind": "ClusterTrainingRuntime", "name": settings.runtime},
        "trainer": trainer,
    }
    if settings.data_pvc:
        # The lake is mounted at the same path as in the DAG's pods, so `dataset_dir` resolves.
        pod_spec = {
            "volumes": [{"name": "lake", "persistentVolumeClaim": {"claimName": settings.data_pvc, "readOnly": True}}],
            "containers": [
                {"name": "node", "volumeMounts": [{"name": "lake", "mountPath": data_root, "readOnly": True}]}
            ],
        }
        spec["runtimePatches"] = [
            {
                "manager": "template-evolution/train-generator",
                "trainingRuntimeSpec": {
                    "template": {
                        "spec": {
                            "replicatedJobs": [{"name": "node", "template": {"spec": {"template": {"spec": pod_spec}}}}]
                        }
                    }
                },
            }
        ]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": {APP_LABEL: APP, "template-evolution/dataset-date": date},
            "annotations": {
                "template-evolution/dataset-digest": digest,
                "template-evolution/dataset-dir": dataset_dir,
                "template-evolution/recipe": json.dumps(settings.recipe(), sort_keys=True),
            },
        },
        "spec": spec,
    }


def settings_from(values: dict) -> TrainSettings:
    """Builds checked settings from strings or typed values (CLI flags, DAG settings)."""
    types = {f.name: f.type for f in fields(TrainSettings)}
    out = {}
    for key, value in values.items():
        if key not in types or key == "extra":
            raise SettingsError(f"unknown training setting `{key}`")
        default = getattr(TrainSettings(), key)
        try:
            if isinstance(default, bool):
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", ""):
                        raise ValueError(value)
                    value = value.lower() in ("true", "1")
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            else:
                value = str(value)
        except ValueError:
            raise SettingsError(f"training setting `{key}`: `{value}` is not a {type(default).__name__}") from None
        out[key] = value
    return TrainSettings(**out).check()


def as_dict(settings: TrainSettings) -> dict:
    return {k: v for k, v in asdict(settings).items() if k != "extra"}
