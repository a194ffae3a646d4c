"""Independent checks of a build-finetune dataset, with OpenAI's tokenizer and pyarrow.

Usage: check_finetune.py DATASET_DIR DATA_ROOT BPE_FILE

- Every JSONL line passes the format checks of OpenAI's cookbook notebook "Data
  preparation and analysis for chat model fine-tuning" (the loop below is the
  notebook's, counting errors by the notebook's names); preference lines pass the
  same checks on ``input.messages`` plus OpenAI's preference-format rules.
- Token counts: the notebook's ``num_tokens_from_messages`` with ``tiktoken`` (OpenAI's
  own BPE), per SFT example and per preference pair (the longer of prompt+chosen and
  prompt+rejected), must equal ``sources-*.parquet``; none exceeds the limit.
  ``BPE_FILE`` is the encoding's ``.tiktoken`` table (the tests pass the copy vendored
  by tiktoken-rs); tiktoken itself checks it against OpenAI's published sha256, so a
  wrong table fails rather than agrees.
- Parquet: every file reads back with pyarrow; the TRL files hold exactly the records
  of their JSONL twins, as list<struct<role: string, content: string>>; sha256, bytes
  and rows match the manifest, and so does its digest.
- Split: no project_id is in two splits.
- Reconciliation against the input ``edits`` parts (read here with pyarrow): every input
  row is in exactly one of ``sources-*`` and ``excluded.parquet``; binary, deleted and
  wholesale-rewritten rows carry that reason; an example whose answer has no redaction
  is the kept file byte for byte (dropped, never truncated).

Prints one JSON line of counts; exits 1 on the first failed check.
"""

import collections
import hashlib
import json
import os
import pathlib
import shutil
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

MESSAGE = pa.struct([pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), nullable=False)])
SPLITS = ["train", "validation", "test"]
BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def cookbook_format_errors(dataset):
    """The notebook's format checks, verbatim but for the function wrapper."""
    format_errors = collections.defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1
    return dict(format_errors)


def preference_errors(line):
    """OpenAI's preference (DPO) format: input.messages without a final assistant turn,
    and one assistant message on each side, the two sides different."""
    errors = []
    if set(line) != {"input", "preferred_output", "non_preferred_output"}:
        errors.append("keys")
    prompt = line.get("input", {}).get("messages")
    errors += [f"input:{k}" for k in cookbook_format_errors([{"messages": prompt + [{"role": "assistant", "content": "x"}]}])]
    if prompt and prompt[-1].get("role") == "assistant":
        errors.append("input ends with assistant")
    for side in ["preferred_output", "non_preferred_output"]:
        out = line.get(side)
        if not isinstance(out, list) or len(out) != 1 or out[0].get("role") != "assistant":
            errors.append(f"{side} is not one assistant message")
        errors += [f"{side}:{k}" for k in cookbook_format_errors([{"messages": out}])]
    if line.get("preferred_output") == line.get("non_preferred_output"):
        errors.append("chosen == rejected")
    return errors


def encoding_from(bpe_file, name):
    """tiktoken's encoding `name`, loading the table from BPE_FILE through tiktoken's
    own cache (which verifies OpenAI's sha256) instead of the network."""
    cache = tempfile.mkdtemp(prefix="tiktoken-")
    key = hashlib.sha1(BLOB.format(name).encode()).hexdigest()
    shutil.copyfile(bpe_file, os.path.join(cache, key))
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    import tiktoken

    return tiktoken.get_encoding(name)


def num_tokens_from_messages(encoding, messages, tokens_per_message=3, tokens_per_name=1):
    """The notebook's count; special-token text in code is counted as ordinary text."""
    num_tokens = 0
    for message in messages:
        num_tokens += tokens_per_message
        for key, value in message.items():
            num_tokens += len(encoding.encode(value, disallowed_special=()))
            if key == "name":
                num_tokens += tokens_per_name
    num_tokens += 3
    return num_tokens


def read_parquet(path):
    # ParquetFile, not read_table: read_table would add a `dt` column from the folder.
    return pq.ParquetFile(path).read()


