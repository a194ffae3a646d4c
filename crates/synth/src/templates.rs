//! Realistic scaffold content for synth-events.
//!
//! The edit simulator rewrites generated files line by line, so they must look like what a
//! project scaffolder really emits: seeded, deterministic, and varied between projects.

use std::fmt::Write as _;

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

/// One template and its versions, oldest first.
pub struct TemplateSpec {
    /// Template id, as used in events (e.g. `rust-axum-service`).
    pub id: &'static str,
    /// Published versions, oldest first.
    pub versions: &'static [&'static str],
    /// One-line description of what the template scaffolds.
    pub description: &'static str,
}

/// Every template synth-events can render.
pub const TEMPLATES: &[TemplateSpec] = &[
    TemplateSpec {
        id: "rust-axum-service",
        versions: &["1.0.0", "1.1.0", "2.0.0"],
        description: "Rust web service on axum and tokio",
    },
    TemplateSpec {
        id: "py-fastapi-service",
        versions: &["2.3.0", "2.4.0", "3.0.0"],
        description: "Python HTTP service on FastAPI",
    },
    TemplateSpec {
        id: "ts-react-app",
        versions: &["0.9.0", "1.0.0"],
        description: "TypeScript React front end built with Vite",
    },
    TemplateSpec {
        id: "data-pipeline",
        versions: &["1.0.0", "1.1.0"],
        description: "Python batch pipeline driven by a YAML config",
    },
];

/// A rendered file. `content` is bytes because some files are binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Path relative to the project root, with `/` separators.
    pub path: String,
    /// File content; UTF-8 text ending with `\n` except for binary files.
    pub content: Vec<u8>,
}

/// Error for an unknown template id or version.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template has this id.
    #[error("unknown template `{0}`")]
    UnknownTemplate(String),
    /// The template exists but has no such version.
    #[error("template `{template}` has no version `{version}`")]
    UnknownVersion {
        /// The template id.
        template: String,
        /// The requested version.
        version: String,
    },
}

/// At least 40 distinct `snake_case` nouns usable as component names.
pub const COMPONENT_NAMES: &[&str] = &[
    "invoice",
    "user_profile",
    "order",
    "payment",
    "customer",
    "product",
    "subscription",
    "shipment",
    "refund",
    "coupon",
    "cart",
    "review",
    "notification",
    "address",
    "team",
    "project",
    "task",
    "comment",
    "attachment",
    "report",
    "audit_log",
    "webhook",
    "api_key",
    "session",
    "tenant",
    "warehouse",
    "inventory_item",
    "price_list",
    "discount",
    "category",
    "tag",
    "message",
    "channel",
    "schedule",
    "booking",
    "ticket",
    "feedback",
    "survey",
    "device",
    "sensor_reading",
    "payout",
    "ledger_entry",
    "contract",
    "vendor",
    "employee",
];

/// The files of a project's first generation: the full scaffold of `template_id` at `version`
/// for a project called `project_name` (kebab-case, e.g. "billing-api").
pub fn scaffold(template_id: &str, version: &str, project_name: &str, rng: &mut ChaCha8Rng) -> Result<Vec<RenderedFile>, TemplateError> {
    let ctx = Ctx::new(template_id, version, project_name, rng)?;
    Ok(match ctx.template {
        "rust-axum-service" => rust_scaffold(&ctx, rng),
        "py-fastapi-service" => py_scaffold(&ctx, rng),
        "ts-react-app" => ts_scaffold(&ctx, rng),
        _ => pipeline_scaffold(&ctx, rng),
    })
}

/// The files of a later generation in the same project: one component named `component`
/// (a `snake_case` noun such as `invoice` or `user_profile`), e.g. a handler + model + test.
/// Paths contain the component name (`PascalCase` for React components).
pub fn component(
    template_id: &str,
    version: &str,
    project_name: &str,
    component: &str,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<RenderedFile>, TemplateError> {
    let ctx = Ctx::new(template_id, version, project_name, rng)?;
    let comp = Comp::new(component, rng);
    Ok(match ctx.template {
        "rust-axum-service" => rust_component(&ctx, &comp, rng),
        "py-fastapi-service" => py_component(&ctx, &comp, rng),
        "ts-react-app" => ts_component(&ctx, &comp, rng),
        _ => pipeline_component(&ctx, &comp, rng),
    })
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// What every renderer needs to know about the project.
struct Ctx {
    template: &'static str,
    version: &'static str,
    /// Index of `version` in the template's version list (0 = oldest).
    v: usize,
    name: String,
    snake: String,
    title: String,
    port: String,
}

impl Ctx {
    fn new(template_id: &str, version: &str, project_name: &str, rng: &mut ChaCha8Rng) -> Result<Self, TemplateError> {
        let spec = TEMPLATES
            .iter()
            .find(|t| t.id == template_id)
            .ok_or_else(|| TemplateError::UnknownTemplate(template_id.to_owned()))?;
        let v = spec
            .versions
            .iter()
            .position(|v| *v == version)
            .ok_or_else(|| TemplateError::UnknownVersion {
                template: template_id.to_owned(),
                version: version.to_owned(),
            })?;
        let port = if rng.random_bool(0.8) {
            pick(rng, &["8000", "8080", "3000", "5000", "8081", "9000"]).to_owned()
        } else {
            rng.random_range(3001..9999_u16).to_string()
        };
        Ok(Self {
            template: spec.id,
            version: spec.versions[v],
            v,
            name: project_name.to_owned(),
            snake: project_name.replace('-', "_"),
            title: title_case(project_name),
            port,
        })
    }

    /// Variables every template text may use.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("snake", self.snake.clone()),
            ("title", self.title.clone()),
            ("port", self.port.clone()),
            ("template", self.template.to_owned()),
            ("version", self.version.to_owned()),
        ]
    }
}

/// A component (or the scaffold's sample resource) and its data fields.
struct Comp {
    snake: String,
    pascal: String,
    plural: String,
    plural_pascal: String,
    words: String,
    fields: Vec<(&'static str, Kind)>,
}

impl Comp {
    fn new(snake: &str, rng: &mut ChaCha8Rng) -> Self {
        let plural = plural(snake);
        Self {
            snake: snake.to_owned(),
            pascal: pascal_case(snake),
            plural_pascal: pascal_case(&plural),
            words: snake.replace('_', " "),
            plural,
            fields: pick_fields(rng),
        }
    }

    fn vars(&self, ctx: &Ctx) -> Vec<(&'static str, String)> {
        let mut vars = ctx.vars();
        vars.extend([
            ("c", self.snake.clone()),
            ("Pascal", self.pascal.clone()),
            ("plural", self.plural.clone()),
            ("PluralPascal", self.plural_pascal.clone()),
            ("words", self.words.clone()),
            ("plural_words", self.plural.replace('_', " ")),
        ]);
        vars
    }

    /// One line per field, built by `line(name, kind)`.
    fn lines(&self, line: impl Fn(&str, Kind) -> String) -> String {
        self.fields.iter().map(|(n, k)| line(n, *k)).collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Float,
    Bool,
    Date,
}

const FIELD_POOL: &[(&str, Kind)] = &[
    ("description", Kind::Text),
    ("email", Kind::Text),
    ("status", Kind::Text),
    ("currency", Kind::Text),
    ("external_ref", Kind::Text),
    ("notes", Kind::Text),
    ("quantity", Kind::Int),
    ("priority", Kind::Int),
    ("rating", Kind::Int),
    ("amount", Kind::Float),
    ("weight_kg", Kind::Float),
    ("is_active", Kind::Bool),
    ("archived", Kind::Bool),
    ("created_at", Kind::Date),
    ("due_date", Kind::Date),
];

/// `name` followed by 1 to 6 distinct fields from the pool, in random order.
fn pick_fields(rng: &mut ChaCha8Rng) -> Vec<(&'static str, Kind)> {
    let mut pool = FIELD_POOL.to_vec();
    let count = rng.random_range(1..=6);
    for i in 0..count {
        let j = rng.random_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool.insert(0, ("name", Kind::Text));
    pool
}

fn rust_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text | Kind::Date => "String",
        Kind::Int => "i64",
        Kind::Float => "f64",
        Kind::Bool => "bool",
    }
}

fn py_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "str",
        Kind::Int => "int",
        Kind::Float => "float",
        Kind::Bool => "bool",
        Kind::Date => "date",
    }
}

