#!/usr/bin/env bash
# Build the throwaway virtual environments of the pyAMARES version comparison from the exact lists in envs/.
#   bash make_envs.sh [DEST]          (default DEST: /tmp/mrs-venvs)
# Gives DEST/pyamares-0.3.8, DEST/pyamares-0.3.28 (same numpy 1.26.4 / scipy 1.13.1) and
# DEST/pyamares-0.3.28-latest (numpy 2.4.6 / scipy 1.17.1). Uses uv when present, else venv + pip.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-/tmp/mrs-venvs}"
py="${PYTHON:-python3}"
mkdir -p "$dest"
for req in "$here"/envs/pyamares-*.txt; do
  name="$(basename "$req" .txt)"
  venv="$dest/$name"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import pyAMARES" 2>/dev/null; then
    echo "$venv: already there"; continue
  fi
  if command -v uv >/dev/null 2>&1; then
    uv venv -q --python "$py" "$venv"
    uv pip install -q --python "$venv/bin/python" -r "$req"
  else
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  fi
  echo "$venv: $("$venv/bin/python" -c 'import importlib.metadata as m; print("pyAMARES", m.version("pyAMARES"), "numpy", m.version("numpy"), "scipy", m.version("scipy"))')"
done
