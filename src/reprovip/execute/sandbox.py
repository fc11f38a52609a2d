"""Run one execution in its own working directory, environment and process group.

:func:`run_task` is what every backend calls (in a thread, a process or a Dask worker). It never raises for a
failing application: a crash, a timeout or a missing output is a result, recorded like any other.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from reprovip.execute.provenance import machine_provenance
from reprovip.execute.render import render_argv
from reprovip.store.blobs import file_hash, suffix_of

_HEAD, _TAIL = 8 * 1024, 56 * 1024
PID_FILE = ".reprovip-pid"

# Process groups of executions running in this process, killed on interrupt.
_active_groups: set[int] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class OutputDecl:
    """A declared output: name, glob relative to ``{outdir}``, kind."""

    name: str
    pattern: str
    kind: str


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to run one execution (picklable, no catalog access)."""

    execution_id: str
    argv: list[str]
    values: dict[str, Any]
    env: dict[str, str]
    outputs: list[OutputDecl]
    timeout: float
    seed: int | None = None
    work_root: str | None = None
    return_bytes: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class _Capped:
    """Drain a pipe, keeping its head and tail: an app printing gigabytes cannot fill memory or disk."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        while chunk := stream.read(65536):
            room = _HEAD - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail += chunk
            if len(self.tail) > _TAIL:
                self.dropped += len(self.tail) - _TAIL
                del self.tail[: len(self.tail) - _TAIL]
        stream.close()

    def text(self) -> str:
        self.thread.join()
        middle = f"\n[... {self.dropped} bytes not kept ...]\n" if self.dropped else ""
        return (bytes(self.head).decode(errors="replace") + middle + bytes(self.tail).decode(errors="replace"))


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group; ignore a group that is already gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_active() -> None:
    """Kill the process groups of every execution this process is running (on Ctrl-C)."""
    with _lock:
        groups = list(_active_groups)
    for g in groups:
        kill_group(g)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int, bool]:
    """Wait for ``proc``; kill its group at ``timeout``. Return (exit code, peak RSS bytes, timed out)."""
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        kill_group(proc.pid)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        while True:
            try:
                _, status, usage = os.wait4(proc.pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    return proc.returncode, int(usage.ru_maxrss) * 1024, timed_out.is_set()


def _collect(outdir: Path, decls: list[OutputDecl], return_bytes: bool) -> list[dict[str, Any]]:
    from reprovip.readers import semantic_hash  # lazy: readers pull in nibabel

    found: list[dict[str, Any]] = []
    for d in decls:
        paths = sorted(p for p in glob.glob(str(outdir / d.pattern), recursive=True) if os.path.isfile(p))
        if not paths:
            found.append(dict(name=d.name, relpath=d.pattern, kind=d.kind, missing=True, error="missing"))
            continue
        for p in paths:
            rec: dict[str, Any] = dict(
                name=d.name,
                relpath=Path(p).relative_to(outdir).as_posix(),
                kind=d.kind,
                path=p,
                blob=file_hash(p),
                suffix=suffix_of(p),
                size=os.path.getsize(p),
                missing=False,
                error=None,
            )
            try:
                rec["semantic_hash"] = semantic_hash(p, kind=d.kind)
            except Exception as exc:  # a corrupt output is a per-output finding, not a crash of the run
                rec["semantic_hash"] = None
                rec["error"] = f"{exc.__class__.__name__}: {exc}"
            if return_bytes:
                rec["data"] = Path(p).read_bytes()
            found.append(rec)
    return found


def run_task(task: Task) -> dict[str, Any]:
    """Run one execution and return its result as a plain dict.

    Keys: ``ok``, ``exit_code``, ``timed_out``, ``duration``, ``peak_rss``, ``stdout``, ``stderr``, ``error``,
    ``argv``, ``env`` (what reprovip set), ``seed``, ``provenance``, ``hostname``, ``pid``, ``started_at``,
    ``finished_at``, ``workdir`` and ``outputs`` (name, relpath, kind, path, blob, suffix, size,
    semantic_hash, missing, error; ``data`` when ``task.return_bytes``).
    """
    root = Path(task.work_root) if task.work_root else Path(tempfile.gettempdir()) / "reprovip-work"
    workdir = root / task.execution_id
    shutil.rmtree(workdir, ignore_errors=True)
    outdir = workdir / "out"
    outdir.mkdir(parents=True)
    values = dict(task.values, outdir=str(outdir), workdir=str(workdir))
    argv = render_argv(task.argv, values)
    if "boutiques" in task.extra:
        from reprovip.spec.boutiques import boutiques_argv

        b = task.extra["boutiques"]
        try:
            argv = boutiques_argv(b["descriptor"], b["invocation"], values, workdir) + argv
        except Exception as exc:  # an invalid invocation is this execution's failure, reported as such
            return dict(ok=False, argv=[], env=task.env, seed=task.seed, workdir=str(workdir), outputs=[],
                        error=f"Boutiques could not build the command: {str(exc).strip()[:300]}",
                        started_at=time.time(), finished_at=time.time(), duration=0.0)
    result: dict[str, Any] = dict(
        argv=argv,
        env=task.env,
        seed=task.seed,
        provenance=machine_provenance(),
        hostname=socket.gethostname(),
        workdir=str(workdir),
        started_at=time.time(),
        timed_out=False,
        exit_code=None,
        peak_rss=None,
        stdout="",
        stderr="",
        outputs=[],
    )
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env={**os.environ, **task.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills every child too
        )
    except OSError as exc:
        result.update(ok=False, error=f"could not start {argv[0]!r}: {exc.strerror or exc}", duration=0.0)
        result["finished_at"] = time.time()
        return result
    with _lock:
        _active_groups.add(proc.pid)
    (workdir / PID_FILE).write_text(f"{proc.pid} {socket.gethostname()}")
    out, err = _Capped(proc.stdout), _Capped(proc.stderr)  # type: ignore[arg-type]
    try:
        code, rss, timed_out = _wait(proc, task.timeout)
    finally:
        kill_group(proc.pid)  # children left behind by the app do not outlive its execution
        with _lock:
            _active_groups.discard(proc.pid)
    result.update(
        pid=proc.pid,
        exit_code=code,
        peak_rss=rss,
        timed_out=timed_out,
        stdout=out.text(),
        stderr=err.text(),
        duration=time.perf_counter() - t0,
        finished_at=time.time(),
    )
    if timed_out:
        result.update(ok=False, error=f"timed out after {task.timeout:g} s (process group killed)")
        return result
    if code != 0:
        tail = result["stderr"].strip().splitlines()[-1:] or [""]
        result.update(ok=False, error=f"exit code {code}" + (f": {tail[0][:200]}" if tail[0] else ""))
        return result
    result["outputs"] = _collect(outdir, task.outputs, task.return_bytes)
    missing = [o["name"] for o in result["outputs"] if o["missing"]]
    result["ok"] = not missing
    result["error"] = f"missing outputs: {', '.join(missing)}" if missing else None
    return result
