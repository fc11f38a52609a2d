"""Is the runner a catalog says is running still alive? (a ``kill -9`` leaves its run marked ``running``)"""

from __future__ import annotations

import functools
import os
import socket

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@functools.cache
def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            return next(float(line.split()[1]) for line in fh if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None


def _started_at(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from ``/proc``; None where unknown."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if boot is None or fields[0] == "Z":  # a zombie has exited
        return None if boot is None else float("inf")
    return boot + int(fields[19]) / _CLOCK_TICKS


def runner_alive(hostname: str | None, pid: int | None, started_at: float | None) -> bool | None:
    """True or False for a runner of this machine; None when it ran on another one (nothing to ask).

    The process must exist and have started before its run did (with a second of slack for clock ticks):
    a process started later merely reuses the dead runner's pid.

    Examples
    --------
    >>> import os, socket, time
    >>> runner_alive(socket.gethostname(), os.getpid(), time.time())
    True
    >>> runner_alive(socket.gethostname(), os.getpid(), 0.0)  # this process started after that run
    False
    >>> runner_alive("elsewhere.invalid", 1, 0.0) is None
    True
    """
    if hostname != socket.gethostname():
        return None
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    began = _started_at(pid)
    return began is None or began <= (started_at or 0.0) + 1.0