fn ts_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text | Kind::Date => "string",
        Kind::Int | Kind::Float => "number",
        Kind::Bool => "boolean",
    }
}

/// A sample value as a JSON / Python / TypeScript literal (`True` is patched for Python).
fn sample_value(name: &str, kind: Kind) -> String {
    match kind {
        Kind::Text if name == "email" => "\"ops@example.com\"".to_owned(),
        Kind::Text => format!("\"sample {}\"", name.replace('_', " ")),
        Kind::Int => (name.len() % 5 + 1).to_string(),
        Kind::Float => format!("{}.5", name.len() * 3),
        Kind::Bool => "true".to_owned(),
        Kind::Date => "\"2024-03-15\"".to_owned(),
    }
}

/// Replaces `{{key}}` placeholders; a leading newline (after `r#"`) is dropped.
fn fill(text: &str, vars: &[(&str, String)]) -> String {
    let mut out = text.strip_prefix('\n').unwrap_or(text).to_owned();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

fn text_file(path: impl Into<String>, mut content: String) -> RenderedFile {
    if !content.ends_with('\n') {
        content.push('\n');
    }
    RenderedFile {
        path: path.into(),
        content: content.into_bytes(),
    }
}

fn pascal_case(s: &str) -> String {
    s.split(['_', '-'])
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        })
        .collect()
}

fn camel_case(s: &str) -> String {
    let pascal = pascal_case(s);
    let mut chars = pascal.chars();
    chars.next().map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

fn title_case(s: &str) -> String {
    let words: Vec<String> = s
        .split(['_', '-'])
        .map(|w| match w {
            "api" | "ui" | "id" | "etl" | "ml" => w.to_uppercase(),
            _ => pascal_case(w),
        })
        .collect();
    words.join(" ")
}

fn plural(noun: &str) -> String {
    if let Some(stem) = noun.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o'])) {
        format!("{stem}ies")
    } else if noun.ends_with('s') || noun.ends_with("sh") || noun.ends_with("ch") {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// `Dockerfile` for a Python service or job.
fn python_dockerfile(ctx: &Ctx, py: &str, cmd: &str, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = fill(
        r#"
# syntax=docker/dockerfile:1
# Build: docker build -t {{name}} .
FROM python:{{py}}-slim

LABEL org.opencontainers.image.title="{{name}}" \
      org.opencontainers.image.source="https://github.com/acme/{{name}}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

COPY pyproject.toml README.md ./
"#,
        &[("py", py.to_owned()), ("name", ctx.name.clone())],
    );
    if rng.random_bool(0.5) {
        s += "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends build-essential \\\n    && rm -rf /var/lib/apt/lists/*\n\n";
    }
    s += "COPY . .\nRUN pip install --no-cache-dir .\n\n";
    if ctx.v > 0 {
        s += "RUN useradd --create-home --uid 10001 app\nUSER app\n\n";
    }
    if !cmd.contains("uvicorn") {
        s += "ENV PIPELINE_CONFIG=/app/pipeline/config.yaml\nVOLUME [\"/data/out\"]\n\n";
    }
    if cmd.contains("uvicorn") {
        let _ = write!(
            s,
            "EXPOSE {0}\n\nHEALTHCHECK --interval=30s --timeout=3s \\\n    CMD python -c \"import urllib.request; urllib.request.urlopen('http://localhost:{0}/health')\"\n\n",
            ctx.port
        );
    }
    let _ = writeln!(s, "CMD {cmd}");
    text_file("Dockerfile", s)
}

/// `README.md` shared by all templates: title, how to run, and optional extra sections.
fn readme(ctx: &Ctx, files: &[RenderedFile], text: [&str; 3], rng: &mut ChaCha8Rng) -> RenderedFile {
    let [intro, run, sections] = text;
    let mut s = format!("# {}\n\n{intro}\n\n", ctx.title);
    if rng.random_bool(0.6) {
        let _ = write!(s, "Generated from the `{}` template, version {}.\n\n", ctx.template, ctx.version);
    }
    let _ = write!(s, "## Getting started\n\n```sh\n{run}\n```\n\n{sections}");
    if files.iter().any(|f| f.path == "Dockerfile") {
        let _ = write!(
            s,
            "## Docker\n\n```sh\ndocker build -t {0} .\ndocker run --rm {1}{0}\n```\n\n",
            ctx.name,
            if ctx.template == "data-pipeline" {
                "-v \"$PWD/out:/data/out\" ".to_owned()
            } else {
                format!("-p {0}:{0} ", ctx.port)
            }
        );
    }
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let _ = write!(s, "## Project layout\n\n```text\n{}\n```\n\n", paths.join("\n"));
    if rng.random_bool(0.4) {
        s += "## Contributing\n\n1. Create a branch from `main`.\n2. Keep changes small and add tests.\n3. Open a pull request and ask for a review.\n\n";
    }
    s += pick(
        rng,
        &["## License\n\nProprietary. All rights reserved.\n", "## License\n\nMIT\n", ""],
    );
    text_file("README.md", s.trim_end().to_owned())
}

// ---------------------------------------------------------------------------------------------
// rust-axum-service
// ---------------------------------------------------------------------------------------------

fn rust_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let res = Comp::new(pick(rng, &["item", "widget", "record", "entry", "note"]), rng);
    let tower_http = rng.random_bool(0.5);
    let mut files = vec![
        rust_cargo_toml(ctx, tower_http, rng),
        rust_main(ctx, tower_http),
        rust_routes(ctx, &res, rng),
        rust_error(ctx, rng),
        rust_dockerfile(ctx, rng),
        rust_ci(ctx, rng),
    ];
    let intro = pick(
        rng,
        &[
            "An HTTP service built with axum.",
            "Backend service for the team.",
            "REST API written in Rust (axum + tokio).",
        ],
    );
    let run = format!("cargo run\ncurl http://localhost:{}/health", ctx.port);
    let sections = format!(
        "## Endpoints\n\n| Method | Path | Description |\n| --- | --- | --- |\n| GET | `/health` | Liveness probe |\n{}| GET | `/{p}` | List {p} |\n| GET | `/{p}/{id}` | Fetch one {r} |\n\n## Configuration\n\n- `RUST_LOG`: log filter (default `info`)\n- `PORT`: listen port (default `{port}`)\n\n",
        if ctx.v > 0 { "| GET | `/ready` | Readiness probe |\n" } else { "" },
        p = res.plural,
        r = res.snake,
        id = if ctx.v == 2 { "{id}" } else { ":id" },
        port = ctx.port
    );
    let readme = readme(ctx, &files, [intro, &run, &sections], rng);
    files.push(readme);
    files
}

fn rust_cargo_toml(ctx: &Ctx, tower_http: bool, rng: &mut ChaCha8Rng) -> RenderedFile {
    let axum = ["0.6.20", "0.7.5", "0.8.1"][ctx.v];
    let mut s = format!(
        "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"{}\"\npublish = false\nreadme = \"README.md\"\nrust-version = \"1.{}\"\n",
        ctx.name,
        if ctx.v == 2 { "2024" } else { "2021" },
        [70, 78, 85][ctx.v]
    );
    if rng.random_bool(0.5) {
        let _ = writeln!(s, "description = \"{} service\"", ctx.title);
    }
    let _ = writeln!(s, "\n[dependencies]\naxum = \"{axum}\"");
    s += "serde = { version = \"1.0\", features = [\"derive\"] }\nserde_json = \"1.0\"\n";
    let _ = writeln!(s, "thiserror = \"{}\"", if ctx.v == 2 { "2.0" } else { "1.0" });
    let _ = writeln!(
        s,
        "tokio = {{ version = \"1.{}\", features = [\"full\"] }}",
        rng.random_range(28..45)
    );
    if tower_http {
        let _ = writeln!(
            s,
            "tower-http = {{ version = \"0.{}\", features = [\"trace\", \"cors\"] }}",
            if ctx.v == 0 { 4 } else { 5 + ctx.v }
        );
    }
    s += "tracing = \"0.1\"\n";
    let features = if ctx.v > 0 { "\"env-filter\", \"json\"" } else { "\"env-filter\"" };
    let _ = writeln!(s, "tracing-subscriber = {{ version = \"0.3\", features = [{features}] }}");
    if rng.random_bool(0.4) {
        s += "uuid = { version = \"1\", features = [\"v4\", \"serde\"] }\n";
    }
    s += "\n[dev-dependencies]\nhttp-body-util = \"0.1\"\ntower = { version = \"0.4\", features = [\"util\"] }\n";
    if ctx.v == 2 {
        s += "\n[lints.rust]\nunsafe_code = \"forbid\"\n\n[lints.clippy]\npedantic = { level = \"warn\", priority = -1 }\nunwrap_used = \"deny\"\n";
    }
    if rng.random_bool(0.5) {
        s += "\n[profile.release]\nlto = true\ncodegen-units = 1\n";
    }
    text_file("Cargo.toml", s)
}

fn rust_main(ctx: &Ctx, tower_http: bool) -> RenderedFile {
    let mut vars = ctx.vars();
    let layer = if tower_http {
        "\n        .layer(TraceLayer::new_for_http())"
    } else {
        ""
    };
    vars.push(("layer", layer.to_owned()));
    vars.push((
        "trace_use",
        if tower_http { "use tower_http::trace::TraceLayer;\n" } else { "" }.to_owned(),
    ));
    let text = match ctx.v {
        0 => {
            r#"
use std::net::SocketAddr;

{{trace_use}}use tracing_subscriber::EnvFilter;

mod error;
mod routes;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .init();

    let app = routes::router(){{layer}};
    let addr = SocketAddr::from(([0, 0, 0, 0], {{port}}));
    tracing::info!("{{name}} listening on {}", addr);

    axum::Server::bind(&addr)
        .serve(app.into_make_service())
        .await
        .expect("server error");
}
"#
        }
        1 => {
            r#"
use tokio::net::TcpListener;
{{trace_use}}use tracing_subscriber::EnvFilter;

mod error;
mod routes;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or({{port}});
    let app = routes::router(){{layer}};
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, service = "{{name}}", "listening");

    axum::serve(listener, app).await?;
    Ok(())
}
"#
        }
        _ => {
            r#"
use tokio::net::TcpListener;
use tokio::signal;
{{trace_use}}use tracing_subscriber::EnvFilter;

mod error;
mod routes;

/// Runtime settings, read once from the environment.
#[derive(Debug, Clone)]
struct Config {
    port: u16,
    log_filter: String,
}

impl Config {
    fn from_env() -> Self {
        Self {
            port: std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or({{port}}),
            log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::new(&config.log_filter))
        .init();

    let app = routes::router(){{layer}};
    let listener = TcpListener::bind(("0.0.0.0", config.port)).await?;
    tracing::info!(port = config.port, service = "{{name}}", "listening");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    if let Err(err) = signal::ctrl_c().await {
        tracing::error!(error = %err, "failed to listen for ctrl-c");
    }
}
"#
        }
    };
    text_file("src/main.rs", fill(text, &vars))
}

