#!/usr/bin/env bash
# Install everything the test suite needs, from scratch, then run it.
# Used as-is by newcomers (README) and by CI (.ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a browser for the dashboard tests, PostgreSQL for the team-catalog tests and the
# real Colin27 brain for the segmentation case study. Needs root; otherwise the tests that need them skip
# with a stated reason.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium postgresql mricron-data >/dev/null
fi

# Python packages: exact versions from the lock file, then reprovip itself.
python -m pip install -q --disable-pip-version-check -r requirements/test.lock
python -m pip install -q --disable-pip-version-check --no-deps -e .

python -m pytest -n 2 "$@"
