"""The platform's side of the contracts (docs/contracts.md), in Python.

The producer kit: the same check as `validate-raw`, written against the published files in
contracts/ only (jsonschema on raw-*.schema.json, pyarrow against raw-*.parquet.json), so
maestro-hive's own test suite can run it on a sample of its export without Rust:

    python tests/python/check_contracts.py validate --data-root EXPORT --date 2026-10-12

prints one JSON line per violation ({"file", "row", "field", "reason"}) and exits 1 when
there is one, 0 when every row follows the contract. `validate_record(kind, record)` is the
function to call from a test on records before they are written.

The serving kit: `route --features features.json --ids ids.txt` evaluates every feature of
a GrowthBook features file (route-project --growthbook-features) for every project id with
the official GrowthBook SDK and prints one JSON line per (feature, id): the variant's meta
key and the value served. crates/jobs/tests/contracts.rs compares that with route-project.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
TABLES = {"generations": "raw-generation", "snapshots": "raw-snapshot"}
PARQUET = {"generations": "raw-generations", "snapshots": "raw-snapshots"}

_validators: dict[str, Draft202012Validator] = {}


def validator(kind: str) -> Draft202012Validator:
    if kind not in _validators:
        schema = json.loads((CONTRACTS / f"{TABLES[kind]}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        _validators[kind] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return _validators[kind]


def _field(error) -> str:
    parts = []
    for p in error.absolute_path:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p + 1}]" if parts else f"[{p + 1}]"
        else:
            parts.append(str(p))
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    return ".".join(parts)


def _is_binary(content: bytes) -> bool:
    return b"\0" in content[:8000]


def validate_record(kind: str, record) -> list[tuple[str, str]]:
    """Every contract violation of one raw record (a parsed NDJSON line) as (field, reason)."""
    found = [(_field(e), e.message) for e in validator(kind).iter_errors(record)]
    if found or not isinstance(record, dict):
        return found
    # Rules JSON Schema cannot say (docs/contracts.md): paths unique after removing a
    # leading `./`, and a generated file's bytes are text (UTF-8) unless binary by git's
    # rule (a NUL in the first 8000 bytes).
    if kind == "generations":
        seen = set()
        for i, entry in enumerate(record["files"], start=1):
            path = entry["path"]
            while path.startswith("./"):
                path = path[2:]
            if path in seen:
                found.append((f"files[{i}].path", f"`{path}` appears twice"))
            seen.add(path)
            if "content_base64" in entry:
                raw = base64.b64decode(entry["content_base64"], validate=True)
                if not _is_binary(raw):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        found.append((f"files[{i}].content", "not valid UTF-8 and has no NUL byte"))
    return found


def _ndjson_rows(path: Path):
    # Numbered as the Rust reader numbers them: every line counts, blank lines are skipped.
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip(b"\n").rstrip(b"\r")
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None, "the line is not valid UTF-8"
                continue
            try:
                yield number, json.loads(text), None
            except json.JSONDecodeError as e:
                yield number, None, f"not valid JSON: {e}"


def _parquet_kind(data_type, kind: str) -> bool:
    import pyarrow as pa

    text = lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _: False)(t)
    binary = lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or getattr(pa.types, "is_binary_view", lambda _: False)(t)
    if kind == "text":
        return text(data_type)
    if kind == "timestamp":
        return pa.types.is_timestamp(data_type) or text(data_type)
    if kind == "files":
        if not (pa.types.is_list(data_type) or pa.types.is_large_list(data_type)):
            return False
        item = data_type.value_type
        if not pa.types.is_struct(item):
            return False
        names = {item.field(i).name: item.field(i).type for i in range(item.num_fields)}
        return "path" in names and "content" in names and text(names["path"]) and (text(names["content"]) or binary(names["content"]))
    return False


def _as_record(row: dict) -> dict:
    """A Parquet row in the NDJSON record form the JSON Schema describes."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()
        if key == "files" and value is not None:
            entries = []
            for entry in value:
                if entry is None:
                    entries.append(None)
                    continue
                e = {"path": entry.get("path")}
                content = entry.get("content")
                if isinstance(content, (bytes, bytearray)):
                    try:
                        e["content"] = bytes(content).decode("utf-8")
                    except UnicodeDecodeError:
                        e["content_base64"] = base64.b64encode(bytes(content)).decode("ascii")
                else:
                    e["content"] = content
                entries.append(e)
            value = entries
        if value is None and key in ("experiment_id", "variant", "request"):
            continue
        out[key] = value
    return out


