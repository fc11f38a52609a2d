# Make podman run containers on this machine for the container tests (tests/execute/test_container.py).
# Sourced by scripts/test.sh as root, after apt-get install podman runc. Idempotent: it first tries podman as
# configured; only if a container cannot be set up does it write the settings a bare Debian 12 machine or a
# sandbox needs (docs/containers.md explains each), then tries again. On success it exports
# REPROVIP_TEST_PODMAN=1; on failure it prints one line saying why and returns non-zero.

# A drop-in (podman >= 4.1 reads containers.conf.d): nothing else of the machine's configuration is replaced.
REPROVIP_PODMAN_CONF=/etc/containers/containers.conf.d/50-reprovip.conf
REPROVIP_PODMAN_STORAGE=/etc/containers/storage.conf

# A one-file image (the host's `true` and the libraries it loads), built without any registry.
_reprovip_podman_probe() {
  local root rc lib image=localhost/reprovip-probe:latest
  root="$(mktemp -d)" || return 1
  if ! podman image exists "$image" 2>/dev/null; then
    for lib in /usr/bin/true $(ldd /usr/bin/true | grep -o '/[^ ]*'); do
      cp --parents "$lib" "$root" || { rm -rf "$root"; return 1; }
    done
  fi
  { podman image exists "$image" 2>/dev/null || tar -C "$root" -c . | podman import -q - "$image" >/dev/null; } \
    2>"$root.err" && podman run --rm --network none "$image" /usr/bin/true 2>>"$root.err"
  rc=$?
  REPROVIP_PODMAN_ERROR="$(grep -v '^\s*$' "$root.err" | tail -n 1)"
  rm -rf "$root" "$root.err"
  return "$rc"
}

_reprovip_podman_setup() {
  if ! command -v podman >/dev/null 2>&1; then
    echo "podman is not installed (apt-get install podman runc): the container tests cannot run" >&2
    return 1
  fi
  _reprovip_podman_probe && return 0
  # Rootful podman without systemd: cgroupfs and a file event log; runc, which Debian's podman accepts; no
  # default ulimits (raising RLIMIT_NOFILE is refused in sandboxes: "error setting rlimit type 7").
  mkdir -p "$(dirname "$REPROVIP_PODMAN_CONF")" &&
    printf '%s\n' "# Written by reprovip's scripts/services/podman.sh (see docs/containers.md)" \
      '[containers]' 'default_ulimits = []' \
      '[engine]' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' 'runtime = "runc"' >"$REPROVIP_PODMAN_CONF" ||
    { echo "podman: cannot write $REPROVIP_PODMAN_CONF (run as root)" >&2; return 1; }
  _reprovip_podman_probe && return 0
  # Overlay storage over an overlay root (podman inside a container) fails: fall back to vfs, in its own folder.
  case "$REPROVIP_PODMAN_ERROR" in
    *overlay*)
      if [ ! -e "$REPROVIP_PODMAN_STORAGE" ]; then
        printf '%s\n' "# Written by reprovip's scripts/services/podman.sh (see docs/containers.md)" '[storage]' \
          'driver = "vfs"' 'runroot = "/run/containers/storage-vfs"' \
          'graphroot = "/var/lib/containers/storage-vfs"' >"$REPROVIP_PODMAN_STORAGE"
        _reprovip_podman_probe && return 0
      fi
      ;;
  esac
  echo "podman cannot run a container here: ${REPROVIP_PODMAN_ERROR:-no message} (see docs/containers.md)" >&2
  return 1
}

_reprovip_podman_setup && export REPROVIP_TEST_PODMAN=1
