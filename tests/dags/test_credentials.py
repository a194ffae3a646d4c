"""Credentials: Airflow Connections, resolved in the task, masked, and found nowhere else.

docs/secrets.md is the reference. The connections come from a real Airflow secrets
backend (LocalFilesystemBackend, configured in conftest for the whole session, as
VaultBackend is in production) or from Airflow's `AIRFLOW_CONN_*` variables. The
compliance runs use a real MLflow server with basic auth, so a credential that did not
reach mlflow-sync fails the run, and then search every place a run leaves traces for
the planted values (`scripts/check-credentials.py`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import hive_credentials
import hive_pipeline
import pytest
from conftest import DAGS, REPO, JsonHandler, copy_sample, load_dag, run_dag, set_connections, xcom

_spec = importlib.util.spec_from_file_location("check_credentials", REPO / "scripts" / "check-credentials.py")
check_credentials = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_credentials)

#: Planted credentials: each must reach its job, and appear nowhere else.
ADMIN_PASSWORD = "planted-pw-" + secrets.token_hex(10)
URL_USER, URL_PASSWORD = "hive-url", "planted-url-pw-" + secrets.token_hex(10)
TOKEN = "planted-token-" + secrets.token_hex(10)
KUBE_TOKEN = "planted-kube-token-" + secrets.token_hex(10)
PLANTED = {"password": ADMIN_PASSWORD, "URL password": URL_PASSWORD, "token": TOKEN, "kube token": KUBE_TOKEN}


# --- connections to job environments (fast) -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "http://admin:p%40ss%2Fw0rd@mlflow.example:5000/https",
        "http://user:pw@https%3A%2F%2Fmlflow.example%2Fprefix",
        "http://mlflow.example?token=abc&region=eu",
        'http://h?__extra__={"token": "t0k"}',
        "kubernetes://?__extra__=%7B%22in_cluster%22%3A+true%7D",
        '{"conn_type": "http", "host": "https://m.example", "login": "u", "password": "p", "port": "443", '
        '"extra": {"token": "x"}}',
        '{"conn_type": "kubernetes", "extra": "{\\"kube_config_path\\": \\"/k\\"}"}',
    ],
)
def test_env_connections_parse_as_airflow_parses_them(value):
    """The local runner's reader of `AIRFLOW_CONN_*` against Airflow's own parser."""
    from airflow.sdk import Connection

    airflow = Connection.from_json(value, "c") if value.startswith("{") else Connection.from_uri(value, "c")
    assert hive_credentials.parse_env_connection("c", value) == hive_credentials.from_airflow(airflow)


def _conn(**fields):
    return hive_credentials.ConnectionFields(conn_id="hive_mlflow", conn_type="http", **fields)


def test_the_mlflow_connection_becomes_mlflows_own_variables():
    creds = hive_credentials.mlflow_credentials(_conn(host="https://m.example/", login="bot", password="pw1"), "")
    assert creds.env == {
        "MLFLOW_TRACKING_URI": "https://m.example",
        "MLFLOW_TRACKING_USERNAME": "bot",
        "MLFLOW_TRACKING_PASSWORD": "pw1",
    }
    assert creds.unset == ["MLFLOW_TRACKING_TOKEN"] and "pw1" in creds.secrets
    # User-info in the host is split off: the URI the job gets carries none.
    creds = hive_credentials.mlflow_credentials(_conn(host="http://u%40x:p%2Fw@m.example:5000/p"), "")
    assert creds.env["MLFLOW_TRACKING_URI"] == "http://m.example:5000/p"
    assert (creds.env["MLFLOW_TRACKING_USERNAME"], creds.env["MLFLOW_TRACKING_PASSWORD"]) == ("u@x", "p/w")
    assert {"p/w", "p%2Fw"} <= set(creds.secrets)
    # A bare host as Airflow's HTTP hook reads it; a token from extra.
    creds = hive_credentials.mlflow_credentials(
        _conn(host="m.example", schema="https", port=8443, extra={"token": "t"}), ""
    )
    assert creds.env == {"MLFLOW_TRACKING_URI": "https://m.example:8443", "MLFLOW_TRACKING_TOKEN": "t"}
    # No host: the credentials are for the `mlflow_tracking_uri` setting's server.
    creds = hive_credentials.mlflow_credentials(_conn(login="bot", password="pw"), "http://set.example")
    assert creds.env["MLFLOW_TRACKING_URI"] == "http://set.example"
    # No connection: nothing changes.
    none = hive_credentials.mlflow_credentials(None, "http://set.example")
    assert (none.env, none.unset) == ({}, [])
    assert none.apply({"MLFLOW_TRACKING_URI": "file:///tmp/mlruns"}) == {"MLFLOW_TRACKING_URI": "file:///tmp/mlruns"}
    # Defined: a worker's stray token cannot override the connection's login.
    creds = hive_credentials.mlflow_credentials(_conn(host="https://m.example", login="bot", password="pw1"), "")
    assert "MLFLOW_TRACKING_TOKEN" not in creds.apply({"MLFLOW_TRACKING_TOKEN": "stray", "PATH": "/bin"})


@pytest.mark.parametrize(
    "fields, tracking_uri, message",
    [
        (
            {"host": "https://m.example", "login": "u", "password": "SECRETPW", "extra": {"token": "SECRETTOK"}},
            "",
            "both",
        ),
        ({"host": "https://m.example", "password": "SECRETPW"}, "", "no `login`"),
        ({"host": "https://m.example?access_token=SECRETTOK"}, "", "`access_token`"),
        ({"host": "https://u:SECRETPW@a.example"}, "https://b.example", "unset one of them"),
        ({"login": "u", "password": "SECRETPW"}, "", "no `host`"),
        ({"host": "m.example", "schema": "ftp", "password": "SECRETPW", "login": "u"}, "", "http or https"),
    ],
)
def test_an_unusable_mlflow_connection_is_named_without_its_secrets(fields, tracking_uri, message):
    with pytest.raises(hive_credentials.CredentialsError, match=re.escape(message)) as caught:
        hive_credentials.mlflow_credentials(_conn(**fields), tracking_uri)
    assert "SECRET" not in str(caught.value) and "hive_mlflow" in str(caught.value)


def test_settings_refuse_credentials_and_never_echo_them():
    for uri in ("https://svc:SECRETPW@m.example", "https://m.example/?token=SECRETTOK"):
        with pytest.raises(hive_pipeline.SettingsError, match="hive_mlflow") as caught:
            hive_pipeline.resolve_settings({"data_root": "/l", "mlflow_tracking_uri": uri}, lambda _n: None, {})
        assert "SECRET" not in str(caught.value)
    with pytest.raises(hive_pipeline.SettingsError, match="absolute") as caught:
        hive_pipeline.resolve_settings({"data_root": "s3://AKEY:SECRETKEY@bucket/lake"}, lambda _n: None, {})
    assert "SECRETKEY" not in str(caught.value) and "s3://bucket/lake" in str(caught.value)
    ok = hive_pipeline.resolve_settings(
        {"data_root": "/l", "mlflow_tracking_uri": "file:///tmp/mlruns"}, lambda _n: None, {}
    )
    assert ok["mlflow_tracking_uri"] == "file:///tmp/mlruns"


def test_a_kubeconfig_connection_becomes_a_private_file_deleted_after_the_job(tmp_path):
    kubeconfig = {"users": [{"name": "t", "user": {"token": "SECRET-KUBE"}}], "clusters": []}
    conn = hive_credentials.ConnectionFields(
        conn_id="hive_training_cluster", conn_type="kubernetes", extra={"kube_config": json.dumps(kubeconfig)}
    )
    creds = hive_credentials.training_cluster_credentials(conn, str(tmp_path))
    path = Path(creds.env["KUBECONFIG"])
    assert json.loads(path.read_text()) == kubeconfig
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "SECRET-KUBE" in creds.secrets
    creds.cleanup()
    assert not path.exists()
    for extra in ({"cluster_context": "c", "in_cluster": True}, {}, {"in_cluster": True, "kube_config_path": "/k"}):
        with pytest.raises(hive_credentials.CredentialsError):
            hive_credentials.training_cluster_credentials(
                hive_credentials.ConnectionFields(conn_id="hive_training_cluster", extra=extra)
            )


def test_only_the_steps_that_need_a_credential_name_a_connection():
    named = {
        (dag, s.task_id): s.connections
        for dag, steps in hive_pipeline.PIPELINES.items()
        for s in steps
        if s.connections
    }
    assert named == {
        ("template_evolution", "train_generator"): ("hive_mlflow", "hive_training_cluster"),
        ("template_evolution", "mlflow_sync"): ("hive_mlflow",),
        ("quality_gates", "mlflow_sync"): ("hive_mlflow",),
    }


# --- Vault ---------------------------------------------------------------------------------


def _documented_backends() -> dict[str, tuple[str, dict]]:
    """The `[secrets]` blocks of docs/secrets.md, by auth method: (backend, kwargs)."""
    text = (REPO / "docs" / "secrets.md").read_text()
    out = {}
    for name, block in re.findall(r"<!-- vault-backend: (\w+) .*?-->\n```ini\n(.*?)```", text, re.S):
        backend = re.search(r"^backend = (.+)$", block, re.M).group(1).strip()
        kwargs = json.loads(re.search(r"^backend_kwargs = (.+)$", block, re.M).group(1))
        out[name] = (backend, kwargs)
    return out


class _FakeVault:
    """Vault's HTTP API as hvac calls it for a login and a KV v2 read: enough to prove the
    documented mount, paths and JSON shapes give Airflow the connection. Not a Vault."""

    def __init__(self, secrets_by_path: dict[str, dict]):
        self.token = "vault-client-token-" + secrets.token_hex(4)
        self.logins: list[tuple[str, dict]] = []
        vault = self

        class Handler(JsonHandler):

            def do_POST(self):  # /v1/auth/<mount>/login
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                vault.logins.append((self.path, body))
                self._send(200, {"auth": {"client_token": vault.token, "lease_duration": 3600, "renewable": True}})

            def do_GET(self):
                if self.headers.get("X-Vault-Token") != vault.token:
                    return self._send(403, {"errors": ["permission denied"]})
                if self.path.startswith("/v1/auth/token/lookup-self"):
                    return self._send(200, {"data": {"id": vault.token}})
                path = self.path.split("?")[0].removeprefix("/v1/")
                if path in secrets_by_path:
                    meta = {
                        "created_time": "2026-10-01T00:00:00Z",
                        "deletion_time": "",
                        "destroyed": False,
                        "version": 1,
                    }
                    return self._send(200, {"data": {"data": secrets_by_path[path], "metadata": meta}})
                self._send(404, {"errors": []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_documented_vault_backend_settings_construct_the_backend_and_read_the_documented_paths(tmp_path):
    from airflow.providers.hashicorp.secrets.vault import VaultBackend
    from airflow.sdk import Connection

    documented = _documented_backends()
    assert set(documented) == {"kubernetes", "approle"}
    # The KV v2 secret at the documented path, in the documented JSON shape.
    stored = {"conn_type": "http", "host": "https://mlflow.conductor.svc", "login": "hive-bot", "password": "vault-pw"}
    vault = _FakeVault({"secret/data/airflow/connections/hive_mlflow": stored})
    jwt = tmp_path / "sa-token"
    jwt.write_text("service-account-jwt")
    try:
        for auth, (backend, kwargs) in documented.items():
            assert backend == "airflow.providers.hashicorp.secrets.vault.VaultBackend"
            assert kwargs["auth_type"] == auth
            assert (kwargs["mount_point"], kwargs["kv_engine_version"]) == ("secret", 2)
            assert (kwargs["connections_path"], kwargs["variables_path"]) == (
                "airflow/connections",
                "airflow/variables",
            )
            local = dict(kwargs, url=vault.url)
            if auth == "kubernetes":
                local["kubernetes_jwt_path"] = str(jwt)
            backend_obj = VaultBackend(**local)
            assert backend_obj.vault_client.auth_type == auth
            conn_json = backend_obj.get_conn_value("hive_mlflow")
            conn = Connection.from_json(conn_json, "hive_mlflow")
            creds = hive_credentials.mlflow_credentials(hive_credentials.from_airflow(conn), "")
            assert creds.env["MLFLOW_TRACKING_PASSWORD"] == "vault-pw"
            assert creds.env["MLFLOW_TRACKING_URI"] == "https://mlflow.conductor.svc"
            assert backend_obj.get_conn_value("not_there") is None
    finally:
        vault.close()
    assert [path for path, _ in vault.logins] == ["/v1/auth/kubernetes/login", "/v1/auth/approle/login"]
    assert vault.logins[0][1] == {"role": "airflow-hive", "jwt": "service-account-jwt"}


# --- Kubernetes mode: pod specs --------------------------------------------------------------


def _render_pod(task, mlflow_uri: str = ""):
    """The pod the task would create, built by the provider's own code (no cluster)."""
    env = hive_pipeline.job_env(
        hive_pipeline.resolve_settings({"data_root": "/lake", "mlflow_tracking_uri": mlflow_uri}, lambda _n: None, {}),
        "2026-10-13",
    )
    task.env_vars = env
    return task.build_pod_request_obj(None, dry_run=True)


