#!/usr/bin/env python3
"""Writes data/routing-test-vectors.json: the published test vectors of the routing spec
(docs/routing.md), computed by the official GrowthBook Python SDK, not by our Rust.

The vectors are only worth something if they come from an implementation that is
independent of `hive_core::routing`, so this script never hashes anything itself: every
bucket comes from `growthbook.core.gbhash(salt, project_id, 2)`, every variant from
`chooseVariation(bucket, getBucketRanges(n, 1, weights))`, and each vector with a
non-empty project id is checked once more through the SDK's public entry point,
`GrowthBook(attributes={"id": project_id}).run(Experiment(key=salt, ..., hashVersion=2))`.
The only thing computed here is which project ids to ask about: for the boundary cases
the script asks the SDK for bucket after bucket until it finds an id in the wanted one.

SDK: growthbook == 4.0.0 on PyPI (pinned below). Versions before 4 hash Unicode code
points instead of UTF-16 code units and so disagree with the JavaScript SDK, with ours and
with these vectors for characters outside the Basic Multilingual Plane (emoji); do not
regenerate with them.

Run (needs python3 >= 3.9 and PyPI; nothing else):

    python3 scripts/make-routing-vectors.py             # writes data/routing-test-vectors.json
    python3 scripts/make-routing-vectors.py --check     # exit 1 if the committed file differs
    python3 scripts/make-routing-vectors.py --output -  # print to stdout

When the running Python does not have growthbook==4.0.0 the script creates a throwaway
virtualenv in a temporary directory, installs the SDK there, reruns itself with it and
deletes the directory afterwards; the repository's own environments are not touched.
Output is deterministic: rerunning gives byte-identical JSON. Check the result with
`cargo nextest run -p hive-jobs -E 'binary(routing)'`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

GROWTHBOOK_VERSION = "4.0.0"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "data" / "routing-test-vectors.json"
# Set in the child process so that a broken install cannot make the script loop.
BOOTSTRAPPED = "HIVE_ROUTING_VECTORS_BOOTSTRAPPED"


def sdk_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("growthbook")
    except Exception:  # not installed, or no metadata
        return None


def rerun_in_throwaway_venv() -> int:
    """Installs the pinned SDK into a temporary virtualenv and reruns this script there."""
    if os.environ.get(BOOTSTRAPPED):
        sys.exit(f"error: growthbook=={GROWTHBOOK_VERSION} is still not importable after installing it")
    with tempfile.TemporaryDirectory(prefix="growthbook-venv-") as tmp:
        venv = Path(tmp) / "venv"
        print(f"installing growthbook=={GROWTHBOOK_VERSION} into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"growthbook=={GROWTHBOOK_VERSION}"],
            check=True,
        )
        env = dict(os.environ, **{BOOTSTRAPPED: "1"})
        return subprocess.run([str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env=env).returncode


# --- the cases -------------------------------------------------------------------------
#
# (case, salt, project_id, weights). Weights are written as floats exactly as they appear
# in the vectors; the SDK and the spec add them up in order, in binary floating point.

TWO = [0.5, 0.5]
AXUM = [0.4, 0.3, 0.3]  # exp-axum-2 in data/sample/experiments.yaml
FIVE = [0.2, 0.2, 0.2, 0.2, 0.2]
FIVE_UNEQUAL = [0.05, 0.15, 0.3, 0.25, 0.25]

FIXED_CASES = [
    # ASCII ids shaped like the ones synth-events makes, under the sample config's salts.
    *[("ascii, 2 arms (exp-fastapi-3)", "exp-fastapi-3", pid, TWO)
      for pid in ["prj-00000a1b2c3d", "prj-0000ffee0011", "prj-00012345abcd", "prj-0000deadbeef",
                  "prj-00007f3e9a10", "prj-0000c0ffee42", "prj-000000000000", "prj-0000b16b00b5"]],
    *[("ascii, 3 arms 0.4/0.3/0.3 (exp-axum-2)", "exp-axum-2", pid, AXUM)
      for pid in ["prj-00000a1b2c3d", "prj-0000ffee0011", "prj-00012345abcd", "prj-0000deadbeef",
                  "prj-00007f3e9a10", "prj-0000c0ffee42", "prj-000000000000", "prj-0000b16b00b5"]],
    ("ascii, salt is part of the hash: same id, other salt", "exp-axum-3", "prj-00000a1b2c3d", AXUM),
    ("ascii, unequal 2 arms 0.1/0.9", "checkout-redesign", "user-1", [0.1, 0.9]),
    ("ascii, unequal 2 arms 0.1/0.9", "checkout-redesign", "user-2", [0.1, 0.9]),
    ("ascii, unequal 2 arms 0.1/0.9", "checkout-redesign", "user-3", [0.1, 0.9]),
    ("ascii, unequal 2 arms 0.8/0.2", "checkout-redesign", "user-4", [0.8, 0.2]),
    ("ascii, 5 equal arms", "five-way", "prj-1", FIVE),
    ("ascii, 5 equal arms", "five-way", "prj-2", FIVE),
    ("ascii, 5 equal arms", "five-way", "prj-3", FIVE),
    ("ascii, 5 equal arms", "five-way", "prj-4", FIVE),
    ("ascii, 5 unequal arms", "five-way-unequal", "prj-1", FIVE_UNEQUAL),
    ("ascii, 5 unequal arms", "five-way-unequal", "prj-2", FIVE_UNEQUAL),
    ("ascii, 5 unequal arms", "five-way-unequal", "prj-3", FIVE_UNEQUAL),
    ("ascii, 5 unequal arms", "five-way-unequal", "prj-4", FIVE_UNEQUAL),
    ("ascii, spaces are part of the id (no trimming)", "exp-fastapi-3", " prj-00000a1b2c3d ", TWO),
    ("ascii, case matters (no case folding)", "exp-fastapi-3", "PRJ-00000A1B2C3D", TWO),
    ("ascii, long id (300 characters)", "exp-fastapi-3", "prj-" + "0123456789abcdef" * 18 + "0123456789ab", TWO),
    ("ascii, digits only", "exp-fastapi-3", "1234567890", TWO),
    # Non-ASCII: FNV-1a runs over UTF-16 code units.
    ("non-ascii, precomposed e-acute U+00E9 (1 code unit)", "exp-fastapi-3", "caf\u00e9", TWO),
    ("non-ascii, decomposed e + U+0301 (no normalisation: differs from precomposed)", "exp-fastapi-3", "cafe\u0301", TWO),
    ("non-ascii, Latin-1 and Latin Extended", "exp-axum-2", "\u00fcber-stra\u00dfe-\u0142\u00f3d\u017a", AXUM),
    ("non-ascii, CJK (BMP, 1 code unit each)", "exp-fastapi-3", "\u9879\u76ee-\u5317\u4eac", TWO),
    ("non-ascii, CJK (BMP, 1 code unit each)", "exp-axum-2", "\u30d7\u30ed\u30b8\u30a7\u30af\u30c8-\u6771\u4eac", AXUM),
    ("non-ascii, Hangul", "five-way", "\ud504\ub85c\uc81d\ud2b8", FIVE),
    ("non-ascii, emoji U+1F680 (surrogate pair D83D DE80)", "exp-fastapi-3", "\U0001F680-launch", TWO),
    ("non-ascii, emoji only U+1F600", "exp-axum-2", "\U0001F600", AXUM),
    ("non-ascii, ZWJ emoji sequence (3 code points, 5 code units)", "five-way", "\U0001F469\u200d\U0001F4BB", FIVE),
    ("non-ascii, flag (two regional indicators, 4 code units)", "exp-fastapi-3", "\U0001F1EB\U0001F1F7", TWO),
    ("non-ascii, CJK Extension B U+20BB7 (surrogate pair)", "exp-axum-2", "\U00020BB7\u91ce\u5bb6", AXUM),
    ("non-ascii, mathematical letters outside the BMP", "checkout-redesign", "\U0001D518\U0001D52B\U0001D526", [0.1, 0.9]),
    ("non-ascii, mixed scripts and emoji", "five-way-unequal", "prj-\u00e9\u9879\U0001F680-\u0416", FIVE_UNEQUAL),
    ("non-ascii, salt with non-ascii characters", "exp\u00e9rience-\u00fc-\U0001F9EA", "prj-00000a1b2c3d", TWO),
    # Empty project id: the hash still exists (salt alone). GrowthBook.run does not enrol it.
    ("empty project id, 2 arms", "exp-fastapi-3", "", TWO),
    ("empty project id, 3 arms", "exp-axum-2", "", AXUM),
    ("empty project id, 5 arms", "five-way", "", FIVE),
    # Zero-weight arms own an empty range and never get a project.
    ("zero arm in the middle", "zero-arm", "prj-1", [0.5, 0.0, 0.5]),
    ("zero arm in the middle", "zero-arm", "prj-2", [0.5, 0.0, 0.5]),
    ("zero arm in the middle", "zero-arm", "prj-3", [0.5, 0.0, 0.5]),
    ("zero arm last", "zero-arm", "prj-4", [0.5, 0.5, 0.0]),
    ("zero arm last", "zero-arm", "prj-5", [0.5, 0.5, 0.0]),
    ("zero arm first", "zero-arm", "prj-6", [0.0, 0.5, 0.5]),
    ("zero arm first", "zero-arm", "prj-7", [0.0, 0.5, 0.5]),
    ("all weight on the first arm", "zero-arm", "prj-8", [1.0, 0.0]),
    ("all weight on the last arm", "zero-arm", "prj-9", [0.0, 1.0]),
]

# (case, salt, weights, bucket in 1/10000, id prefix): ids searched so that the SDK puts
# them in exactly that bucket. Boundaries are where integer or decimal re-implementations
# go wrong: ranges are half-open, and cumulative weights are float sums (0.4 + 0.2 + 0.2
# is 0.6000000000000001, so bucket 0.6 is still inside the third of five equal arms).
BOUNDARY_CASES = [
    ("boundary, bucket 0 (lowest)", "exp-fastapi-3", TWO, 0, "edge-lo-"),
    ("boundary, bucket 0.9999 (highest)", "exp-fastapi-3", TWO, 9999, "edge-hi-"),
    ("boundary, bucket just below 0.5", "exp-fastapi-3", TWO, 4999, "edge-"),
    ("boundary, bucket exactly 0.5: ranges are half-open, goes up", "exp-fastapi-3", TWO, 5000, "edge-"),
    ("boundary, bucket just below 0.4 (exp-axum-2)", "exp-axum-2", AXUM, 3999, "edge-"),
    ("boundary, bucket exactly 0.4 (exp-axum-2)", "exp-axum-2", AXUM, 4000, "edge-"),
    ("boundary, bucket just below 0.7 (exp-axum-2)", "exp-axum-2", AXUM, 6999, "edge-"),
    ("boundary, bucket exactly 0.7: 0.4 + 0.3 == 0.7 in floats (exp-axum-2)", "exp-axum-2", AXUM, 7000, "edge-"),
    ("boundary, bucket just below 0.1 (0.1/0.9)", "checkout-redesign", [0.1, 0.9], 999, "edge-"),
    ("boundary, bucket just below 0.8 (0.8/0.2)", "checkout-redesign", [0.8, 0.2], 7999, "edge-"),
    ("boundary, bucket exactly 0.05 (5 unequal arms)", "five-way-unequal", FIVE_UNEQUAL, 500, "edge-"),
    ("boundary, bucket exactly 0.5: 0.05 + 0.15 + 0.3 == 0.5 in floats (5 unequal arms)", "five-way-unequal", FIVE_UNEQUAL, 5000, "edge-"),
    ("boundary, bucket exactly 0.2 (5 equal arms)", "five-way", FIVE, 2000, "edge-"),
    ("boundary, bucket exactly 0.6: cumulative is 0.6000000000000001, stays in arm 2", "five-way", FIVE, 6000, "edge-"),
    ("boundary, bucket 0.6001 (5 equal arms)", "five-way", FIVE, 6001, "edge-"),
    ("boundary, bucket exactly 0.8 (5 equal arms)", "five-way", FIVE, 8000, "edge-"),
    ("boundary, bucket exactly 0.1 (0.1/0.2/0.7)", "float-sum", [0.1, 0.2, 0.7], 1000, "edge-"),
    ("boundary, bucket exactly 0.3: cumulative is 0.30000000000000004, stays in arm 1", "float-sum", [0.1, 0.2, 0.7], 3000, "edge-"),
    ("boundary, bucket exactly 0.5 with a zero arm between: skips it", "zero-arm", [0.5, 0.0, 0.5], 5000, "edge-"),
    ("boundary, bucket 0 with a zero first arm: goes to arm 1", "zero-arm", [0.0, 0.5, 0.5], 0, "edge-"),
    ("boundary, bucket 0.3333 with equal thirds", "thirds", "THIRDS", 3333, "edge-"),
    ("boundary, bucket 0.3334 with equal thirds", "thirds", "THIRDS", 3334, "edge-"),
    ("boundary, bucket 0.6666 with equal thirds (below 0.6666666666666666)", "thirds", "THIRDS", 6666, "edge-"),
    ("boundary, bucket 0.6667 with equal thirds", "thirds", "THIRDS", 6667, "edge-"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="file to write, or - for stdout")
    parser.add_argument("--check", action="store_true", help="compare with the output file instead of writing it")
    args = parser.parse_args()

    if sdk_version() != GROWTHBOOK_VERSION:
        return rerun_in_throwaway_venv()

    from growthbook import Experiment, GrowthBook
    from growthbook.core import chooseVariation, gbhash, getBucketRanges, getEqualWeights

    thirds = getEqualWeights(3)

    def sdk_vector(case: str, salt: str, project_id: str, weights: list[float]) -> dict:
        bucket = gbhash(salt, project_id, 2)
        ranges = getBucketRanges(len(weights), 1, weights)
        # getBucketRanges silently falls back to equal weights for a vector it rejects;
        # make sure it used ours.
        assert all(abs((hi - lo) - w) < 1e-12 for (lo, hi), w in zip(ranges, weights)), (case, ranges)
        variant = chooseVariation(bucket, ranges)
        assert 0 <= variant < len(weights), f"{case}: SDK left bucket {bucket} unassigned"
        # The same through the SDK's public API, as a serving side would call it.
        result = GrowthBook(attributes={"id": project_id}).run(
            Experiment(key=salt, variations=list(range(len(weights))), weights=weights, hashVersion=2)
        )
        if project_id:
            assert result.inExperiment and result.variationId == variant and result.bucket == bucket, (case, result)
        else:
            # The SDK does not enrol a user whose hash attribute is empty (see docs/routing.md).
            assert not result.inExperiment, (case, result)
        return {"case": case, "salt": salt, "project_id": project_id, "weights": weights, "bucket": bucket, "variant": variant}

    vectors = [sdk_vector(*c) for c in FIXED_CASES]
    for case, salt, weights, target, prefix in BOUNDARY_CASES:
        weights = thirds if weights == "THIRDS" else weights
        project_id = find_id_in_bucket(gbhash, salt, prefix, target)
        vectors.append(sdk_vector(case, salt, project_id, weights))

    text = "[\n" + ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in vectors) + "\n]\n"
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if args.check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            print(f"error: `{out}` differs from what growthbook {GROWTHBOOK_VERSION} gives", file=sys.stderr)
            return 1
        print(f"`{out}`: {len(vectors)} vectors, identical", file=sys.stderr)
        return 0
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {len(vectors)} vectors to `{out}` (growthbook {GROWTHBOOK_VERSION})", file=sys.stderr)
    return 0


def find_id_in_bucket(gbhash, salt: str, prefix: str, target: int) -> str:
    """The first `prefix<i>` that the SDK hashes into bucket `target / 10000`."""
    for i in range(10_000_000):
        project_id = f"{prefix}{i}"
        if round(gbhash(salt, project_id, 2) * 10_000) == target:
            return project_id
    raise RuntimeError(f"no id with prefix {prefix!r} lands in bucket {target} under salt {salt!r}")


if __name__ == "__main__":
    sys.exit(main())
