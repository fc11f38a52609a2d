"""What to do next (:func:`reprovip.report.guide.next_steps`), read from a stored analysis document."""

from __future__ import annotations

import pytest

from reprovip.report.guide import judged, next_steps


def _failed(plan: dict) -> dict:
    failure = dict(id="e1", subject="sub-01", error="missing output r.json")
    return dict(executions=dict(total=4, failed=1, failures=[failure], plan=plan), outputs=[])


@pytest.mark.parametrize(
    ("plan", "said", "not_said"),
    [
        (dict(checked=True, not_run=0), "fix them and run again (`reprovip run` resumes)", "ingest"),
        # Made elsewhere: `run` cannot make them again (before, an ingest-only study was told to run).
        (dict(checked=False, ingested=True, reason="declares no application"), "ingest them again", "reprovip run"),
    ],
)
def test_failed_executions_say_how_to_make_them_again(plan: dict, said: str, not_said: str) -> None:
    (step,) = next_steps(_failed(plan))
    assert step["culprit"] == "failed executions" and step["status"] == "incomplete"
    assert step["action"].startswith("1 of 4 executions failed (first error: missing output r.json): ")
    assert said in step["action"] and not_said not in step["action"]
    assert step["action"].endswith("; the verdict covers the others only")


def test_judged_matches_patterns_as_the_verdict_does() -> None:
    """A pattern with brackets names the observation spelled so (JSON ``fits[1].amp``), as
    :func:`reprovip.criteria.rules.matches` reads it for the verdict; fnmatch read ``[1]`` as a character class,
    so the report listed the observation the verdict judged as not judged, and ``fits1.amp`` as judged."""
    names = ["fits[0].amp", "fits[1].amp", "fits1.amp"]
    reason = dict(threshold=0.9, observations=["fits[1].amp"])
    output = dict(observations=[dict(name=n) for n in names], verdict=dict(reasons=[reason]))
    assert judged(output) == {"fits[1].amp"}
    reason["observations"] = ["fits[*].amp"]
    assert judged(output) == {"fits[0].amp", "fits[1].amp"}
