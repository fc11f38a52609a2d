"""The ``slurm-array`` executor's options and its calls to Slurm's commands (``sbatch``, ``squeue``, ``scancel``,
``sacct``).

Each wrapper has a timeout, so a stuck Slurm controller cannot hang the runner (or its Ctrl-C). Only
:func:`sbatch` raises (an :class:`~reprovip.errors.InputError` quoting Slurm); the others answer None or False
when Slurm gave no usable answer, and the caller decides what no answer means. See docs/scaling.md.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass, field

from reprovip.errors import InputError
from reprovip.execute.backends import executor_options

SBATCH_OPTIONS = ("partition", "account", "qos", "time", "mem", "mem-per-cpu", "cpus-per-task", "constraint", "gres")
OPTIONS = (*SBATCH_OPTIONS, "grace")  # ``grace`` is the executor's own, not an sbatch option
GRACE = 60.0  # seconds a task that left `squeue` without a visible reply is waited for (NFS caches attributes)
SBATCH_TIMEOUT = 60.0
TIMEOUT = 30.0  # seconds for `squeue`, `scancel` and `sacct`: past it, Slurm gave no answer

# `sacct` states of a job that may still run (or be started again): its task is not lost yet
ACTIVE_STATES = frozenset(
    {"PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT"}
)


@dataclass(frozen=True)
class Options:
    """What ``slurm-array?...`` asks for: ``sbatch`` arguments, and the grace given to a late reply (s)."""

    sbatch: list[str] = field(default_factory=list)
    grace: float = GRACE


def parse_options(spec: str) -> Options:
    """The :class:`Options` in the query of ``slurm-array?partition=short&time=30&grace=60``.

    Examples
    --------
    >>> parse_options("slurm-array?partition=short&cpus-per-task=2")
    Options(sbatch=['--partition=short', '--cpus-per-task=2'], grace=60.0)
    >>> parse_options("slurm-array?grace=5")
    Options(sbatch=[], grace=5.0)
    """
    args, grace = [], GRACE
    for key, value in executor_options(spec, OPTIONS).items():
        if key == "grace":
            grace = _seconds(spec, key, value)
        else:
            args.append(f"--{key}={value}")
    return Options(args, grace)


def _seconds(spec: str, key: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"executor {spec!r}: option {key!r} is {value!r}; give seconds >= 0, as in {key}=60")
    return seconds


def sbatch(args: list[str], spec: str) -> str:
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
            f"({', '.join(SBATCH_OPTIONS)}) or the SBATCH_* variables"
        )
    return done.stdout.strip()


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    """``argv``'s outcome, or None when it could not run or gave no answer within :data:`TIMEOUT`."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None


def squeue(job_ids: list[str]) -> dict[tuple[str, int], str] | None:
    """``{(array job id, task index): state}`` of the tasks Slurm still has; None when ``squeue`` gave no answer
    (it failed, timed out, or printed a line of another format)."""
    done = _run(["squeue", "--noheader", "--array", "--jobs", ",".join(job_ids), "--format=%F %K %T"])
    if done is None:
        return None
    if done.returncode != 0:
        return None if "Invalid job id" not in done.stderr else {}  # every job has left Slurm's memory
    states = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) != 3:
            return None
        job, index, state = fields
        if index.isdigit():  # a pending remainder is listed task by task with --array
            states[(job, int(index))] = state
    return states


def scancel(job_ids: list[str]) -> bool:
    """Cancel ``job_ids`` (arrays, or tasks as ``JOB_I``); whether Slurm took the request (it answers 0 for jobs
    it no longer has too)."""
    done = _run(["scancel", *job_ids])
    return done is not None and done.returncode == 0


def sacct(task: str) -> str | None:
    """The state Slurm's accounting recorded for ``task`` (``JOB_I``), e.g. ``COMPLETED``, ``CANCELLED``; None
    without an answer (accounting disabled, as with ``accounting_storage/none``, no record, no ``sacct``)."""
    done = _run(["sacct", "--noheader", "--parsable2", "--allocations", "--jobs", task, "--format=JobID,State"])
    if done is None or done.returncode != 0:
        return None
    for line in done.stdout.splitlines():
        job, _, state = line.partition("|")
        if job == task and state:
            return state.split()[0]  # "CANCELLED by 0" -> CANCELLED
    return None
