"""The local backend: ``--jobs`` worker processes on this machine, each running one execution at a time.

Processes rather than threads: the work around each execution (starting it, waiting for it, hashing and storing
its outputs) is Python, and threads would share one interpreter lock with the runner's catalog writes. One
fresh interpreter is started, which forks the other workers from itself (:mod:`reprovip.execute.worker`); none
is a fork of the runner: they inherit no lock, thread, store lock or database connection of the runner, which
may be a notebook kernel, and they import nothing of the caller's script (``multiprocessing``'s ``spawn`` would
re-import an unguarded ``__main__``).

Each worker is fed by one thread of the runner through a pair of pipes, one job ahead (:data:`PREFETCH`), so
that it never waits for the runner between two executions. Stopping is closing a worker's job pipe:
it kills the application it runs and exits. That happens on Ctrl-C (workers ignore the signal; the runner
handles it), on any error in the runner, and when the runner is killed (the kernel closes the pipe).
A worker that dies is replaced, and its execution fails with :class:`~concurrent.futures.BrokenExecutor`
(the runner kills what it left running and retries it like any failure); a worker that cannot start breaks
the pool: every execution then fails with the reason.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from dataclasses import dataclass
from typing import Any, BinaryIO

import reprovip
from reprovip.execute.backends import Backend, executor_options

RUNNING_EVERY = 1.0  # seconds between two reports of the executions started (one catalog transaction each)

# The folder reprovip is imported from: workers import the very same code, installed or not.
_IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(reprovip.__file__)))


class _NotStarted(Exception):
    """A worker exited before it was ready."""


class _Worker:
    """The runner's end of one worker: its two pipes, and its process when the runner started it."""

    def __init__(self, jobs: BinaryIO, results: BinaryIO, proc: subprocess.Popen[bytes] | None) -> None:
        self.jobs, self.results, self.proc = jobs, results, proc
        self.pid: int | None = None  # sent by the worker once it is ready
        self._lock = threading.Lock()  # sending a job and closing the pipe come from different threads

    def send(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Queue ``fn(*args, **kwargs)`` in the worker's job pipe.

        Raises
        ------
        _NotStarted
            The worker could not start.
        OSError, EOFError
            It was stopped, or died.
        """
        if self.pid is None:
            try:
                self.pid = pickle.load(self.results)  # its first message: ready
            except EOFError:
                raise _NotStarted from None
        with self._lock:
            if self.jobs.closed:
                raise EOFError("worker stopped")
            pickle.dump((fn, args, kwargs), self.jobs)
            self.jobs.flush()

    def receive(self) -> tuple[bool, Any]:
        """The next reply, ``(True, value)`` or ``(False, exception)``; EOFError if the worker died."""
        return pickle.load(self.results)

    def stop(self) -> None:
        """Close the job pipe: the worker kills its application, if any, and exits."""
        with self._lock:
            with contextlib.suppress(OSError):
                self.jobs.close()

    def join(self) -> str:
        """Wait until the worker has exited; say which one, and how when the runner started it."""
        if not self.results.closed:
            with contextlib.suppress(OSError):
                self.results.read()  # end of file: the worker is gone
            self.results.close()
        pid = self.pid or (self.proc.pid if self.proc else None)
        said = [f"process {pid}"] if pid else []
        if self.proc:
            said.append(f"exit code {self.proc.wait()}")
        return ", ".join(said) or "a forked worker that never said it was ready"


def start_workers(n: int) -> list[_Worker]:
    """Start ``n`` workers: one fresh interpreter, which forks the others (see :mod:`reprovip.execute.worker`)."""
    runner_ends, worker_ends = [], []
    for _ in range(n):
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        runner_ends.append((job_w, res_r))
        worker_ends.append((job_r, res_w))
    # -P: the current folder is not put first on sys.path (a study folder's `select.py` must not shadow the
    # standard library); reprovip's folder is added only when the interpreter would not find it by itself.
    code = (
        f"import os, sys; root = {_IMPORT_ROOT!r}\n"
        "if root not in map(os.path.abspath, sys.path): sys.path.insert(0, root)\n"
        f"from reprovip.execute.worker import start; start({worker_ends!r})"
    )
    fds = [fd for pair in worker_ends for fd in pair]
    try:
        proc = subprocess.Popen([sys.executable, "-P", "-c", code], pass_fds=fds, stdin=subprocess.DEVNULL)
    finally:
        for fd in fds:
            os.close(fd)
    return [
        _Worker(os.fdopen(job_w, "wb"), os.fdopen(res_r, "rb"), proc if i == 0 else None)
        for i, (job_w, res_r) in enumerate(runner_ends)
    ]


PREFETCH = 2  # jobs in a worker's pipe at once: the next one is there when the current one ends


@dataclass
class _Item:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    claimed: bool = False  # its future is running (it was sent to a worker that died before starting it)


class LocalPool(Executor):
    """A :class:`~concurrent.futures.Executor` over worker processes (see the module's docstring).

    Parameters
    ----------
    workers : int
        Worker processes, hence calls running at once.
    """

    def __init__(self, workers: int) -> None:
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._broken: str | None = None
        self._closed = False
        self._stopping = False
        self._workers = start_workers(workers)
        self._mark: Callable[[list[str]], None] | None = None
        self._started: list[_Item] = []  # the items that began since the last report (list.append is atomic)
        self._threads = [
            threading.Thread(target=self._serve, args=(i,), name=f"reprovip-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args, **kwargs)`` for the next free worker."""
        if self._closed:
            raise RuntimeError("cannot submit to a local pool after shutdown")
        fut: Future[Any] = Future()
        if self._broken:
            fut.set_exception(BrokenExecutor(self._broken))
        else:
            self._queue.put(_Item(fut, fn, args, kwargs))
        return fut

    def report_running(self, mark: Callable[[list[str]], None]) -> None:
        """Call ``mark(execution ids)`` about every :data:`RUNNING_EVERY` seconds with the executions a worker
        began since (those not finished yet; the runner gives ``Catalog.mark_running``): the dashboard and
        ``status`` read "running 0" beside two busy workers (a review). A worker begins the first job in its
        pipe, the others wait there."""
        self._mark = mark
        threading.Thread(target=self._report, name="reprovip-running", daemon=True).start()

    def _report(self) -> None:
        while not self._closed:
            time.sleep(RUNNING_EVERY)
            started, self._started = self._started, []
            ids = [i for it in started if not it.future.done() and (i := getattr(it.args[0], "execution_id", None))]
            if ids and self._mark is not None:
                with contextlib.suppress(Exception):  # a busy catalog: what it shows waits for the next report
                    self._mark(ids)

    def _begun(self, inflight: collections.deque[_Item]) -> None:
        """The head of a worker's pipe is the job it runs: noted for :meth:`report_running`."""
        if self._mark is not None and inflight and inflight[0].args:
            self._started.append(inflight[0])

    def _serve(self, i: int) -> None:
        """Feed worker ``i`` and hand its replies to their futures until shutdown."""
        inflight: collections.deque[_Item] = collections.deque()
        closing = False
        while not closing or inflight:
            # Keep up to PREFETCH jobs in the worker's pipe; wait for new work only when it has none.
            while not closing and len(inflight) < PREFETCH:
                try:
                    item = self._queue.get_nowait() if inflight else self._queue.get()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                elif self._claim(item):
                    try:
                        self._workers[i].send(item.fn, item.args, item.kwargs)
                    except Exception as exc:  # noqa: BLE001 - a dead or unstartable worker, handled below
                        inflight.append(item)
                        self._lost(i, inflight, exc)
                        continue
                    inflight.append(item)
                    if len(inflight) == 1:
                        self._begun(inflight)
            if inflight:
                try:
                    ok, value = self._workers[i].receive()
                except Exception as exc:  # noqa: BLE001
                    self._lost(i, inflight, exc)
                    continue
                fut = inflight.popleft().future
                self._begun(inflight)
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)

    def _claim(self, item: _Item) -> bool:
        """Mark the item's future running; False when it was cancelled or the pool is broken."""
        if not item.claimed:
            if not item.future.set_running_or_notify_cancel():
                return False
            item.claimed = True
        if self._broken:
            item.future.set_exception(BrokenExecutor(self._broken))
            return False
        return True

    def _lost(self, i: int, inflight: collections.deque[_Item], exc: BaseException) -> None:
        """Worker ``i`` could not start or died: fail what it was running, queue again what it had not begun."""
        worker = self._workers[i]
        worker.stop()
        if isinstance(exc, _NotStarted):
            self._broken = f"a local worker could not start ({worker.join()}): see its message above"
            reason = self._broken
        else:
            reason = f"its local worker died ({worker.join()}, {exc.__class__.__name__})"
            if not self._stopping:
                self._workers[i] = start_workers(1)[0]
        inflight.popleft().future.set_exception(BrokenExecutor(reason))
        while inflight:  # sent ahead, never started: they belong to the next free worker
            item = inflight.popleft()
            if self._stopping or self._broken:
                item.future.set_exception(BrokenExecutor(reason))
            else:
                self._queue.put(item)

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and not item.future.cancel():  # sent back by a dead worker: already claimed
                item.future.set_exception(CancelledError())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; let the queued ones run (unless ``cancel_futures``), then stop the workers."""
        self._closed = True
        if cancel_futures:
            self._cancel_queued()
        for _ in self._threads:
            self._queue.put(None)
        if not wait:
            return
        for t in self._threads:
            t.join()
        # Every worker is stopped before any is waited for: the first one reaps the others it forked.
        for w in self._workers:
            w.stop()
        for w in self._workers:
            w.join()

    def interrupt(self) -> None:
        """Kill the running applications, cancel what is queued and wait for the workers to exit."""
        self._stopping = True
        self._cancel_queued()  # first: nothing queued is sent to a worker being stopped
        for w in self._workers:
            w.stop()
        self.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def local(address: str, jobs: int) -> Iterator[Backend]:
    """A :class:`LocalPool` of ``jobs`` workers; on any exception (Ctrl-C included), stop them at once.

    Parameters
    ----------
    address : str
        ``local`` (no options).
    jobs : int
        Worker processes, hence executions at once.

    Raises
    ------
    InputError
        An option given (``local?x=1`` was accepted silently, review DK6).
    """
    executor_options(address, ())
    pool = LocalPool(jobs)
    try:
        yield Backend(pool, shared_filesystem=True, report_running=pool.report_running)
    except BaseException:
        pool.interrupt()
        raise
    pool.shutdown(wait=True)
