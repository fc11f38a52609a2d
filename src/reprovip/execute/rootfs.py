"""The ``os`` factor: run the application inside Debian root filesystems of several releases on one machine.

Each level names a Debian release (``bookworm``, ``trixie``...). Its root filesystem is built once with
``debootstrap --variant=minbase`` from Debian's mirror and cached (``$REPROVIP_ROOTFS_CACHE``, default
``~/.cache/reprovip/rootfs``); executions run in it through bubblewrap, with the study folder and the
execution's working folder bound at the same paths, so the same command sees another C library, libm and
userland. This is the experiment of Glatard et al. (2015, doi:10.3389/fninf.2015.00012) made routine.
Building needs root (debootstrap); running needs bubblewrap (``bwrap``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from reprovip.errors import InputError

MIRROR = "http://deb.debian.org/debian"
_RELEASE = re.compile(r"^[a-z][a-z0-9-]*$")


def cache_dir() -> Path:
    """Where root filesystems are cached."""
    return Path(os.environ.get("REPROVIP_ROOTFS_CACHE") or Path.home() / ".cache" / "reprovip" / "rootfs")


def _facts(root: Path) -> dict[str, str]:
    facts = {"release": root.name}
    version = root / "etc" / "debian_version"
    facts["debian_version"] = version.read_text().strip() if version.exists() else ""
    status = root / "var" / "lib" / "dpkg" / "status"
    if status.exists():
        m = re.search(r"Package: libc6\n(?:.+\n)*?Version: (\S+)", status.read_text(errors="replace"))
        facts["libc6"] = m.group(1) if m else ""
    return facts


def ensure_rootfs(release: str, *, cache: Path | None = None, mirror: str | None = None) -> tuple[Path, dict[str, str]]:
    """Return the root filesystem of ``release`` (building it if needed) and its facts (libc6 version...).

    Raises
    ------
    InputError
        An invalid release name, no debootstrap, not root, or a failed build (its last line).
    """
    if not _RELEASE.match(release):
        raise InputError(f"`os` level {release!r} is not a Debian release name (e.g. bookworm, trixie)")
    cache = cache or cache_dir()
    root = cache / release
    marker = root / ".reprovip-rootfs.json"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per release, whoever asks first
        if not marker.exists():
            exe = shutil.which("debootstrap") or (
                "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
            )
            if exe is None or os.geteuid() != 0:
                raise InputError(
                    f"building the {release} root filesystem needs root and debootstrap "
                    "(apt-get install debootstrap); or set REPROVIP_ROOTFS_CACHE to a prepared cache"
                )
            tmp = cache / f".{release}.building"
            shutil.rmtree(tmp, ignore_errors=True)
            proc = subprocess.run(
                [
                    exe,
                    "--variant=minbase",
                    release,
                    str(tmp),
                    mirror or os.environ.get("REPROVIP_DEBIAN_MIRROR", MIRROR),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no message"]
                raise InputError(f"debootstrap {release} failed: {tail[0][:300]}")
            shutil.rmtree(root, ignore_errors=True)
            os.replace(tmp, root)
            marker.write_text(json.dumps(_facts(root)))
    return root, json.loads(marker.read_text())


def wrap(root: Path, argv: list[str], *, binds: list[str], workdir: str) -> list[str]:
    """The bubblewrap argv that runs ``argv`` with ``root`` as ``/``.

    Examples
    --------
    >>> wrap(Path("/cache/trixie"), ["/s/app", "x"], binds=["/s"], workdir="/w")[:9]
    ['bwrap', '--bind', '/cache/trixie', '/', '--dev', '/dev', '--proc', '/proc', '--bind']
    """
    out = ["bwrap", "--bind", str(root), "/", "--dev", "/dev", "--proc", "/proc"]
    for b in [*binds, workdir]:
        out += ["--bind", b, b]
    return [*out, "--chdir", workdir, *argv]
