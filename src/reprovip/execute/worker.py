"""Local worker processes: each runs the jobs the runner sends through a pipe, one at a time, and sends back results.

:mod:`reprovip.execute.local` starts one fresh interpreter with :func:`start` and a pair of pipe descriptors per
worker. That process imports what workers need (readers, numpy) and reads the machine's provenance once, then
forks the other workers from itself: a pool of N workers pays the start-up cost once, not N times, and no worker
is a fork of the runner. The forked workers are its children: when the runner stops the pool, it reaps them
before it exits, and the runner reaps it, so nothing of the pool outlives ``reprovip run`` (not even a zombie
in its process group).

Protocol: the worker first sends its process id (it is ready); then jobs are pickles of ``(function, args,
kwargs)`` and each reply is ``(True, value)`` or ``(False, exception)``, in order. The runner may queue the next
job before the current one ends. The runner hanging up the job pipe means stop: a running application is killed
first (:func:`~reprovip.execute.sandbox.watch_control`) and queued jobs are not started, so a runner that dies,
even by SIGKILL, leaves nothing running.

Each worker is a child subreaper (Linux; :func:`~reprovip.execute.sandbox.become_subreaper`): a process an
application starts and leaves running, even detached in a session of its own, is re-parented to the worker, which
kills and reaps it when the application exits, before its outputs are collected and its working folder reused.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from reprovip.execute.provenance import machine_provenance
from reprovip.execute.sandbox import (
    become_subreaper,
    control_hung_up,
    drop_spare_tmps,
    freeze_environ,
    spawn_here,
    watch_control,
)

Channel = tuple[int, int]  # (job pipe read end, result pipe write end)


def start(channels: list[Channel]) -> None:
    """Warm up, fork a worker for each channel after the first, and serve the first one in this process."""
    # A Python-level handler, unlike SIG_IGN, is reset to the default in the applications the workers start.
    signal.signal(signal.SIGINT, _ignore)
    import reprovip.readers  # noqa: F401  every execution's outputs are hashed with them

    machine_provenance()  # cached, and inherited by the forked workers
    freeze_environ()
    spawn_here()
    children = [_fork(channels, channel) for channel in channels[1:]]
    main(*channels[0], siblings=channels, children=children)


def _fork(channels: list[Channel], channel: Channel) -> int:
    """Start a worker for ``channel`` in a child process; return its process id."""
    pid = os.fork()
    if pid == 0:
        try:
            main(*channel, siblings=channels)
        finally:
            os._exit(0)
    return pid


def _close_on_exec() -> None:
    """Mark every descriptor above stderr close-on-exec: ``posix_spawn`` does not close them like Popen does.

    An application holding the result pipe would keep the runner waiting for its end after the worker died.
    """
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            with contextlib.suppress(OSError):
                os.set_inheritable(int(name), False)


def _ignore(signum: int, frame: Any) -> None:
    """Ctrl-C reaches the whole terminal process group; the runner decides what to stop."""


_sent_provenance: set[str] = set()


def _once(result: Any) -> Any:
    """Send this machine's provenance record with the first result only; later ones name it by its hash.

    The runner records a worker's results in the order the worker sent them, so the record is stored first.
    """
    if isinstance(result, dict) and result.get("provenance_hash"):
        if result["provenance_hash"] in _sent_provenance:
            result["provenance"] = None
        else:
            _sent_provenance.add(result["provenance_hash"])
    return result


def reply(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """Run ``fn(*args, **kwargs)`` and pickle its reply, as a worker sends it to the runner.

    Local workers write it to their result pipe; a ``slurm-array`` task (:mod:`reprovip.execute.slurm_array`)
    writes it to its reply file; the runner reads both the same way.

    Parameters
    ----------
    fn : callable
        The job (``run_task``).
    args, kwargs : tuple, dict
        Its arguments.

    Returns
    -------
    bytes
        The pickle of ``(True, value)``, or of ``(False, exception)`` when ``fn`` raised; an exception that
        cannot be pickled travels as a ``RuntimeError`` quoting it. This machine's provenance record travels
        with the first result only (later ones name it by its hash).

    Examples
    --------
    >>> import pickle
    >>> pickle.loads(reply(divmod, (7, 2), {}))
    (True, (3, 1))
    >>> pickle.loads(reply(divmod, (7, 0), {}))
    (False, ZeroDivisionError('integer division or modulo by zero'))
    """
    try:
        answer: tuple[bool, Any] = (True, _once(fn(*args, **kwargs)))
    except Exception as exc:  # the runner gets it from the future, as from any executor
        answer = (False, exc)
    try:
        return pickle.dumps(answer)
    except Exception as exc:  # an exception that cannot travel is sent as its text
        return pickle.dumps((False, RuntimeError(f"{answer[1]!r} (not picklable: {exc})")))


def main(job_fd: int, result_fd: int, *, siblings: Sequence[Channel] = (), children: Sequence[int] = ()) -> None:
    """Serve jobs from ``job_fd`` until end of file, writing each result to ``result_fd``, then exit.

    ``siblings``: every worker's channel, of which all but this one are closed here. ``children``: the workers
    forked from this one, reaped before it exits when the runner stops the pool (it stops them all at once) or
    is gone; not after an error, when the runner may be waiting for this process while the others still serve.
    """
    code = 1
    try:
        for fd in {fd for channel in siblings if channel != (job_fd, result_fd) for fd in channel}:
            os.close(fd)
        _close_on_exec()
        # Each worker for itself (fork does not pass it on): what an application leaves running comes here,
        # to be killed when it exits; the workers forked from this one are not an application's.
        become_subreaper(spare=children)
        _serve(job_fd, result_fd)
        code = 0
    except BrokenPipeError:
        # The runner is gone (killed, even by SIGKILL): its application was killed already, and nobody is
        # left to read a traceback; the terminal would get one per worker.
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        drop_spare_tmps()
        sys.stdout.flush()
        sys.stderr.flush()
        if code == 0:
            for pid in children:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        # Skip the interpreter's teardown (tens of milliseconds with numpy loaded): the runner waits for it.
        os._exit(code)


def _serve(job_fd: int, result_fd: int) -> None:
    watch_control(job_fd)
    with os.fdopen(job_fd, "rb") as jobs, os.fdopen(result_fd, "wb") as results:
        pickle.dump(os.getpid(), results)  # ready: the runner tells a worker that cannot start from one that died
        results.flush()
        while not control_hung_up():  # jobs sent ahead are not started once the runner has stopped
            try:
                fn, args, kwargs = pickle.load(jobs)
            except EOFError:
                return
            results.write(reply(fn, args, kwargs))
            results.flush()
