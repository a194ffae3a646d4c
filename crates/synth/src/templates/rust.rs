//! The `rust-axum-service` template: an axum HTTP service with routes, errors, a Dockerfile and CI.
//!
//! One module per template family; the shared context and helpers are in the parent.

use super::*;

pub(super) fn rust_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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

pub(super) fn rust_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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