fn rust_routes(ctx: &Ctx, res: &Comp, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut vars = res.vars(ctx);
    vars.push(("fields", res.lines(|n, k| format!("    pub {n}: {},\n", rust_type(k)))));
    vars.push((
        "samples",
        res.lines(|n, k| {
            let value = sample_value(n, k);
            let value = if value.starts_with('"') {
                format!("{value}.to_owned()")
            } else {
                value
            };
            format!("        {n}: {value},\n")
        }),
    ));
    vars.push(("id_seg", if ctx.v == 2 { "{id}" } else { ":id" }.to_owned()));
    vars.push((
        "ready_route",
        if ctx.v > 0 {
            "\n        .route(\"/ready\", get(ready))"
        } else {
            ""
        }
        .to_owned(),
    ));
    let mut s = fill(
        r#"
use axum::{extract::Path, routing::get, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::AppError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct {{Pascal}} {
    pub id: u64,
{{fields}}}

pub fn router() -> Router {
    Router::new()
        .route("/health", get(health)){{ready_route}}
        .route("/{{plural}}", get(list_{{plural}}))
        .route("/{{plural}}/{{id_seg}}", get(get_{{c}}))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "service": "{{name}}" }))
}
"#,
        &vars,
    );
    if ctx.v > 0 {
        s += "\nasync fn ready() -> Json<Value> {\n    // TODO: check downstream dependencies before reporting ready.\n    Json(json!({ \"ready\": true }))\n}\n";
    }
    s += &fill(
        r#"

async fn list_{{plural}}() -> Json<Vec<{{Pascal}}>> {
    Json(vec![sample(1), sample(2)])
}

async fn get_{{c}}(Path(id): Path<u64>) -> Result<Json<{{Pascal}}>, AppError> {
    if id == 0 || id > {{max}} {
        return Err(AppError::NotFound(format!("{{c}} {id}")));
    }
    Ok(Json(sample(id)))
}

fn sample(id: u64) -> {{Pascal}} {
    {{Pascal}} {
        id,
{{samples}}    }
}
"#,
        &[vars.clone(), vec![("max", rng.random_range(10..500_u32).to_string())]].concat(),
    );
    text_file("src/routes.rs", s)
}

fn rust_error(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let unauthorized = rng.random_bool(0.5);
    let mut s = String::from(
        "use axum::{\n    http::StatusCode,\n    response::{IntoResponse, Response},\n    Json,\n};\nuse serde_json::json;\n\n",
    );
    if rng.random_bool(0.5) {
        s += "/// Errors returned by request handlers; each maps to an HTTP status.\n";
    }
    s += "#[derive(Debug, thiserror::Error)]\npub enum AppError {\n    #[error(\"not found: {0}\")]\n    NotFound(String),\n    #[error(\"bad request: {0}\")]\n    BadRequest(String),\n";
    if unauthorized {
        s += "    #[error(\"unauthorized\")]\n    Unauthorized,\n";
    }
    s += "    #[error(\"internal error: {0}\")]\n    Internal(String),\n}\n\nimpl IntoResponse for AppError {\n    fn into_response(self) -> Response {\n        let status = match &self {\n            Self::NotFound(_) => StatusCode::NOT_FOUND,\n            Self::BadRequest(_) => StatusCode::BAD_REQUEST,\n";
    if unauthorized {
        s += "            Self::Unauthorized => StatusCode::UNAUTHORIZED,\n";
    }
    s += "            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,\n        };\n";
    if ctx.v > 0 {
        s += "        tracing::warn!(error = %self, status = status.as_u16(), \"request failed\");\n";
    }
    s += "        (status, Json(json!({ \"error\": self.to_string() }))).into_response()\n    }\n}\n";
    text_file("src/error.rs", s)
}

fn rust_dockerfile(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = format!(
        "# syntax=docker/dockerfile:1\n# Build: docker build -t {} .\nFROM rust:1.{}-slim AS builder\n\nWORKDIR /app\nCOPY Cargo.toml Cargo.lock ./\n",
        ctx.name,
        rng.random_range(70..86) + ctx.v * 2
    );
    if rng.random_bool(0.5) {
        s += "# Build dependencies first so they are cached between source changes.\nRUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release && rm -rf src\n";
    }
    let _ = write!(
        s,
        "COPY src ./src\nRUN cargo build --release --locked\n\nFROM debian:{}-slim\n\n",
        pick(rng, &["bookworm", "bullseye"])
    );
    s += "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends ca-certificates \\\n    && rm -rf /var/lib/apt/lists/*\n\n";
    let _ = write!(s, "COPY --from=builder /app/target/release/{0} /usr/local/bin/{0}\n\n", ctx.name);
    if ctx.v == 2 {
        s += "USER 10001\n";
    }
    let _ = writeln!(s, "ENV RUST_LOG=info\nEXPOSE {}\n\nCMD [\"{}\"]", ctx.port, ctx.name);
    text_file("Dockerfile", s)
}