def _parquet_rows(path: Path, kind: str):
    import pyarrow.parquet as pq

    contract = json.loads((CONTRACTS / f"{PARQUET[kind]}.parquet.json").read_text())
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    for column in contract["columns"]:
        name = column["name"]
        if name not in schema.names:
            if column["column_required"]:
                yield None, None, (name, f"no column `{name}`")
                return
            continue
        if not _parquet_kind(schema.field(name).type, column["kind"]):
            yield None, None, (name, f"column `{name}` has type {schema.field(name).type}, expected {column['accepted_types']}")
            return
    # The file's key-value metadata (where arrow-rs, pyarrow and Spark put custom keys).
    version = (pf.metadata.metadata or {}).get(contract["schema_version_metadata_key"].encode())
    version_problem = None
    if version is not None and version.decode(errors="replace").strip() not in {str(v) for v in range(1, contract["schema_version"] + 1)}:
        version_problem = ("schema_version", f"key-value metadata schema_version is {version.decode(errors='replace')}: unsupported")
    number = 0
    for batch in pf.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            if version_problem:
                yield number, None, version_problem
            else:
                yield number, _as_record(row), None


def validate_partition(root: Path, date: str) -> list[dict]:
    """Every violation of the raw export of `date` under `root`."""
    violations = []
    for kind, table in (("generations", "raw/generations"), ("snapshots", "raw/snapshots")):
        directory = root / table / f"dt={date}"
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.name.startswith((".", "_")):
                continue
            relative = str(path.relative_to(root))
            if path.suffix == ".parquet":
                rows = _parquet_rows(path, kind)
            elif path.suffix in (".ndjson", ".jsonl"):
                rows = _ndjson_rows(path)
            else:
                continue
            for number, record, problem in rows:
                if problem is not None:
                    field, reason = problem if isinstance(problem, tuple) else ("", problem)
                    violations.append({"file": relative, "row": number, "field": field, "reason": reason})
                    continue
                for field, reason in validate_record(kind, record):
                    violations.append({"file": relative, "row": number, "field": field, "reason": reason})
    return violations


def route(features_path: Path, ids_path: Path) -> None:
    from growthbook import GrowthBook

    features = json.loads(features_path.read_text())["features"]
    ids = ids_path.read_text(encoding="utf-8").split("\n")
    if ids and ids[-1] == "":
        ids.pop()
    out = sys.stdout
    for key in sorted(features):
        for project_id in ids:
            gb = GrowthBook(attributes={"id": project_id}, features=features)
            result = gb.eval_feature(key)
            experiment = result.experimentResult
            variant = None
            if experiment is not None and experiment.inExperiment:
                variant = experiment.key
            out.write(json.dumps({"feature": key, "project_id": project_id, "variant": variant, "value": result.value}, ensure_ascii=False) + "\n")
            gb.destroy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a raw export's partition against contracts/")
    v.add_argument("--data-root", type=Path, required=True)
    v.add_argument("--date", required=True)
    r = sub.add_parser("route", help="route project ids with the GrowthBook SDK")
    r.add_argument("--features", type=Path, required=True)
    r.add_argument("--ids", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "route":
        route(args.features, args.ids)
        return 0
    violations = validate_partition(args.data_root, args.date)
    for violation in violations:
        print(json.dumps(violation, ensure_ascii=False))
    print(f"{len(violations)} contract violation(s)", file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
