"""``reprovip compare BASELINE CURRENT``: is the new version within the baseline's run-to-run envelope?"""

from __future__ import annotations

from pathlib import Path

import click

from reprovip.cli.check import emit, gate_options, warn_hook
from reprovip.study import Study


def _study(path: str) -> Study:
    p = Path(path)
    return Study.load(p / "study.yaml" if p.is_dir() else p)


@click.command("compare")
@click.argument("baseline", type=click.Path(exists=True))
@click.argument("current", type=click.Path(exists=True))
@gate_options
def compare(
    baseline: str,
    current: str,
    strict: bool,
    junit: str | None,
    markdown: str | None,
    badge: str | None,
    json_path: str | None,
) -> int:
    """Compare CURRENT's results with BASELINE's (study files or folders): version, machine or OS change.

    Exit codes as for check.
    """
    from reprovip.criteria.alerts import moved_message
    from reprovip.criteria.gate import compare_check

    result = compare_check(_study(baseline), _study(current), strict=strict)
    for move in result.document["compare"].get("paths_changed") or []:  # compared, but not the same file: say so
        click.echo(moved_message(move))
    for out in result.document["outputs"]:
        env = out.get("envelope")
        if env and "within_envelope" in env:
            where = "within" if env["within_envelope"] else "OUTSIDE"
            critical = float(env.get("worst_critical", env["z_critical"]))  # where the largest |z| is: its own df
            click.echo(
                f"{out['name']}: {where} the baseline's run-to-run envelope "
                f"(max |z| {float(env['max_abs_z']):.3g} vs {critical:.3g} on {env['worst_observation']})"
            )
    emit(result.document, strict=strict, junit=junit, markdown=markdown, badge=badge, json_path=json_path)
    warn_hook(result.hook_error)
    return result.exit_code
