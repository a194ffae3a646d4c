"""`train-generator`: trains the code generator on one night's build-finetune dataset.

Reads `finetune/dt=D/manifest.json`, skips (exit 99) when no example reached the train
split, then either creates a Kubeflow Trainer `TrainJob` through the Kubernetes API and
waits for it (`--mode kubernetes`, production), runs the same trainer command under
torchrun on this machine (`--mode local`, the sample runner and the tests), or prints the
TrainJob (`--mode render`). The TrainJob's name comes from the dataset digest and the
recipe, so a rerun finds the job it submitted before (the API answers 409) and waits for
it instead of training again. The last stdout line is a JSON summary, like the jobs'.

Exit codes (crates/core/src/exit.rs): 0 trained (or already trained), 2 bad settings or
dataset, 3 the cluster, the job or the timeout failed (a retry waits for the same job),
99 nothing to train on.

    python -m hive_trainer.submit --data-root /lake --date 2026-10-17 --mode kubernetes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import dataset as ds
from . import exit_codes
from .trainjob import (
    GROUP,
    RECIPE_KEYS,
    PLURAL,
    VERSION,
    SettingsError,
    TrainSettings,
    job_name,
    render,
    settings_from,
    trainer_args,
)

# The jobs' exit codes, generated from hive_core::exit::ExitStatus (as dags/hive_exit_codes.py).
EXIT_OK, EXIT_BAD_INPUT = exit_codes.EXIT_SUCCESS, exit_codes.EXIT_BAD_INPUT
EXIT_RUNTIME, EXIT_NOTHING = exit_codes.EXIT_RUNTIME_FAILURE, exit_codes.EXIT_NOTHING_TO_PROCESS

#: Settings flags: `--base-model` sets `base_model`; each also reads HIVE_TRAIN_<NAME>.
SETTING_FLAGS = RECIPE_KEYS + (
    "nodes",
    "gpus_per_node",
    "namespace",
    "image",
    "runtime",
    "data_pvc",
    "mlflow_secret",
    "registered_model",
    "experiment",
)


def _summary(**fields) -> None:
    print(json.dumps({"job": "train-generator", **fields}, sort_keys=True), flush=True)


def _fail(code: int, message: str, **fields) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    _summary(status="failed", exit_code=code, error=message, **fields)
    return code


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="train-generator", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=os.environ.get("HIVE_DATA_ROOT"), help="the lake (HIVE_DATA_ROOT)")
    p.add_argument(
        "--date", default=os.environ.get("HIVE_DATE"), help="the dataset's date D: finetune/dt=D (HIVE_DATE)"
    )
    p.add_argument(
        "--mode", choices=("kubernetes", "local", "render"), default=os.environ.get("HIVE_TRAIN_MODE", "kubernetes")
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("HIVE_TRAIN_TIMEOUT") or 10000),
        help="seconds to wait for the job (HIVE_TRAIN_TIMEOUT); under the DAG tasks' 3 h execution timeout",
    )
    p.add_argument("--poll", type=float, default=30.0, help="seconds between status checks (kubernetes mode)")
    p.add_argument("--mlflow-tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", ""))
    p.add_argument("--output", help="render mode: write the TrainJob YAML here instead of stdout")
    p.add_argument("--nproc-per-node", type=int, default=1, help="local mode: torchrun processes")
    for name in SETTING_FLAGS:
        env = os.environ.get(f"HIVE_TRAIN_{name.upper()}")
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=env if env not in (None, "") else None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_BAD_INPUT
    if not args.data_root or not args.date:
        return _fail(EXIT_BAD_INPUT, "`--data-root` (HIVE_DATA_ROOT) and `--date` (HIVE_DATE) are required")
    try:
        settings = settings_from({k: getattr(args, k) for k in SETTING_FLAGS if getattr(args, k) is not None})
    except SettingsError as err:
        return _fail(EXIT_BAD_INPUT, str(err))
    dataset_dir = os.path.join(args.data_root, "finetune", f"dt={args.date}")
    try:
        data = ds.load(dataset_dir)
    except ds.DatasetError as err:
        return _fail(EXIT_BAD_INPUT, str(err), date=args.date)
    base = {"date": args.date, "dataset_digest": data.digest, "sft_train_examples": data.examples("sft", "train")}
    if data.examples("sft", "train") == 0:
        print(f"`{dataset_dir}`: no SFT example in the train split: nothing to train", file=sys.stderr)
        _summary(status="nothing_to_train", exit_code=EXIT_NOTHING, **base)
        return EXIT_NOTHING
    if settings.dpo and data.examples("preference", "train") == 0:
        print(f"`{dataset_dir}`: no preference pair in the train split: the DPO stage will be skipped", file=sys.stderr)
    name = job_name(data.digest, settings)
    base["trainjob"] = name
    manifest = render(
        dataset_dir=dataset_dir,
        data_root=args.data_root,
        digest=data.digest,
        date=args.date,
        settings=settings,
        mlflow_tracking_uri=args.mlflow_tracking_uri,
    )
    if args.mode == "render":
        import yaml

        text = yaml.safe_dump(manifest, sort_keys=False, width=1000)
        if args.output:
            tmp = Path(args.output).with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(args.output)
        else:
            sys.stdout.write(text)
        return EXIT_OK
    if args.mode == "local":
        return run_local(args, settings, dataset_dir, base)
    return run_kubernetes(args, manifest, settings, base)


def run_local(args, settings: TrainSettings, dataset_dir: str, base: dict) -> int:
    """The TrainJob's command under torchrun on this machine (one node)."""
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    if torchrun is None:
        return _fail(
            EXIT_BAD_INPUT, "`torchrun` not found: local mode needs the trainer's environment (.venv/trainer)", **base
        )
    cmd = [torchrun, "--standalone", f"--nproc-per-node={args.nproc_per_node}", "-m", "hive_trainer.train"]
    cmd += trainer_args(dataset_dir, settings)
    env = dict(os.environ)
    if args.mlflow_tracking_uri:
        env["MLFLOW_TRACKING_URI"] = args.mlflow_tracking_uri
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    started = time.monotonic()
    try:
        done = subprocess.run(cmd, env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return _fail(EXIT_RUNTIME, f"local training did not finish within {args.timeout:.0f} s", **base)
    seconds = round(time.monotonic() - started, 1)
    if done.returncode in (EXIT_OK, EXIT_NOTHING):
        _summary(
            status="succeeded" if done.returncode == 0 else "nothing_to_train",
            exit_code=done.returncode,
            mode="local",
            seconds=seconds,
            **base,
        )
        return done.returncode
    # The trainer exits 2 for a bad dataset or arguments; anything else (3, a crash, a
    # signal, torchrun's own 1) is a runtime failure.
    code = EXIT_BAD_INPUT if done.returncode == EXIT_BAD_INPUT else EXIT_RUNTIME
    return _fail(code, f"the trainer exited with {done.returncode}", mode="local", **base)


def _condition(obj: dict) -> tuple[str | None, str]:
    """`Complete` or `Failed` when the TrainJob has finished (condition status True), and its message."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"], str(cond.get("message") or cond.get("reason") or "")
    return None, ""


def run_kubernetes(args, manifest: dict, settings: TrainSettings, base: dict) -> int:
    """Creates the TrainJob unless it exists, then waits for it to complete or fail."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException

    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()
        else:
            # The client reads KUBECONFIG once, when imported; read it now.
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
    except (ConfigException, OSError) as err:
        return _fail(EXIT_BAD_INPUT, f"no Kubernetes credentials (in-cluster or kubeconfig): {err}", **base)
    api = client.CustomObjectsApi()
    name, ns = manifest["metadata"]["name"], manifest["metadata"]["namespace"]
    base["namespace"] = ns
    submitted = True
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, manifest, _request_timeout=60)
        print(f"created TrainJob `{ns}/{name}`", file=sys.stderr, flush=True)
    except ApiException as err:
        if err.status == 409:
            submitted = False
            print(
                f"TrainJob `{ns}/{name}` exists (same dataset and recipe): waiting for it, not submitting again",
                file=sys.stderr,
                flush=True,
            )
        elif err.status in (400, 403, 404, 422):
            return _fail(
                EXIT_BAD_INPUT,
                f"the API server refused TrainJob `{ns}/{name}` ({err.status} {err.reason}): {str(err.body)[:500]} "
                "(is Kubeflow Trainer installed and may this service account create trainjobs?)",
                **base,
            )
        else:
            return _fail(EXIT_RUNTIME, f"creating TrainJob `{ns}/{name}` failed ({err.status} {err.reason})", **base)
    except Exception as err:  # connection refused, DNS, TLS: the cluster may be back later
        return _fail(EXIT_RUNTIME, f"creating TrainJob `{ns}/{name}` failed: {err}", **base)
    base["submitted"] = submitted
    deadline = time.monotonic() + args.timeout
    last_error = ""
    while True:
        try:
            obj = api.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, _request_timeout=60)
            state, message = _condition(obj)
            last_error = ""
        except Exception as err:  # a blip while waiting is not the job's failure
            state, message, last_error = None, "", str(err)
        if state == "Complete":
            _summary(status="succeeded", exit_code=EXIT_OK, state=state, **base)
            return EXIT_OK
        if state == "Failed":
            return _fail(
                EXIT_RUNTIME,
                f"TrainJob `{ns}/{name}` failed: {message} (delete it to train this dataset again)",
                state=state,
                **base,
            )
        if time.monotonic() >= deadline:
            why = f"; last status error: {last_error}" if last_error else ""
            return _fail(
                EXIT_RUNTIME,
                f"TrainJob `{ns}/{name}` not finished after {args.timeout:.0f} s (it keeps running; a retry waits for it){why}",
                state="Running",
                **base,
            )
        time.sleep(min(args.poll, max(0.0, deadline - time.monotonic())))


if __name__ == "__main__":
    sys.exit(main())
