"""The ``slurm-array`` backend: executions run as the tasks of Slurm job arrays, without a Dask scheduler.

``reprovip run --executor slurm-array`` gathers the executions the runner submits (it submits them all at
once) and writes them into the study's store, one folder per array (:mod:`reprovip.execute.slurm_folder`).
Then one ``sbatch --array=0-(n-1)%jobs`` starts ``python -m reprovip.execute.slurm_array FOLDER`` per task
(:func:`main`): task ``$SLURM_ARRAY_TASK_ID`` runs its execution as a local worker does, moves its outputs into
the blob store and writes its reply. The runner stays: it waits for the replies and records every attempt in the
catalog, as with the local executor, so resuming, retries and the summary are the same. A task that left Slurm
without a reply seen within the grace (``slurm-array?grace=60``, seconds: a file written on a compute node may
show late over NFS) is cancelled with ``scancel``, so it cannot write any more, and fails its execution with the
reason: it is retried like any failure, and the next ``reprovip run`` runs it again.

``--jobs`` is the array's concurrency limit (``%N``); the other options are :mod:`reprovip.execute.slurm_cli`'s,
which calls Slurm's commands. Executions whose tasks run are marked ``running`` in the study's catalog through
the function the runner gives :meth:`ArrayPool.report_running`. The store must be on a filesystem the compute
nodes share. See docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprovip.errors import InputError
from reprovip.execute import slurm_cli, slurm_folder
from reprovip.execute.backends import Backend

SETTLE = 0.2  # seconds without a new submission before the gathered executions are submitted as one array
POLL = 0.5  # seconds between two looks at the replies and at `squeue`
ABSENT_POLLS = 2  # `squeue` has not listed a task this many times in a row: it has left Slurm

_Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]  # a gathered submission


@dataclass
class _Array:
    """One submitted array: its folder, Slurm job id, and the futures of its tasks not answered yet."""

    folder: Path
    job_id: str
    futures: dict[int, Future[Any]]
    execution_ids: dict[int, str]
    absent: dict[int, int] = field(default_factory=dict)  # task -> polls in a row `squeue` did not list it
    deadline: dict[int, float] = field(default_factory=dict)  # task that left Slurm -> end of its grace
    marked: set[int] = field(default_factory=set)  # tasks reported running


class ArrayPool(Executor):
    """A :class:`~concurrent.futures.Executor` whose calls run as the tasks of Slurm job arrays.

    Parameters
    ----------
    spec : str
        ``slurm-array`` and its options (see :func:`reprovip.execute.slurm_cli.parse_options`).
    jobs : int
        Tasks of one array running at once (``--array=...%jobs``).
    """

    def __init__(self, spec: str, jobs: int) -> None:
        self._spec, self._jobs = spec, jobs
        self._options = slurm_cli.parse_options(spec)
        self._lock = threading.Lock()
        self._gathered: list[_Call] = []
        self._last = 0.0
        self._arrays: list[_Array] = []
        self._submitted: list[str] = []  # job ids of the arrays not cancelled yet, answered or not
        self._closing = threading.Event()
        self._stopped = threading.Event()
        self._on_running: Callable[[list[str]], None] | None = None
        self._broken: BrokenExecutor | None = None  # the monitoring thread stopped on an error
        self._counter = itertools.count()
        self._thread = threading.Thread(target=self._loop, name="reprovip-slurm-array", daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Ask Slurm whether it would accept an array with these options (``sbatch --test-only``)."""
        slurm_cli.sbatch(
            ["--test-only", f"--array=0-0%{self._jobs}", *self._options.sbatch, "--wrap", "true"], self._spec
        )

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
            self._cancel_arrays()  # nobody will read their replies
            self._fail_all(self._broken)

    def _cancel_arrays(self) -> None:
        """``scancel`` every array submitted (Slurm ignores those that have ended)."""
        with self._lock:
            jobs, self._submitted = self._submitted, []
        if jobs:
            slurm_cli.scancel(jobs)

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
        folder = Path(task.work_root, ".slurm-array", f"{os.getpid()}-{next(self._counter)}")
        slurm_folder.write_folder(folder, [(fn, args, kwargs) for _, fn, args, kwargs in batch])
        # -P: the folder it starts in is not put first on sys.path. reprovip must be installed where tasks run.
        command = f"exec {shlex.quote(sys.executable)} -P -m {__name__} {shlex.quote(str(folder))}"
        args = [
            "--parsable",
            f"--array=0-{len(batch) - 1}%{self._jobs}",
            f"--job-name=reprovip-{Path(task.work_root).parents[1].name}",  # the study's folder
            f"--output={folder}/logs/%a.out",
            f"--chdir={folder}",
            *self._options.sbatch,
            "--wrap",
            command,
        ]
        try:
            job_id = slurm_cli.sbatch(args, self._spec).split(";")[0]
        except InputError as exc:
            for fut, *_ in batch:
                fut.set_exception(BrokenExecutor(str(exc)))
            return
        with self._lock:
            self._submitted.append(job_id)
        ids = {i: getattr(b[2][0], "execution_id", "") for i, b in enumerate(batch)}
        self._arrays.append(_Array(folder, job_id, {i: b[0] for i, b in enumerate(batch)}, ids))

    def _poll(self) -> None:
        """Hand the replies written since the last look to their futures; fail the tasks Slurm no longer has."""
        live = [a for a in self._arrays if a.futures]
        if not live:
            return
        states = slurm_cli.squeue([a.job_id for a in live])
        for array in live:
            # `squeue` first: a task it does not list has ended, its reply written
            if states is not None and self._on_running is not None:
                running = {i for i in array.futures if states.get((array.job_id, i)) == "RUNNING"} - array.marked
                if running:
                    self._mark_running(self._on_running, array, running)
            replied = slurm_folder.replied(array.folder)
            for i in list(array.futures):
                if i in replied:
                    _answer(array, i)
                elif states is None:  # no answer from Slurm: nothing to decide on
                    continue
                elif (array.job_id, i) in states:
                    array.absent.pop(i, None)
                    array.deadline.pop(i, None)
                else:
                    self._absent(array, i)

    def _absent(self, array: _Array, i: int) -> None:
        """Task ``i`` has left `squeue` and its reply is not seen: wait for it until the grace ends (a file
        written on a compute node may show on this one 30 s+ later over NFS), then ``scancel`` the task, so it
        cannot write any more, and fail its execution."""
        array.absent[i] = array.absent.get(i, 0) + 1
        if array.absent[i] < ABSENT_POLLS:
            return
        task = f"{array.job_id}_{i}"
        now = time.monotonic()
        if i not in array.deadline:
            state = slurm_cli.sacct(task)
            # accounting says how it ended: a task that did not complete wrote no reply, and runs no more
            ended = state is not None and state != "COMPLETED" and state not in slurm_cli.ACTIVE_STATES
            array.deadline[i] = now if ended else now + self._options.grace
        if now < array.deadline[i]:
            return
        if not slurm_cli.scancel([task]):
            return  # Slurm did not take the cancel: try again at the next look rather than risk two runs
        if i in slurm_folder.replied(array.folder):  # written just before the cancel
            _answer(array, i)
        else:
            array.futures.pop(i).set_exception(BrokenExecutor(_lost(array, i, slurm_cli.sacct(task))))

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
        self._cancel_arrays()
        self._fail_all(CancelledError())


