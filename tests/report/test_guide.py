"""What to do next (:func:`reprovip.report.guide.next_steps`), read from a stored analysis document."""

from __future__ import annotations

import pytest

from reprovip.report.guide import next_steps


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
