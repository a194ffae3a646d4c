"""train-generator's TrainJob: rendered manifests are valid against the Kubeflow Trainer CRD,
the sample's rendering is kept in docs/examples/trainjob-sample.yaml, and the Kubernetes
mode submits once per dataset and recipe, waits, and exits with the project's codes.

No API server runs on these machines: the schema test uses the CRD's openAPIV3Schema
(jsonschema) plus its CEL rules on the name, and the submission tests run the real
Kubernetes client against a small HTTP server that answers the TrainJob endpoints as the
API server does (201 Created, 409 AlreadyExists, status conditions).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO, SAMPLE_DATE, TRAINER, binary
from hive_trainer import submit
from hive_trainer.trainjob import TrainSettings, job_name, render

CRD = TRAINER / "crds" / "trainer.kubeflow.org_trainjobs.yaml"
SAMPLE_DOC = REPO / "docs" / "examples" / "trainjob-sample.yaml"
#: The flags the sample rendering uses (documented in docs/training.md).
SAMPLE_FLAGS = [
    "--mode",
    "render",
    "--data-root",
    "/lake",
    "--mlflow-tracking-uri",
    "http://mlflow.mlflow:5000",
    "--nodes",
    "2",
    "--gpus-per-node",
    "4",
    "--data-pvc",
    "hive-lake",
    "--mlflow-secret",
    "hive-mlflow",
    "--dpo",
    "true",
]


def crd_schema() -> dict:
    docs = [d for d in yaml.safe_load_all(CRD.read_text()) if d]
    (version,) = [v for v in docs[0]["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


def assert_valid(manifest: dict) -> None:
    """The checks the API server makes: the openAPIV3Schema, then the CEL rules on the name."""
    schema = crd_schema()
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft7Validator)
    rules = [r["rule"] for r in schema.get("x-kubernetes-validations", [])]
    assert "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')" in rules
    assert "size(self.metadata.name) <= 63" in rules
    name = manifest["metadata"]["name"]
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63, name
    assert manifest["spec"]["trainer"]["numProcPerNode"] >= 1
    assert manifest["spec"]["trainer"]["numNodes"] >= 1


def sample_yaml(sample_lake: Path, capsys) -> str:
    # The dataset folder path is the lake's, made independent of where the test lake is.
    code = submit.main(SAMPLE_FLAGS[:3] + [str(sample_lake)] + SAMPLE_FLAGS[4:] + ["--date", SAMPLE_DATE])
    assert code == 0
    return capsys.readouterr().out.replace(str(sample_lake), "/lake")


def test_sample_trainjob_is_valid_and_matches_the_documented_example(sample_lake, capsys):
    text = sample_yaml(sample_lake, capsys)
    manifest = yaml.safe_load(text)
    assert_valid(manifest)
    digest = json.loads((sample_lake / "finetune" / f"dt={SAMPLE_DATE}" / "manifest.json").read_text())["digest"]
    assert manifest["metadata"]["name"].startswith(f"hive-gen-{digest[:12]}-")
    assert manifest["metadata"]["annotations"]["template-evolution/dataset-digest"] == digest
    trainer = manifest["spec"]["trainer"]
    assert manifest["spec"]["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
        "name": "torch-distributed",
    }
    assert (
        trainer["numNodes"],
        trainer["numProcPerNode"],
        trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"],
    ) == (2, 4, "4")
    assert trainer["args"][:2] == ["--dataset-dir", f"/lake/finetune/dt={SAMPLE_DATE}"] and "--dpo" in trainer["args"]
    if os.environ.get("HIVE_REGENERATE_EXAMPLES") == "1":
        SAMPLE_DOC.parent.mkdir(parents=True, exist_ok=True)
        SAMPLE_DOC.write_text(text)
    assert SAMPLE_DOC.read_text() == text, (
        f"{SAMPLE_DOC} is stale: rerun with HIVE_REGENERATE_EXAMPLES=1 (bash scripts/test-trainer.sh -k sample_trainjob)"
    )


@pytest.mark.parametrize(
    "settings",
    [
        TrainSettings(),
        TrainSettings(
            nodes=8, gpus_per_node=8, lora_rank=64, epochs=3.0, dpo=True, data_pvc="lake", mlflow_secret="creds"
        ),
        TrainSettings(gpus_per_node=0, namespace="a" * 63),
    ],
)
def test_every_rendering_is_valid_against_the_crd(settings):
    digest = "ab" * 32
    manifest = render(
        dataset_dir="/lake/finetune/dt=2026-10-17",
        data_root="/lake",
        digest=digest,
        date="2026-10-17",
        settings=settings,
        mlflow_tracking_uri="http://mlflow:5000",
    )
    assert_valid(manifest)
    # Round trip through YAML (what `--mode render` prints) changes nothing.
    assert yaml.safe_load(yaml.safe_dump(manifest)) == manifest


def test_the_schema_check_catches_what_the_api_server_would_refuse():
    manifest = render(
        dataset_dir="/d",
        data_root="/",
        digest="cd" * 32,
        date="2026-10-17",
        settings=TrainSettings(),
        mlflow_tracking_uri="",
    )
    broken = json.loads(json.dumps(manifest))
    broken["spec"]["trainer"]["numNodes"] = "2"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, crd_schema())
    broken = json.loads(json.dumps(manifest))
    del broken["spec"]["runtimeRef"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, crd_schema())


def test_the_name_follows_the_dataset_and_the_recipe_not_where_it_runs():
    a, b = "0123456789ab" + "0" * 52, "0123456789ac" + "0" * 52
    base = TrainSettings()
    assert job_name(a, base) == job_name(a, TrainSettings(nodes=4, gpus_per_node=8, namespace="other"))
    assert job_name(a, base) != job_name(b, base)
    assert job_name(a, base) != job_name(a, TrainSettings(lora_rank=8))


class FakeTrainJobApi:
    """The TrainJob endpoints of a Kubernetes API server, in memory."""

    def __init__(self, outcome: str | None = "Complete", polls_before_done: int = 2):
        self.jobs: dict[str, dict] = {}
        self.posts: list[dict] = []
        self.gets = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def _send(self, code: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.posts.append(body)
                name = body["metadata"]["name"]
                if name in fake.jobs:
                    return self._send(
                        409,
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "status": "Failure",
                            "reason": "AlreadyExists",
                            "code": 409,
                            "message": f'trainjobs.trainer.kubeflow.org "{name}" already exists',
                        },
                    )
                fake.jobs[name] = {**body, "status": {"conditions": []}, "_polls": 0}
                self._send(201, body)

            def do_GET(self):
                fake.gets += 1
                name = self.path.rstrip("/").split("/")[-1]
                job = fake.jobs.get(name)
                if job is None:
                    return self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                job["_polls"] += 1
                if outcome and job["_polls"] > polls_before_done:
                    job["status"] = {
                        "conditions": [
                            {"type": "Created", "status": "True"},
                            {"type": outcome, "status": "True", "reason": outcome, "message": f"job {outcome.lower()}"},
                        ]
                    }
                self._send(200, {k: v for k, v in job.items() if k != "_polls"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "fake",
                    "clusters": [
                        {"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.server.server_port}"}}
                    ],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "users": [{"name": "fake", "user": {"token": "test"}}],
                }
            )
        )
        return path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def kube_args(lake: Path, date: str = SAMPLE_DATE, timeout: str = "30") -> list[str]:
    return ["--mode", "kubernetes", "--data-root", str(lake), "--date", date, "--poll", "0.05", "--timeout", timeout]


def test_kubernetes_mode_submits_once_and_a_rerun_waits_for_the_same_job(sample_lake, tmp_path, monkeypatch, capsys):
    api = FakeTrainJobApi("Complete")
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    try:
        assert submit.main(kube_args(sample_lake)) == 0
        first = summary(capsys)
        assert submit.main(kube_args(sample_lake)) == 0
        again = summary(capsys)
    finally:
        api.close()
    assert (first["status"], first["submitted"], again["status"], again["submitted"]) == (
        "succeeded",
        True,
        "succeeded",
        False,
    )
    assert first["trainjob"] == again["trainjob"] and list(api.jobs) == [first["trainjob"]]
    assert len(api.posts) == 2  # the rerun's create was refused with 409, nothing else was created
    assert_valid(api.posts[0])
    assert api.posts[0]["metadata"]["namespace"] == "hive"


@pytest.mark.parametrize("outcome,timeout,code", [("Failed", "30", 3), (None, "0.5", 3)])
def test_kubernetes_mode_reports_a_failed_or_unfinished_job_as_a_runtime_failure(
    sample_lake, tmp_path, monkeypatch, capsys, outcome, timeout, code
):
    api = FakeTrainJobApi(outcome)
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    try:
        assert submit.main(kube_args(sample_lake, timeout=timeout)) == code
    finally:
        api.close()
    out = summary(capsys)
    assert out["status"] == "failed" and out["state"] == (outcome or "Running")


def test_unreachable_api_server_is_retryable_and_bad_settings_are_bad_input(sample_lake, tmp_path, monkeypatch, capsys):
    api = FakeTrainJobApi()
    config = api.kubeconfig(tmp_path / "kubeconfig")
    api.close()  # nothing listens there any more
    monkeypatch.setenv("KUBECONFIG", str(config))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert submit.main(kube_args(sample_lake, timeout="1")) == 3
    assert submit.main(kube_args(sample_lake) + ["--lora-rank", "zero"]) == 2
    assert "`lora_rank`" in capsys.readouterr().err
    assert submit.main(kube_args(sample_lake, date="2026-01-01")) == 2
    assert "manifest.json` does not exist" in capsys.readouterr().err


def test_a_dataset_with_an_empty_train_split_is_skipped_with_99(sample_lake, tmp_path, capsys):
    lake = tmp_path / "lake"
    for table in ("edits", "diff_scores"):
        os.makedirs(lake, exist_ok=True)
        subprocess.run(["cp", "-r", str(sample_lake / table), str(lake / table)], check=True)
    config = tmp_path / "finetune.yaml"
    config.write_text("split:\n  train: 0.0\n  validation: 1.0\n  test: 0.0\n")
    built = subprocess.run(
        [
            binary("build-finetune"),
            "--data-root",
            str(lake),
            "--date",
            SAMPLE_DATE,
            "--days",
            "12",
            "--config",
            str(config),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
    )
    assert built.returncode == 99  # build-finetune's own verdict: nothing reached the train split
    assert submit.main(kube_args(lake)) == 99
    out = summary(capsys)
    assert (out["status"], out["sft_train_examples"]) == ("nothing_to_train", 0)


def test_a_changed_split_file_is_refused(sample_dataset, tmp_path):
    from hive_trainer import dataset as ds

    copy = tmp_path / "dt"
    subprocess.run(["cp", "-r", str(sample_dataset), str(copy)], check=True)
    data = ds.load(copy)
    assert len(data.records("sft", "validation")) == data.examples("sft", "validation") > 0
    (copy / "sft-train.parquet").write_bytes((copy / "sft-validation.parquet").read_bytes())
    with pytest.raises(ds.DatasetError, match=r"sft-train.parquet`: sha256 .* differs from the manifest"):
        data.records("sft", "train")