def read_jsonl(path):
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def main(directory, root, bpe_file):
    d, root = pathlib.Path(directory), pathlib.Path(root)
    manifest = json.loads((d / "manifest.json").read_text())
    config = manifest["config"]
    out = collections.Counter()

    listing = ""
    for name, entry in sorted(manifest["files"].items()):
        data = (d / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"] or len(data) != entry["bytes"]:
            fail(f"{name}: sha256 or size differs from the manifest")
        # The digest identifies the records; lineage files (which name input parts) are not in it.
        if not (name.startswith("sources-") or name == "excluded.parquet"):
            listing += f"{name} {digest}\n"
        out["files_checked"] += 1
    if hashlib.sha256(listing.encode()).hexdigest() != manifest["digest"]:
        fail("manifest digest does not match the files")

    encoding = encoding_from(bpe_file, config["tokens"]["encoding"])
    limit = config["tokens"]["max_tokens"]
    projects = {}
    sources_all = []
    for split in SPLITS:
        sft = read_jsonl(d / f"sft-{split}.jsonl")
        pref = read_jsonl(d / f"preference-{split}.jsonl")
        errors = cookbook_format_errors(sft)
        if errors:
            fail(f"sft-{split}.jsonl: format errors {errors}")
        for i, line in enumerate(pref):
            if preference_errors(line):
                fail(f"preference-{split}.jsonl line {i + 1}: {preference_errors(line)}")
        for kind, columns, lines in [("sft", ["messages"], sft), ("preference", ["prompt", "chosen", "rejected"], pref)]:
            table = read_parquet(d / f"{kind}-{split}.parquet")
            if table.column_names != columns:
                fail(f"{kind}-{split}.parquet: columns {table.column_names}")
            for c in columns:
                if table.schema.field(c).type.value_type != MESSAGE:
                    fail(f"{kind}-{split}.parquet: {c} has type {table.schema.field(c).type}")
            rows = table.to_pylist()
            if len(rows) != len(lines) or len(rows) != manifest["files"][f"{kind}-{split}.parquet"]["rows"]:
                fail(f"{kind}-{split}: {len(rows)} parquet rows, {len(lines)} jsonl lines")
            for row, line in zip(rows, lines):
                if kind == "sft":
                    expected = {"messages": line["messages"]}
                else:
                    expected = {"prompt": line["input"]["messages"], "chosen": line["preferred_output"], "rejected": line["non_preferred_output"]}
                if row != expected:
                    fail(f"{kind}-{split}: a Parquet row differs from its JSONL line")
            out[f"{kind}_rows"] += len(rows)

        sources = read_parquet(d / f"sources-{split}.parquet").to_pylist()
        if len(sources) != len(sft):
            fail(f"sources-{split}: {len(sources)} rows for {len(sft)} examples")
        pair_rows = sorted(s["preference_row"] for s in sources if s["preference_row"] is not None)
        if pair_rows != list(range(len(pref))):
            fail(f"sources-{split}: preference rows do not cover preference-{split}.jsonl once each")
        for i, (source, line) in enumerate(zip(sources, sft)):
            if source["sft_row"] != i:
                fail(f"sources-{split} row {i}: sft_row {source['sft_row']}")
            n = num_tokens_from_messages(encoding, line["messages"])
            if n != source["sft_tokens"]:
                fail(f"sft-{split} line {i + 1}: tiktoken counts {n}, build-finetune {source['sft_tokens']}")
            if n > limit:
                fail(f"sft-{split} line {i + 1}: {n} tokens over the limit {limit}")
            if source["preference_row"] is not None:
                p = pref[source["preference_row"]]
                prompt = p["input"]["messages"]
                if prompt != line["messages"][:-1] or p["preferred_output"] != line["messages"][-1:]:
                    fail(f"preference-{split} line {source['preference_row'] + 1} is not the pair of sft line {i + 1}")
                m = max(num_tokens_from_messages(encoding, prompt + p[s]) for s in ["preferred_output", "non_preferred_output"])
                if m != source["preference_tokens"] or m > limit:
                    fail(f"preference-{split} line {source['preference_row'] + 1}: tiktoken {m}, build-finetune {source['preference_tokens']}")
            out["token_counts_checked"] += 1
            projects.setdefault(source["project_id"], set()).add(split)
            sources_all.append((source, line))
    shared = sorted(p for p, s in projects.items() if len(s) > 1)
    if shared:
        fail(f"{len(shared)} projects are in two splits, e.g. {shared[:3]}")
    out["projects"] = len(projects)
    for split in SPLITS:
        out[f"projects_{split}"] = sum(1 for s in projects.values() if split in s)

    # Reconciliation against the input parts, read independently.
    excluded = read_parquet(d / "excluded.parquet").to_pylist()
    by_reason = collections.Counter(e["reason"] for e in excluded)
    if dict(by_reason) != manifest["excluded"]:
        fail(f"excluded.parquet reasons {dict(by_reason)} != manifest {manifest['excluded']}")
    accounted = collections.Counter((s["source_file"], s["source_row"]) for s, _ in sources_all)
    accounted.update((e["source_file"], e["source_row"]) for e in excluded)
    rates = {}
    inputs = {}
    for entry in manifest["inputs"]:
        table = read_parquet(root / entry["file"])
        if table.num_rows != entry["rows"]:
            fail(f"{entry['file']}: {table.num_rows} rows, manifest says {entry['rows']}")
        if entry["table"] == "diff_scores":
            for r in table.select(["event_id", "path", "rewrite_rate"]).to_pylist():
                rates[(r["event_id"], r["path"])] = r["rewrite_rate"]
        else:
            for i, r in enumerate(table.to_pylist()):
                inputs[(entry["file"], i + 1)] = r
    if set(accounted) != set(inputs) or any(n != 1 for n in accounted.values()):
        fail(f"{len(inputs)} input rows, {len(accounted)} accounted ({sum(accounted.values())} with repeats)")
    if sum(1 for _ in inputs) != manifest["input_rows"]:
        fail("input_rows differs from the rows of the input parts")
    reason_of = {(e["source_file"], e["source_row"]): e["reason"] for e in excluded}
    for key, r in inputs.items():
        expected = None
        if r["is_binary"]:
            expected = "binary"
        elif r["change"] == "deleted":
            expected = "deleted"
        elif (r["final_content"] or "").strip() and (rates.get((r["event_id"], r["path"])) or 0) > config["max_rewrite_rate"]:
            expected = "wholesale_rewrite"
        if expected and reason_of.get(key) != expected:
            fail(f"{key}: expected exclusion {expected}, got {reason_of.get(key)}")
        if expected:
            out[f"recounted_{expected}"] += 1
    for source, line in sources_all:
        answer = line["messages"][-1]["content"]
        if "<REDACTED:" not in answer:
            kept = inputs[(source["source_file"], source["source_row"])]["final_content"]
            if answer != kept:
                fail(f"{source['source_file']} row {source['source_row']}: the answer is not the kept file")
            out["answers_equal_kept_file"] += 1
    out["input_rows"] = len(inputs)
    out["excluded_rows"] = len(excluded)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        fail(__doc__)
    main(*sys.argv[1:])