fn rust_ci(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = String::from(
        "name: CI\n\non:\n  push:\n    branches: [main]\n  pull_request:\n\nenv:\n  CARGO_TERM_COLOR: always\n\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: dtolnay/rust-toolchain@stable\n",
    );
    if ctx.v == 2 {
        s += "        with:\n          components: clippy, rustfmt\n";
    }
    if rng.random_bool(0.6) {
        s += "      - uses: Swatinem/rust-cache@v2\n";
    }
    s += "      - name: Build\n        run: cargo build --locked\n      - name: Test\n        run: cargo test --locked\n";
    if ctx.v == 2 {
        s += "      - name: Lint\n        run: cargo clippy --all-targets -- -D warnings\n      - name: Format\n        run: cargo fmt --check\n";
    }
    text_file(".github/workflows/ci.yml", s)
}

fn rust_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let mut vars = comp.vars(ctx);
    vars.push(("fields", comp.lines(|n, k| format!("    pub {n}: {},\n", rust_type(k)))));
    vars.push(("new_fields", comp.lines(|n, k| format!("    {n}: {},\n", rust_type(k)))));
    vars.push(("moves", comp.lines(|n, _| format!("        {n}: input.{n},\n"))));
    vars.push(("id_seg", if ctx.v == 2 { "{id}" } else { ":id" }.to_owned()));
    let json: Vec<String> = comp
        .fields
        .iter()
        .map(|(n, k)| format!("\"{n}\": {}", sample_value(n, *k)))
        .collect();
    vars.push(("json", json.join(", ")));
    let mut handler = String::new();
    if rng.random_bool(0.6) {
        handler += &fill("//! HTTP handlers for {{words}} resources.\n\n", &vars);
    }
    handler += &fill(
        r#"
use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::error::AppError;

type Store = Arc<RwLock<Vec<{{Pascal}}>>>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct {{Pascal}} {
    pub id: u64,
{{fields}}}

#[derive(Debug, Deserialize)]
pub struct New{{Pascal}} {
{{new_fields}}}

pub fn router() -> Router {
    Router::new()
        .route("/{{plural}}", get(list).post(create))
        .route("/{{plural}}/{{id_seg}}", get(fetch))
        .with_state(Store::default())
}

async fn list(State(store): State<Store>) -> Json<Vec<{{Pascal}}>> {
    Json(store.read().await.clone())
}

async fn create(
    State(store): State<Store>,
    Json(input): Json<New{{Pascal}}>,
) -> Result<(StatusCode, Json<{{Pascal}}>), AppError> {
    if input.name.trim().is_empty() {
        return Err(AppError::BadRequest("name must not be empty".to_owned()));
    }
    let mut items = store.write().await;
    let item = {{Pascal}} {
        id: items.len() as u64 + 1,
{{moves}}    };
    items.push(item.clone());
    Ok((StatusCode::CREATED, Json(item)))
}

async fn fetch(State(store): State<Store>, Path(id): Path<u64>) -> Result<Json<{{Pascal}}>, AppError> {
    let items = store.read().await;
    items
        .iter()
        .find(|item| item.id == id)
        .cloned()
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("{{c}} {id}")))
}
"#,
        &vars,
    );
    vec![
        text_file(format!("src/handlers/{}.rs", comp.snake), handler),
        rust_component_test(comp, &vars, rng),
    ]
}

/// `tests/<component>_api.rs`: black-box tests of the component's router.
fn rust_component_test(comp: &Comp, vars: &[(&str, String)], rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut test = fill(
        r#"
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use tower::ServiceExt;

use {{snake}}::handlers::{{c}}::router;

#[tokio::test]
async fn list_{{plural}}_starts_empty() {
    let response = router()
        .oneshot(Request::builder().uri("/{{plural}}").body(Body::empty()).unwrap())
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_{{c}}_is_not_found() {
    let response = router()
        .oneshot(Request::builder().uri("/{{plural}}/404").body(Body::empty()).unwrap())
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
"#,
        vars,
    );
    if rng.random_bool(0.7) {
        test += &fill(
            r#"

#[tokio::test]
async fn create_{{c}}_returns_created() {
    let body = serde_json::json!({ {{json}} }).to_string();
    let request = Request::builder()
        .method("POST")
        .uri("/{{plural}}")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();

    let response = router().oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::CREATED);
}
"#,
            vars,
        );
    }
    text_file(format!("tests/{}_api.rs", comp.snake), test)
}

// ---------------------------------------------------------------------------------------------
// py-fastapi-service
// ---------------------------------------------------------------------------------------------

fn py_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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

fn py_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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

// ---------------------------------------------------------------------------------------------
// ts-react-app
// ---------------------------------------------------------------------------------------------

fn ts_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let mut files = vec![
        ts_package_json(ctx, rng),
        ts_tsconfig(ctx),
        ts_app(ctx, rng),
        ts_client(ctx, rng),
        ts_main(ctx),
        favicon(rng),
    ];
    let intro = pick(
        rng,
        &[
            "A React front end written in TypeScript.",
            "Web client for the service, built with React and Vite.",
            "Single-page app (React, TypeScript, Vite).",
        ],
    );
    let sections = "## Scripts\n\n- `npm run dev`: start the dev server\n- `npm run build`: type-check and build for production\n- `npm run lint`: run ESLint\n\nSet `VITE_API_URL` to point the app at a backend.\n\n";
    let readme = readme(ctx, &files, [intro, "npm install\nnpm run dev", sections], rng);
    files.push(readme);
    files
}

fn ts_package_json(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let react = ["17.0.2", "18.3.1"][ctx.v];
    let mut deps = vec![format!("\"react\": \"^{react}\""), format!("\"react-dom\": \"^{react}\"")];
    if rng.random_bool(0.5) {
        deps.insert(
            0,
            format!("\"@tanstack/react-query\": \"^{}.{}.0\"", 4 + ctx.v, rng.random_range(0..30)),
        );
    }
    if rng.random_bool(0.4) {
        deps.push(format!("\"react-router-dom\": \"^6.{}.0\"", rng.random_range(4..26)));
    }
    let mut dev = vec![
        format!("\"@types/react\": \"^{}.0.0\"", 17 + ctx.v),
        format!("\"@vitejs/plugin-react\": \"^4.{}.0\"", rng.random_range(0..4)),
        format!("\"eslint\": \"^8.{}.0\"", rng.random_range(40..58)),
        format!("\"typescript\": \"~5.{}.2\"", rng.random_range(0..6)),
        format!("\"vite\": \"^{}.{}.0\"", 4 + ctx.v, rng.random_range(0..5)),
    ];
    if ctx.v == 1 {
        dev.push("\"vitest\": \"^1.6.0\"".to_owned());
    }
    let join = |items: &[String]| items.iter().map(|d| format!("    {d}")).collect::<Vec<_>>().join(",\n");
    let lint = if ctx.v == 1 { "eslint src --max-warnings 0" } else { "eslint src" };
    let test = if ctx.v == 1 { ",\n    \"test\": \"vitest run\"" } else { "" };
    let s = format!(
        "{{\n  \"name\": \"{}\",\n  \"private\": true,\n  \"version\": \"0.1.0\",\n  \"type\": \"module\",\n  \"scripts\": {{\n    \"dev\": \"vite --port {}\",\n    \"build\": \"tsc && vite build\",\n    \"preview\": \"vite preview\",\n    \"lint\": \"{lint}\"{test}\n  }},\n  \"dependencies\": {{\n{}\n  }},\n  \"devDependencies\": {{\n{}\n  }}\n}}\n",
        ctx.name,
        ctx.port,
        join(&deps),
        join(&dev)
    );
    text_file("package.json", s)
}

fn ts_tsconfig(ctx: &Ctx) -> RenderedFile {
    let strict = if ctx.v == 1 {
        "    \"strict\": true,\n    \"noUnusedLocals\": true,\n    \"noUnusedParameters\": true,\n    \"noUncheckedIndexedAccess\": true,\n    \"noFallthroughCasesInSwitch\": true\n"
    } else {
        "    \"strict\": true\n"
    };
    let s = format!(
        "{{\n  \"compilerOptions\": {{\n    \"target\": \"{}\",\n    \"lib\": [\"DOM\", \"DOM.Iterable\", \"ESNext\"],\n    \"module\": \"ESNext\",\n    \"moduleResolution\": \"{}\",\n    \"jsx\": \"react-jsx\",\n    \"useDefineForClassFields\": true,\n    \"resolveJsonModule\": true,\n    \"allowSyntheticDefaultImports\": true,\n    \"forceConsistentCasingInFileNames\": true,\n    \"baseUrl\": \".\",\n    \"skipLibCheck\": true,\n    \"isolatedModules\": true,\n    \"noEmit\": true,\n{strict}  }},\n  \"include\": [\"src\"],\n  \"references\": [{{ \"path\": \"./tsconfig.node.json\" }}]\n}}\n",
        ["ES2020", "ES2022"][ctx.v],
        ["Node", "bundler"][ctx.v]
    );
    text_file("tsconfig.json", s)
}

