#!/usr/bin/env bash
# Benchmarks score-diffs against `git diff --no-index --numstat --diff-algorithm=histogram`
# and a straightforward Python difflib + pandas script, on the same file pairs: every
# file of four real projects' releases (scripts/fetch-corpora.sh), both directions, and
# then on three pathological pairs. Prints seconds, MB/s of input (both sides of every
# pair), peak memory (max RSS from GNU time), the ratios, and whether the line counts
# are identical to git's. On the releases it also measures how far the default character
# retention (the sum over the line diff's hunks) is from the exact whole-file one
# (scripts/bench/hunks_vs_whole.py) and checks the default against git's own -U0 hunks
# measured by rapidfuzz (tests/python/check_hunk_chars.py). Results are recorded in
# docs/benchmarks.md.
#
#   bash scripts/bench-score-diffs.sh
#   SKIP_PYTHON=1 bash scripts/bench-score-diffs.sh     # without the slow baseline
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(realpath -m "${WORK:-target/bench-score-diffs}")
bash scripts/setup-venvs.sh oracles >/dev/null
bash scripts/fetch-corpora.sh >/dev/null
cargo build --quiet --release -p hive-jobs --bins
bin=$PWD/target/release
py=$PWD/.venv/oracles/bin/python
rm -rf "$work"
mkdir -p "$work"
export HOME="$work" GIT_CONFIG_NOSYSTEM=1 XDG_CONFIG_HOME="$work" LC_ALL=C

measure() { # command...: prints "seconds max_rss_kib". The exit status is not checked
  # here (git exits 1 when trees differ): the count comparison below catches failures.
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/last.out" 2> "$work/last.err" || true
  tail -n 1 "$work/time.txt"
}

row() { # label seconds rss_kib bytes reference_seconds
  printf '%-42s %9.2f %10.1f %10.0f %12s\n' "$1" "$2" "$(echo "$4 / 1048576 / $2" | bc -l)" "$(echo "$3 / 1024" | bc -l)" \
    "$(if [ "$5" = - ]; then echo -; else printf '%.2fx' "$(echo "$2 / $5" | bc -l)"; fi)"
}

