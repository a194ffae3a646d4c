//! Realistic scaffold content for synth-events.
//!
//! The edit simulator rewrites generated files line by line, so they must look like what a
//! project scaffolder really emits: seeded, deterministic, and varied between projects.

use std::fmt::Write as _;

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

mod pipeline;
mod python;
mod rust;
mod typescript;

use pipeline::{pipeline_component, pipeline_scaffold};
use python::{py_component, py_scaffold};
use rust::{rust_component, rust_scaffold};
use typescript::{ts_component, ts_scaffold};

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
