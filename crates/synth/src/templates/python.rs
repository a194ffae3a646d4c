//! The `py-fastapi-service` template: a FastAPI service with models, settings and tests.
//!
//! One module per template family; the shared context and helpers are in the parent.

use super::*;

pub(super) fn py_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let res = Comp::new(pick(rng, &["item", "note", "task", "record"]), rng);
    let py = ["3.10", "3.11", "3.12"][ctx.v];
    let mut files = vec![
        py_pyproject(ctx, py, rng),
        py_main(ctx, &res, rng),
        py_models(ctx, &res, rng),
        py_settings(ctx, rng),
        py_test_health(ctx, rng),
        python_dockerfile(
            ctx,
            py,
            &format!(
                "[\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"{}\"]",
                ctx.port
            ),
            rng,
        ),
    ];
    let intro = pick(
        rng,
        &[
            "A FastAPI service.",
            "HTTP API for internal tools, built on FastAPI.",
            "Python backend exposing a small REST API.",
        ],
    );
    let run = format!(
        "python -m venv .venv && . .venv/bin/activate\npip install -e '.[dev]'\nuvicorn app.main:app --reload --port {}",
        ctx.port
    );
    let sections = format!(
        "## Tests\n\n```sh\npytest\n```\n\nInteractive docs are served at `http://localhost:{}/docs`.\n\n",
        ctx.port
    );
    let readme = readme(ctx, &files, [intro, &run, &sections], rng);
    files.push(readme);
    files
}

fn py_pyproject(ctx: &Ctx, py: &str, rng: &mut ChaCha8Rng) -> RenderedFile {
    let fastapi = ["0.9", "0.11", "0.11"][ctx.v].to_owned() + &rng.random_range(0..10).to_string();
    let mut deps = vec![
        format!("fastapi>={fastapi}"),
        format!("uvicorn[standard]>=0.{}", rng.random_range(22..31)),
        format!("pydantic>={}", ["1.10", "2.5", "2.7"][ctx.v]),
    ];
    if ctx.v > 0 {
        deps.push("pydantic-settings>=2.1".to_owned());
        deps.push(format!("structlog>=2{}.1", ctx.v + 2));
    }
    if rng.random_bool(0.4) {
        deps.push("sqlalchemy>=2.0".to_owned());
    }
    let deps = deps.iter().map(|d| format!("    \"{d}\",")).collect::<Vec<_>>().join("\n");
    let mut s = format!(
        "[project]\nname = \"{}\"\nversion = \"0.1.0\"\ndescription = \"{}\"\nrequires-python = \">={py}\"\ndependencies = [\n{deps}\n]\n\n",
        ctx.name,
        pick(rng, &["FastAPI service", "HTTP API service", "Internal REST API"])
    );
    s += "[project.optional-dependencies]\ndev = [\"pytest>=8.0\", \"httpx>=0.27\", \"ruff>=0.4\"";
    s += if ctx.v == 2 || rng.random_bool(0.3) {
        ", \"mypy>=1.10\"]\n\n"
    } else {
        "]\n\n"
    };
    s += "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n";
    let _ = write!(
        s,
        "[tool.ruff]\nline-length = {}\ntarget-version = \"py{}\"\n\n[tool.ruff.lint]\nselect = [{}]\n\n",
        pick(rng, &["88", "100", "120"]),
        py.replace('.', ""),
        [
            "\"E\", \"F\", \"I\"",
            "\"E\", \"F\", \"I\", \"B\", \"UP\"",
            "\"E\", \"F\", \"I\", \"B\", \"UP\", \"N\", \"S\", \"RUF\""
        ][ctx.v]
    );
    if ctx.v == 2 {
        s += "[tool.mypy]\nstrict = true\nplugins = [\"pydantic.mypy\"]\n\n";
    }
    s += "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n";
    if rng.random_bool(0.5) {
        s += "addopts = \"-q\"\n";
    }
    text_file("pyproject.toml", s)
}

