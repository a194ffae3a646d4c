//! The `ts-react-app` template: a React + TypeScript app with an API client.
//!
//! One module per template family; the shared context and helpers are in the parent.

use super::*;

pub(super) fn ts_scaffold(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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

pub(super) fn ts_component(ctx: &Ctx, comp: &Comp, rng: &mut ChaCha8Rng) -> Vec<RenderedFile> {
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
