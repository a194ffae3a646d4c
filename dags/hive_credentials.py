"""Credentials from Airflow Connections, turned into the environment a job reads.

Why this module exists: the jobs take their credentials from environment variables
(mlflow-sync and the trainer read MLflow's own `MLFLOW_TRACKING_*` variables,
train-generator reads `KUBECONFIG`), and nothing secret may pass through a DAG file, a
Variable, the `plan` task's XCom or a log. So a credential lives in an Airflow Connection
(backed by HashiCorp Vault in production, docs/secrets.md), is read by the task that
needs it when that task runs, and goes straight into that job's environment, with every
secret value registered with Airflow's secrets masker first.

The same functions serve the DAG tasks (`hive_tasks`, which look connections up through
`airflow.sdk.BaseHook.get_connection`, so through the configured secrets backend) and the
local runner (`hive_local_runner`, which reads Airflow's own `AIRFLOW_CONN_<ID>`
environment variables, in Airflow's JSON or URI format). Standard library only: the local
runner runs without Airflow.

Connections (ids, fields and Vault paths: docs/secrets.md):

- `hive_mlflow` (type `http`): `host` is the tracking server (`https://mlflow.example`, or
  a bare host name with `schema` = `http`/`https` and `port`, as Airflow's HTTP hook
  reads it); `login` + `password` for basic auth, or `extra` `{"token": ...}` for a bearer
  token. User-info in `host` (`https://user:pass@host`) is accepted and split off: the
  job gets a tracking URI without it.
- `hive_training_cluster` (type `kubernetes`, the Kubernetes provider's fields):
  `extra` `{"kube_config": "<kubeconfig YAML or JSON>"}` or `{"kube_config_path": ...}`,
  or `{"in_cluster": true}` (the worker's service account). For train_generator only.

No connection defined means no credentials, exactly as before: the tracking URI then
comes from the `mlflow_tracking_uri` setting (or none, and mlflow-sync is skipped).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

MLFLOW = "hive_mlflow"
TRAINING_CLUSTER = "hive_training_cluster"
CONNECTION_IDS = (MLFLOW, TRAINING_CLUSTER)

#: The variables a connection may set in a job's environment. Every one of them is
#: removed from the job's environment when its connection is defined but does not set
#: it, so a worker's stray `MLFLOW_TRACKING_TOKEN` cannot override the connection's login.
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
MLFLOW_SECRET_ENV = MLFLOW_ENV[1:]
TRAINING_ENV = ("KUBECONFIG",)

#: Query parameters that carry a credential (as `hive_secrets::redact_url` treats them).
CREDENTIAL_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "auth",
        "auth_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
#: Keys of a kubeconfig's `users[].user` whose values are secret.
KUBECONFIG_SECRET_KEYS = ("token", "password", "client-key-data")


class CredentialsError(ValueError):
    """A connection cannot be used; the message names it and the field, never a value."""


@dataclass(frozen=True)
class ConnectionFields:
    """The fields of an Airflow Connection this module reads."""

    conn_id: str
    conn_type: str = ""
    host: str = ""
    schema: str = ""
    login: str = ""
    password: str = ""
    port: int | None = None
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass
class JobCredentials:
    """What a task adds to (`env`) and removes from (`unset`) its job's environment, the
    values to mask in its logs, and the temporary files to delete when the job ends."""

    env: dict[str, str] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def apply(self, environ: Mapping[str, str]) -> dict[str, str]:
        """`environ` with the credentials set and the connection's other variables removed."""
        out = {k: v for k, v in environ.items() if k not in self.unset}
        out.update(self.env)
        return out

    def cleanup(self) -> None:
        for path in self.files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


# --- reading connections --------------------------------------------------------------


def _extra(value: object, conn_id: str) -> dict:
    if value in (None, ""):
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        parsed = json.loads(str(value))
    except ValueError:
        raise CredentialsError(f"connection `{conn_id}`: `extra` is not JSON") from None
    if not isinstance(parsed, dict):
        raise CredentialsError(f"connection `{conn_id}`: `extra` is not a JSON object")
    return parsed


def from_airflow(conn) -> ConnectionFields:
    """The fields of an `airflow.sdk.Connection` (as `BaseHook.get_connection` returns it)."""
    return ConnectionFields(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type or "",
        host=conn.host or "",
        schema=conn.schema or "",
        login=conn.login or "",
        password=conn.password or "",
        port=conn.port,
        extra=_extra(conn.extra, conn.conn_id),
    )