fn ts_app(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut vars = ctx.vars();
    let heading = pick(rng, &["Welcome to {{title}}", "{{title}}", "{{title}} dashboard"]);
    vars.push(("heading", fill(heading, &vars)));
    let mut s = fill(
        r#"
import { useEffect, useState } from "react";

import { apiGet } from "./api/client";

type Health = {
  status: string;
  service?: string;
};

export default function App() {
  const [health, setHealth] = useState<Health | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    apiGet<Health>("/health")
      .then(setHealth)
      .catch((err: unknown) => setError(String(err)));
  }, []);

  return (
    <main className="app">
      <header>
        <h1>{{heading}}</h1>
"#,
        &vars,
    );
    if rng.random_bool(0.5) {
        s += "        <p className=\"tagline\">Edit <code>src/App.tsx</code> and save to reload.</p>\n";
    }
    s += "      </header>\n      {error && <p className=\"error\">{error}</p>}\n      {health ? <p>Backend status: {health.status}</p> : <p>Checking backend...</p>}\n";
    if rng.random_bool(0.4) {
        s += "      <footer>\n        <small>Version 0.1.0</small>\n      </footer>\n";
    }
    s += "    </main>\n  );\n}\n";
    text_file("src/App.tsx", s)
}

fn ts_client(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let base = format!("http://localhost:{}", pick(rng, &["8000", "8080", "3001"]));
    let mut s = format!(
        "const BASE_URL = import.meta.env.VITE_API_URL ?? \"{base}\";\nconst TIMEOUT_MS = {};\n\n",
        rng.random_range(2..30) * 1000
    );
    if ctx.v == 1 {
        s += "export class ApiError extends Error {\n  constructor(\n    public readonly status: number,\n    message: string,\n  ) {\n    super(message);\n    this.name = \"ApiError\";\n  }\n}\n\n";
    }
    let fail = if ctx.v == 1 {
        "throw new ApiError(response.status, await response.text());"
    } else {
        "throw new Error(`Request failed: ${response.status}`);"
    };
    let _ = write!(
        s,
        "async function request<T>(path: string, init: RequestInit = {{}}): Promise<T> {{\n  const controller = new AbortController();\n  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);\n  try {{\n    const response = await fetch(`${{BASE_URL}}${{path}}`, {{\n      ...init,\n      headers: {{ \"Content-Type\": \"application/json\", ...init.headers }},\n      signal: controller.signal,\n    }});\n    if (!response.ok) {{\n      {fail}\n    }}\n    return (await response.json()) as T;\n  }} finally {{\n    clearTimeout(timer);\n  }}\n}}\n\n"
    );
    s += "export function apiGet<T>(path: string): Promise<T> {\n  return request<T>(path);\n}\n\nexport function apiPost<T>(path: string, body: unknown): Promise<T> {\n  return request<T>(path, { method: \"POST\", body: JSON.stringify(body) });\n}\n";
    if rng.random_bool(0.5) {
        s += "\nexport function apiDelete(path: string): Promise<void> {\n  return request<void>(path, { method: \"DELETE\" });\n}\n";
    }
    text_file("src/api/client.ts", s)
}

fn ts_main(ctx: &Ctx) -> RenderedFile {
    let mut s = format!(
        "/**\n * Entry point: mounts <App /> into #root.\n * Generated by ts-react-app {}; safe to edit.\n */\n",
        ctx.version
    );
    s += if ctx.v == 0 {
        "import React from \"react\";\nimport ReactDOM from \"react-dom\";\n\nimport App from \"./App\";\nimport \"./index.css\";\n\nReactDOM.render(\n  <React.StrictMode>\n    <App />\n  </React.StrictMode>,\n  document.getElementById(\"root\"),\n);\n"
    } else {
        "import { StrictMode } from \"react\";\nimport { createRoot } from \"react-dom/client\";\n\nimport App from \"./App\";\nimport \"./index.css\";\n\nconst container = document.getElementById(\"root\");\nif (!container) {\n  throw new Error(\"missing #root element\");\n}\n\ncreateRoot(container).render(\n  <StrictMode>\n    <App />\n  </StrictMode>,\n);\n"
    };
    s += "\n// Unregister any service worker left over from an earlier deployment.\nif (\"serviceWorker\" in navigator) {\n  navigator.serviceWorker.getRegistrations().then((registrations) => {\n    registrations.forEach((registration) => registration.unregister());\n  });\n}\n";
    text_file("src/main.tsx", s)
}

/// A 16x16 32-bit ICO: header, one directory entry, a BITMAPINFOHEADER and random pixels.
fn favicon(rng: &mut ChaCha8Rng) -> RenderedFile {
    let total: usize = rng.random_range(200..=1200);
    let image_len = (total - 22) as u32;
    let mut bytes = vec![0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0];
    bytes.extend_from_slice(&image_len.to_le_bytes());
    bytes.extend_from_slice(&22_u32.to_le_bytes());
    bytes.extend_from_slice(&40_u32.to_le_bytes());
    bytes.extend_from_slice(&16_u32.to_le_bytes());
    bytes.extend_from_slice(&32_u32.to_le_bytes());
    bytes.extend_from_slice(&[1, 0, 32, 0]);
    bytes.extend_from_slice(&[0; 24]);
    let palette: [u8; 4] = [rng.random(), rng.random(), rng.random(), 0xff];
    while bytes.len() < total {
        let i = bytes.len() % 4;
        let byte = if rng.random_bool(0.3) {
            0
        } else {
            palette[i].wrapping_add(rng.random_range(0..8))
        };
        bytes.push(byte);
    }
    RenderedFile {
        path: "public/favicon.ico".to_owned(),
        content: bytes,
    }
}

fn ts_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let mut vars = comp.vars(ctx);
    vars.push(("fields", comp.lines(|n, k| format!("  {n}: {};\n", ts_type(k)))));
    vars.push(("title_words", title_case(&comp.plural)));
    let mut view = fill(
        r#"
import { useEffect, useState } from "react";

import { type {{Pascal}}, list{{PluralPascal}} } from "../api/{{c}}";

type Props = {
  title?: string;
};

export function {{Pascal}}List({ title = "{{title_words}}" }: Props) {
  const [items, setItems] = useState<{{Pascal}}[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    list{{PluralPascal}}()
      .then(setItems)
      .catch((err: unknown) => setError(String(err)))
      .finally(() => setLoading(false));
  }, []);

  if (loading) {
    return <p>Loading {{words}} list...</p>;
  }
  if (error) {
    return <p className="error">{error}</p>;
  }

  return (
    <section>
      <h2>{title}</h2>
"#,
        &vars,
    );
    if rng.random_bool(0.5) {
        view += &fill("      {items.length === 0 && <p>No {{plural_words}} yet.</p>}\n", &vars);
    }
    view += "      <ul>\n        {items.map((item) => (\n          <li key={item.id}>\n            <strong>{item.name}</strong>\n";
    if let Some((n, _)) = comp.fields.get(1) {
        let _ = writeln!(view, "            <span> {{String(item.{n})}}</span>");
    }
    view += "          </li>\n        ))}\n      </ul>\n    </section>\n  );\n}\n";
    let api = fill(
        r#"
import { apiGet, apiPost } from "./client";

export interface {{Pascal}} {
  id: number;
{{fields}}}

export type New{{Pascal}} = Omit<{{Pascal}}, "id">;

export function list{{PluralPascal}}(): Promise<{{Pascal}}[]> {
  return apiGet<{{Pascal}}[]>("/{{plural}}");
}

export function get{{Pascal}}(id: number): Promise<{{Pascal}}> {
  return apiGet<{{Pascal}}>(`/{{plural}}/${id}`);
}

export function create{{Pascal}}(input: New{{Pascal}}): Promise<{{Pascal}}> {
  return apiPost<{{Pascal}}>("/{{plural}}", input);
}
"#,
        &vars,
    );
    vec![
        text_file(format!("src/components/{}.tsx", comp.pascal), view),
        text_file(format!("src/api/{}.ts", comp.snake), api),
    ]
}

