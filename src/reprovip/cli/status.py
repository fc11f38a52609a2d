"""``reprovip status``: executions per condition, and the failures with their reasons."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from reprovip.study import Study


def status_command(path: str) -> int:
    """Print the status table and the failures."""
    study = Study.load(path)
    console = Console()
    table = Table(title=f"{study.name}: executions per condition")
    counts = study.status()
    for col in counts.columns:
        table.add_column(str(col), justify="left" if col == "condition" else "right")
    for row in counts.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console.print(table)
    df = study.executions()
    failed = df[df["status"] == "failed"]
    for row in failed.itertuples():
        console.print(
            f"failed: {row.subject} [{row.condition_key}] rep {row.repetition} "
            f"after {row.attempts} attempt(s): {row.error}",
            markup=False,
            highlight=False,
        )
    return 0


@click.command("status")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
def status(study: str) -> int:
    """Show how many executions of STUDY are done, failed or pending, per condition."""
    return status_command(study)
