"""Run one execution in its own working directory, environment and process group.

:func:`run_task` is what every backend calls (in a thread, a process or a Dask worker). It never raises for a
failing application: a crash, a timeout or a missing output is a result, recorded like any other.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import difflib
import errno
import functools
import glob
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from reprovip.execute.failures import strip_ansi
from reprovip.execute.provenance import machine_provenance, machine_provenance_hash
from reprovip.execute.render import render, render_argv
from reprovip.store import STORE_DIR
from reprovip.store.blobs import BlobStore, file_hash, suffix_of

_HEAD, _TAIL = 8 * 1024, 56 * 1024
_HOSTNAME = socket.gethostname()
PID_FILE = ".reprovip-pid"
# A run saves a declared stream in its working folder, the application's current folder, under a name of its own:
# as `stdout.txt`, a tool's transcript of that name replaced the printed result, which read "identical" (review H)
STREAM_PREFIX = ".reprovip-"
# An output declared as `{stdout}` or `{stderr}` (optionally followed by a suffix: `{stdout}.csv`) is the whole
# stream, saved next to {outdir} as `<stream><suffix>`; see docs/study-format.md.
STREAM_OUTPUT = re.compile(r"^\{(stdout|stderr)\}((?:\.[A-Za-z0-9]+)*)$")
LISTED = 10  # files named when a declared output is missing
INTERRUPTED = "interrupted: the runner stopped"

# Process groups of executions running in this process, killed on interrupt.
_active_groups: set[int] = set()
_lock = threading.Lock()
# In a local pool worker, the pipe its jobs come through: it reaches end of file when the runner stops or dies,
# and the application running then is killed (see reprovip.execute.local).
_control_fd: int | None = None
_frozen_environ: dict[bytes, bytes] | None = None  # see freeze_environ
_spawn_here = False  # see spawn_here
# Set by become_subreaper: this process's children that are not an application's (a pool's other workers).
_subreaper_spares: frozenset[int] | None = None
_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_SWEEP_PATIENCE = 10.0  # seconds to wait for killed leftovers to die (one stuck in the kernel may not)
# In every application's environment: the attempt it belongs to, `<execution id>/<attempt folder>`. A process
# naming it is that attempt's wherever it is, detached in a session of its own too (see _belongs).
ATTEMPT_VAR = "REPROVIP_ATTEMPT"
_ATTEMPT_KEY = f"\0{ATTEMPT_VAR}=".encode()
# What reprovip saw of an execution that succeeded and that may still make its outputs wrong: one line each in the
# `error` of a done execution, "<tag>: <what>" (docs/running.md); the analysis counts them (reprovip.analyze
# .executions). The pids are in the stderr's note, not here: one message per problem groups the executions.
LEFT_RUNNING = "left running"
INPUT_CHANGED = "changed its input"
MISNAMED = "optional output misnamed"
COPIED = "a copy"  # ingested: the same files as another execution's folder, times to the nanosecond (ingest)
NOTE_TAGS = (LEFT_RUNNING, INPUT_CHANGED, MISNAMED, COPIED)
_INPUT_ENTRIES = 1000  # entries of a subject's input folder listed, two levels deep: a cheap check, not a scan


@dataclass(frozen=True)
class OutputDecl:
    """A declared output: name, glob relative to ``{outdir}``, kind; ``template`` is the declared path when it
    names the execution (``{subject}_brain.nii.gz``) and ``pattern`` that path for one execution."""

    name: str
    pattern: str
    kind: str
    template: str | None = None
    optional: bool = False  # unwritten, it is no missing output (the analysis judges when it is written)

    def rendered(self, values: dict[str, Any]) -> OutputDecl:
        """This output for one execution: the placeholders of its path filled (``{subject}``, ``{repetition}``,
        a factor's value or ``{factor_level}``); a stream (``{stdout}``) is left as it is."""
        if STREAM_OUTPUT.match(self.pattern) or "{" not in self.pattern:
            return self
        # A value is a literal part of the path: `s[1]` as a subject names that file, it is no glob.
        path = render(self.pattern, {k: glob.escape(str(v)) for k, v in values.items()})
        return self if path == self.pattern else OutputDecl(self.name, path, self.kind, self.pattern, self.optional)

    def relpath(self, found: str) -> str:
        """The path the catalog names a file of this output by (``found`` relative to ``{outdir}``): the declared
        template when the path names the execution and is no glob, so that every execution's file is one
        output (``{subject}_brain.nii.gz``), else the file's own path (each file of a glob is its own output)."""
        return self.template if self.template and not glob.has_magic(self.template) else found


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
    # Without a work_root (no shared folder), the runner's own folder under the worker's temporary folder: two runs
    # of copies of one study share execution ids, and one's attempt took the other's running ones for its earlier
    # attempts, killed them and removed their folders
    scratch: str = ""
    return_bytes: bool = False
    blob_root: str | None = None  # shared store: the worker moves outputs into it and removes its workdir
    failed_root: str | None = None  # where the working folder of a failed execution is kept (None: removed)
    extra: dict[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()  # variables other conditions set: not handed down from the caller's environment


class _Capped:
    """Keep a stream's head and tail: an app printing gigabytes cannot fill memory or disk."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = _HEAD - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > _TAIL:
            self.dropped += len(self.tail) - _TAIL
            del self.tail[: len(self.tail) - _TAIL]

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes not kept ...]\n" if self.dropped else ""
        return bytes(self.head).decode(errors="replace") + middle + bytes(self.tail).decode(errors="replace")


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


def freeze_environ() -> None:
    """Copy this process's environment once (a local worker's never changes) instead of once per execution."""
    global _frozen_environ
    _frozen_environ = dict(os.environb)


def watch_control(fd: int) -> None:
    """Kill the running application when the writer of pipe ``fd`` hangs up (a local worker's job pipe).

    Only the hang-up counts: jobs queued in the pipe ahead of time are data, not a signal to stop.
    """
    global _control_fd
    _control_fd = fd


def control_hung_up() -> bool:
    """True when the control pipe set by :func:`watch_control` has been closed by its writer."""
    if _control_fd is None:
        return False
    poller = select.poll()
    poller.register(_control_fd, 0)  # no events asked: poll still reports POLLHUP
    return bool(poller.poll(0))


def become_subreaper(spare: Collection[int] = ()) -> bool:
    """Adopt what the applications this process starts leave running, to kill it when they exit (Linux only).

    With ``PR_SET_CHILD_SUBREAPER``, a process an application started and left behind, even in a session of
    its own (``setsid``, a daemon), is re-parented to this process instead of init, so :func:`_wait` finds
    and kills it (:func:`_sweep`) before the outputs are collected and the working folder is reused. Only for a
    process running one execution at a time (a local worker): the leftovers of one execution could not be told
    from another's. ``spare``: children of this process that are not applications (the workers it forked).

    Returns
    -------
    bool
        Whether this process is now a subreaper (False, quietly, elsewhere than on Linux).

    Examples
    --------
    In a process of its own (a subreaper kills every child it has but ``spare`` after each execution):

    >>> import subprocess, sys
    >>> code = "from reprovip.execute.sandbox import become_subreaper; print(become_subreaper())"
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    'True'
    """
    global _subreaper_spares
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        return False
    _subreaper_spares = frozenset(spare)
    return True


class _Proc(NamedTuple):
    """What ``/proc/<pid>/stat`` says of a process that :func:`_stat` needs."""

    state: bytes  # b"Z": a zombie
    ppid: int
    pgrp: int
    session: int


def _stat(pid: int) -> _Proc | None:
    """Process ``pid``'s state letter, parent, process group and session from ``/proc/<pid>/stat``; None when gone."""
    try:  # os.open: a third of the cost of open()
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            stat = os.read(fd, 1024)
        finally:
            os.close(fd)
    except OSError:
        return None
    state, ppid, pgrp, session = stat[stat.rindex(b")") + 2 :].split(maxsplit=4)[:4]
    return _Proc(state, int(ppid), int(pgrp), int(session))


def _attempt_of(pid: int) -> bytes | None:
    """The attempt process ``pid``'s environment names (:data:`ATTEMPT_VAR`); None when it names none or cannot be
    read (gone, another user's)."""
    chunks = []
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY)
        try:
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
    except OSError:
        return None
    environ = b"\0" + b"".join(chunks)
    at = environ.find(_ATTEMPT_KEY)
    if at < 0:
        return None
    at += len(_ATTEMPT_KEY)
    end = environ.find(b"\0", at)
    return environ[at:] if end < 0 else environ[at:end]


def _belongs(pid: int, proc: _Proc, session: int, mine: Callable[[bytes], bool]) -> bool | None:
    """Whether process ``pid`` is the attempt's: naming an attempt in its environment (:data:`ATTEMPT_VAR`), as
    ``mine`` of that name says (a detached one too); naming none (its environment cleared or unreadable), True in
    the application's ``session``, else None (no application's at all, or one that hides whose it is).

    The name first: a process naming another attempt is never this one's, even in a session whose id is this
    application's pid, reused once every process of its session had ended.
    """
    named = _attempt_of(pid)
    if named is not None:
        return mine(named)
    return True if proc.session == session else None


def _left_behind(session: int, mine: Callable[[bytes], bool]) -> list[int]:
    """The live processes of this machine that are the attempt's (:func:`_belongs`): 1.5 ms for 80 processes."""
    me = os.getpid()
    return [
        pid
        for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if pid != me and (st := _stat(pid)) and st.state != b"Z" and _belongs(pid, st, session, mine)
    ]


def _kill_if_belongs(pid: int, session: int, mine: Callable[[bytes], bool]) -> bool:
    """SIGKILL process ``pid`` if it is the attempt's; through a pidfd, so that a pid reused meanwhile is not hit."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:  # checked after the pidfd is open: if the pid was reused since, the check sees the process the pidfd holds
        st = _stat(pid)
        if st is None or st.state == b"Z" or not _belongs(pid, st, session, mine):
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def _end_left_behind(session: int, mine: Callable[[bytes], bool], *, grace: float) -> list[int]:
    """Outside a subreaper (a Dask or Slurm worker, which may run several executions at once), give what the
    application left running, in its session or naming its attempt (:func:`_belongs`), ``grace`` seconds to end,
    as :func:`_grace` does in a local worker; kill what still runs and return its pids, which the caller notes.

    A background writer in a process group of its own (``setpgid``) was missed there, only the application's group
    being looked at: its CSV lacked its last row and the study read "bit-for-bit identical" under `dask-local`
    where the local executor said "not analysable" (review DK).
    """
    until = time.monotonic() + grace
    while (left := _left_behind(session, mine)) and time.monotonic() < until:
        time.sleep(0.01)
    killed: list[int] = []
    give_up = time.monotonic() + _SWEEP_PATIENCE
    while left and time.monotonic() < give_up:
        killed += [pid for pid in left if _kill_if_belongs(pid, session, mine) and pid not in killed]
        time.sleep(0.001)  # the killed ones die; what they started is found in the next round
        left = _left_behind(session, mine)
    return killed


def end_attempts(attempts: Collection[str]) -> list[int]:
    """Kill every process of this machine whose environment names one of ``attempts`` (``<execution id>/<attempt
    folder>``, :data:`ATTEMPT_VAR`); return their pids.

    For attempts that are over but whose processes may not be: their worker died (a Dask worker killed), or the
    runner did. A recorded process group misses a child that moved to a group or session of its own.

    Parameters
    ----------
    attempts : Collection[str]
        The attempts whose processes are killed; none: nothing is looked at.

    Returns
    -------
    list[int]
        The pids killed.
    """
    if not attempts:
        return []
    names = {a.encode() for a in attempts}
    return _end_left_behind(-1, names.__contains__, grace=0.0)  # no session: its leader's pid may be reused


def _own_children() -> list[tuple[int, _Proc]]:
    """This process's children, with their :func:`_stat`.

    Candidates from ``/proc/self/task/*/children`` where the kernel has it (``CONFIG_PROC_CHILDREN``), else every
    process (this development machine's kernel: about 1 ms for 80 processes); each checked in its ``stat``.
    """
    if os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children"):
        candidates = []
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(FileNotFoundError), open(f"/proc/self/task/{tid}/children", "rb") as fh:
                candidates += map(int, fh.read().split())
    else:
        candidates = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    me = os.getpid()
    return [(pid, st) for pid in candidates if (st := _stat(pid)) and st.ppid == me]


LEFTOVER_GRACE = 2.0  # seconds what an application started may take to end on its own once it has exited


def _grace(session: int, mine: Callable[[bytes], bool]) -> None:
    """Give what the application started a moment to end on its own before the sweep kills it and notes it
    "left running": a process pool's helpers (joblib's loky workers, multiprocessing's resource tracker and
    forkserver) exit as soon as their parent is gone; killed at once, every execution of a scikit-learn or
    nilearn tool read "not analysable" (a review). What still runs after :data:`LEFTOVER_GRACE` is killed.
    Another attempt's orphans adopted here (see :func:`_sweep`) are not waited for."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # no child at all (a lone worker, most of the time): nothing was left
        return
    spare = _subreaper_spares or frozenset()
    until = time.monotonic() + LEFTOVER_GRACE
    while any(
        st.state != b"Z" and pid not in spare and _belongs(pid, st, session, mine) is not False
        for pid, st in _own_children()
    ):
        if time.monotonic() > until:
            return
        time.sleep(0.01)


def _sweep(session: int, mine: Callable[[bytes], bool], *, group_killed: bool = False) -> tuple[list[int], list[int]]:
    """Kill and reap every descendant of this subreaper but its spare children (see :func:`become_subreaper`).

    Only this process's own children are killed, never a deeper descendant: a child's pid cannot be reused before
    this process reaps it, so no unrelated process is hit. The children of a killed process are re-parented
    here as it dies, and the next round kills them. Returns the pids killed (those still running), and with
    ``group_killed`` (the application's group was just killed as it exited) those of its session found dead of
    that SIGKILL: a child left running in the application's group (a writer forked in the background) was counted
    only when the sweep came before the group's kill landed (a review's runs noted 12 of 15 such executions).

    They come in two lists: the attempt's, and those naming another attempt in their environment
    (:func:`_belongs`): a dead sibling worker's application, re-parented here, was noted "left running" by the
    execution this worker ran next, and an innocent execution made the study "not analysable" (review DK). A
    process naming no attempt (its environment cleared) is counted as the attempt's: never a pass unsaid.
    """
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # no child at all (a lone worker, most of the time): no need to read /proc
        return [], []
    spare, killed, foreign = _subreaper_spares or frozenset(), [], []
    give_up = time.monotonic() + _SWEEP_PATIENCE
    while left := [c for c in _own_children() if c[0] not in spare]:
        for pid, st in left:
            if st.state == b"Z":
                with contextlib.suppress(ChildProcessError):
                    _, status = os.waitpid(pid, os.WNOHANG)
                    by_kill = status and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
                    if group_killed and by_kill and st.session == session and pid not in killed:
                        killed.append(pid)
                continue
            if pid not in killed and pid not in foreign:  # read before the kill: a dead process has no environ
                (killed if _belongs(pid, st, session, mine) is not False else foreign).append(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > give_up:
            break
        time.sleep(0.001)  # the killed ones die, and their children come here
    return killed, foreign


class _Started(NamedTuple):
    """A started application: its process id and the read ends of its stdout and stderr pipes."""

    pid: int
    stdout: int
    stderr: int
    proc: subprocess.Popen[bytes] | None = None  # kept alive until reaped, when Popen started it


def spawn_here() -> None:
    """Let :func:`_start` use ``posix_spawn``: only for a process with one thread running executions.

    ``posix_spawn`` costs a fraction of ``subprocess.Popen``, but it cannot set the application's working
    directory, so this process changes its own around each start.
    """
    global _spawn_here
    _spawn_here = True


def _start(argv: list[str], env: dict[bytes, bytes], cwd: str) -> _Started:
    """Start ``argv`` in ``cwd`` with ``env``, in a session of its own, stdin from /dev/null, stdout/stderr piped."""
    if not _spawn_here:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=_devnull(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills every child too
        )
        out, err = os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno())  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        return _Started(proc.pid, out, err, proc)
    # Like Popen, look the program up in the PATH the application gets.
    path = env.get(b"PATH", os.defpath.encode()).decode(errors="surrogateescape")
    exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=path)
    if exe is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", argv[0])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    here = os.getcwd()
    try:
        os.chdir(cwd)
        pid = os.posix_spawn(
            exe,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, _devnull(), 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
            setsid=True,  # its own process group, so a timeout kills every child too
        )
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.chdir(here)
        os.close(out_w)
        os.close(err_w)
    return _Started(pid, out_r, err_r)


class _Waited(NamedTuple):
    """How a started application ended (see :func:`_wait`)."""

    code: int
    peak_rss: int  # bytes
    killed: str | None  # "timeout", "interrupted" or None
    stdout: str
    stderr: str
    leftovers: list[int]  # processes it left running, killed when it exited
    notes: list[str]  # what reprovip did about such processes (and another attempt's), for the user


def _wait(started: _Started, timeout: float, attempt: bytes, sinks: list[tuple[str, int]] | None = None) -> _Waited:
    """Drain the started application's pipes and wait for it in this thread, killing its group at ``timeout``.

    One ``poll`` loop over both pipes, a pidfd and the control pipe, if any: no helper threads per execution.
    ``sinks`` pairs ``"stdout"``/``"stderr"`` with file descriptors that receive the whole stream (a stream
    declared as an output); the returned texts are capped either way. When the application exits, what it left
    running is killed: in a subreaper (:func:`become_subreaper`) every process re-parented here but another
    attempt's, detached or not; elsewhere every process in its session or naming ``attempt`` (:data:`ATTEMPT_VAR`)
    in its environment. One that escapes both (detached, its environment cleared) and keeps the pipes open is not
    waited for past ``timeout``: reading stops. Closes the pipes and reaps the process.
    """
    pid = started.pid
    out, err = _Capped(), _Capped()
    open_fds = {started.stdout: out, started.stderr: err}
    tee = {
        pipe: [fd for stream, fd in sinks or () if stream == name]
        for pipe, name in ((started.stdout, "stdout"), (started.stderr, "stderr"))
    }
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + timeout
    killed, status, usage, leftovers, foreign, notes = None, None, None, [], [], []
    mine: Callable[[bytes], bool] = attempt.__eq__  # the attempt a process's environment names is this one
    stopped_reading = False
    poller = select.poll()
    try:
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        if _control_fd is not None:
            poller.register(_control_fd, 0)  # hang-up only
        while open_fds or status is None:
            left = deadline - time.monotonic()
            if left <= 0 and status is not None:
                stopped_reading = True  # exited, but a process it started still holds a pipe: not a timeout
                break
            if left <= 0 and not killed:
                killed = "timeout"
                kill_group(pid)
            for fd, _ in poller.poll(50 if killed else max(left * 1000, 1)):
                if fd == _control_fd:
                    killed = killed or "interrupted"
                    poller.unregister(fd)
                    kill_group(pid)
                elif fd == pidfd:
                    poller.unregister(pidfd)
                    _, status, usage = os.wait4(pid, 0)  # reaped first: its session outlives it while a member runs
                    if _subreaper_spares is None:
                        # Its session (it leads it: its group, and a child in a group of its own, are in it) and
                        # its attempt's name find them wherever they are. No group kill after: every member of
                        # its group is in its session, and once they are gone its pid may be another's group.
                        leftovers = _end_left_behind(pid, mine, grace=0.0 if killed else LEFTOVER_GRACE)
                    else:
                        if not killed:
                            _grace(pid, mine)
                        kill_group(pid)  # children the app left behind end with it (and close the pipes)
                        # Detached ones too: re-parented here when it exited.
                        leftovers, foreign = _sweep(pid, mine, group_killed=not killed)
                elif chunk := os.read(fd, 65536):
                    open_fds[fd].feed(chunk)
                    for sink in tee[fd]:
                        _write_all(sink, chunk)
                else:
                    poller.unregister(fd)
                    del open_fds[fd]
    finally:
        os.close(pidfd)
        os.close(started.stdout)
        os.close(started.stderr)
    code = os.waitstatus_to_exitcode(status)
    if started.proc is not None:
        started.proc.returncode = code  # reaped here: Popen must not wait for it (its pid may be reused)
    if leftovers:  # the one that held a pipe among them
        notes.append(_killed(leftovers, "{who} the application started outlived it and {were} killed"))
    elif stopped_reading:
        notes.append(
            "a process the application started outlived it and kept its output open:"
            f" reading stopped at the timeout ({timeout:g} s)"
        )
    if foreign:  # logged, not blamed: the execution it belongs to failed (its worker died), and is run again
        notes.append(_killed(foreign, "{who} another execution left running {were} killed, not this execution's"))
    # ru_maxrss is in KiB on Linux.
    return _Waited(code, int(usage.ru_maxrss) * 1024, killed, out.text(), err.text(), leftovers, notes)


def _killed(pids: list[int], template: str) -> str:
    """A note on the processes ``pids`` killed: ``template`` with its ``{who}`` and ``{were}``, then the pids."""
    many = len(pids) > 1
    said = template.format(who="processes" if many else "a process", were="were" if many else "was")
    return f"{said} ({'pids' if many else 'pid'} {', '.join(map(str, pids))})"


def _noted(stderr: str, notes: list[str]) -> str:
    """``stderr`` with reprovip's ``notes`` as its last lines, if any."""
    if not notes:
        return stderr
    sep = "" if not stderr or stderr.endswith("\n") else "\n"
    return stderr + sep + "".join(f"[reprovip] {note}\n" for note in notes)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def output_matches(base: str, pattern: str) -> tuple[list[str], list[str]]:
    """The regular files an output pattern names under ``base``, sorted (no globbing for a literal path), and
    what else a glob matched where files are looked for, each said: a link to no file, or a folder named as the
    files are (``stats/roi_5.csv/`` for ``stats/*.csv``; not for a last part ``*`` or ``**``, which names
    folders too). Skipped unsaid, one execution's extra link to a deleted file read "identical" (a review)."""
    full = os.path.join(base, pattern)
    if not glob.has_magic(pattern):
        return ([full] if os.path.isfile(full) else []), []
    files, odd = [], []
    named = pattern.rsplit("/", 1)[-1] not in ("*", "**")
    for p in sorted(glob.glob(os.path.join(glob.escape(base), pattern), recursive=True)):
        rel = os.path.relpath(p, base).replace(os.sep, "/")
        if os.path.isfile(p):
            files.append(p)
        elif os.path.islink(p) and not os.path.exists(p):
            odd.append(f"{rel} is a symbolic link to {os.readlink(p)}, which is no file")
        elif named and os.path.isdir(p):
            odd.append(f"{rel} is a folder, not a file")
    return files, odd


def files_differ(files: dict[str, str]) -> str | None:
    """Why this worker cannot run the application as the runner hashed it, or None: ``files`` maps each file its
    command names (its script, a configuration) to the digest the runner's recipe holds. A worker with no folder
    shared with the runner that saw an older copy of the study at the same path ran that code, recorded under the
    runner's recipe: "identical" while the runner's script was unseeded (review K)."""
    from reprovip.plan.expand import content_digest  # lazy: the planning stage

    for path, digest in files.items():
        if content_digest(Path(path)) != digest:
            return (
                f"this worker ({_HOSTNAME}) sees another {path} than the runner (its bytes differ): a worker runs the "
                "application's files found at the runner's paths; give it the same copy, or share the study's folder"
            )
    return None


def exit_reason(code: int) -> str:
    """How an application's non-zero exit reads: its code, or the signal that ended it, named (a review read
    "exit code -9" for what the out-of-memory killer does).

    Examples
    --------
    >>> exit_reason(2), exit_reason(-11), exit_reason(-99)
    ('exit code 2', 'killed by signal 11 (SIGSEGV: a crash)', 'killed by signal 99')
    >>> exit_reason(-9)
    'killed by signal 9 (SIGKILL: the out-of-memory killer?)'
    """
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"killed by signal {-code}"
    why = {
        "SIGKILL": ": the out-of-memory killer?",
        "SIGSEGV": ": a crash",
        "SIGBUS": ": a crash",
        "SIGABRT": ": an abort",
    }
    return f"killed by signal {-code} ({name}{why.get(name, '')})"


def stream_file(folder: str, pattern: str, *, prefix: str = "") -> str | None:
    """The file in ``folder`` that holds the stream an output declares (``{stdout}.csv``: ``stdout.csv``), or None
    for a file output; a run keeps it under :data:`STREAM_PREFIX` (``.reprovip-stdout.csv``)."""
    m = STREAM_OUTPUT.match(pattern)
    return os.path.join(folder, prefix + m[1] + (m[2] or ".txt")) if m else None


def _collect(outdir: str | os.PathLike[str], decls: list[OutputDecl], return_bytes: bool) -> list[dict[str, Any]]:
    from reprovip.readers import semantic_hash  # lazy: readers pull in nibabel

    outdir = os.fspath(outdir)
    found: list[dict[str, Any]] = []
    for d in decls:
        stream = stream_file(os.path.dirname(outdir), d.pattern, prefix=STREAM_PREFIX)
        odd: list[str] = []
        if stream is not None:
            # An empty stream is no result (the application printed nothing), like a missing file.
            paths = [stream] if os.path.isfile(stream) and os.path.getsize(stream) else []
        else:
            paths, odd = output_matches(outdir, d.pattern)
        if odd:  # a file looked for and not there: as a literal path's link to nothing, it fails the execution
            found.append(dict(name=d.name, relpath=d.pattern, kind=d.kind, missing=True, error="; ".join(odd)))
        elif not paths:
            if not d.optional:
                found.append(
                    dict(name=d.name, relpath=d.template or d.pattern, kind=d.kind, missing=True, error="missing")
                )
            continue
        for p in paths:
            _own_copy(p)
            rec: dict[str, Any] = dict(
                name=d.name,
                relpath=d.pattern if stream else d.relpath(p[len(outdir) + 1 :].replace(os.sep, "/")),
                kind=d.kind,
                path=p,
                blob=file_hash(p),
                suffix=suffix_of(p),
                size=os.path.getsize(p),
                missing=False,
                error=None,
            )
            try:
                rec["semantic_hash"] = semantic_hash(p, kind=d.kind) if rec["size"] else None
            except Exception as exc:  # a corrupt output is a per-output finding, not a crash of the run
                rec["semantic_hash"] = None
                rec["error"] = f"{exc.__class__.__name__}: {exc}"
            if return_bytes:
                with open(p, "rb") as fh:
                    rec["data"] = fh.read()
            found.append(rec)
    return found


def _own_copy(path: str) -> None:
    """Give a hard-linked output a file of its own before it is hashed and moved into the store: moved as it
    was, every execution's blob was the one file a tool's cache rewrote in place (nipype-style links to
    `cache/latest.csv`), all holding the last execution's values, and the study read "identical" (review H)."""
    if not os.path.islink(path) and os.stat(path).st_nlink > 1:
        copy = f"{path}.reprovip-copy"
        shutil.copyfile(path, copy)
        os.replace(copy, path)


def _listing(folder: str, *, skip: tuple[str, ...] = ()) -> str:
    """The files under ``folder`` (relative, sorted), the first :data:`LISTED` of them named."""
    files = []
    for parent, dirs, names in os.walk(folder):
        rel = os.path.relpath(parent, folder)
        dirs[:] = [d for d in dirs if not (rel == "." and d in skip)]
        files += [n if rel == "." else f"{rel}/{n}" for n in names if not (rel == "." and n in skip)]
    files.sort()
    more = f" and {len(files) - LISTED} more" if len(files) > LISTED else ""
    return ", ".join(files[:LISTED]) + more


def folder_output(path: str) -> str:
    """Why an output whose path is a folder is missing: outputs are files (docs/study-format.md)."""
    return f"{path} is a folder, not a file: declare its files with a glob, {path.rstrip('/')}/**"


def _why_missing(workdir: str, d: OutputDecl) -> str:
    """What stands at a missing output's declared path: nothing, a folder, or a link to nothing (a review's
    dangling link read "missing output: res (res.csv); {outdir} holds: res.csv")."""
    at = os.path.join(workdir, "out", d.pattern)
    if STREAM_OUTPUT.match(d.pattern):
        return f"{d.pattern} printed nothing"
    if odd := output_matches(os.path.join(workdir, "out"), d.pattern)[1]:
        return "; ".join(odd)
    if os.path.isdir(at):
        return folder_output(d.pattern)
    if os.path.islink(at):
        return f"{d.pattern} is a symbolic link to {os.readlink(at)}, which is no file"
    return d.pattern


def missing_message(workdir: str, decls: list[OutputDecl], missing: set[str]) -> str:
    """Name each missing output with its declared path, and what the execution wrote instead."""
    streams = tuple(os.path.basename(p) for d in decls if (p := stream_file(workdir, d.pattern, prefix=STREAM_PREFIX)))
    wanted = ", ".join(f"{d.name} ({_why_missing(workdir, d)})" for d in decls if d.name in missing)
    message = f"missing output{'s' if len(missing) > 1 else ''}: {wanted}; "
    produced = _listing(os.path.join(workdir, "out"))
    if produced:
        return message + f"{{outdir}} holds: {produced}"
    elsewhere = _listing(workdir, skip=("out", "input", PID_FILE, *streams))
    if elsewhere:
        return message + f"{{outdir}} is empty; the working folder holds: {elsewhere} (write results into {{outdir}})"
    return message + "the execution wrote no file"


def new_result(task: Task, argv: list[str], **fields: Any) -> dict[str, Any]:
    """The result every backend returns, before anything ran (keys: see :func:`run_task`)."""
    return dict(
        argv=argv,
        env=task.env,
        seed=task.seed,
        started_at=time.time(),
        timed_out=False,
        exit_code=None,
        peak_rss=None,
        stdout="",
        stderr="",
        outputs=[],
        **fields,
    )


@functools.cache
def _devnull() -> int:
    """One read-only descriptor of /dev/null per process, the stdin of every application."""
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


@functools.lru_cache(maxsize=8)
def _blob_store(root: str) -> BlobStore:
    return BlobStore(Path(root))


def run_task(task: Task) -> dict[str, Any]:
    """Run one execution; with ``task.blob_root``, move its outputs (and the traced files ``trace_keep`` names)
    into the blob store and clean up.

    Doing this on the worker keeps the runner's single thread free for catalog writes. A blob moved in
    before the catalog commit is only an orphan if the runner dies in between, and the next run removes it.
    """
    tmpdir = None
    if not {"container", "os"} & set(task.extra) and "TMPDIR" not in task.env:
        # Its own temporary folder, emptied once its outputs are stored (one may be a link into it): a cache an
        # application keeps in /tmp must not carry one execution's result into the next (a review's application
        # did: "identical"). In the system's temporary folder, not the working folder: a short path for the
        # sockets tools make there (108 bytes at most), and no scratch file among the files a trace follows.
        tmpdir = _spare_tmps.pop(threading.get_ident(), None) or tempfile.mkdtemp(prefix="reprovip-")
    try:
        return _run_and_store(task, tmpdir)
    finally:
        if tmpdir is not None:
            _release_tmp(tmpdir)


_spare_tmps: dict[int, str] = {}  # by thread: its emptied temporary folder, for its next execution


def drop_spare_tmps() -> None:
    """Remove the temporary folders kept for a next execution: a worker that stops leaves none behind."""
    while _spare_tmps:
        shutil.rmtree(_spare_tmps.popitem()[1], ignore_errors=True)


atexit.register(drop_spare_tmps)


def _release_tmp(tmpdir: str) -> None:
    """Keep an execution's temporary folder for the next one when it is left empty and private, in a subreaper
    (nothing the application started can still write there); else remove it. Removing and creating a folder
    per execution cost a quarter of a millisecond, a fifth of a trivial execution."""
    try:
        with os.scandir(tmpdir) as entries:
            empty = next(entries, None) is None
        private = os.stat(tmpdir).st_mode & 0o7777 == 0o700
    except OSError:
        empty = private = False
    if empty and private and _subreaper_spares is not None:
        _spare_tmps[threading.get_ident()] = tmpdir
    else:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _run_and_store(task: Task, tmpdir: str | None) -> dict[str, Any]:
    """:func:`run_task` in the execution's temporary folder ``tmpdir`` (None: the environment's)."""
    result = _execute(task, tmpdir)
    if (globs := task.extra.get("trace_keep")) and result.get("trace") and result.get("workdir"):
        from reprovip.execute import trace

        # While the working folder exists; without a store shared with the runner, the trace's note says why.
        store = _blob_store(task.blob_root) if task.blob_root else None
        trace.keep(result["trace"], result["workdir"], globs, store)
    if not task.blob_root and task.return_bytes and result.get("workdir"):
        # A remote worker: the outputs travel back as bytes; nothing is left on the worker.
        workdir = result.pop("workdir")
        shutil.rmtree(workdir, ignore_errors=True)
        _leave(workdir)
    if task.blob_root and result.get("workdir"):
        blobs = _blob_store(task.blob_root)
        for o in result.get("outputs", []):
            if not o["missing"]:
                blobs.adopt(o["path"], o["blob"], o["suffix"])
                o["adopted"] = True
        workdir = result.pop("workdir")
        if task.failed_root and not result["ok"] and not result["error"].startswith(INTERRUPTED):
            # Less its outputs found and its traced files kept (trace_keep): they are in the store.
            result["kept"] = _keep(workdir, task.failed_root, task.execution_id)
        elif _subreaper_spares is None or not _recycle(workdir, _work_root(task)):
            # A folder with more in it, or one a process the application left running may still write to
            # (only a subreaper kills them all; see become_subreaper): renaming is cheap, deleting a tree is
            # not, so the runner deletes the trash in the background.
            trash = os.path.join(_work_root(task), ".trash")
            with contextlib.suppress(FileExistsError):
                os.mkdir(trash)
            os.replace(workdir, os.path.join(trash, f"{task.execution_id}-{time.time_ns()}"))
        _leave(workdir)
    return result


def _work_root(task: Task) -> str:
    """The folder of the executions' working folders, ``<work_root>/<execution id>/<attempt>``."""
    return task.work_root or os.path.join(tempfile.gettempdir(), "reprovip-work", *filter(None, [task.scratch]))


def _leave(workdir: str) -> None:
    """Remove the folder of an execution's attempts once its last attempt's folder has gone."""
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(workdir))


def _end_earlier(execution_id: str, attempts: str) -> None:
    """Kill what earlier attempts of an execution left running on this machine, the attempts whose folders
    ``attempts`` holds, found by the attempt their environment names, and remove those folders: an attempt whose
    worker died (a Dask worker killed) leaves its application running, and its folder behind (review DK). Only
    those: another runner's attempts of the same execution id (a copy of the study) are in its own folder."""
    try:
        names = os.listdir(attempts)
    except FileNotFoundError:  # removed meanwhile by the attempt that just ended
        return
    earlier = {f"{execution_id}/{name}".encode() for name in names}  # this runner's: see Task.scratch
    _end_left_behind(-1, earlier.__contains__, grace=0.0)  # no session: its leader's pid is stale
    for name in names:
        shutil.rmtree(os.path.join(attempts, name), ignore_errors=True)


def _keep(workdir: str, failed_root: str, execution_id: str) -> str:
    """Move a failed execution's working folder to ``failed_root/<execution_id>`` for inspection; return that path.

    Its modification time is set to now: the runner keeps the newest folders (see ``run --keep-failed``).
    """
    os.makedirs(failed_root, exist_ok=True)
    kept = os.path.join(failed_root, execution_id)
    if os.path.lexists(kept):  # an earlier failure of the same execution
        shutil.rmtree(kept, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(workdir, PID_FILE))
    os.replace(workdir, kept)
    os.utime(kept)
    return kept


def _spare(root: str) -> str:
    """Where this process (and thread) keeps an emptied working folder for its next execution."""
    return os.path.join(root, f".spare-{os.getpid()}-{threading.get_ident()}")


def _recycle(workdir: str, root: str) -> bool:
    """Keep a working folder whose outputs were moved away as the spare, if only an empty ``out/`` is left.

    Renaming it back for the next execution replaces removing two folders and creating two, which are slow where
    the filesystem discards freed blocks. False, with the folder left in place, when anything else is in it.
    """
    try:
        with os.scandir(os.path.join(workdir, "out")) as entries:
            if next(entries, None) is not None:
                return False
        with os.scandir(workdir) as entries:
            if any(e.name not in ("out", PID_FILE) for e in entries):
                return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(workdir, PID_FILE))
        os.rename(workdir, _spare(root))
    except OSError:
        return False
    return True


def _execute(task: Task, tmpdir: str | None = None) -> dict[str, Any]:
    """Run one execution and return its result as a plain dict.

    Keys: ``ok``, ``exit_code``, ``timed_out``, ``duration``, ``peak_rss``, ``stdout``, ``stderr``, ``error``,
    ``argv``, ``env`` (what reprovip set), ``seed``, ``provenance`` and ``provenance_hash`` (a local worker sends
    the record once, then only its hash), ``hostname``, ``pid``, ``started_at``,
    ``finished_at``, ``workdir``, ``leftovers`` (the processes the application left running, killed when it
    exited: see :func:`_wait`) and ``outputs`` (name, relpath, kind, path, blob,
    suffix, size, semantic_hash, missing, error; ``data`` when ``task.return_bytes``).
    """
    # os.path rather than pathlib: this runs once per execution, and short executions are common.
    root = _work_root(task)
    attempts = os.path.join(root, task.execution_id)
    try:
        os.mkdir(attempts)
    except FileExistsError:
        _end_earlier(task.execution_id, attempts)
    except FileNotFoundError:
        os.makedirs(attempts)
    # A folder of its own per attempt: the application of an attempt whose worker died, still running, wrote
    # into the next attempt's {outdir}, the same path then, and that attempt was done with a file it never wrote
    # (review DK). Random: attempts on several machines sharing the study's folder need no counter in common.
    attempt = secrets.token_hex(4)
    workdir = os.path.join(attempts, attempt)
    outdir = os.path.join(workdir, "out")
    try:
        os.rename(_spare(root), workdir)  # the previous execution's emptied folder, with its empty out/
    except OSError:
        try:
            os.mkdir(workdir)
        except FileNotFoundError:  # `attempts` removed meanwhile by an attempt of the execution that just ended
            os.makedirs(workdir)
        os.mkdir(outdir)
    values = dict(task.values, outdir=outdir, workdir=workdir)
    if "perturb" in task.extra:
        from reprovip.execute.perturb import perturb_file, unperturbable

        p = task.extra["perturb"]
        # The unperturbed levels get the same copy without noise, where one can be made (not of a folder a
        # `verrou`-only study runs on)
        if p["ulps"] > 0 or unperturbable(Path(values["input"])) is None:
            indir = Path(workdir, "input")
            indir.mkdir()
            values["input"] = str(perturb_file(Path(values["input"]), indir, ulps=p["ulps"], seed=p["seed"]))
    argv = render_argv(task.argv, values)
    if "boutiques" in task.extra and task.extra["boutiques"].get("launcher", "simulate") == "simulate":
        from reprovip.spec.boutiques import boutiques_command

        b = task.extra["boutiques"]
        try:
            command = boutiques_command(b["descriptor"], b["invocation"], values, Path(workdir))
            argv = command.argv + argv
            # The descriptor's environment-variables, applied over the study's as `bosh exec launch` does.
            task = replace(task, env={**task.env, **command.env})
        except Exception as exc:  # an invalid invocation is this execution's failure, reported as such
            error = f"Boutiques could not build the command: {str(exc).strip()[:300]}"
            failed = new_result(task, [], workdir=workdir, ok=False, error=error, duration=0.0)
            return dict(failed, finished_at=failed["started_at"])
    result = new_result(
        task,
        argv,
        provenance=machine_provenance(),
        provenance_hash=machine_provenance_hash(),
        hostname=_HOSTNAME,
        workdir=workdir,
    )
    if error := files_differ(task.extra.get("files") or {}):
        return dict(result, ok=False, error=error, duration=0.0, finished_at=time.time())
    if task.extra.get("verrou"):
        # Random rounding of every floating-point operation (Verrou, a valgrind tool), where installed.
        argv = ["valgrind", "--tool=verrou", "--rounding-mode=random", "--quiet", *argv]
    if "os" in task.extra:
        from reprovip.execute import rootfs

        argv = rootfs.wrap(Path(task.extra["os"]["root"]), argv, binds=[str(values["study_dir"])], workdir=workdir)
    if "container" in task.extra:
        from reprovip.execute.container import runnable, wrap

        c = task.extra["container"]
        argv = wrap(c["engine"], runnable(c), argv, binds=[str(values["study_dir"])], workdir=workdir, env=task.env)
    result["argv"] = argv
    for key in ("environment", "container", "os"):
        if key in task.extra:
            # What the application ran in is part of its provenance (hashed by the catalog).
            result["provenance"] = {**result["provenance"], key: task.extra[key]}
            result["provenance_hash"] = None
    if traced := task.extra.get("trace"):
        from reprovip.execute import trace

        argv, traced, trace_note = trace.prepare(traced, argv, workdir, task.extra)  # argv as recorded: unwrapped
    t0 = time.perf_counter()
    unset = {os.fsencode(k) for k in task.unset}
    inherited = {k: v for k, v in (_frozen_environ or os.environb).items() if k not in unset}
    env = {**inherited, **{os.fsencode(k): os.fsencode(v) for k, v in task.env.items()}}
    marker = f"{task.execution_id}/{attempt}".encode()
    env[ATTEMPT_VAR.encode()] = marker  # last: an application run by reprovip names its own attempt, not its parent's
    if tmpdir is not None:
        env.update(dict.fromkeys((b"TMPDIR", b"TMP", b"TEMP"), os.fsencode(tmpdir)))
    # The subject's input as it was: an application that saves its result there and reuses it (a FreeSurfer-like
    # resume) is deterministic in every later execution, and read "identical in 30 of 30" (a review).
    watched_path = task.values.get("input")
    watched = input_listing(watched_path) if isinstance(watched_path, str) else None
    # Each file a stream is saved in, by path: `{stdout}` and `{stdout}.csv` both get the stream (the one opened
    # last had it, and the other output was "missing: printed nothing": review H)
    sinks: dict[str, tuple[str, int]] = {}
    try:
        for d in task.outputs:
            if (path := stream_file(workdir, d.pattern, prefix=STREAM_PREFIX)) and path not in sinks:
                opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                sinks[path] = (STREAM_OUTPUT.match(d.pattern)[1], opened)
        started = _start(argv, env, workdir)
    except OSError as exc:
        for _, fd in sinks.values():
            os.close(fd)
        result.update(ok=False, error=f"could not start {argv[0]!r}: {exc.strerror or exc}", duration=0.0)
        result["finished_at"] = time.time()
        return result
    pid = started.pid
    with _lock:
        _active_groups.add(pid)
    fd = os.open(os.path.join(workdir, PID_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, f"{pid} {_HOSTNAME}".encode())
    finally:
        os.close(fd)
    try:
        waited = _wait(started, task.timeout, marker, list(sinks.values()))  # kills what it left running at exit
    except BaseException:
        kill_group(pid)  # interrupted while waiting: nothing of the execution outlives it
        raise
    finally:
        with _lock:
            _active_groups.discard(pid)
        for _, fd in sinks.values():
            os.close(fd)
    code, killed = waited.code, waited.killed
    result.update(
        pid=pid,
        exit_code=code,
        peak_rss=waited.peak_rss,
        timed_out=killed == "timeout",
        stdout=waited.stdout,
        # The note ends the stored stderr (its tail is kept), not the `{stderr}` output, which is the stream.
        stderr=_noted(waited.stderr, waited.notes),
        leftovers=waited.leftovers,
        duration=time.perf_counter() - t0,
        finished_at=time.time(),
    )
    if killed == "timeout":
        result.update(ok=False, error=f"timed out after {task.timeout:g} s (process group killed)")
        return result
    if killed == "interrupted":
        result.update(ok=False, error=f"{INTERRUPTED} (process group killed)")
        return result
    if code != 0:
        # The last line the application printed on stderr, without its colours: usually the reason.
        tail = [line for line in strip_ansi(waited.stderr).splitlines() if line.strip()][-1:] or [""]
        result.update(ok=False, error=exit_reason(code) + (f": {tail[0].strip()[:200]}" if tail[0] else ""))
        return result
    result["outputs"] = _collect(outdir, task.outputs, task.return_bytes)
    if traced:
        result["trace"] = trace.trace_execution(traced, workdir, skip=(PID_FILE, "input"), note=trace_note)
    missing = {o["name"] for o in result["outputs"] if o["missing"]}
    notes = _notes(waited.leftovers, input_changes(watched, input_listing(watched_path)) if watched else [])
    notes += misnamed_optional(outdir, task.outputs, result["outputs"])
    result["ok"] = not missing
    if missing:  # a writer left running and killed is likely why: said after the missing outputs
        result["error"] = "; ".join([missing_message(workdir, task.outputs, missing), *notes])
    else:
        result["error"] = "\n".join(notes) or None
    return result


def misnamed_optional(
    outdir: str | os.PathLike[str], decls: list[OutputDecl], found: list[dict[str, Any]]
) -> list[str]:
    """A note for each optional output not written whose name is close to a file of ``{outdir}`` that no output
    declares (``volume.csv`` declared, ``volumes.csv`` written): a misspelt path read "written by no execution
    (declared optional)", a warning, and the study passed on its other outputs (review MC).

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = open(os.path.join(out, "volumes.csv"), "w").close()
    >>> misnamed_optional(out, [OutputDecl("v", "volume.csv", "table", optional=True)], [])[0][:69]
    "optional output misnamed: 'v' (volume.csv) was not written, and {outd"
    """
    written = {os.path.basename(o["path"]) for o in found if o.get("path")}
    unwritten = [
        d
        for d in decls
        if d.optional and d.name not in {o["name"] for o in found} and not STREAM_OUTPUT.match(d.pattern)
    ]
    if not unwritten:
        return []
    names = [n for n in os.listdir(outdir) if n not in written and os.path.isfile(os.path.join(outdir, n))]
    notes = []
    for d in unwritten:
        if any(c in d.pattern for c in "*?[{"):  # a glob or a template: no one name to be close to
            continue
        close = difflib.get_close_matches(os.path.basename(d.pattern), names, n=1, cutoff=0.8)
        if close:
            notes.append(
                f"{MISNAMED}: {d.name!r} ({d.pattern}) was not written, and {{outdir}} holds {close[0]}, which no "
                "output declares"
            )
    return notes


def _notes(leftovers: list[int], changed: list[str]) -> list[str]:
    """What may make a successful execution's outputs wrong, one ``"<tag>: <what>"`` line each (:data:`NOTE_TAGS`).

    Processes the application left running were killed when it exited (a subreaper's sweep): a writer started in
    the background without being waited for leaves its file half-written (a review's CSV held its header only).
    ``changed``: the entries of the subject's input that changed while it ran (:func:`input_changes`).
    """
    notes = []
    if leftovers:
        n = len(leftovers)
        who = f"{n} processes the application started were" if n > 1 else "a process the application started was"
        notes.append(f"{LEFT_RUNNING}: {who} still running when it exited and killed: its outputs may be incomplete")
    if changed:
        more = f" and {len(changed) - LISTED} more" if len(changed) > LISTED else ""
        notes.append(
            f"{INPUT_CHANGED}: the execution wrote into the subject's input ({', '.join(changed[:LISTED])}{more}):"
            " a result it saved there may be reused by the next execution instead of computed again"
        )
    return notes


def input_listing(path: str) -> dict[str, tuple[int, int]] | None:
    """``{relative path: (size, mtime_ns)}`` of a subject's input: the file itself (``"."``) and the files named
    after it beside it (:func:`_beside`), or a folder, its entries and theirs (two levels; a folder's own time
    changes when an entry is added to it or removed), :data:`_INPUT_ENTRIES` at most; None when it is not there
    (a worker on another machine).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "T1w.txt").write_text("0.5")
    >>> before = input_listing(str(folder))
    >>> (folder / "stats").mkdir(); _ = (folder / "stats" / "vol.txt").write_text("512")
    >>> input_changes(before, input_listing(str(folder)))
    ['stats added', 'stats/vol.txt added', 'the input itself modified']
    """
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    listing = {".": (st.st_size, st.st_mtime_ns)}
    if not os.path.isdir(path):  # a file: and the files named after it beside it (a cache kept as `s0.txt.cache.csv`)
        listing.update(_beside(path))
    else:
        _list_two_levels(listing, path, "")
    # A BIDS app's cache in the dataset's derivatives/ (`derivatives/mytool/sub-01/...`): an unseeded tool reusing
    # it read "identical in 10 of 10" (a review)
    if (root := _bids_root(path)) is not None and len(listing) <= _INPUT_ENTRIES:
        derivatives = os.path.join(root, "derivatives")
        with contextlib.suppress(OSError):
            dst = os.stat(derivatives)
            listing["derivatives (in the dataset)"] = (dst.st_size, dst.st_mtime_ns)
            _list_two_levels(listing, derivatives, "derivatives/")
    return listing


def _list_two_levels(listing: dict[str, tuple[int, int]], folder: str, prefix: str) -> None:
    """Add ``folder``'s entries and theirs to ``listing`` (``prefix`` before their relative names), up to
    :data:`_INPUT_ENTRIES` entries in all."""
    folders = [(prefix, folder)]
    for depth in (1, 2):
        deeper = []
        for rel, where in folders:
            with contextlib.suppress(OSError), os.scandir(where) as entries:
                for e in sorted(entries, key=lambda e: e.name):
                    if len(listing) > _INPUT_ENTRIES:
                        return
                    with contextlib.suppress(OSError):
                        est = e.stat(follow_symlinks=False)
                        name = f"{rel}{e.name}"
                        listing[name] = (est.st_size, est.st_mtime_ns)
                        if depth == 1 and e.is_dir(follow_symlinks=False):
                            deeper.append((f"{name}/", e.path))
        folders = deeper


def _bids_root(path: str) -> str | None:
    """The BIDS dataset an input lies in (the nearest of its 4 parent folders holding ``dataset_description.json``
    and a ``sub-*`` path below it), or None."""
    parent = os.path.dirname(os.path.abspath(path))
    for _ in range(4):
        if os.path.isfile(os.path.join(parent, "dataset_description.json")):
            below = os.path.relpath(os.path.abspath(path), parent)
            return parent if below.split(os.sep, 1)[0].startswith("sub-") else None
        parent = os.path.dirname(parent)
    return None


def _beside(path: str) -> dict[str, tuple[int, int]]:
    """The entries next to the input file ``path`` whose names start with its name, or with its stem and a
    separator (``s0.txt.cache.csv``, ``s0_cache.npy`` beside ``s0.txt``), or with a BIDS file's entities before
    its suffix (``sub-01_ses-01_desc-cache_vol.txt`` beside ``sub-01_ses-01_T1w.nii.gz``: missed, "identical in 16
    of 16", a review), or with a dot (``.mytool-cache/``: a
    folder's time changes when a file is added to it), but the study's store, as ``"<name> (beside it)"``:
    reviews' applications cached their result there and every later execution copied it ("identical in 55 of
    55", "identical in 20 of 20")."""
    folder, name = os.path.split(path)
    stem = name.split(".", 1)[0]
    prefixes = (name, ".", *((stem + sep for sep in "._-") if stem else ()))
    if stem.startswith("sub-") and "_" in stem:  # BIDS: the same entities, another suffix (`..._desc-cache_vol.txt`)
        prefixes += (stem.rsplit("_", 1)[0] + "_",)
    out: dict[str, tuple[int, int]] = {}
    with contextlib.suppress(OSError), os.scandir(folder or ".") as entries:
        for e in entries:
            mine = e.name != name and e.name != STORE_DIR and e.name.startswith(prefixes)
            if mine and len(out) < _INPUT_ENTRIES:
                with contextlib.suppress(OSError):
                    est = e.stat(follow_symlinks=False)
                    out[f"{e.name} (beside it)"] = (est.st_size, est.st_mtime_ns)
    return out


def input_changes(before: dict[str, tuple[int, int]] | None, after: dict[str, tuple[int, int]] | None) -> list[str]:
    """The entries of two :func:`input_listing` that differ, ``"<name> added|removed|modified"``, by name; the
    input itself (``"."``: a file, or a folder an entry was added to or removed from) last."""
    if before is None or after is None:
        return []
    changed = [
        f"{name} {'added' if name not in before else 'removed' if name not in after else 'modified'}"
        for name in sorted((before.keys() | after.keys()) - {"."})
        if before.get(name) != after.get(name)
    ]
    return changed + (["the input itself modified"] if before.get(".") != after.get(".") else [])
