"""Writes a raw lake (NDJSON) whose one observation window holds large generated files,
for measuring extract-edits' memory with and without spilling snapshot files.

Every project has one generation on 2026-03-01 (window closes 2026-03-08) with one text
file of about --file-kib KiB, and one snapshot on 2026-03-04 where a tenth of the lines
were rewritten. Standard library only; the same arguments give the same bytes.

    python3 scripts/bench/big_files_lake.py --out /tmp/lake --projects 2000 --file-kib 256
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--file-kib", type=int, default=256)
    args = parser.parse_args()
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "return", "value", "self", "config", "item", "for"]
    gens = args.out / "raw" / "generations" / "dt=2026-03-01"
    snaps = args.out / "raw" / "snapshots" / "dt=2026-03-04"
    gens.mkdir(parents=True, exist_ok=True)
    snaps.mkdir(parents=True, exist_ok=True)
    with open(gens / "part-0.ndjson", "w") as g, open(snaps / "part-0.ndjson", "w") as s:
        for p in range(args.projects):
            lines, size = [], 0
            while size < args.file_kib * 1024:
                line = "    " + " ".join(rng.choice(words) for _ in range(8)) + f" # {p}-{len(lines)}"
                lines.append(line)
                size += len(line) + 1
            generated = "\n".join(lines) + "\n"
            kept = "\n".join(line if rng.random() > 0.1 else line.upper() for line in lines) + "\n"
            project = f"prj-{p:06d}"
            g.write(
                json.dumps(
                    {
                        "event_id": f"evt-{p:06d}",
                        "generated_at": "2026-03-01T10:00:00Z",
                        "project_id": project,
                        "template_id": "py-service",
                        "template_version": "1.0.0",
                        "request": "scaffold",
                        "files": [{"path": "src/big.py", "content": generated}],
                    }
                )
                + "\n"
            )
            s.write(
                json.dumps(
                    {
                        "snapshot_id": f"snap-{p:06d}",
                        "project_id": project,
                        "captured_at": "2026-03-04T10:00:00Z",
                        "files": [{"path": "src/big.py", "content": kept}],
                    }
                )
                + "\n"
            )


if __name__ == "__main__":
    main()
