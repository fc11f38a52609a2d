#!/usr/bin/env bash
# Install everything the test suite needs, from scratch, then run it.
# Used as-is by newcomers (README) and by CI (.ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a browser for the dashboard tests, PostgreSQL for the team-catalog tests, the real
# Colin27 brain for the segmentation case study, podman for the container tests (and gcc for the programs the
# os and container tests build), Slurm and munge for a single-node batch cluster, valgrind (Debian's has no
# Verrou tool: validate's check of a `perturb: verrou` level). Needs root; otherwise the
# tests that need them skip with a stated reason (under CI=true they fail instead).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium postgresql mricron-data debootstrap bubblewrap strace \
    podman runc gcc libc6-dev slurm-wlm munge valgrind >/dev/null
fi

# A real PostgreSQL server for the team-catalog tests (tests/store/test_postgres.py): start the installed
# cluster (any major version), create the role and database `reprovip` (password `reprovip`), export its URL.
start_postgres() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  local ver port
  read -r ver _ port _ < <(pg_lsclusters -h | head -n 1) || true
  if [ -z "${ver:-}" ]; then
    ver="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    [ -n "$ver" ] || return 1
    pg_createcluster -q "$ver" main >/dev/null
    read -r ver _ port _ < <(pg_lsclusters -h | head -n 1)
  fi
  pg_ctlcluster "$ver" main start >/dev/null 2>&1 || pg_ctlcluster "$ver" main status >/dev/null || return 1
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.2; done
  local psql=(runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -p "$port" -d postgres)
  "${psql[@]}" -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reprovip') THEN
        CREATE ROLE reprovip LOGIN PASSWORD 'reprovip';
      END IF; END \$\$;" >/dev/null || return 1
  if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'reprovip'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE reprovip OWNER reprovip" >/dev/null || return 1
  fi
  export REPROVIP_TEST_PG_URL="postgresql+psycopg://reprovip:reprovip@127.0.0.1:$port/reprovip"
}
if [ -z "${REPROVIP_TEST_PG_URL:-}" ] && [ "$(id -u)" = 0 ]; then
  start_postgres || echo "PostgreSQL could not be started: the PostgreSQL tests will skip" >&2
fi
# A container engine for the container tests (tests/execute/test_container.py): podman, configured for this
# machine (scripts/services/podman.sh prints its own one-line reason when it cannot run containers).
if [ "$(id -u)" = 0 ]; then
  source scripts/services/podman.sh || true
fi
# A real single-node Slurm cluster for the Slurm tests (tests/execute/test_slurm.py, test_dask.py), stopped
# when this script ends if this script started it.
if [ "$(id -u)" = 0 ] && [ -z "${REPROVIP_TEST_SLURM:-}" ]; then
  if source scripts/services/slurm.sh; then
    [ -z "${REPROVIP_SLURM_STARTED:-}" ] || trap 'bash scripts/services/slurm.sh stop' EXIT
  else
    echo "Slurm could not be started: the Slurm tests will skip (and fail under CI=true)" >&2
  fi
fi

# Python packages: exact versions from the lock file, then reprovip itself, in .venv/ inside the clone.
source scripts/venv.sh requirements/test.lock
echo "reprovip and the test tools are in .venv/ (to use them yourself: source .venv/bin/activate)"

python -m pytest -n 2 "$@"