fn py_main(ctx: &Ctx, res: &Comp, rng: &mut ChaCha8Rng) -> RenderedFile {
    let vars = res.vars(ctx);
    let mut s = format!(
        "\"\"\"{}\"\"\"\n\n",
        pick(
            rng,
            &[
                "Application entry point.",
                "FastAPI application and routes.",
                "HTTP entry point for the service."
            ]
        )
    );
    if ctx.v == 2 {
        s += "from collections.abc import AsyncIterator\nfrom contextlib import asynccontextmanager\n\n";
    }
    s += if ctx.v == 0 { "import logging\n\n" } else { "import structlog\n" };
    s += "from fastapi import FastAPI, HTTPException\n\n";
    s += &fill("from app.models import HealthResponse, {{Pascal}}, {{Pascal}}Create\n", &vars);
    s += if ctx.v == 0 {
        "from app.settings import settings\n\n"
    } else {
        "from app.settings import get_settings\n\n"
    };
    s += if ctx.v == 0 {
        "logging.basicConfig(level=settings.log_level)\nlogger = logging.getLogger(__name__)\n"
    } else {
        "logger = structlog.get_logger()\nsettings = get_settings()\n"
    };
    if ctx.v == 2 {
        s += "\n\n@asynccontextmanager\nasync def lifespan(_: FastAPI) -> AsyncIterator[None]:\n    logger.info(\"startup\", service=settings.service_name)\n    yield\n    logger.info(\"shutdown\")\n\n\napp = FastAPI(title=settings.service_name, version=\"0.1.0\", lifespan=lifespan)\n";
    } else {
        s += "\napp = FastAPI(title=settings.service_name, version=\"0.1.0\")\n";
    }
    s += &fill(
        r#"

_{{plural}}: dict[int, {{Pascal}}] = {}


@app.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    return HealthResponse(status="ok", service=settings.service_name)
"#,
        &vars,
    );
    if ctx.v > 0 {
        s += "\n\n@app.get(\"/ready\")\ndef ready() -> dict[str, bool]:\n    return {\"ready\": True}\n";
    }
    let dump = if ctx.v == 0 { "dict()" } else { "model_dump()" };
    s += &fill(
        r#"


@app.get("/{{plural}}", response_model=list[{{Pascal}}])
def list_{{plural}}() -> list[{{Pascal}}]:
    return list(_{{plural}}.values())


@app.post("/{{plural}}", response_model={{Pascal}}, status_code=201)
def create_{{c}}(payload: {{Pascal}}Create) -> {{Pascal}}:
    item = {{Pascal}}(id=len(_{{plural}}) + 1, **payload.DUMP)
    _{{plural}}[item.id] = item
"#,
        &vars,
    )
    .replace("DUMP", dump);
    s += if ctx.v == 0 {
        "    logger.info(\"created %s\", item.id)\n"
    } else {
        "    logger.info(\"created\", id=item.id)\n"
    };
    s += &fill(
        r#"    return item


@app.get("/{{plural}}/{item_id}", response_model={{Pascal}})
def get_{{c}}(item_id: int) -> {{Pascal}}:
    if item_id not in _{{plural}}:
        raise HTTPException(status_code=404, detail="{{words}} not found")
    return _{{plural}}[item_id]


if __name__ == "__main__":
    import uvicorn

    uvicorn.run("app.main:app", host="0.0.0.0", port={{port}}, reload=True)
"#,
        &vars,
    );
    text_file("app/main.py", s)
}

fn py_model_fields(comp: &Comp, v: usize) -> String {
    comp.lines(|n, k| match (k, v, n) {
        (Kind::Text, 2, "name") => "    name: str = Field(min_length=1, max_length=200)\n".to_owned(),
        (Kind::Int, 2, _) => format!("    {n}: int = Field(default=0, ge=0)\n"),
        (Kind::Bool, _, _) => format!("    {n}: bool = False\n"),
        (Kind::Text, _, "name") => "    name: str\n".to_owned(),
        _ => format!("    {n}: {} | None = None\n", py_type(k)),
    })
}

