#!/usr/bin/env python3
"""Writes a large SARIF log and a large JUnit XML, the hostile reports of issue 14, and
prints the counts planted in them as one JSON line (the oracle the memory test and
scripts/bench-gates-memory.sh compare evaluate-gates' totals with).

    python3 scripts/bench/hostile_reports.py --out DIR --sarif-results 1500000 --junit-cases 1200000

DIR/security/hostile.sarif: one run, five rules (security-severity 9.5, 7.2, "5.0",
1.0, none; the first with default level `error`), and N results cycling over the
rules, with and without `ruleIndex`, `level` and a location, some suppressed in source, some absent
from the baseline, some with a rejected suppression (which still counts).

DIR/unit/junit.xml: suites of 1,000 cases (time 1.5 each) with failures, errors,
skips, flaky reruns and failed reruns among passes.
"""

import argparse
import json
import os

RULES = [
    {"id": "R0", "defaultConfiguration": {"level": "error"}, "properties": {"security-severity": "9.5"}},
    {"id": "R1", "properties": {"security-severity": 7.2}},
    {"id": "R2", "properties": {"security-severity": "5.0"}},
    {"id": "R3", "properties": {"security-severity": 1.0}},
    {"id": "R4"},
]
SEVERITY = ["critical", "high", "medium", "low", None]
LEVELS = ["error", "warning", "note"]
CHUNK = 10_000


def write_sarif(path, n):
    counts = dict.fromkeys(
        ["total", "critical", "high", "medium", "low", "error", "warning", "note", "suppressed"], 0
    )
    with open(path, "w", encoding="utf-8") as out:
        head = {"name": "hostile", "rules": RULES}
        out.write('{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":')
        out.write(json.dumps(head, separators=(",", ":")))
        out.write('},"results":[\n')
        lines = []
        for i in range(n):
            r = i % 5
            fields = [f'"ruleId":"R{r}"']
            if i % 2 == 0:
                fields.append(f'"ruleIndex":{r}')
            if i % 7 == 0:
                level = "error" if r == 0 else "warning"
            else:
                level = LEVELS[i % 3]
                fields.append(f'"level":"{level}"')
            fields.append(f'"message":{{"text":"f{i}"}}')
            if i % 2 == 1:
                fields.append(
                    f'"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"m{i % 977}.py"}},"region":{{"startLine":{i % 4000 + 1}}}}}}}]'
                )
            if i % 97 == 0:
                fields.append('"suppressions":[{"kind":"inSource"}]')
                counts["suppressed"] += 1
            elif i % 101 == 0:
                fields.append('"baselineState":"absent"')
                counts["suppressed"] += 1
            else:
                if i % 89 == 0:
                    fields.append('"suppressions":[{"kind":"external","status":"rejected"}]')
                counts["total"] += 1
                counts[level] += 1
                if SEVERITY[r]:
                    counts[SEVERITY[r]] += 1
            lines.append("{" + ",".join(fields) + "}")
            if len(lines) == CHUNK:
                out.write(",\n".join(lines))
                lines = []
                if i + 1 < n:
                    out.write(",\n")
        if lines:
            out.write(",\n".join(lines))
        out.write("\n]}]}\n")
    return counts


def write_junit(path, n):
    counts = dict.fromkeys(["tests", "passed", "failed", "errors", "skipped", "flaky"], 0)
    suites = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="hostile">\n')
        lines = []
        for i in range(n):
            if i % 1000 == 0:
                if i:
                    lines.append("</testsuite>")
                lines.append(f'<testsuite name="suite{i // 1000}" time="1.5">')
                suites += 1
            kind = i % 50
            attrs = f'classname="pkg.m{i % 977}" name="test_{i}" time="0.001"'
            if kind == 0:
                lines.append(f'<testcase {attrs}><failure message="boom {i}">trace</failure></testcase>')
                counts["failed"] += 1
            elif kind == 1:
                lines.append(f"<testcase {attrs}><error>Err &amp; {i}</error></testcase>")
                counts["errors"] += 1
            elif kind == 2:
                lines.append(f'<testcase {attrs}><skipped message="later"/></testcase>')
                counts["skipped"] += 1
            elif kind == 3:
                lines.append(f'<testcase {attrs}><flakyFailure message="once"/></testcase>')
                counts["flaky"] += 1
            elif kind == 4:
                lines.append(f'<testcase {attrs}><failure message="again"/><rerunFailure message="x"/></testcase>')
                counts["failed"] += 1
            else:
                lines.append(f"<testcase {attrs}/>")
                counts["passed"] += 1
            counts["tests"] += 1
            if len(lines) >= CHUNK:
                out.write("\n".join(lines))
                out.write("\n")
                lines = []
        if n:
            lines.append("</testsuite>")
        lines.append("</testsuites>\n")
        out.write("\n".join(lines))
    counts["duration_seconds"] = 1.5 * suites
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--sarif-results", type=int, default=1_500_000)
    parser.add_argument("--junit-cases", type=int, default=1_200_000)
    args = parser.parse_args()
    for sub in ("security", "unit"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    sarif = os.path.join(args.out, "security", "hostile.sarif")
    junit = os.path.join(args.out, "unit", "junit.xml")
    planted = {
        "sarif": write_sarif(sarif, args.sarif_results),
        "junit": write_junit(junit, args.junit_cases),
        "sarif_bytes": os.path.getsize(sarif),
        "junit_bytes": os.path.getsize(junit),
    }
    print(json.dumps(planted, sort_keys=True))


if __name__ == "__main__":
    main()