bench_set() { # name, pairs_lake.py arguments...
  local name=$1
  shift
  local dir="$work/$name"
  info=$(python3 scripts/bench/pairs_lake.py "$dir" "$@")
  bytes=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
  "$bin/extract-edits" --data-root "$dir/lake" --date 2026-01-08 --quiet --max-file-bytes 100000000 > /dev/null
  echo
  echo "== $name: $info"
  printf '%-42s %9s %10s %10s %12s\n' tool seconds "MB/s" "peak MiB" "vs score-diffs"
  summary() { # label: the character retention methods of the last run
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  (%s: %d files, char_retention_method hunks for %d, line_bound for %d, exact for the rest)" % (sys.argv[2], d["diff_rows_out"], d.get("char_retention_hunks", 0), d["char_retention_bounded"]))' "$work/last.out" "$1"
  }
  read -r ours ours_rss < <(measure "$bin/score-diffs" --data-root "$dir/lake" --date 2026-01-08 --quiet)
  row "score-diffs (lines + hunk chars, $(nproc) thr)" "$ours" "$ours_rss" "$bytes" -
  summary "default, --char-distance hunks"
  rm -rf "$dir/diff_scores-hunks" && cp -r "$dir/lake/diff_scores" "$dir/diff_scores-hunks"
  read -r one one_rss < <(measure "$bin/score-diffs" --data-root "$dir/lake" --date 2026-01-08 --quiet --threads 1)
  row "score-diffs (lines + hunk chars, 1 thread)" "$one" "$one_rss" "$bytes" "$ours"
  read -r whole whole_rss < <(measure "$bin/score-diffs" --data-root "$dir/lake" --date 2026-01-08 --quiet --char-distance whole-file)
  row "score-diffs --char-distance whole-file" "$whole" "$whole_rss" "$bytes" "$ours"
  summary "--char-distance whole-file"
  rm -rf "$dir/diff_scores-whole" && cp -r "$dir/lake/diff_scores" "$dir/diff_scores-whole"
  read -r lines lines_rss < <(measure "$bin/score-diffs" --data-root "$dir/lake" --date 2026-01-08 --quiet --char-budget 0)
  row "score-diffs --char-budget 0 (lines)" "$lines" "$lines_rss" "$bytes" "$ours"
  read -r git git_rss < <(cd "$dir/git" && measure git diff --no-index --no-renames --numstat -z --diff-algorithm=histogram old new)
  row "git diff --numstat (lines only)" "$git" "$git_rss" "$bytes" "$ours"
  if [ -z "${SKIP_PYTHON:-}" ] && [ "$name" = releases ]; then
    read -r pys pys_rss < <(measure "$py" scripts/bench/difflib_scores.py "$dir/lake" 2026-01-08 "$dir/difflib.parquet")
    row "python difflib + pandas (lines only)" "$pys" "$pys_rss" "$bytes" "$ours"
  fi
  (cd "$dir/git" && git diff --no-index --no-renames --numstat -z --diff-algorithm=histogram old new > ../git-numstat.z || true)
  "$py" - "$dir" <<'PY'
import json, os, sys
import pyarrow.dataset as ds
d = sys.argv[1]
ours = ds.dataset(f"{d}/lake/diff_scores", format="parquet", partitioning="hive").to_table().to_pandas()
fields = open(f"{d}/git-numstat.z", "rb").read().decode("utf-8", "surrogateescape").split("\0")
git, i = {}, 0
while i < len(fields) - 1:
    if not fields[i]:
        i += 1
        continue
    added, removed, _ = fields[i].split("\t")
    git[fields[i + 1].removeprefix("old/")] = None if added == "-" else (int(added), int(removed))
    i += 3
mismatch = 0
for r in ours.itertuples(index=False):
    expected = git.get(r.path, (0, 0))
    got = None if r.is_binary else (int(r.lines_added), int(r.lines_removed))
    if r.is_binary and expected is not None and r.path in git:
        mismatch += 1
    elif not r.is_binary and got != expected:
        mismatch += 1
line = f"score-diffs vs git: {mismatch} of {len(ours)} files differ"
if os.path.exists(f"{d}/difflib.parquet"):
    import pandas as pd
    py = pd.read_parquet(f"{d}/difflib.parquet")
    text = py[py["lines_generated"].notna()]
    off = sum((int(r.lines_added), int(r.lines_removed)) != git.get(r.path, (0, 0)) for r in text.itertuples(index=False))
    line += f"; python difflib vs git: {off} of {len(text)} text files differ (difflib is not git's algorithm)"
print(line)
PY
  "$py" scripts/bench/hunks_vs_whole.py "$dir/lake" 2026-01-08 "$dir/diff_scores-hunks" "$dir/diff_scores-whole" | head -n 1
  if [ "$name" = releases ]; then
    rm -rf "$dir/lake/diff_scores" && cp -r "$dir/diff_scores-hunks" "$dir/lake/diff_scores"
    echo "default vs git's -U0 hunks measured by rapidfuzz: $("$py" tests/python/check_hunk_chars.py "$dir/git" "$dir/lake" 2026-01-08)"
  fi
}

corpora=.venv/corpora
pairs=()
for p in "django-4.2 django-5.0" "flask-2.2.0 flask-3.0.0" "requests-2.28.0 requests-2.32.3" "sqlalchemy-1.4.0 sqlalchemy-2.0.0"; do
  set -- $p
  pairs+=("$corpora/$1:$corpora/$2" "$corpora/$2:$corpora/$1")
done
bench_set releases "${pairs[@]}"

# Pathological pairs, one per generation.
patho="$work/pathological-src"
"$py" - "$patho" <<'PY'
import os, sys
out = sys.argv[1]
for side in ("old", "new"):
    os.makedirs(f"{out}/{side}", exist_ok=True)
line = "abcdefghijklmnopqrstuvwxyz0123456789" * (50_000_000 // 36)
edited = line[:25_000_000] + "0123456789" + line[25_000_010:]
same = "    }\n" * 200_000
same_edited = same[:600_000] + "    // changed\n" + same[600_000:]
old_lines = "".join(f"old line {i} {i * 7919 % 100_003}\n" for i in range(200_000))
new_lines = "".join(f"new row {i * 104_729 % 99_991} {i}\n" for i in range(200_000))
for name, a, b in [("single-50MB-line", line, edited), ("200k-identical-lines", same, same_edited), ("unrelated-large", old_lines, new_lines)]:
    open(f"{out}/old/{name}.txt", "w").write(a)
    open(f"{out}/new/{name}.txt", "w").write(b)
PY
bench_set pathological "$patho/old:$patho/new"
