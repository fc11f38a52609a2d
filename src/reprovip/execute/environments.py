"""The ``environments`` factor: each level is an isolated Python environment built from a requirements list.

Environments are built once, with ``uv`` when it is available (``python -m venv`` + pip otherwise), and
cached under the store (``.reprovip/envs/<hash>``, or ``$REPROVIP_ENV_CACHE``) by the hash of the Python
version and the requirements. The resolved package list of each environment is recorded in the provenance of
every execution that ran in it. Environments need the workers to share the store's filesystem.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import blake3

from reprovip.errors import InputError


@dataclass(frozen=True)
class Environment:
    """A built environment: its level name, interpreter and resolved packages."""

    name: str
    requirements: tuple[str, ...]
    path: Path
    packages: dict[str, str]

    @property
    def python(self) -> str:
        """The environment's interpreter (what ``{python}`` means under this level)."""
        return str(self.path / "bin" / "python")

    def env_vars(self) -> dict[str, str]:
        """Variables that make the environment the active one for a subprocess."""
        return {"VIRTUAL_ENV": str(self.path), "PATH": f"{self.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def _uv() -> str | None:
    try:
        import uv  # the uv package ships its binary

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _run(argv: list[str], what: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"could not {what}: {tail[:300]}; check the `environments` requirements")
    return proc.stdout


def _freeze(python: str, uv: str | None) -> dict[str, str]:
    argv = [uv, "pip", "freeze", "--python", python] if uv else [python, "-m", "pip", "freeze", "--all"]
    packages = {}
    for line in _run(argv, "list the environment's packages").splitlines():
        name, sep, version = line.partition("==")
        if sep:
            packages[name.lower()] = version
    return packages


def ensure(name: str, requirements: list[str], cache: Path) -> Environment:
    """Return the environment for ``requirements``, building it if it is not cached yet.

    Raises
    ------
    InputError
        The requirements cannot be installed (the message carries the installer's last line).
    """
    reqs = tuple(sorted(str(r).strip() for r in requirements))
    key = blake3.blake3(json.dumps([sys.version, reqs]).encode()).hexdigest()[:16]
    path = cache / key
    meta = path / "reprovip-environment.json"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runners building the same environment wait for each other
        if not meta.exists():
            shutil.rmtree(path, ignore_errors=True)
            uv = _uv()
            if uv:
                _run([uv, "venv", "-q", "--python", sys.executable, str(path)], f"create environment {name!r}")
                if reqs:
                    _run(
                        [uv, "pip", "install", "-q", "--python", str(path / "bin" / "python"), *reqs],
                        f"install {list(reqs)} into environment {name!r}",
                    )
            else:
                _run([sys.executable, "-m", "venv", str(path)], f"create environment {name!r}")
                if reqs:
                    _run(
                        [str(path / "bin" / "python"), "-m", "pip", "install", "-q", *reqs],
                        f"install {list(reqs)} into environment {name!r}",
                    )
            packages = _freeze(str(path / "bin" / "python"), uv)
            tmp = meta.with_suffix(".part")
            tmp.write_text(json.dumps({"requirements": reqs, "packages": packages}))
            os.replace(tmp, meta)
    packages = json.loads(meta.read_text())["packages"]
    return Environment(name, reqs, path, packages)


def ensure_all(levels: dict[str, list[str]], cache: Path) -> dict[str, Environment]:
    """Build (or find) every level's environment."""
    return {name: ensure(name, reqs, cache) for name, reqs in levels.items()}
