"""``reprovip validate``: check a study without running anything."""

from __future__ import annotations

import click

from reprovip.plan import conditions
from reprovip.study import Study


def validate_study(path: str) -> int:
    """Load the study, find its subjects and check every input; print what would run."""
    study = Study.load(path)
    study.validate()
    n_cond = len(conditions(study.spec))
    n = len(study.subjects) * n_cond * study.spec.repetitions
    click.echo(
        f"{path}: ok — {len(study.subjects)} subjects x {n_cond} conditions x "
        f"{study.spec.repetitions} repetitions = {n} executions"
    )
    return 0


@click.command("validate")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
def validate(study: str) -> int:
    """Check STUDY (default: study.yaml): keys, types, placeholders, subjects and inputs."""
    return validate_study(study)
