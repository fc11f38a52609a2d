"""Run an application inside a container image: the argv is wrapped for the engine, never run by a shell.

Engines: docker, podman, apptainer, singularity, udocker. The study folder and the execution's working
folder are bind-mounted at the same paths, so ``{input}``, ``{outdir}`` and ``{study_dir}`` mean the same
inside; the environment variables reprovip sets (threads, seed...) are passed explicitly. Before anything
runs, :func:`prepare` checks once per image that the engine can run it here (a one-line error says what to
configure otherwise) and returns the image's content digest for the provenance. See docs/containers.md.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from reprovip.errors import InputError, check_choice
from reprovip.store.blobs import file_hashes

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


# A command no image has: a runtime that can create containers answers "not found" (exit 127, docker and
# podman alike); anything else means the container could not even be set up (rlimits, cgroups, namespaces).
_PROBE = "/.reprovip-engine-probe"
_NOT_FOUND = 127
# What to configure, by a fragment of the engine's own message (lower case); first match wins.
_HINTS = (
    (
        "rlimit",
        "the default ulimits are refused here: set `default_ulimits = []` under [containers] in containers.conf",
    ),
    ("cgroup", 'no usable cgroups: set `cgroup_manager = "cgroupfs"` under [engine] in containers.conf'),
    ("newuidmap", "rootless containers need subordinate ids: add the user to /etc/subuid and /etc/subgid"),
    ("subuid", "rootless containers need subordinate ids: add the user to /etc/subuid and /etc/subgid"),
    ("docker daemon", "start the Docker daemon (systemctl start docker) or add the user to the `docker` group"),
    ("docker.sock", "start the Docker daemon (systemctl start docker) or add the user to the `docker` group"),
)
_SEE = "see docs/containers.md"


def engine_hint(message: str) -> str:
    """What to configure when the engine printed ``message`` while failing to set a container up.

    Examples
    --------
    >>> engine_hint("Error: runc create failed: error setting rlimit type 7: operation not permitted")
    'the default ulimits are refused here: set `default_ulimits = []` under [containers] in containers.conf'
    >>> engine_hint("something else")
    'see docs/containers.md'
    """
    low = message.lower()
    return next((hint for key, hint in _HINTS if key in low), _SEE)


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [x.strip() for x in (proc.stderr or proc.stdout or "").splitlines() if x.strip()]
    return lines[-1][:300] if lines else f"exit code {proc.returncode}, no message"


def _call(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def _oci_digest(exe: str, engine: str, image: str) -> str:
    """The image id (sha256 of its config, which names every layer), pulling the image first if absent."""
    inspect = [exe, "image", "inspect", "--format", "{{.Id}}", image]
    proc = _call(inspect)
    if proc.returncode != 0:
        pulled = _call([exe, "pull", image])
        if pulled.returncode != 0:
            raise InputError(
                f"container image {image!r} is not in {engine}'s local storage and could not be pulled: "
                f"{_last_line(pulled)} (build or load it first; {_SEE})"
            )
        proc = _call(inspect)
    found = proc.stdout.strip()
    if proc.returncode != 0 or not found:
        raise InputError(f"container image {image!r}: `{engine} image inspect` gives no image id: {_last_line(proc)}")
    return found if found.startswith("sha256:") else f"sha256:{found}"


def runnable(container: dict[str, str]) -> str:
    """The image reference an execution runs: the image id :func:`prepare` recorded, for docker and podman (a tag
    may be moved to another image while a study runs, and the provenance must name the image that ran), else the
    image as given.

    >>> runnable(dict(engine="podman", image="debian:12", digest="sha256:ab12"))
    'sha256:ab12'
    >>> runnable(dict(engine="apptainer", image="tool.sif", digest="sha256:cd34"))
    'tool.sif'
    """
    if container["engine"] in ("docker", "podman") and container.get("digest"):
        return container["digest"]
    return container["image"]


def prepare(engine: str, image: str) -> dict[str, str]:
    """Check that ``engine`` can run ``image`` here; return what the provenance records of it.

    docker and podman: the image is pulled if absent, then a container is set up with a command that does not
    exist, which a working runtime reports as not found; the digest is the image id. apptainer and singularity:
    a local image file is hashed (sha256); a remote one (``docker://...``) has no digest until pulled.
    udocker: only the binary is checked and no digest is recorded.

    Returns
    -------
    dict
        ``{"engine", "image", "digest"}`` (``digest`` is ``""`` when the engine gives none).

    Raises
    ------
    InputError
        One line: the engine is not installed, the image cannot be found, or the engine cannot set a
        container up here (with what to configure).
    """
    check_choice("engine", engine, ENGINES)
    exe = shutil.which(engine)
    if exe is None:
        raise InputError(f"container engine {engine!r} is not installed here (not on PATH); install it or {_SEE}")
    digest = ""
    if engine in ("docker", "podman"):
        digest = _oci_digest(exe, engine, image)
        probe = _call([exe, "run", "--rm", "--network", "none", "--entrypoint", _PROBE, image])
        if probe.returncode != _NOT_FOUND:
            line = _last_line(probe)
            raise InputError(f"{engine} cannot run containers here ({image}): {line}; {engine_hint(line)}")
    elif engine in ("apptainer", "singularity") and "://" not in image:
        if not Path(image).is_file():
            raise InputError(f"container image {image!r} ({engine}) is not a file; build it first ({_SEE})")
        digest = "sha256:" + file_hashes(image, ("sha256",))["sha256"]
    return {"engine": engine, "image": image, "digest": digest}
