"""Run an application inside a container image: the argv is wrapped for the engine, never run by a shell.

Engines: docker, podman, apptainer, singularity, udocker. The study folder and the execution's working
folder are bind-mounted at the same paths, so ``{input}``, ``{outdir}`` and ``{study_dir}`` mean the same
inside; the environment variables reprovip sets (threads, seed...) are passed explicitly.
"""

from __future__ import annotations

import shutil
import subprocess

from reprovip.errors import check_choice

ENGINES = ("docker", "podman", "apptainer", "singularity", "udocker")


def wrap(engine: str, image: str, argv: list[str], *, binds: list[str], workdir: str, env: dict[str, str]) -> list[str]:
    """The argv that runs ``argv`` in ``image`` with ``engine``.

    Examples
    --------
    >>> wrap("docker", "alpine:3", ["echo", "hi"], binds=["/data"], workdir="/w", env={"OMP_NUM_THREADS": "1"})
    ['docker', 'run', '--rm', '--network', 'none', '-v', '/data:/data', '-v', '/w:/w', '-w', '/w', '-e', 'OMP_NUM_THREADS=1', 'alpine:3', 'echo', 'hi']
    >>> wrap("apptainer", "tool.sif", ["tool"], binds=["/data"], workdir="/w", env={"A": "1"})
    ['apptainer', 'exec', '--containall', '--bind', '/data:/data', '--bind', '/w:/w', '--pwd', '/w', '--env', 'A=1', 'tool.sif', 'tool']
    """
    check_choice("engine", engine, ENGINES)
    mounts = [*binds, workdir]
    if engine in ("docker", "podman"):
        out = [engine, "run", "--rm", "--network", "none"]
        for m in mounts:
            out += ["-v", f"{m}:{m}"]
        out += ["-w", workdir]
        for k, v in env.items():
            out += ["-e", f"{k}={v}"]
        return [*out, image, *argv]
    if engine in ("apptainer", "singularity"):
        out = [engine, "exec", "--containall"]
        for m in mounts:
            out += ["--bind", f"{m}:{m}"]
        out += ["--pwd", workdir]
        for k, v in env.items():
            out += ["--env", f"{k}={v}"]
        return [*out, image, *argv]
    out = ["udocker", "run", "--rm"]
    for m in mounts:
        out += [f"--volume={m}:{m}"]
    out += [f"--workdir={workdir}"]
    for k, v in env.items():
        out += [f"--env={k}={v}"]
    return [*out, image, *argv]


def available(engine: str) -> bool:
    """Whether ``engine`` can run containers here (docker's client alone is not enough: it needs a daemon)."""
    exe = shutil.which(engine)
    if exe is None:
        return False
    if engine in ("docker", "podman"):
        probe = subprocess.run([exe, "info"], capture_output=True, timeout=20, check=False)
        return probe.returncode == 0
    return True


def image_digest(engine: str, image: str) -> str | None:
    """The image's content digest as the engine reports it (recorded in the provenance), or None."""
    exe = shutil.which(engine)
    if exe is None:
        return None
    if engine in ("docker", "podman"):
        argv = [exe, "image", "inspect", "--format", "{{.Id}}", image]
    elif engine in ("apptainer", "singularity"):
        argv = [exe, "inspect", "--json", image]
    else:
        return None
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout.strip()[:200] or None if proc.returncode == 0 else None
