"""Reads one build-finetune dataset folder (`finetune/dt=D/`), trusting nothing in it.

build-finetune writes `manifest.json` last, with the sha256 and row count of every data
file (docs/build-finetune.md). The trainer and the train-generator step read the dataset
only through this module, which checks the manifest's layout version and, before a split
is used, the file's sha256 and rows against the manifest: a truncated copy, a file from
another night or a hand-edited split is refused with the file named, never trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
SPLITS = ("train", "validation", "test")


class DatasetError(Exception):
    """The dataset folder is unusable; the message names the file and the field."""


@dataclass(frozen=True)
class FinetuneDataset:
    """A build-finetune folder whose manifest has been read and checked."""

    root: Path
    manifest: dict

    @property
    def digest(self) -> str:
        return self.manifest["digest"]

    @property
    def date(self) -> str:
        return self.manifest["date"]

    def examples(self, kind: str, split: str) -> int:
        """Rows of `sft` examples or `preference` pairs in a split, as the manifest counts them."""
        key = {"sft": "sft_examples", "preference": "preference_pairs"}[kind]
        return int(self.manifest[key][split])

    def parquet(self, kind: str, split: str) -> Path:
        """The checked path of `{kind}-{split}.parquet` (sha256 and rows as in the manifest)."""
        if kind not in ("sft", "preference") or split not in SPLITS:
            raise DatasetError(f"no dataset file for kind `{kind}` and split `{split}`")
        name = f"{kind}-{split}.parquet"
        path = self.root / name
        entry = self.manifest["files"].get(name)
        if entry is None:
            raise DatasetError(f"`{self.root / 'manifest.json'}`: `files` has no entry `{name}`")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise DatasetError(f"`{path}`: cannot read: {err}") from err
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry.get("sha256"):
            raise DatasetError(
                f"`{path}`: sha256 {actual} differs from the manifest's `files.{name}.sha256` "
                f"{entry.get('sha256')}: the folder was changed after build-finetune wrote it"
            )
        import pyarrow.parquet as pq

        rows = pq.read_metadata(path).num_rows
        if rows != entry.get("rows"):
            raise DatasetError(f"`{path}`: {rows} rows, the manifest's `files.{name}.rows` says {entry.get('rows')}")
        return path

    def records(self, kind: str, split: str) -> list[dict]:
        """The checked rows of a split as Python dicts (`messages`, or `prompt`/`chosen`/`rejected`)."""
        import pyarrow.parquet as pq

        path = self.parquet(kind, split)
        rows = pq.read_table(path).to_pylist()
        needed = ("messages",) if kind == "sft" else ("prompt", "chosen", "rejected")
        for i, row in enumerate(rows):
            for column in needed:
                value = row.get(column)
                if not isinstance(value, list) or not value:
                    raise DatasetError(f"`{path}`: row {i}: column `{column}` is not a non-empty message list")
                for message in value:
                    if (
                        not isinstance(message, dict)
                        or not isinstance(message.get("content"), str)
                        or message.get("role") not in ("system", "user", "assistant")
                    ):
                        raise DatasetError(
                            f"`{path}`: row {i}: column `{column}` has a message without a role and text content"
                        )
        return rows


def load(root: Path | str) -> FinetuneDataset:
    """Reads and checks `root/manifest.json`."""
    root = Path(root)
    path = root / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DatasetError(f"`{path}` does not exist: build-finetune has not written this dataset") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"`{path}`: not a readable JSON manifest: {err}") from err
    if not isinstance(manifest, dict):
        raise DatasetError(f"`{path}`: the manifest is not a JSON object")
    if manifest.get("dataset") != "finetune" or manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"`{path}`: `dataset`/`format_version` are `{manifest.get('dataset')}`/`{manifest.get('format_version')}`, "
            f"this trainer reads `finetune`/{FORMAT_VERSION}"
        )
    digest = manifest.get("digest")
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise DatasetError(f"`{path}`: `digest` is not a sha256 hex string")
    for key in ("sft_examples", "preference_pairs"):
        counts = manifest.get(key)
        if not isinstance(counts, dict) or any(not isinstance(counts.get(s), int) or counts[s] < 0 for s in SPLITS):
            raise DatasetError(
                f"`{path}`: `{key}` must count every split ({', '.join(SPLITS)}) with a non-negative integer"
            )
    if not isinstance(manifest.get("files"), dict):
        raise DatasetError(f"`{path}`: `files` is missing")
    if not isinstance(manifest.get("date"), str):
        raise DatasetError(f"`{path}`: `date` is missing")
    return FinetuneDataset(root=root, manifest=manifest)
