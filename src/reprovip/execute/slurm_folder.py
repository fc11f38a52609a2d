"""The folder of one ``slurm-array`` array: what the runner and the array's tasks exchange, on a shared filesystem.

``tasks/I.pkl`` is the I-th call ``(fn, args, kwargs)``, written by the runner before it submits the array;
``results/I.pkl`` is task I's reply (:func:`reprovip.execute.worker.reply`), renamed into place once whole;
``logs/I.out`` is what Slurm captured of task I's output. Writers rename into place, so a reader sees a whole
file or none. See docs/scaling.md.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

LOG_TAIL = 5  # lines of a task's log quoted in its error

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def write_folder(folder: Path, calls: Sequence[Call]) -> None:
    """Write ``calls`` as ``folder/tasks/I.pkl``, with empty ``results/`` and ``logs/``; ``folder`` appears
    complete or not at all (the tasks of an array submitted earlier never see half of it)."""
    part = folder.with_name(f".{folder.name}.part")
    (part / "tasks").mkdir(parents=True)
    (part / "results").mkdir()
    (part / "logs").mkdir()
    for i, call in enumerate(calls):
        (part / "tasks" / f"{i}.pkl").write_bytes(pickle.dumps(call))
    os.replace(part, folder)


def read_task(folder: Path, index: int) -> Call | None:
    """Task ``index``'s call; None when the folder has gone (the next run cleared it)."""
    task_file = Path(folder, "tasks", f"{index}.pkl")
    if not task_file.exists():
        return None
    return pickle.loads(task_file.read_bytes())


def write_reply(folder: Path, index: int, data: bytes) -> None:
    """Write task ``index``'s reply, synced to disk, then rename it into place: the runner reads whole replies."""
    out = Path(folder, "results", f"{index}.pkl")
    part = out.with_name(f".{out.name}.part")
    with open(part, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(part, out)


def replied(folder: Path) -> set[int]:
    """The tasks whose reply is in ``results/``. Listing the folder refreshes an NFS client's view of it, where
    asking whether one file exists may answer from its cache of a while ago."""
    try:
        names = os.listdir(folder / "results")
    except FileNotFoundError:
        return set()
    return {int(name[:-4]) for name in names if name.endswith(".pkl") and name[:-4].isdigit()}


def read_reply(folder: Path, index: int) -> tuple[bool, Any]:
    """Task ``index``'s reply: ``(True, value)``, or ``(False, exception)``."""
    return pickle.loads((folder / "results" / f"{index}.pkl").read_bytes())


def log_tail(folder: Path, index: int) -> list[str]:
    """The last :data:`LOG_TAIL` lines of task ``index``'s log; none when it has no log (yet)."""
    try:
        return (folder / "logs" / f"{index}.out").read_text(errors="replace").strip().splitlines()[-LOG_TAIL:]
    except OSError:
        return []