def parse_env_connection(conn_id: str, value: str) -> ConnectionFields:
    """An `AIRFLOW_CONN_<ID>` value in either of Airflow's formats: JSON, or the URI
    `type://login:password@host:port/schema?extra` (the host may carry its own protocol,
    `http://user:pw@https%3A%2F%2Fmlflow.example`, or `__extra__` a JSON extra). Parsed as
    `airflow.sdk.Connection` parses it (tests/dags compares the two); errors never quote
    the value."""
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise CredentialsError(f"connection `{conn_id}`: its JSON does not parse") from None
        port = data.get("port")
        try:
            port = int(port) if port not in (None, "") else None
        except (TypeError, ValueError):
            raise CredentialsError(f"connection `{conn_id}`: `port` is not an integer") from None
        return ConnectionFields(
            conn_id=conn_id,
            conn_type=_normalize_conn_type(str(data.get("conn_type") or "")),
            host=str(data.get("host") or ""),
            schema=str(data.get("schema") or ""),
            login=str(data.get("login") or ""),
            password=str(data.get("password") or ""),
            port=port,
            extra=_extra(data.get("extra"), conn_id),
        )
    schemes = text.count("://")
    if schemes not in (1, 2):
        raise CredentialsError(f"connection `{conn_id}`: neither JSON nor a `type://...` URI")
    conn_type = urlsplit(text).scheme
    with_protocol = schemes == 2
    rest = text.replace(f"{conn_type}://", "" if with_protocol else "//", 1)
    if with_protocol and ("@" in rest.split("://", 1)[0] or ":" in rest.split("://", 1)[0]):
        raise CredentialsError(f"connection `{conn_id}`: malformed URI (a protocol after user-info)")
    parts = urlsplit(rest)
    host = unquote(parts.hostname or "")
    if "/" in host:  # a host that is itself a URL path, as Airflow keeps it
        host = unquote(parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0])
    if with_protocol and host:
        host = f"{parts.scheme}://{host}"
    try:
        port = parts.port
    except ValueError:
        raise CredentialsError(f"connection `{conn_id}`: the URI's port is not a number") from None
    extra: dict = {}
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = _extra(query["__extra__"], conn_id) if "__extra__" in query else query
    return ConnectionFields(
        conn_id=conn_id,
        conn_type=_normalize_conn_type(conn_type),
        host=host,
        schema=unquote(parts.path[1:]) if parts.path[1:] else "",
        login=unquote(parts.username) if parts.username else "",
        password=unquote(parts.password) if parts.password else "",
        port=port,
        extra=extra,
    )


def _normalize_conn_type(conn_type: str) -> str:
    return "postgres" if conn_type == "postgresql" else conn_type.replace("-", "_")


def env_connection_lookup(environ: Mapping[str, str] = os.environ) -> Callable[[str], ConnectionFields | None]:
    """Looks connections up in `AIRFLOW_CONN_<ID>` variables, as Airflow's environment
    secrets backend does (the local runner's source of connections)."""

    def lookup(conn_id: str) -> ConnectionFields | None:
        value = environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        return parse_env_connection(conn_id, value) if value else None

    return lookup


# --- URLs -------------------------------------------------------------------------------


def url_credentials(url: str) -> list[str]:
    """What in `url` is a credential: user-info and credential query parameters (names only
    for the parameters, so a message can name them)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ["an unparseable URL"]
    found = []
    if parts.username or parts.password:
        found.append("user-info")
    found += [f"`{k}`" for k, _ in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in CREDENTIAL_PARAMS]
    return found


def shown(url: str) -> str:
    """`url` safe to print: without user-info, query or fragment."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _split_userinfo(conn_id: str, url: str) -> tuple[str, str, str]:
    """(url without user-info, login, password) from a host URL."""
    parts = urlsplit(url)
    bad = [f"`{k}`" for k, _ in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in CREDENTIAL_PARAMS]
    if bad:
        raise CredentialsError(
            f"connection `{conn_id}`: `host` carries the credential query parameter(s) {', '.join(bad)}; "
            "put a token in the connection's extra `token` instead"
        )
    login = unquote(parts.username) if parts.username else ""
    password = unquote(parts.password) if parts.password else ""
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), login, password


# --- connections to job environments --------------------------------------------------------


def _secret_forms(value: str) -> list[str]:
    """A secret as it may appear in a log: as is, and percent-encoded (as in a URL)."""
    forms = [value]
    for encoded in (quote(value, safe=""), quote(value)):
        if encoded not in forms:
            forms.append(encoded)
    return forms


