"""``reprovip report``: one self-contained HTML file with the verdict, metrics, plots and provenance."""

from __future__ import annotations

import click


def report_command(path: str, *, output: str | None, analysis: str | None) -> int:
    """Render the report of an analysed study and print where it was written."""
    from reprovip.report import render_report

    written = render_report(path, output, analysis=analysis)
    click.echo(f"report: {written}")
    return 0


@click.command("report")
@click.argument("study", type=click.Path(), default="study.yaml")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the HTML file (default: report.html next to the study file).",
)
@click.option(
    "--analysis",
    type=click.Path(dir_okay=False),
    help="Render this analysis document instead of the study's latest (.reprovip/results/<study>/analysis.json).",
)
def report(study: str, output: str | None, analysis: str | None) -> int:
    """Write a self-contained HTML report of STUDY's latest analysis (opens offline)."""
    return report_command(study, output=output, analysis=analysis)
