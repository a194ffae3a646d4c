//! The `data-pipeline` template: extract / transform / load steps with their config.
//!
//! One module per template family; the shared context and helpers are in the parent.

use super::*;

pub(super) fn pipeline_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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

pub(super) fn pipeline_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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
