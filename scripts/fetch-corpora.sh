#!/usr/bin/env bash
# Downloads real text written by other people for the diff-agreement tests: the source
# distributions of two releases of a few Python projects (code, tests and docs), found
# through PyPI's simple index (PEP 691 JSON, the API pip itself uses) and checked
# against the sha256 it publishes. Unpacked under
# .venv/corpora/<name>-<version>/ (ignored by git), without the archive's top folder.
# Idempotent: a finished download leaves a `.complete` marker.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${HIVE_BASE_PYTHON:-python3}
dest=.venv/corpora
mkdir -p "$dest/downloads"

# Pairs of releases far enough apart to have thousands of changed files. SQLAlchemy's
# docs are where diff crates most often part ways with git.
releases=(
  django==4.2 django==5.0
  flask==2.2.0 flask==3.0.0
  requests==2.28.0 requests==2.32.3
  sqlalchemy==1.4.0 sqlalchemy==2.0.0
)

"$python" - "$dest" "${releases[@]}" <<'PY'
import hashlib, json, os, shutil, sys, tarfile, time, urllib.request

dest, specs = sys.argv[1], sys.argv[2:]

def fetch(url, accept="*/*"):
    for attempt in range(4):
        try:
            request = urllib.request.Request(url, headers={"Accept": accept})
            with urllib.request.urlopen(request, timeout=120) as r:
                return r.read()
        except OSError as e:
            if attempt == 3:
                raise SystemExit(f"error: cannot download `{url}`: {e}")
            time.sleep(2 ** attempt)

for spec in specs:
    name, version = spec.split("==")
    target = os.path.join(dest, f"{name}-{version}")
    if os.path.exists(os.path.join(target, ".complete")):
        continue
    index = json.loads(fetch(f"https://pypi.org/simple/{name}/", "application/vnd.pypi.simple.v1+json"))
    def is_sdist(filename):
        project, _, release = filename.removesuffix(".tar.gz").rpartition("-")
        return filename.endswith(".tar.gz") and release == version and project.lower().replace("_", "-") == name
    sdists = [f for f in index["files"] if is_sdist(f["filename"])]
    if not sdists:
        raise SystemExit(f"error: PyPI lists no source distribution for {spec}")
    sdist = sdists[0]
    sha256 = sdist["hashes"]["sha256"]
    archive = os.path.join(dest, "downloads", sdist["filename"])
    if not os.path.exists(archive) or hashlib.sha256(open(archive, "rb").read()).hexdigest() != sha256:
        data = fetch(sdist["url"])
        if hashlib.sha256(data).hexdigest() != sha256:
            raise SystemExit(f"error: `{sdist['url']}` does not match PyPI's sha256")
        with open(archive + ".tmp", "wb") as f:
            f.write(data)
        os.replace(archive + ".tmp", archive)
    shutil.rmtree(target, ignore_errors=True)
    staging = target + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    (top,) = os.listdir(staging)
    os.rename(os.path.join(staging, top), target)
    os.rmdir(staging)
    open(os.path.join(target, ".complete"), "w").close()
    print(f"{spec}: {sdist['filename']}")
PY
echo "corpora ready in $dest"