// ---------------------------------------------------------------------------------------------
// data-pipeline
// ---------------------------------------------------------------------------------------------

fn pipeline_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let table = Comp::new(pick(rng, &["event", "order", "transaction", "signup", "pageview"]), rng);
    let mut files = vec![
        pipeline_config(ctx, &table, rng),
        pipeline_extract(ctx, rng),
        pipeline_transform(ctx, rng),
        pipeline_load(ctx, rng),
        python_dockerfile(
            ctx,
            "3.11",
            "[\"python\", \"-m\", \"pipeline.run\", \"--config\", \"pipeline/config.yaml\"]",
            rng,
        ),
    ];
    let intro = pick(
        rng,
        &[
            "Nightly batch pipeline: extract, transform, load.",
            "Batch ETL job configured in YAML.",
            "Moves raw data into the warehouse once a day.",
        ],
    );
    let run = "pip install -e .\npython -m pipeline.run --config pipeline/config.yaml";
    let sections = "## Stages\n\n1. `extract.py` reads the source described in `config.yaml`.\n2. `transform.py` cleans, deduplicates and types the rows.\n3. `load.py` writes the result to the sink.\n\n";
    let readme = readme(ctx, &files, [intro, run, sections], rng);
    files.push(readme);
    files
}

fn pipeline_config(ctx: &Ctx, table: &Comp, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = format!(
        "# Configuration for the {} pipeline.\npipeline:\n  name: {}\n  schedule: \"{} {} * * *\"\n",
        ctx.title,
        ctx.name,
        rng.random_range(0..60),
        rng.random_range(0..6)
    );
    if ctx.v > 0 {
        let _ = writeln!(
            s,
            "  max_retries: {}\n  retry_backoff_seconds: {}",
            rng.random_range(2..6),
            rng.random_range(1..7) * 15
        );
    }
    let source = match rng.random_range(0..3) {
        0 => format!(
            "\nsource:\n  type: postgres\n  dsn_env: SOURCE_DSN\n  query: SELECT * FROM {} WHERE updated_at >= :since\n",
            table.plural
        ),
        1 => format!(
            "\nsource:\n  type: s3\n  bucket: {}-raw\n  prefix: {}/\n  format: jsonl\n",
            ctx.name, table.plural
        ),
        _ => format!(
            "\nsource:\n  type: http\n  url: https://api.example.com/v1/{}\n  page_size: {}\n",
            table.plural,
            rng.random_range(1..11) * 100
        ),
    };
    s += &source;
    s += "\ntransform:\n  drop_nulls: true\n  dedupe_on: [id]\n  columns:\n    - name: id\n      type: int\n";
    for (n, k) in &table.fields {
        let _ = writeln!(s, "    - name: {n}\n      type: {}", py_type(*k));
    }
    let _ = writeln!(
        s,
        "\nsink:\n  type: {}\n  table: analytics.{}\n  mode: {}\n\nlogging:\n  level: INFO",
        pick(rng, &["bigquery", "snowflake", "parquet"]),
        table.plural,
        pick(rng, &["append", "overwrite", "merge"])
    );
    if ctx.v > 0 {
        s += "  format: json\n";
    }
    text_file("pipeline/config.yaml", s)
}

/// Python imports and logger set-up shared by the pipeline stages.
fn pipeline_header(ctx: &Ctx, doc: &str, extra_imports: &str) -> String {
    let (stdlib, third_party, logger) = if ctx.v > 0 {
        ("", "import pandas as pd\nimport structlog", "structlog.get_logger(__name__)")
    } else {
        ("import logging\n", "import pandas as pd", "logging.getLogger(__name__)")
    };
    format!("\"\"\"{doc}\"\"\"\n\nfrom __future__ import annotations\n\n{stdlib}{extra_imports}\n{third_party}\n\nlogger = {logger}\n")
}

fn pipeline_extract(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = pipeline_header(
        ctx,
        "Extract stage: read raw rows from the configured source.",
        "import time\nfrom typing import Any\n",
    );
    let _ = writeln!(s, "\nDEFAULT_BATCH_SIZE = {}", rng.random_range(1..20) * 500);
    s += r#"

def extract(source: dict[str, Any], since: str | None = None) -> pd.DataFrame:
    kind = source["type"]
"#;
    s += if ctx.v > 0 {
        "    logger.info(\"extract.start\", source=kind, since=since)\n"
    } else {
        "    logger.info(\"extracting from %s since %s\", kind, since)\n"
    };
    s += r#"    if kind == "postgres":
        frame = pd.read_sql(source["query"], source["dsn"], params={"since": since})
    elif kind == "s3":
        frame = pd.read_json(f"s3://{source['bucket']}/{source['prefix']}", lines=True)
    elif kind == "http":
        frame = _read_http(source["url"], int(source.get("page_size", DEFAULT_BATCH_SIZE)))
    else:
        raise ValueError(f"unsupported source type: {kind}")
"#;
    s += if ctx.v > 0 {
        "    logger.info(\"extract.done\", rows=len(frame))\n"
    } else {
        "    logger.info(\"extracted %d rows\", len(frame))\n"
    };
    s += "    return frame\n\n\ndef _read_http(url: str, page_size: int) -> pd.DataFrame:\n    import requests\n\n    rows: list[dict[str, Any]] = []\n    page = 1\n    while True:\n";
    if ctx.v > 0 {
        s += "        response = _get_with_retries(requests, url, {\"page\": page, \"per_page\": page_size})\n";
    } else {
        s += "        response = requests.get(url, params={\"page\": page, \"per_page\": page_size}, timeout=30)\n        response.raise_for_status()\n";
    }
    s += "        batch = response.json()\n        if not batch:\n            break\n        rows.extend(batch)\n        page += 1\n    return pd.DataFrame(rows)\n";
    if ctx.v > 0 {
        s += "\n\ndef _get_with_retries(requests: Any, url: str, params: dict[str, int], attempts: int = 3) -> Any:\n    for attempt in range(1, attempts + 1):\n        try:\n            response = requests.get(url, params=params, timeout=30)\n            response.raise_for_status()\n            return response\n        except requests.RequestException as exc:\n            logger.warning(\"extract.retry\", attempt=attempt, error=str(exc))\n            if attempt == attempts:\n                raise\n            time.sleep(2**attempt)\n    raise RuntimeError(\"unreachable\")\n";
    }
    text_file("pipeline/extract.py", s)
}