def mlflow_credentials(conn: ConnectionFields | None, tracking_uri: str) -> JobCredentials:
    """The MLflow variables for a job from the `hive_mlflow` connection. `tracking_uri` is
    the run's `mlflow_tracking_uri` setting (credential-free, checked by the plan): used
    when the connection has no host; a connection host that differs from it is an error,
    since one of the two is wrong."""
    creds = JobCredentials()
    if conn is None:
        return creds
    uri, login, password = "", "", ""
    host = conn.host.strip()
    if host:
        if "://" not in host:
            scheme = conn.schema or "http"
            if scheme not in ("http", "https"):
                raise CredentialsError(f"connection `{conn.conn_id}`: `schema` must be http or https for MLflow")
            host = f"{scheme}://{host}"
            if conn.port:
                host += f":{conn.port}"
        uri, login, password = _split_userinfo(conn.conn_id, host)
        uri = uri.rstrip("/")
        if tracking_uri and tracking_uri.rstrip("/") != uri:
            raise CredentialsError(
                f"connection `{conn.conn_id}` points at `{shown(uri)}` but the `mlflow_tracking_uri` setting "
                f"is `{shown(tracking_uri)}`: unset one of them"
            )
    else:
        uri = tracking_uri
    if not uri:
        raise CredentialsError(
            f"connection `{conn.conn_id}` has no `host` and no `mlflow_tracking_uri` is set: "
            "which tracking server are its credentials for?"
        )
    login = conn.login or login
    password = conn.password or password
    token = conn.extra.get("token")
    if token is not None and not isinstance(token, str):
        raise CredentialsError(f"connection `{conn.conn_id}`: extra `token` must be a string")
    if token and (login or password):
        raise CredentialsError(
            f"connection `{conn.conn_id}` has both a token and a login/password: MLflow uses one, keep one"
        )
    if password and not login:
        raise CredentialsError(f"connection `{conn.conn_id}` has a password but no `login`")
    creds.env["MLFLOW_TRACKING_URI"] = uri
    for name, value in zip(MLFLOW_SECRET_ENV, (login, password, token or "")):
        if value:
            creds.env[name] = value
    creds.unset = [name for name in MLFLOW_ENV if name not in creds.env]
    for value in (password, token or ""):
        if value:
            creds.secrets += _secret_forms(value)
    return creds


def _kubeconfig_secrets(text: str) -> list[str]:
    """The secret values of a kubeconfig (JSON, or YAML when PyYAML is importable); when
    it cannot be parsed, each line's value, so nothing in it reaches a log unmasked."""
    data = None
    try:
        data = json.loads(text)
    except ValueError:
        try:
            import yaml

            data = yaml.safe_load(text)
        except Exception:
            data = None
    if not isinstance(data, dict):
        values = [line.split(":", 1)[-1].strip().strip("'\"") for line in text.splitlines()]
        return [v for v in values if len(v) >= 8]
    out = []
    for user in data.get("users") or []:
        fields = (user or {}).get("user") or {}
        out += [str(fields[k]) for k in KUBECONFIG_SECRET_KEYS if fields.get(k)]
    return out


def training_cluster_credentials(conn: ConnectionFields | None, tmp_dir: str | None = None) -> JobCredentials:
    """`KUBECONFIG` for train-generator from the `hive_training_cluster` connection. A
    kubeconfig held in the connection is written to a private temporary file (0600) that
    the caller deletes when the job ends (`JobCredentials.cleanup`)."""
    creds = JobCredentials()
    if conn is None:
        return creds
    extra = {k.removeprefix("extra__kubernetes__"): v for k, v in conn.extra.items()}
    if extra.get("cluster_context"):
        raise CredentialsError(
            f"connection `{conn.conn_id}`: `cluster_context` is not supported; "
            "give a kubeconfig whose current-context is the training cluster"
        )
    text, path = extra.get("kube_config"), extra.get("kube_config_path")
    in_cluster = str(extra.get("in_cluster", "")).lower() in ("true", "1")
    if sum(map(bool, (text, path, in_cluster))) != 1:
        raise CredentialsError(
            f"connection `{conn.conn_id}` must set exactly one of extra `kube_config`, `kube_config_path` "
            "or `in_cluster`"
        )
    if in_cluster:
        creds.unset = ["KUBECONFIG"]
        return creds
    if path:
        creds.env["KUBECONFIG"] = str(path)
        return creds
    if isinstance(text, Mapping):
        text = json.dumps(text)
    creds.secrets = [s for value in _kubeconfig_secrets(str(text)) for s in _secret_forms(value)]
    fd, file = tempfile.mkstemp(prefix="hive-kubeconfig-", dir=tmp_dir)  # mode 0600
    with os.fdopen(fd, "w") as out:
        out.write(str(text))
    creds.env["KUBECONFIG"] = file
    creds.files.append(file)
    return creds


def credentials_for(
    connections: Iterable[str],
    lookup: Callable[[str], ConnectionFields | None],
    settings: Mapping[str, str],
) -> JobCredentials:
    """The credentials of a step's `connections` (ids), each looked up with `lookup`
    (None: not defined)."""
    out = JobCredentials()
    try:
        for conn_id in connections:
            conn = lookup(conn_id)
            if conn_id == MLFLOW:
                part = mlflow_credentials(conn, settings.get("mlflow_tracking_uri", ""))
            elif conn_id == TRAINING_CLUSTER:
                part = training_cluster_credentials(conn)
            else:
                raise CredentialsError(f"no credential handling for connection `{conn_id}`")
            out.env.update(part.env)
            out.unset += part.unset
            out.secrets += part.secrets
            out.files += part.files
    except BaseException:
        out.cleanup()
        raise
    return out
