"""``reprovip ingest``: register results produced elsewhere as executions of a study."""

from __future__ import annotations

import click

from reprovip.criteria.rules import ENVELOPE_FACTORS
from reprovip.study import Study


def ingest_command(path: str, pattern: str, root: str | None) -> int:
    """Ingest the folders matching ``pattern`` and print what was found."""
    study = Study.load(path)
    s = study.ingest(pattern, root=root)
    factors = f" (factors from the pattern: {', '.join(s.factors)})" if s.factors else ""
    click.echo(
        f"{study.name}: ingested {s.executions} executions, {s.complete} complete, "
        f"{s.incomplete} with missing outputs{factors}"
    )
    _say_levels(s.levels)
    _say_replaced(s.replaced)
    # One line each, as reprovip's warnings: a `{run}` factor, repetitions that are copies (review IN)
    for caution in s.cautions:
        click.echo(f"reprovip: warning: {caution}", err=True)
    return 0


def _say_levels(levels: dict[str, tuple[str, ...]]) -> None:
    """Each factor's levels in the analysis' order, and a version factor's baseline: folders named old and new
    made the new version the baseline, and nothing said so (a review)."""
    for factor, lv in levels.items():
        if len(lv) == 1:
            click.echo(f"  {factor}: {lv[0]} (one level: nothing to compare)")
        elif factor in ENVELOPE_FACTORS:
            click.echo(
                f"  {factor}: {', '.join(lv)}, in this order; the baseline, that the others are held to, is {lv[0]} "
                f"(declare the order under `factors: {{{factor}: ...}}` in the study file to choose another)"
            )
        else:
            click.echo(f"  {factor}: {', '.join(lv)}, in this order")


def _say_replaced(replaced: int) -> None:
    """Say that stored executions were replaced: a second ingest silently swapped a study's results (a review)."""
    if replaced:
        click.echo(
            f"  {replaced} of them replaced executions stored before (the same subject, condition and repetition); "
            "give the pattern a factor (`results/{version}/...`) to keep both"
        )


def ingest_records_command(
    path: str,
    records: str,
    *,
    root: str | None,
    tool: str | None,
    ignore: tuple[str, ...],
    subject_inputs: tuple[str, ...],
) -> int:
    """Ingest the Boutiques execution records under ``records`` and print what was found."""
    from reprovip.ingest.boutiques_records import ingest_boutiques_records

    study = Study.load(path)
    s = ingest_boutiques_records(
        study, records, tool=tool, root=root, ignore=ignore, subject_inputs=subject_inputs or None
    )
    versions = f" {', '.join(v for v in s.versions if v)}" if any(s.versions) else ""
    factors = f"; factors: {', '.join(s.factors)}" if s.factors else "; no factor"
    hashes = ", ".join(f"{name} by {how}" for name, how in s.hashes.items())
    click.echo(
        f"{study.name}: ingested {s.executions} executions of {s.tool}{versions} from {s.records} "
        f"Boutiques records ({len(s.subjects)} subjects{factors}), {s.complete} complete, "
        f"{s.incomplete} failed; outputs compared: {hashes}"
    )
    _say_replaced(s.replaced)
    if s.superseded:
        click.echo(
            f"  {s.superseded} record(s) superseded by a later record of the same execution (subject, condition "
            "and repetition that reprovip recorded: a retry); the latest is kept"
        )
    if s.unmatched_outputs:
        click.echo(f"  declared outputs not found in the records: {', '.join(s.unmatched_outputs)}")
    for why in s.skipped[:10]:
        click.echo(f"  skipped {why}")
    return 0


@click.command("ingest")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option(
    "--pattern",
    "-p",
    "patterns",
    multiple=True,
    help="Folders of one execution each, e.g. 'results/{version}/{subject}/run-{repetition}'.",
)
@click.option(
    "--boutiques-records",
    "records",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="A folder of Boutiques execution records (`bosh exec launch` writes them to "
    "~/.cache/boutiques/data); no output file is needed.",
)
@click.option(
    "--root",
    type=click.Path(exists=True),
    help="Where the pattern starts, or where relative output paths of records are looked for "
    "(default: the study folder).",
)
@click.option("--tool", default=None, help="With --boutiques-records: the tool's name, if there are several.")
@click.option(
    "--ignore-input",
    "ignore",
    multiple=True,
    help="With --boutiques-records: an input id never used as a factor (repeatable).",
)
@click.option(
    "--subject-input",
    "subject_inputs",
    multiple=True,
    help="With --boutiques-records: an input id identifying the subject (default: File inputs).",
)
def ingest(
    study: str,
    patterns: tuple[str, ...],
    records: str | None,
    root: str | None,
    tool: str | None,
    ignore: tuple[str, ...],
    subject_inputs: tuple[str, ...],
) -> int:
    """Register outputs already on disk (another cluster, OS, VIP downloads) as executions of STUDY."""
    if len(patterns) > 1:  # click kept the last one: a review's first tree was never ingested, unsaid
        raise click.UsageError(
            f"--pattern was given {len(patterns)} times; give one (ingest once per results tree: each ingest "
            "replaces only the executions it names)"
        )
    pattern = patterns[0] if patterns else None
    if (pattern is None) == (records is None):
        raise click.UsageError("give exactly one of --pattern or --boutiques-records")
    if records is None and (tool or ignore or subject_inputs):
        raise click.UsageError("--tool, --ignore-input and --subject-input go with --boutiques-records")
    if root is not None:  # an archive given as --root says so (review IN: "Directory ... is a file")
        from pathlib import Path

        from reprovip.ingest.folders import check_root  # here: `--help` imports no heavy library

        check_root(Path(root))
    if records is not None:
        return ingest_records_command(
            study, records, root=root, tool=tool, ignore=ignore, subject_inputs=subject_inputs
        )
    return ingest_command(study, pattern, root)  # type: ignore[arg-type]