def test_kubernetes_pods_get_credentials_only_from_a_secret(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException
    from kubernetes.client import ApiClient

    monkeypatch.setenv("HIVE_AIRFLOW_MODE", "kubernetes")
    monkeypatch.setenv("HIVE_K8S_NAMESPACE", "hive-jobs")
    monkeypatch.setenv("HIVE_K8S_MLFLOW_SECRET", "hive-mlflow")
    monkeypatch.setenv(
        "AIRFLOW_CONN_HIVE_TRAINING_CLUSTER", json.dumps({"conn_type": "kubernetes", "extra": {"in_cluster": True}})
    )
    dag = load_dag("template_evolution")
    for case in ("password", "url", "token"):  # connections are read when the pod is built
        planted = {"password": ADMIN_PASSWORD, "url": URL_PASSWORD, "token": TOKEN}[case]
        conn = check_credentials.planted_connection(case, "https://mlflow.conductor.svc", "bot", planted)
        monkeypatch.setenv("AIRFLOW_CONN_HIVE_MLFLOW", json.dumps(conn))
        for step in hive_pipeline.EVOLUTION:
            task = dag.get_task(step.task_id)
            if step.sharded:  # mapped: no connection, no Secret
                assert not task.partial_kwargs.get("secrets") and not step.connections
                continue
            pod = _render_pod(task)
            spec = json.dumps(ApiClient().sanitize_for_serialization(pod))
            assert planted not in spec, (case, step.task_id)
            (job,) = [c for c in pod.spec.containers if c.name == "base"]
            plain = {e.name: e.value for e in job.env if e.value_from is None}
            assert not set(plain) & set(hive_credentials.MLFLOW_SECRET_ENV), step.task_id
            refs = [s.secret_ref.name for s in job.env_from or [] if s.secret_ref]
            assert refs == (["hive-mlflow"] if step.connections else []), step.task_id
            if step.connections:
                assert plain["MLFLOW_TRACKING_URI"] == "https://mlflow.conductor.svc"
    # A credential the pod could only get as a plain value fails the task instead.
    monkeypatch.delenv("HIVE_K8S_MLFLOW_SECRET")
    task = load_dag("quality_gates").get_task("mlflow_sync")
    with pytest.raises(AirflowFailException, match="HIVE_K8S_MLFLOW_SECRET"):
        _render_pod(task)
    monkeypatch.setenv(
        "AIRFLOW_CONN_HIVE_TRAINING_CLUSTER", json.dumps({"conn_type": "kubernetes", "extra": {"kube_config": "x"}})
    )
    with pytest.raises(AirflowFailException, match="service account"):
        _render_pod(dag.get_task("train_generator"))


# --- compliance: real runs, every trace searched -----------------------------------------------


class _MlflowServer:
    """A real `mlflow server` with basic auth (admin password = the planted password) and a
    second admin user for the URL-credentials case."""

    def __init__(self, work: Path):
        mlflow = REPO / ".venv" / "mlflow" / "bin" / "mlflow"
        if not mlflow.exists():
            pytest.fail(f"{mlflow} is missing: bash scripts/setup-venvs.sh mlflow")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        work.mkdir(parents=True, exist_ok=True)
        self.db = work / "mlflow.db"
        env = dict(os.environ, MLFLOW_AUTH_ADMIN_PASSWORD=ADMIN_PASSWORD, MLFLOW_FLASK_SERVER_SECRET_KEY="test-only")
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        self.log = open(work / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.db}", "--artifacts-destination", str(work / "artifacts"),
             "--app-name", "basic-auth"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            self.close()
            pytest.fail(f"mlflow server not healthy: {(work / 'server.log').read_text()[-2000:]}")
        self._call("POST", "/api/2.0/mlflow/users/create", {"username": URL_USER, "password": URL_PASSWORD})
        self._call("PATCH", "/api/2.0/mlflow/users/update-admin", {"username": URL_USER, "is_admin": True})

    def _call(self, method, path, body):
        import base64

        req = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(), method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def close(self):
        os.killpg(self.proc.pid, 9)
        self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server = _MlflowServer(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.close()


def _gates_lake(root: Path) -> dict:
    from test_dag_runs import _gates_lake as make

    return make(root, failures=0)


def test_planted_credentials_reach_the_jobs_and_appear_nowhere_else(
    tmp_path, mlflow_server, bin_dir, monkeypatch, capfd
):
    """Both DAGs with `hive_mlflow` from the secrets backend (LocalFilesystemBackend): the
    URL credentials are accepted by the real server (mlflow_sync succeeds), the token is
    refused (quality_gates and template_evolution) (the failure path is searched too), and
    train_generator's kubeconfig token reaches the cluster's API. Then every DAG file,
    Variable, XCom, rendered field, the metadata database, the captured task output and
    every lake file is searched for the planted values."""
    from test_dag_runs import _TrainJobApi

    gates = _gates_lake(tmp_path / "gates")
    outcomes = {}
    try:
        # (The planted password's success case is test_the_compliance_script_runs_airflow_dags_test.)
        for case, planted, login in (("url", URL_PASSWORD, URL_USER), ("token", TOKEN, "")):
            set_connections(
                {"hive_mlflow": check_credentials.planted_connection(case, mlflow_server.url, login, planted)}
            )
            dr, states = run_dag("quality_gates", "2026-10-14", gates)
            outcomes[case] = states["mlflow_sync"]
            if case != "token":
                assert xcom(dr, "mlflow_sync")["job"] == "mlflow-sync"
        # template_evolution: a kubeconfig for the TrainJob, and the token for MLflow (a
        # quick refusal: the success path is the quality_gates run above, the same code).
        api = _TrainJobApi()
        kubeconfig = json.loads(api.kubeconfig(tmp_path / "kubeconfig").read_text())
        kubeconfig["users"][0]["user"]["token"] = KUBE_TOKEN
        set_connections(
            {
                "hive_mlflow": check_credentials.planted_connection("token", mlflow_server.url, "", TOKEN),
                "hive_training_cluster": {"conn_type": "kubernetes", "extra": {"kube_config": json.dumps(kubeconfig)}},
            }
        )
        monkeypatch.setenv("HIVE_TRAINER_PYTHON", sys.executable)
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.delenv("KUBECONFIG", raising=False)
        lake = copy_sample(tmp_path / "lake")
        conf = {"data_root": str(lake), "bin_dir": str(bin_dir), "train_mode": "kubernetes"}
        try:
            dr, states = run_dag("template_evolution", "2026-10-14", conf)
        finally:
            api.server.shutdown()
            api.server.server_close()
    finally:
        set_connections({})
    assert outcomes == {"url": ["success"], "token": ["failed"]}
    assert states["mlflow_sync"] == ["failed"] and states["train_generator"] == ["success"], states
    assert [h for h in api.auth_headers] == [f"Bearer {KUBE_TOKEN}"] * len(api.posts) and api.posts
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("hive-kubeconfig-*")), "kubeconfig left behind"

    out, err = capfd.readouterr()
    # The task logs were captured, with the jobs' output in them: they are searched.
    assert '"job":"mlflow-sync"' in (out + err).replace(" ", "") or "mlflow-sync" in out + err
    assert "refused the credentials (HTTP 401)" in out + err  # the token's failure path, logged
    scan = check_credentials.Scan(PLANTED)
    scan.tree(DAGS)
    scan.text("captured task output (stdout)", out)
    scan.text("captured task output (stderr)", err)
    scan.airflow_state()
    scan.lake(gates_root := Path(gates["data_root"]))
    scan.lake(lake)
    print(f"credential compliance: {scan.checked} places checked")
    assert scan.leaks == [], scan.leaks
    assert scan.checked > 100 and gates_root.exists()


def test_every_credential_handed_to_a_job_is_registered_with_the_secrets_masker(tmp_path):
    """The task registers each credential it hands its job, the password from the host's
    user-info included (Airflow itself knows only the connection's `password` and
    `extra`), with Airflow's secrets masker: `mask_logs` is the processor a worker's task
    log goes through, so a job that printed them would show `***`. (The quality_gates
    DAG's mlflow_sync task runs an `echo` of its variables instead of the job. `dag.test`
    in this process logs without that processor, so the run's console output itself is
    not masked: the compliance check searches it unmasked, which is stricter.)"""
    import datetime as dt

    from airflow.sdk.log import mask_logs

    planted = "planted-echo/" + secrets.token_hex(8)
    dag = load_dag("quality_gates")
    for task in dag.tasks:
        task.retries = 0
    dag.get_task("mlflow_sync").bash_command = 'echo "password=$MLFLOW_TRACKING_PASSWORD"'
    assert mask_logs(None, "info", {"event": f"password={planted}"})["event"] == f"password={planted}"
    host = f"http://bot:{urllib.parse.quote(planted, safe='')}@127.0.0.1:9"
    set_connections({"hive_mlflow": {"conn_type": "http", "host": host}})
    try:
        when = dt.datetime(2026, 10, 14, tzinfo=dt.timezone.utc)
        dr = dag.test(logical_date=when, run_conf=_gates_lake(tmp_path / "lake"))
    finally:
        set_connections({})
    # The job got the decoded password...
    assert xcom(dr, "mlflow_sync") == {"unparsed_output": f"password={planted}"}
    # ...and a task log line holding it, plain or percent-encoded, is masked.
    for shown in (planted, urllib.parse.quote(planted, safe="")):
        assert mask_logs(None, "info", {"event": f"password={shown} end"})["event"] == "password=*** end"


def test_the_scan_finds_a_planted_leak_in_each_kind_of_place(tmp_path):
    """The check can fail: a value in a compressed Parquet column (found decoded), a
    Variable, or a base64 Authorization header in a log is found."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from airflow.models.variable import Variable

    secret = "planted-leak-" + secrets.token_hex(8)
    pq.write_table(pa.table({"note": [f"x{secret}y"] * 50}), tmp_path / "t.parquet", compression="zstd")
    Variable.set("hive_leaky", f"https://u:{secret}@h")
    try:
        scan = check_credentials.Scan({"token": secret})
        scan.tree(tmp_path)
        scan.airflow_state()
        scan.text("a log", "Authorization: Basic " + __import__("base64").b64encode(secret.encode()).decode())
    finally:
        Variable.delete("hive_leaky")
    assert any("t.parquet (decoded)" in leak for leak in scan.leaks), scan.leaks
    assert any("Variable hive_leaky" in leak for leak in scan.leaks), scan.leaks
    assert any("a log" in leak for leak in scan.leaks), scan.leaks


def test_the_compliance_script_runs_airflow_dags_test(tmp_path, mlflow_server):
    """`scripts/check-credentials.py` as an operator runs it: `airflow dags test` with a
    planted password that the real server accepts, then the search."""
    gates = _gates_lake(tmp_path / "lake")
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check-credentials.py"), "--dag", "quality_gates", "--date",
         "2026-10-14", "--case", "password", "--mlflow-url", mlflow_server.url, "--secret", ADMIN_PASSWORD,
         "--conf", json.dumps(gates)],
        capture_output=True, text=True, env=dict(os.environ, AIRFLOW__LOGGING__LOGGING_LEVEL="INFO"),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "airflow dags test quality_gates 2026-10-14: exit 0" in out.stdout
    checked = int(re.search(r"(\d+) places checked, 0 leaks", out.stdout).group(1))
    assert checked > 20


def test_the_local_runner_takes_the_same_connection(tmp_path, mlflow_server, bin_dir):
    """The README's runner reads `AIRFLOW_CONN_HIVE_MLFLOW` (URI form, URL credentials) and
    gives mlflow-sync the credentials; nothing it writes or prints holds them."""
    gates = _gates_lake(tmp_path / "lake")
    # Airflow's URI form: the credentials are the URL's user-info.
    conn_uri = mlflow_server.url.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")
    env = dict(os.environ, AIRFLOW_CONN_HIVE_MLFLOW=conn_uri)
    summaries, log = tmp_path / "summaries.ndjson", tmp_path / "jobs.log"
    args = [sys.executable, str(DAGS / "hive_local_runner.py"), "--dag", "quality_gates", "--data-root",
            gates["data_root"], "--bin-dir", str(bin_dir), "--summaries", str(summaries), "--log", str(log),
            "2026-10-13"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"2026-10-13\s+success\s+success\s+success", out.stdout), out.stdout
    assert any(json.loads(line)["job"] == "mlflow-sync" for line in summaries.read_text().splitlines())
    plan = subprocess.run([*args[:-1], "--print-plan", "2026-10-13"], capture_output=True, text=True, env=env)
    scan = check_credentials.Scan({"URL password": URL_PASSWORD})
    for name, text in (("stdout", out.stdout), ("stderr", out.stderr), ("--print-plan", plan.stdout)):
        scan.text(f"local runner {name}", text)
    scan.tree(tmp_path)
    assert scan.leaks == [], scan.leaks
