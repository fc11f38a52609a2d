"""The ``slurm-array`` backend: executions run as the tasks of Slurm job arrays, without a Dask scheduler.

``reprovip run --executor slurm-array`` gathers the executions the runner submits (it submits them all at
once) and writes them into the study's store as one folder per array (``.reprovip/work/.slurm-array/N/``):
``tasks/I.pkl`` is the I-th execution's :class:`~reprovip.execute.sandbox.Task`, and the folder is renamed into
place once complete. Then one ``sbatch --array=0-(n-1)%jobs`` starts ``python -m reprovip.execute.slurm_array
FOLDER`` per task; task ``$SLURM_ARRAY_TASK_ID`` runs its execution as a local worker does
(:func:`reprovip.execute.worker.reply`), moves its outputs into the blob store and writes its reply to
``results/I.pkl`` (renamed into place). The runner stays: it waits for the replies and records every attempt in
the catalog, as with the local executor, so resuming, retries and the summary are the same. A task that ends
without a reply (``scancel``, a time limit, a node failure) fails its execution with the reason: it is retried
like any failure, and the next ``reprovip run`` runs it again.

``--jobs`` is the array's concurrency limit (``%N``). Options for ``sbatch`` go in the executor's query
(``slurm-array?partition=short&time=30``, see :data:`OPTIONS`), or in Slurm's own ``SBATCH_*`` variables.
While the array runs, the executions its tasks are running are marked ``running`` in the study's catalog,
through the function the runner gives :meth:`ArrayPool.report_running` (so ``reprovip status`` tells pending
from running); the runner records their end. The store must be on a filesystem the compute nodes share. See
docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from reprovip.errors import InputError
from reprovip.execute.backends import Backend

SETTLE = 0.2  # seconds without a new submission before the gathered executions are submitted as one array
POLL = 0.5  # seconds between two looks at the replies and at `squeue`
ABSENT_POLLS = 2  # a task is lost once `squeue` has not listed it this many times in a row, with no reply
OPTIONS = ("partition", "account", "qos", "time", "mem", "mem-per-cpu", "cpus-per-task", "constraint", "gres")
SBATCH_TIMEOUT = 60.0
LOG_TAIL = 5  # lines of a lost task's log quoted in its error

_Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]  # a gathered submission


def parse_options(spec: str) -> list[str]:
    """``sbatch`` arguments from the query of ``slurm-array?partition=short&time=30``.

    Examples
    --------
    >>> parse_options("slurm-array?partition=short&cpus-per-task=2")
    ['--partition=short', '--cpus-per-task=2']
    >>> parse_options("slurm-array")
    []
    """
    query = urlsplit(spec).query if "?" in spec else ""
    args = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in OPTIONS:
            raise InputError(f"executor {spec!r}: unknown option {key!r}; choose among: {', '.join(OPTIONS)}")
        if not value:
            raise InputError(f"executor {spec!r}: option {key!r} needs a value, as in {key}=VALUE")
        args.append(f"--{key}={value}")
    return args


def _sbatch(args: list[str], spec: str) -> str:
    """Run ``sbatch args``; its output, or an InputError quoting its first error line."""
    if not shutil.which("sbatch"):
        raise InputError(
            f"executor {spec!r}: `sbatch` not found; run reprovip on a machine of the Slurm cluster (a login node)"
        )
    try:
        done = subprocess.run(["sbatch", *args], capture_output=True, text=True, timeout=SBATCH_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"executor {spec!r}: `sbatch` gave no answer within {SBATCH_TIMEOUT:g} s") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "no message")
        reason = reason.removeprefix("sbatch: error: ")
        raise InputError(
            f"executor {spec!r}: sbatch refused the job: {reason}; check the options of the executor "
            f"({', '.join(OPTIONS)}) or the SBATCH_* variables"
        )
    return done.stdout.strip()


@dataclass
class _Array:
    """One submitted array: its folder, Slurm job id, and the futures of its tasks not answered yet."""

    folder: Path
    job_id: str
    futures: dict[int, Future[Any]]
    execution_ids: dict[int, str]
    absent: dict[int, int] = field(default_factory=dict)  # task -> polls in a row `squeue` did not list it
    marked: set[int] = field(default_factory=set)  # tasks reported running


class ArrayPool(Executor):
    """A :class:`~concurrent.futures.Executor` whose calls run as the tasks of Slurm job arrays.

    Parameters
    ----------
    spec : str
        ``slurm-array`` and its options (see :func:`parse_options`).
    jobs : int
        Tasks of one array running at once (``--array=...%jobs``).
    """

    def __init__(self, spec: str, jobs: int) -> None:
        self._spec, self._jobs = spec, jobs
        self._options = parse_options(spec)
        self._lock = threading.Lock()
        self._gathered: list[_Call] = []
        self._last = 0.0
        self._arrays: list[_Array] = []
        self._closing = threading.Event()
        self._stopped = threading.Event()
        self._on_running: Callable[[list[str]], None] | None = None
        self._broken: BrokenExecutor | None = None  # the monitoring thread stopped on an error
        self._counter = itertools.count()
        self._thread = threading.Thread(target=self._loop, name="reprovip-slurm-array", daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Ask Slurm whether it would accept an array with these options (``sbatch --test-only``)."""
        _sbatch(["--test-only", f"--array=0-0%{self._jobs}", *self._options, "--wrap", "true"], self._spec)

    def report_running(self, mark: Callable[[list[str]], None]) -> None:
        """Call ``mark(execution ids)`` as Slurm starts their tasks (the runner gives ``Catalog.mark_running``)."""
        self._on_running = mark

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Gather ``fn(*args, **kwargs)`` (``run_task(task)``) for the next array."""
        if self._closing.is_set():
            raise RuntimeError("cannot submit to a Slurm array pool after shutdown")
        fut: Future[Any] = Future()
        fut.set_running_or_notify_cancel()
        if self._broken is not None:
            fut.set_exception(self._broken)
            return fut
        with self._lock:
            self._gathered.append((fut, fn, args, kwargs))
            self._last = time.monotonic()
        return fut

    def _loop(self) -> None:
        try:
            while not self._stopped.is_set():
                with self._lock:
                    ready = self._gathered and (self._closing.is_set() or time.monotonic() - self._last >= SETTLE)
                    batch, self._gathered = (self._gathered, []) if ready else ([], self._gathered)
                if batch:
                    self._start_array(batch)
                self._poll()
                if self._closing.is_set() and not self._gathered and not any(a.futures for a in self._arrays):
                    return
                self._stopped.wait(min(POLL, SETTLE))
        except Exception as exc:  # noqa: BLE001 - the runner must hear of it, not wait for ever
            self._broken = BrokenExecutor(f"the Slurm array monitor stopped: {exc.__class__.__name__}: {exc}")
            self._fail_all(self._broken)

    def _fail_all(self, error: BaseException) -> None:
        """Fail every call not answered yet with ``error``."""
        with self._lock:
            futures = [f for f, *_ in self._gathered] + [f for a in self._arrays for f in a.futures.values()]
            self._gathered = []
            for array in self._arrays:
                array.futures.clear()
        for fut in futures:
            if not fut.done():
                fut.set_exception(error)

    def _start_array(self, batch: list[_Call]) -> None:
        """Write the batch's tasks into the store, then submit them as one array."""
        task = batch[0][2][0]
        if not task.work_root:
            error: BaseException = InputError("executor 'slurm-array' needs the study's store on a shared filesystem")
            for fut, *_ in batch:
                fut.set_exception(error)
            return
        base = Path(task.work_root, ".slurm-array")
        folder = base / f"{os.getpid()}-{next(self._counter)}"
        part = base / f".{folder.name}.part"
        (part / "tasks").mkdir(parents=True)
        (part / "results").mkdir()
        (part / "logs").mkdir()
        for i, (_, fn, args, kwargs) in enumerate(batch):
            (part / "tasks" / f"{i}.pkl").write_bytes(pickle.dumps((fn, args, kwargs)))
        os.replace(part, folder)  # the tasks find a complete folder, or none
        # -P: the folder it starts in is not put first on sys.path. reprovip must be installed where tasks run.
        command = f"exec {shlex.quote(sys.executable)} -P -m {__name__} {shlex.quote(str(folder))}"
        args = [
            "--parsable",
            f"--array=0-{len(batch) - 1}%{self._jobs}",
            f"--job-name=reprovip-{Path(task.work_root).parents[1].name}",  # the study's folder
            f"--output={folder}/logs/%a.out",
            f"--chdir={folder}",
            *self._options,
            "--wrap",
            command,
        ]
        try:
            job_id = _sbatch(args, self._spec).split(";")[0]
        except InputError as exc:
            for fut, *_ in batch:
                fut.set_exception(BrokenExecutor(str(exc)))
            return
        ids = {i: getattr(b[2][0], "execution_id", "") for i, b in enumerate(batch)}
        self._arrays.append(_Array(folder, job_id, {i: b[0] for i, b in enumerate(batch)}, ids))

    def _poll(self) -> None:
        """Hand the replies written since the last look to their futures; fail the tasks Slurm no longer has."""
        live = [a for a in self._arrays if a.futures]
        if not live:
            return
        states = _squeue([a.job_id for a in live])
        for array in live:
            # `squeue` first: a task it does not list has ended, its reply written
            if states is not None and self._on_running is not None:
                running = {i for i in array.futures if states.get((array.job_id, i)) == "RUNNING"} - array.marked
                if running:
                    self._mark_running(self._on_running, array, running)
            for i in list(array.futures):
                reply = array.folder / "results" / f"{i}.pkl"
                if reply.exists():
                    ok, value = pickle.loads(reply.read_bytes())
                    fut = array.futures.pop(i)
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
                elif states is not None and (array.job_id, i) not in states:
                    array.absent[i] = array.absent.get(i, 0) + 1
                    if array.absent[i] >= ABSENT_POLLS:
                        array.futures.pop(i).set_exception(BrokenExecutor(_lost(array, i)))
                else:
                    array.absent.pop(i, None)

    @staticmethod
    def _mark_running(mark: Callable[[list[str]], None], array: _Array, tasks: set[int]) -> None:
        """Report the executions of ``tasks`` running (the runner records their end: done, failed)."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            mark(sorted(array.execution_ids[i] for i in tasks))
        except SQLAlchemyError:  # only what `status` shows (a busy catalog): tried again at the next look
            return
        array.marked |= tasks

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Submit what is gathered; with ``wait``, wait until every task has answered or ended."""
        self._closing.set()
        if cancel_futures:
            self.interrupt()
        if wait:
            self._thread.join()

    def interrupt(self) -> None:
        """Cancel the arrays (``scancel``: Slurm kills the running tasks) and fail every unanswered call."""
        self._closing.set()
        self._stopped.set()
        self._thread.join()
        jobs = [a.job_id for a in self._arrays if a.futures]
        if jobs:
            with contextlib.suppress(OSError):
                subprocess.run(["scancel", *jobs], capture_output=True, check=False)
        self._fail_all(CancelledError())


