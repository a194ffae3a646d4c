"""Turns pairs of source trees into a raw lake (generations = old trees, snapshots = new
trees) and the same files as two plain directories for git, so score-diffs, git and the
Python baseline all see the same file pairs.

    pairs_lake.py OUT OLD_DIR:NEW_DIR [OLD_DIR:NEW_DIR ...]

Writes OUT/lake/raw/{generations,snapshots}/..., OUT/git/{old,new}/<pair>/<path> and
prints the number of pairs and their bytes as JSON. Files that are neither UTF-8 nor
binary are skipped (extract-edits would quarantine them), as are files only in NEW.
"""

import base64
import json
import os
import sys

out, pairs = sys.argv[1], sys.argv[2:]
PER_GENERATION = 40


def walk(base):
    found = {}
    for root, dirs, files in os.walk(base):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, base)
            if not rel.startswith(".") and os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    found[rel] = f.read()
    return found


def usable(data):
    if b"\0" in data[:8000]:
        return True
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def entry(path, data):
    try:
        return {"path": path, "content": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"path": path, "content_base64": base64.b64encode(data).decode()}


os.makedirs(f"{out}/lake/raw/generations/dt=2026-01-01", exist_ok=True)
os.makedirs(f"{out}/lake/raw/snapshots/dt=2026-01-05", exist_ok=True)
gens = open(f"{out}/lake/raw/generations/dt=2026-01-01/part-0.ndjson", "w")
snaps = open(f"{out}/lake/raw/snapshots/dt=2026-01-05/part-0.ndjson", "w")
n_files = n_bytes = n_changed = 0
g = 0
for spec in pairs:
    old_dir, new_dir = spec.split(":")
    label = f"{os.path.basename(old_dir)}--{os.path.basename(new_dir)}"
    old, new = walk(old_dir), walk(new_dir)
    keys = [k for k in old if usable(old[k]) and (k not in new or usable(new[k]))]
    for start in range(0, len(keys), PER_GENERATION):
        chunk = keys[start : start + PER_GENERATION]
        files = [entry(f"{label}/{k}", old[k]) for k in chunk]
        kept = [entry(f"{label}/{k}", new[k]) for k in chunk if k in new]
        gens.write(json.dumps({"event_id": f"e{g:06}", "generated_at": "2026-01-01T00:00:00Z", "project_id": f"p{g:06}",
                               "template_id": "bench", "template_version": "1", "request": "", "files": files}) + "\n")
        snaps.write(json.dumps({"snapshot_id": f"s{g:06}", "project_id": f"p{g:06}", "captured_at": "2026-01-05T00:00:00Z",
                                "files": kept}) + "\n")
        g += 1
        for k in chunk:
            for side, data in (("old", old[k]), ("new", new.get(k))):
                if data is None:
                    continue
                path = f"{out}/git/{side}/{label}/{k}"
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                n_bytes += len(data)
            n_files += 1
            n_changed += new.get(k) != old[k]
os.makedirs(f"{out}/git/new", exist_ok=True)
print(json.dumps({"pairs": n_files, "changed": n_changed, "bytes": n_bytes, "generations": g}))
