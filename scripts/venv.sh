# Sourced by main-job.sh and test.sh: create (once) and activate a virtual environment inside the clone,
# then install the given lock file into it. Never touches the system's or the caller's interpreter.
# Re-running is fast: nothing is reinstalled while the lock file and pyproject.toml are unchanged.
#   source scripts/venv.sh requirements/<file>.lock
lock="$1"
venv="${REPROVIP_VENV:-$PWD/.venv}"
py="$(command -v python3 || true)"
if [ -z "$py" ]; then
  echo "reprovip: python3 (3.11 or newer) is needed; install it (Debian: apt-get install python3)" >&2
  exit 2
fi
if [ ! -x "$venv/bin/python" ]; then
  if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    else
      echo "reprovip: python3 cannot create virtual environments; install python3-venv (as root: apt-get install python3-venv)" >&2
      exit 2
    fi
  fi
  "$py" -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
# One stamp for the environment: installing the other lock file may change versions, so switching reinstalls.
stamp="$venv/.reprovip-installed.sha256"
want="$( (echo "$lock"; cat "$lock" pyproject.toml) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python -m pip install -q --disable-pip-version-check -r "$lock"
  python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