def _squeue(job_ids: list[str]) -> dict[tuple[str, int], str] | None:
    """``{(array job id, task index): state}`` of the tasks Slurm still has; None when ``squeue`` failed."""
    done = subprocess.run(
        ["squeue", "--noheader", "--array", "--jobs", ",".join(job_ids), "--format=%F %K %T"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None if "Invalid job id" not in done.stderr else {}  # every job has left Slurm's memory
    states = {}
    for line in done.stdout.splitlines():
        job, index, state = line.split()
        if index.isdigit():  # a pending remainder is listed task by task with --array
            states[(job, int(index))] = state
    return states


def _lost(array: _Array, i: int) -> str:
    log = array.folder / "logs" / f"{i}.out"
    with contextlib.suppress(OSError):
        tail = log.read_text(errors="replace").strip().splitlines()[-LOG_TAIL:]
        if tail:
            return f"Slurm array task {array.job_id}_{i} ended without a result; its log ends: " + " | ".join(tail)
    return (
        f"Slurm array task {array.job_id}_{i} ended without a result (cancelled with scancel, past its time "
        "limit, or its node failed)"
    )


@contextlib.contextmanager
def slurm_array(spec: str, jobs: int) -> Iterator[Backend]:
    """``slurm-array[?option=value...]``: an :class:`ArrayPool`; on any exception (Ctrl-C), cancel its arrays."""
    pool = ArrayPool(spec, jobs)
    try:
        pool.check()
        yield Backend(pool, shared_filesystem=True, report_running=pool.report_running)
    except BaseException:
        pool.interrupt()
        raise
    pool.shutdown(wait=True)


def main(folder: str) -> int:
    """Run task ``$SLURM_ARRAY_TASK_ID`` of the array in ``folder``; write its reply to ``results/``."""
    from reprovip.execute.sandbox import freeze_environ, kill_active, spawn_here
    from reprovip.execute.worker import reply

    def stop(signum: int, frame: Any) -> None:  # scancel: the application goes with the task
        kill_active()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    index = int(os.environ["SLURM_ARRAY_TASK_ID"])
    task_file = Path(folder, "tasks", f"{index}.pkl")
    if not task_file.exists():  # the runner is gone and the next one cleared its folder: nothing to do
        print(f"{task_file}: no such task; its run has ended", file=sys.stderr)
        return 0
    fn, args, kwargs = pickle.loads(task_file.read_bytes())
    freeze_environ()
    spawn_here()
    data = reply(fn, args, kwargs)
    out = Path(folder, "results", f"{index}.pkl")
    part = out.with_name(f".{out.name}.part")
    with open(part, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(part, out)  # the runner reads whole replies only
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
