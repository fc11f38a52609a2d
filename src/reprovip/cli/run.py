"""``reprovip run``: run every execution not done yet."""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reprovip.execute.failures import KEEP_FAILED, FailureGroup
from reprovip.study import Study

if TYPE_CHECKING:
    from reprovip.execute.runner import RunSummary

EXIT_EXECUTIONS_FAILED = 3


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def example_lines(group: FailureGroup, *, cwd: Path | None = None) -> list[str]:
    """The command line of a group's first execution, and its working folder if it was kept."""
    first = group.executions[0]
    out = []
    if first.get("argv"):
        out.append(f"  command: {shlex.join(first['argv'])}")
    if first.get("kept"):
        out.append(f"  its working folder is kept in {_shown(first['kept'], cwd)}")
    return out


def _shown(path: str, cwd: Path | None) -> str:
    """``path`` relative to the current folder when it is below it (shorter to read and to copy)."""
    rel = os.path.relpath(path, cwd or Path.cwd())
    return path if rel.startswith("..") else rel


def summary_lines(name: str, summary: RunSummary) -> list[str]:
    """What ``run`` prints: the counts, then each distinct error once (or why the run stopped)."""
    lines = [
        f"{name}: {summary.planned} executions planned, {summary.skipped} already done, "
        f"{summary.done} completed, {summary.failed} failed"
        + (f", {summary.not_run} not run" if summary.stopped or summary.not_run else "")
    ]
    if summary.replaced_ingested:  # their results were dropped unsaid (a review)
        lines.append(
            f"{summary.replaced_ingested} ingested execution(s) were run here: their ingested results gave way to "
            "the runs' (ingest them into a study of their own, or as a level of a factor, to keep them)"
        )
    if summary.changed_during:
        lines.append(
            f"the application's files (its script, descriptor or the files its command names) changed during the "
            f"run: its {summary.changed_during} execution(s) ran one code or the other, so they are pending again; "
            "run `reprovip run` again once the files are as they should be"
        )
    for reason in dict.fromkeys(e["reason"] for e in summary.not_started):
        lost = [e for e in summary.not_started if e["reason"] == reason]
        first = lost[0]
        # Not failed: the application never ran; they stay pending, the study incomplete (review DK5)
        lines.append(
            f"{len(lost)} execution(s) {reason}, e.g. {first['subject']} [{first['condition']}] rep "
            f"{first['repetition']}; they stay pending: `reprovip run` runs them"
        )
    groups = summary.groups
    if summary.stopped:
        group = groups[0]
        n = len(group.executions)
        lines += [
            f"stopped: the first {n} executions all failed with the same error, and none succeeded:",
            f"  {group.error}",
            *example_lines(group),
            (f"The {summary.not_run} other executions were not run (they stay pending). " if summary.not_run else "")
            + "Fix the cause and run again, or run them all anyway with `reprovip run --keep-going`.",
        ]
        return lines
    for group in groups:
        lines += group.lines() + example_lines(group)
    if groups:
        lines.append("Their output: `reprovip status --failed`.")
    return lines


@click.command("run")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option("-j", "--jobs", type=int, default=None, help="Executions at once (default: CPUs).")
@click.option("--force", is_flag=True, help="Run again executions that are already done.")
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="Backend: local, dask-local, dask://HOST:PORT, slurm, slurm-array, pbs... (see docs/scaling.md)",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option(
    "--keep-going",
    is_flag=True,
    help="Do not stop when the first executions all fail with the same error.",
)
@click.option(
    "--keep-failed",
    type=int,
    default=KEEP_FAILED,
    show_default=True,
    help="Working folders of failed executions kept in .reprovip/failed/ for inspection (the newest).",
)
def run(
    study: str, jobs: int | None, force: bool, executor: str, progress: bool, keep_going: bool, keep_failed: int
) -> int:
    """Run STUDY: subjects x conditions x repetitions, resuming what a previous run left.

    Prints a summary; exit 3 when executions failed or the run stopped early.
    """
    st = Study.load(study)
    # SIGTERM (`timeout`, a CI job cancelled, systemd) stops the run as Ctrl-C does: the workers stopped, what
    # finished recorded, the run marked interrupted and the catalog closed (it used to die with the run still
    # "running" and the results in SQLite's WAL only: a review)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # ... and SIGINT stops it whatever the run inherited: a shell starting a command in the background without job
    # control (a CI runner's script `cmd &`) leaves SIGINT ignored, Python then installs no handler, and a Ctrl-C
    # (or a CI's interrupt) left the run and its applications running
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        summary = st.run(
            jobs=jobs, force=force, executor=executor, progress=progress, keep_going=keep_going, keep_failed=keep_failed
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    for line in summary_lines(st.name, summary):
        click.echo(line, err=True)
    return 0 if summary.ok else EXIT_EXECUTIONS_FAILED