fn pipeline_transform(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = pipeline_header(
        ctx,
        "Transform stage: clean, deduplicate and type the extracted rows.",
        "from typing import Any\n",
    );
    s += "\nTYPE_MAP = {\"int\": \"Int64\", \"float\": \"float64\", \"str\": \"string\", \"bool\": \"boolean\", \"date\": \"datetime64[ns]\"}\n";
    s += r#"

def transform(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    columns = [c["name"] for c in config["columns"]]
    frame = frame.reindex(columns=columns)
    if config.get("drop_nulls", False):
        frame = frame.dropna(subset=["id"])
    if keys := config.get("dedupe_on"):
        before = len(frame)
        frame = frame.drop_duplicates(subset=keys, keep="last")
"#;
    s += if ctx.v > 0 {
        "        logger.info(\"transform.dedupe\", dropped=before - len(frame))\n"
    } else {
        "        logger.info(\"dropped %d duplicates\", before - len(frame))\n"
    };
    s += "    for column in config[\"columns\"]:\n        frame[column[\"name\"]] = frame[column[\"name\"]].astype(TYPE_MAP[column[\"type\"]])\n";
    if rng.random_bool(0.5) {
        s += "    frame[\"_loaded_at\"] = pd.Timestamp.now(tz=\"UTC\")\n";
    }
    s += "    return frame.reset_index(drop=True)\n";
    if rng.random_bool(0.5) {
        s += "\n\ndef normalise_text(series: pd.Series) -> pd.Series:\n    \"\"\"Trim whitespace and lower-case a text column.\"\"\"\n    return series.str.strip().str.lower()\n";
    }
    text_file("pipeline/transform.py", s)
}

fn pipeline_load(ctx: &Ctx, rng: &mut ChaCha8Rng) -> RenderedFile {
    let mut s = pipeline_header(
        ctx,
        "Load stage: write transformed rows to the sink.",
        "from pathlib import Path\nfrom typing import Any\n",
    );
    let _ = writeln!(
        s,
        "\nOUTPUT_DIR = Path(\"{}\")",
        pick(rng, &["output", "/data/out", "build/output"])
    );
    s += r#"

def load(frame: pd.DataFrame, sink: dict[str, Any]) -> int:
    kind = sink["type"]
    if kind == "parquet":
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUTPUT_DIR / f"{sink['table']}.parquet"
        frame.to_parquet(path, index=False)
    else:
        _load_warehouse(frame, sink)
"#;
    s += if ctx.v > 0 {
        "    logger.info(\"load.done\", sink=kind, rows=len(frame), mode=sink.get(\"mode\"))\n"
    } else {
        "    logger.info(\"loaded %d rows into %s\", len(frame), kind)\n"
    };
    s += "    return len(frame)\n\n\ndef _load_warehouse(frame: pd.DataFrame, sink: dict[str, Any]) -> None:\n    from sqlalchemy import create_engine\n\n    engine = create_engine(sink[\"url\"])\n    if_exists = \"replace\" if sink.get(\"mode\") == \"overwrite\" else \"append\"\n";
    let _ = writeln!(
        s,
        "    frame.to_sql(sink[\"table\"], engine, if_exists=if_exists, index=False, chunksize={})",
        rng.random_range(1..11) * 1000
    );
    text_file("pipeline/load.py", s)
}

fn pipeline_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
    let mut vars = comp.vars(ctx);
    let required: Vec<String> = comp.fields.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    vars.push(("required", required.join(", ")));
    let mut py = pipeline_header(
        ctx,
        &fill("Step `{{c}}`: prepare {{words}} rows for the warehouse.", &vars),
        "from typing import Any\n",
    );
    py += &fill(
        r#"

REQUIRED_COLUMNS = ["id", {{required}}]


def run(frame: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{{c}}: missing columns {missing}")
    frame = frame[REQUIRED_COLUMNS].copy()
    if options.get("drop_duplicates", True):
        frame = frame.drop_duplicates(subset=["id"])
"#,
        &vars,
    );
    if let Some((n, _)) = comp.fields.iter().find(|(_, k)| *k == Kind::Float) {
        let _ = writeln!(py, "    frame = frame[frame[\"{n}\"] >= 0]");
    }
    let done = if ctx.v > 0 {
        "    logger.info(\"{{c}}.done\", rows=len(frame))\n"
    } else {
        "    logger.info(\"{{c}}: %d rows\", len(frame))\n"
    };
    py += &fill(done, &vars);
    py += "    return frame\n";
    let mut yaml = fill(
        "step: {{c}}\ndescription: Prepare {{words}} rows.\nowner: data-platform\nenabled: true\ndepends_on:\n  - extract\ninputs:\n  table: raw_{{plural}}\noutputs:\n  table: staging.{{plural}}\ncolumns:\n  - name: id\n    type: int\n",
        &vars,
    );
    for (n, k) in &comp.fields {
        let _ = writeln!(yaml, "  - name: {n}\n    type: {}", py_type(*k));
    }
    let _ = writeln!(
        yaml,
        "options:\n  drop_duplicates: true\n  batch_size: {}",
        rng.random_range(1..20) * 250
    );
    if ctx.v > 0 {
        let _ = writeln!(yaml, "  max_retries: {}", rng.random_range(1..5));
    }
    vec![
        text_file(format!("pipeline/steps/{}.py", comp.snake), py),
        text_file(format!("pipeline/steps/{}.yaml", comp.snake), yaml),
    ]
}

// ---------------------------------------------------------------------------------------------
// Hand-written lines
// ---------------------------------------------------------------------------------------------

const VERBS: &[&str] = &[
    "load",
    "fetch",
    "parse",
    "validate",
    "build",
    "sync",
    "resolve",
    "update",
    "normalize",
    "render",
    "export",
    "retry",
    "merge",
    "filter",
    "compute",
    "refresh",
];

const PHRASES: &[&str] = &[
    "handle the empty case",
    "keep this in sync with the API",
    "avoid a second round trip",
    "cache this per request",
    "remove once the migration lands",
    "upstream sometimes returns null here",
    "make the timeout configurable",
    "this was flaky in CI",
    "double-check the rounding",
    "ask the platform team about limits",
    "temporary workaround",
    "needed for the reporting export",
    "support pagination",
    "log the request id",
];

/// `n` realistic lines a user might write by hand in `language` (no trailing newline characters),
/// used to simulate additions and rewrites. Languages: "rust", "python", "typescript", "yaml",
/// "dockerfile", "markdown", "toml", "json", "text"; unknown languages fall back to "text".
pub fn user_written_lines(language: &str, n: usize, rng: &mut ChaCha8Rng) -> Vec<String> {
    (0..n).map(|_| user_line(language, rng)).collect()
}

fn user_line(language: &str, rng: &mut ChaCha8Rng) -> String {
    let a = pick(rng, COMPONENT_NAMES);
    let b = pick(rng, COMPONENT_NAMES);
    let verb = pick(rng, VERBS);
    let phrase = pick(rng, PHRASES);
    let num = rng.random_range(2..5000_u32);
    let pattern = rng.random_range(0..6_u8);
    match language {
        "rust" => match pattern {
            0 => format!("    let {a}_{num} = {b}.{verb}()?;"),
            1 => format!("    // TODO: {phrase} ({a}, #{num})"),
            2 => format!("    tracing::info!({a}_id = %id, count = {num}, \"{verb} {b}\");"),
            3 => format!("const MAX_{}: usize = {num};", a.to_uppercase()),
            4 => format!(
                "    if {a}.len() > {num} {{ return Err(AppError::BadRequest(\"too many {}\".into())); }}",
                plural(b)
            ),
            _ => format!("fn {verb}_{a}({b}: &{}) -> Option<u64> {{ Some({num}) }}", pascal_case(b)),
        },
        "python" => match pattern {
            0 => format!("    {a}_count = len({b}_rows) + {num}"),
            1 => format!("    # {phrase} ({a}, #{num})"),
            2 => format!("    logger.info(\"{verb} {a}\", extra={{\"{b}_id\": {num}}})"),
            3 => format!("{}_LIMIT = {num}", a.to_uppercase()),
            4 => format!("    if {a} is None or {a}.{b}_id == {num}:"),
            _ => format!("def {verb}_{a}({b}_id: int, limit: int = {num}) -> dict:"),
        },
        "typescript" => match pattern {
            0 => format!("  const {}{num} = await {verb}{}();", camel_case(a), pascal_case(b)),
            1 => format!("  // TODO: {phrase} ({a}, #{num})"),
            2 => format!("  console.debug(\"{verb} {a}\", {{ {}Id: {num} }});", camel_case(b)),
            3 => format!("export const MAX_{} = {num};", a.to_uppercase()),
            4 => format!("  if ({}.length > {num}) return null;", camel_case(a)),
            _ => format!(
                "export function {verb}{}(id: number): Promise<{}> {{ return apiGet(`/{}/${{id}}?v={num}`); }}",
                pascal_case(a),
                pascal_case(b),
                plural(a)
            ),
        },
        "yaml" => match pattern {
            0 => format!("{a}_timeout_seconds: {num}"),
            1 => format!("# {phrase} ({a}, #{num})"),
            2 => format!("  - name: {verb}_{a}"),
            3 => format!("    {b}_limit: {num}"),
            4 => format!("  {a}: {{ enabled: {}, batch_size: {num} }}", rng.random_bool(0.5)),
            _ => format!("    table: analytics.{}_{num}", plural(b)),
        },
        "dockerfile" => match pattern {
            0 => format!(
                "RUN apt-get update && apt-get install -y --no-install-recommends {} && rm -rf /var/lib/apt/lists/*",
                pick(rng, &["curl", "git", "libpq-dev", "jq", "tini", "gcc"])
            ),
            1 => format!("# {phrase} ({a}, #{num})"),
            2 => format!("ENV {}_URL=http://{b}:{num}", a.to_uppercase()),
            3 => format!("EXPOSE {num}"),
            4 => format!("COPY config/{a}.yaml /etc/app/{b}_{num}.yaml"),
            _ => format!("ARG {}_VERSION=1.{}.{num}", a.to_uppercase(), num % 20),
        },
        "markdown" => match pattern {
            0 => format!("- {}: {phrase} (see #{num}).", title_case(a)),
            1 => format!("## {} {}", title_case(verb), title_case(&plural(a))),
            2 => format!(
                "Run `make {verb}-{}` to {verb} the {} data ({num} rows in the sample).",
                a.replace('_', "-"),
                b.replace('_', " ")
            ),
            3 => format!("| `{a}_{num}` | {} | {phrase} |", b.replace('_', " ")),
            4 => format!(
                "> Note: {phrase} for {} before release {}.{} (#{num}).",
                plural(a).replace('_', " "),
                num % 7 + 1,
                num % 10
            ),
            _ => format!(
                "1. {} the {} list and check the {} count ({num}).",
                title_case(verb),
                a.replace('_', " "),
                b.replace('_', " ")
            ),
        },
        "toml" => match pattern {
            0 => format!("{a}_limit = {num}"),
            1 => format!("# {phrase} ({a}, #{num})"),
            2 => format!("{} = \"0.{}.{}\"", a.replace('_', "-"), num % 40, num % 9),
            3 => format!("[{a}.{b}]"),
            4 => format!("{b}_enabled = {}", rng.random_bool(0.5)),
            _ => format!("{verb}_interval_ms = {num}"),
        },
        "json" => match pattern {
            0 => format!("  \"{a}_{b}\": {num},"),
            1 => format!("    \"{verb}\": \"{a}-{num}\","),
            2 => format!("  \"{a}\": {{ \"enabled\": {}, \"limit\": {num} }},", rng.random_bool(0.5)),
            3 => format!("    \"{}\": \"^{}.{}.0\",", a.replace('_', "-"), num % 12 + 1, num % 30),
            4 => format!("  \"{b}Ids\": [{num}, {}],", num + 1),
            _ => format!("  \"description\": \"{phrase} for {a} ({num})\","),
        },
        _ => match pattern {
            0 => format!("{}: {phrase} (ticket {num}).", title_case(a)),
            1 => format!(
                "Remember to {verb} the {} before the {} run #{num}.",
                a.replace('_', " "),
                b.replace('_', " ")
            ),
            2 => format!("{a}={num}"),
            3 => format!("- {verb} {} ({num})", plural(b).replace('_', " ")),
            4 => format!("NOTE {num}: {phrase}."),
            _ => format!("{} owners asked about {} on day {num}.", title_case(a), plural(b).replace('_', " ")),
        },
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn all_outputs(seed: u64) -> Vec<Vec<RenderedFile>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        for spec in TEMPLATES {
            for version in spec.versions {
                out.push(scaffold(spec.id, version, "billing-api", &mut rng).expect("scaffold"));
                for comp in ["invoice", "user_profile", "category", "address"] {
                    out.push(component(spec.id, version, "billing-api", comp, &mut rng).expect("component"));
                }
            }
        }
        out
    }

    #[test]
    fn every_template_and_version_renders_unique_paths() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for spec in TEMPLATES {
            for version in spec.versions {
                let files = scaffold(spec.id, version, "billing-api", &mut rng).expect("scaffold");
                assert!((3..=8).contains(&files.len()), "{} {version}", spec.id);
                let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
                paths.sort_unstable();
                paths.dedup();
                assert_eq!(paths.len(), files.len(), "duplicate path in {} {version}", spec.id);
            }
        }
    }

    #[test]
    fn text_files_are_utf8_with_final_newline_and_no_placeholders() {
        for files in all_outputs(3) {
            for f in files.iter().filter(|f| f.path != "public/favicon.ico") {
                let text = std::str::from_utf8(&f.content).expect("utf-8");
                assert!(text.ends_with('\n') && !text.contains('\r'), "{}", f.path);
                let lines = text.lines().count();
                assert!((20..=150).contains(&lines), "{} has {lines} lines", f.path);
                for key in ["{{name", "{{c}}", "{{Pascal", "{{plural", "{{port", "{{snake"] {
                    assert!(!text.contains(key), "{} still contains {key}", f.path);
                }
            }
        }
    }

    #[test]
    fn component_paths_contain_the_component_name() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for spec in TEMPLATES {
            let version = spec.versions[0];
            for comp in COMPONENT_NAMES {
                let files = component(spec.id, version, "shop", comp, &mut rng).expect("component");
                assert!(!files.is_empty());
                for f in &files {
                    assert!(
                        f.path.contains(comp) || f.path.contains(&pascal_case(comp)),
                        "{} for {comp}",
                        f.path
                    );
                }
            }
        }
    }

    #[test]
    fn same_seed_same_output_different_seed_different_output() {
        assert_eq!(all_outputs(42), all_outputs(42));
        assert_ne!(all_outputs(42), all_outputs(43));
        let mut rng_a = ChaCha8Rng::seed_from_u64(10);
        let mut rng_b = ChaCha8Rng::seed_from_u64(11);
        for spec in TEMPLATES {
            let v = spec.versions[0];
            let x = scaffold(spec.id, v, "billing-api", &mut rng_a).expect("scaffold");
            let y = scaffold(spec.id, v, "billing-api", &mut rng_b).expect("scaffold");
            assert_ne!(x, y, "{} does not vary between projects", spec.id);
        }
    }

    #[test]
    fn versions_differ() {
        for spec in TEMPLATES {
            let render = |v: &str| {
                let mut rng = ChaCha8Rng::seed_from_u64(9);
                scaffold(spec.id, v, "billing-api", &mut rng).expect("scaffold")
            };
            let first = render(spec.versions[0]);
            for v in &spec.versions[1..] {
                assert_ne!(first, render(v), "{} {v}", spec.id);
            }
        }
    }

    #[test]
    fn favicon_is_binary_ico() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let files = scaffold("ts-react-app", "1.0.0", "web-ui", &mut rng).expect("scaffold");
        let ico = files.iter().find(|f| f.path == "public/favicon.ico").expect("favicon");
        assert!(ico.content.starts_with(&[0, 0, 1, 0]));
        assert!((200..=1200).contains(&ico.content.len()));
        assert!(ico.content[4..].contains(&0));
        assert!(std::str::from_utf8(&ico.content).is_err() || ico.content.contains(&0));
    }

    #[test]
    fn project_name_is_substituted() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for spec in TEMPLATES {
            let files = scaffold(spec.id, spec.versions[0], "billing-api", &mut rng).expect("ok");
            let any = files.iter().any(|f| String::from_utf8_lossy(&f.content).contains("billing-api"));
            assert!(any, "{}", spec.id);
        }
    }

    #[test]
    fn unknown_template_and_version_are_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(matches!(
            scaffold("nope", "1.0.0", "x", &mut rng),
            Err(TemplateError::UnknownTemplate(t)) if t == "nope"
        ));
        assert!(matches!(
            component("ts-react-app", "9.9.9", "x", "invoice", &mut rng),
            Err(TemplateError::UnknownVersion { template, version })
                if template == "ts-react-app" && version == "9.9.9"
        ));
    }

    #[test]
    fn user_written_lines_vary_and_have_no_newlines() {
        assert!(COMPONENT_NAMES.len() >= 40);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for lang in [
            "rust",
            "python",
            "typescript",
            "yaml",
            "dockerfile",
            "markdown",
            "toml",
            "json",
            "text",
            "cobol",
        ] {
            let mut lines = user_written_lines(lang, 50, &mut rng);
            assert_eq!(lines.len(), 50);
            assert!(lines.iter().all(|l| !l.contains('\n') && !l.is_empty()));
            lines.sort();
            lines.dedup();
            assert!(lines.len() >= 47, "{lang}: only {} distinct lines", lines.len());
        }
    }
}