fn py_models(ctx: &Ctx, res: &Comp, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut vars = res.vars(ctx);
    vars.push(("fields", py_model_fields(res, ctx.v)));
    let mut s = String::from("\"\"\"Request and response models.\"\"\"\n\n");
    if res.fields.iter().any(|(_, k)| *k == Kind::Date) {
        s += "from datetime import date\n\n";
    }
    s += match ctx.v {
        0 => "from pydantic import BaseModel\n",
        1 => "from pydantic import BaseModel, ConfigDict\n",
        _ => "from pydantic import BaseModel, ConfigDict, Field\n",
    };
    s += "\n\nclass HealthResponse(BaseModel):\n    \"\"\"Response of the liveness probe.\"\"\"\n\n    status: str\n    service: str\n";
    if rng.random_bool(0.5) {
        s += "    version: str = \"0.1.0\"\n";
    }
    s += &fill(
        "\n\n\nclass {{Pascal}}Create(BaseModel):\n{{fields}}\n\nclass {{Pascal}}({{Pascal}}Create):\n",
        &vars,
    );
    if rng.random_bool(0.5) {
        s += &fill("    \"\"\"A stored {{words}}.\"\"\"\n\n", &vars);
    }
    s += "    id: int\n";
    s += if ctx.v == 0 {
        "\n    class Config:\n        orm_mode = True\n"
    } else {
        "\n    model_config = ConfigDict(from_attributes=True)\n"
    };
    text_file("app/models.py", s)
}

