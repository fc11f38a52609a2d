"""``reprovip validate``: check a study without running anything."""

from __future__ import annotations

from pathlib import Path

import click

from reprovip.errors import SpecError
from reprovip.study import Study


def validate_study(path: str) -> int:
    """Load the study, find its subjects and check every input; print what would run.

    Every problem is reported at once, one per line: the spec's, then (when the spec could be built) those
    found on disk.
    """
    from reprovip.plan import conditions
    from reprovip.spec.loader import inspect_file

    spec, problems = inspect_file(path)
    if spec is not None and spec.application is None and not problems:
        # An ingest-only study: its outputs are stored by `reprovip ingest`, nothing runs (a review read exit 2)
        click.echo(
            f"{path}: ok — ingest-only study (no `application`): {len(spec.outputs)} output(s) declared; store "
            "existing results with `reprovip ingest`"
        )
        return 0
    study = Study(Path(path), spec) if spec is not None else None
    problems += study.problems(file=path, programs=True) if study is not None else []
    if problems or study is None:
        raise SpecError.gather(problems)
    n_cond = len(conditions(study.spec))
    n = len(study.subjects) * n_cond * study.spec.repetitions
    click.echo(
        f"{path}: ok — {len(study.subjects)} subjects x {n_cond} conditions x "
        f"{study.spec.repetitions} repetitions = {n} executions"
    )
    from reprovip.spec.checks import factor_warnings

    descriptor = None
    if spec.application is not None and spec.application.boutiques:
        from reprovip.spec.boutiques import descriptor_path, validate_descriptor

        descriptor = validate_descriptor(descriptor_path(spec.application.boutiques, study.directory), file=path)
    warnings = factor_warnings(spec, descriptor)
    for warning in design_warnings(len(study.subjects), n_cond, study.spec.repetitions) + warnings:
        click.echo(f"{path}: warning: {warning}", err=True)
    return 0


def design_warnings(subjects: int, conditions: int, repetitions: int) -> list[str]:
    """What a design cannot tell, said before it runs (three reviews ran one execution per subject and learnt
    after the run that nothing could be compared).

    Examples
    --------
    >>> design_warnings(4, 1, 1)[0][:60]
    'each subject runs once (1 condition x 1 repetition): nothing'
    >>> design_warnings(1, 2, 3)[0][:40], design_warnings(4, 2, 1)
    ('one subject: no ICC (it compares subject', [])
    """
    out = []
    if conditions == 1 and repetitions == 1:
        out.append(
            "each subject runs once (1 condition x 1 repetition): nothing to compare, and the analysis will say "
            "so; add `repetitions: 3` or a factor with two levels"
        )
    if subjects == 1:
        out.append(
            "one subject: no ICC (it compares subjects' spread with the executions'), only identity and the "
            "executions' spread; add subjects to judge whether the differences matter"
        )
    elif subjects == 2:  # review DG: the analysis flagged its CIs uninformative, nothing said so before the run
        out.append(
            "two subjects: the subjects' spread rests on one degree of freedom, so an ICC's confidence interval "
            "says little and voxel ICCs are not computed; add subjects (5 or more)"
        )
    return out


@click.command("validate")
@click.argument("study", type=click.Path(), default="study.yaml")
def validate(study: str) -> int:
    """Check STUDY (default: study.yaml): keys, types, placeholders, subjects and inputs."""
    return validate_study(study)
