"""``reprovip run``: run every execution not done yet."""

from __future__ import annotations

import click
from rich.console import Console

from reprovip.study import Study

EXIT_EXECUTIONS_FAILED = 3


def run_command(path: str, *, jobs: int | None, force: bool, executor: str, progress: bool) -> int:
    """Run the study and print a summary; exit 3 when executions failed."""
    study = Study.load(path)
    console = Console(stderr=True)
    summary = study.run(jobs=jobs, force=force, executor=executor, progress=progress)
    console.print(
        f"{study.name}: {summary.planned} executions planned, {summary.skipped} already done, "
        f"{summary.done} completed, {summary.failed} failed"
    )
    for f in summary.failures[:20]:
        console.print(
            f"  failed: {f['subject']} [{f['condition']}] rep {f['repetition']}: {f['error']}",
            markup=False,
            highlight=False,
        )
    if len(summary.failures) > 20:
        console.print(f"  ... and {len(summary.failures) - 20} more (see `reprovip status`)")
    return 0 if summary.ok else EXIT_EXECUTIONS_FAILED


@click.command("run")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option("-j", "--jobs", type=click.IntRange(1, 4096), default=None, help="Executions at once (default: CPUs).")
@click.option("--force", is_flag=True, help="Run again executions that are already done.")
@click.option(
    "--executor", default="local", show_default=True, help="Backend: local, dask-local, dask://HOST:PORT, slurm..."
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def run(study: str, jobs: int | None, force: bool, executor: str, progress: bool) -> int:
    """Run STUDY: subjects x conditions x repetitions, resuming what a previous run left."""
    return run_command(study, jobs=jobs, force=force, executor=executor, progress=progress)