fn py_settings(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut vars = ctx.vars();
    vars.push(("prefix", ctx.snake.to_uppercase()));
    vars.push(("db", pick(rng, &["postgres", "postgresql+psycopg", "sqlite"]).to_owned()));
    let text = match ctx.v {
        0 => {
            r#"
"""Settings read from environment variables."""

import os


class Settings:
    service_name: str = os.getenv("{{prefix}}_SERVICE_NAME", "{{name}}")
    log_level: str = os.getenv("{{prefix}}_LOG_LEVEL", "INFO")
    database_url: str = os.getenv("{{prefix}}_DATABASE_URL", "{{db}}://localhost/{{snake}}")
    debug: bool = os.getenv("{{prefix}}_DEBUG", "false").lower() == "true"
    request_timeout: float = float(os.getenv("{{prefix}}_REQUEST_TIMEOUT", "10"))
    cors_origins: list[str] = [
        origin for origin in os.getenv("{{prefix}}_CORS_ORIGINS", "").split(",") if origin
    ]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


settings = Settings()
"#
        }
        1 => {
            r#"
"""Settings read from environment variables and `.env`."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="{{prefix}}_", env_file=".env")

    service_name: str = "{{name}}"
    log_level: str = "INFO"
    database_url: str = "{{db}}://localhost/{{snake}}"
    debug: bool = False
    request_timeout_seconds: float = 10.0
    cors_origins: list[str] = []


@lru_cache
def get_settings() -> Settings:
    return Settings()
"#
        }
        _ => {
            r#"
"""Typed settings, validated at startup."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="{{prefix}}_", env_file=".env", extra="forbid")

    service_name: str = "{{name}}"
    environment: Literal["dev", "staging", "prod"] = "dev"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    port: int = Field(default={{port}}, ge=1, le=65535)
    database_url: SecretStr = SecretStr("{{db}}://localhost/{{snake}}")
    request_timeout_seconds: float = Field(default=10.0, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
"#
        }
    };
    text_file("app/settings.py", fill(text, &vars))
}

fn py_test_health(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = String::from(
        "from fastapi.testclient import TestClient\n\nfrom app.main import app\n\nclient = TestClient(app)\n\n\ndef test_health_returns_ok() -> None:\n    response = client.get(\"/health\")\n\n    assert response.status_code == 200\n    assert response.json()[\"status\"] == \"ok\"\n    assert \"service\" in response.json()\n",
    );
    if ctx.v > 0 {
        s += "\n\ndef test_ready() -> None:\n    response = client.get(\"/ready\")\n\n    assert response.status_code == 200\n    assert response.json() == {\"ready\": True}\n";
    }
    s += "\n\ndef test_openapi_schema_is_served() -> None:\n    response = client.get(\"/openapi.json\")\n\n    assert response.status_code == 200\n    assert \"paths\" in response.json()\n";
    if rng.random_bool(0.5) {
        s += "\n\ndef test_unknown_route_is_404() -> None:\n    response = client.get(\"/does-not-exist\")\n\n    assert response.status_code == 404\n";
    }
    text_file("tests/test_health.py", s)
}

pub(super) fn py_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let mut vars = comp.vars(ctx);
    vars.push(("fields", py_model_fields(comp, ctx.v)));
    vars.push(("dump", if ctx.v == 0 { "dict()" } else { "model_dump()" }.to_owned()));
    let mut router = format!(
        "\"\"\"{}\"\"\"\n\n",
        fill(
            pick(
                rng,
                &[
                    "CRUD endpoints for {{plural}}.",
                    "Routes for the {{words}} resource.",
                    "{{Pascal}} API."
                ]
            ),
            &vars
        )
    );
    if comp.fields.iter().any(|(_, k)| *k == Kind::Date) {
        router += "from datetime import date\n\n";
    }
    router += if ctx.v == 2 {
        "from fastapi import APIRouter, HTTPException, status\nfrom pydantic import BaseModel, Field\n"
    } else {
        "from fastapi import APIRouter, HTTPException, status\nfrom pydantic import BaseModel\n"
    };
    router += &fill(
        r#"

router = APIRouter(prefix="/{{plural}}", tags=["{{plural}}"])


class {{Pascal}}In(BaseModel):
{{fields}}

class {{Pascal}}({{Pascal}}In):
    id: int


_store: dict[int, {{Pascal}}] = {}


@router.get("", response_model=list[{{Pascal}}])
def list_{{plural}}(limit: int = 50, offset: int = 0) -> list[{{Pascal}}]:
    return list(_store.values())[offset : offset + limit]


@router.post("", response_model={{Pascal}}, status_code=status.HTTP_201_CREATED)
def create_{{c}}(payload: {{Pascal}}In) -> {{Pascal}}:
    item = {{Pascal}}(id=len(_store) + 1, **payload.{{dump}})
    _store[item.id] = item
    return item


@router.get("/{item_id}", response_model={{Pascal}})
def get_{{c}}(item_id: int) -> {{Pascal}}:
    item = _store.get(item_id)
    if item is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="{{words}} not found")
    return item
"#,
        &vars,
    );
    if rng.random_bool(0.5) {
        router += &fill(
            "\n\n\n@router.delete(\"/{item_id}\", status_code=status.HTTP_204_NO_CONTENT)\ndef delete_{{c}}(item_id: int) -> None:\n    if _store.pop(item_id, None) is None:\n        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=\"{{words}} not found\")\n",
            &vars,
        );
    }
    let payload: Vec<String> = comp
        .fields
        .iter()
        .map(|(n, k)| format!("\"{n}\": {}", sample_value(n, *k).replace("true", "True")))
        .collect();
    vars.push(("payload", payload.join(", ")));
    let test = fill(
        r#"
from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)


def test_list_{{plural}}_returns_a_list() -> None:
    response = client.get("/{{plural}}")

    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_create_{{c}}() -> None:
    payload = {{{payload}}}
    response = client.post("/{{plural}}", json=payload)

    assert response.status_code == 201
    body = response.json()
    assert body["id"] >= 1
    assert body["name"] == payload["name"]


def test_missing_{{c}}_is_404() -> None:
    response = client.get("/{{plural}}/999999")

    assert response.status_code == 404
"#,
        &vars,
    );
    vec![
        text_file(format!("app/routers/{}.py", comp.snake), router),
        text_file(format!("tests/test_{}.py", comp.snake), test),
    ]
}
