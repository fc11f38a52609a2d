"""``reprovip ingest``: register results produced elsewhere as executions of a study."""

from __future__ import annotations

import click

from reprovip.study import Study


def ingest_command(path: str, pattern: str, root: str | None) -> int:
    """Ingest the folders matching ``pattern`` and print what was found."""
    study = Study.load(path)
    s = study.ingest(pattern, root=root)
    factors = f" (factors from the pattern: {', '.join(s.factors)})" if s.factors else ""
    click.echo(f"{study.name}: ingested {s.executions} executions, {s.complete} complete, "
               f"{s.incomplete} with missing outputs{factors}")
    return 0


@click.command("ingest")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option("--pattern", "-p", required=True,
              help="Folders of one execution each, e.g. 'results/{version}/{subject}/run-{repetition}'.")
@click.option("--root", type=click.Path(file_okay=False, exists=True), help="Where the pattern starts (default: the study folder).")
def ingest(study: str, pattern: str, root: str | None) -> int:
    """Register outputs already on disk (another cluster, OS, VIP downloads) as executions of STUDY."""
    return ingest_command(study, pattern, root)