def _answer(array: _Array, i: int) -> None:
    """Give task ``i``'s reply to its future."""
    ok, value = slurm_folder.read_reply(array.folder, i)
    fut = array.futures.pop(i)
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def _lost(array: _Array, i: int, state: str | None) -> str:
    """Why task ``i`` failed: it ended without a reply; its final state if Slurm's accounting knows it, and the
    end of its log."""
    task = f"Slurm array task {array.job_id}_{i} ended without a result"
    if state is None:
        task += " (cancelled with scancel, past its time limit, or its node failed)"
    elif state == "COMPLETED":
        task += (
            " (sacct: COMPLETED, but no reply appeared in results/ within the grace; raise it, as in "
            "slurm-array?grace=120)"
        )
    else:
        task += f" (sacct: {state})"
    tail = slurm_folder.log_tail(array.folder, i)
    return f"{task}; its log ends: " + " | ".join(tail) if tail else task


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
    call = slurm_folder.read_task(Path(folder), index)
    if call is None:  # the runner is gone and the next one cleared its folder: nothing to do
        print(f"{Path(folder, 'tasks', f'{index}.pkl')}: no such task; its run has ended", file=sys.stderr)
        return 0
    freeze_environ()
    spawn_here()
    slurm_folder.write_reply(Path(folder), index, reply(*call))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
