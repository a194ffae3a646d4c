#!/usr/bin/env bash
# Throughput of the secret scanner (hive-secrets) on the sample's texts: every generated
# file of data/sample/raw/generations and every request is written out as a file, then
# scanned by `examples/scan-throughput.rs` (release build, one thread). Prints MB/s,
# the scanner's build time and findings per rule; peak memory from GNU time. Results
# are recorded in docs/build-finetune.md.
#
#   bash scripts/bench-secrets.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(realpath -m "${WORK:-target/bench-secrets}")
[ -n "${SKIP_VENV:-}" ] || bash scripts/setup-venvs.sh oracles >/dev/null
rm -rf "$work"
mkdir -p "$work/texts"
.venv/oracles/bin/python - "$work/texts" <<'PY'
import glob, os, sys
import pyarrow.parquet as pq

out = sys.argv[1]
n = 0
for part in sorted(glob.glob("data/sample/raw/generations/dt=*/*.parquet")):
    for row in pq.read_table(part, columns=["event_id", "request", "files"]).to_pylist():
        base = os.path.join(out, row["event_id"])
        os.makedirs(base, exist_ok=True)
        if row["request"]:
            with open(os.path.join(base, "REQUEST.txt"), "w") as f:
                f.write(row["request"])
        for file in row["files"] or []:
            name = file["path"].strip("/").replace("..", "_")
            if not name:
                continue
            path = os.path.join(base, name)
            if os.path.isdir(path):
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(file["content"] or b"")
            n += 1
print(f"{n} files written", file=sys.stderr)
PY
cargo build --quiet --release -p hive-secrets --example scan-throughput
/usr/bin/time -f "peak RSS %M KiB" target/release/examples/scan-throughput "$work/texts"
