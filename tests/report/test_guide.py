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


def _output(status: str, factors: dict, *, repetitions_identical: bool = True, **extra) -> dict:
    """A stored output whose verdict is ``status`` with no failed reason, and the bitwise ``factors``."""
    bits = dict(identical=False, repetitions_identical=repetitions_identical, factors=factors)
    return dict(name="vol", verdict=dict(status=status, reasons=[]), bitwise=bits, **extra)


SEED = dict(changes_result=True, nondeterministic_levels=["random"], levels={"random": {}, "42": {}})
THREADS = dict(changes_result=True, nondeterministic_levels=[], levels={"1": {}, "2": {}})


@pytest.mark.parametrize(
    ("factors", "repetitions_identical", "action"),
    [
        ({"seed": SEED}, True, "within the criteria: no change needed; to remove the drift: use seed=42"),
        (
            {"threads": THREADS},
            True,
            "within the criteria: no change needed; to remove the drift: pin the thread count (threads: 1)",
        ),
        (
            {},
            False,
            "within the criteria: no change needed; to remove the drift: seed every random generator, run "
            "single-threaded, then look for parallel reductions",
        ),
        ({}, True, "within the criteria: no change needed"),
    ],
    ids=["quiet-level", "factor", "run-to-run", "nothing-to-remove"],
)
def test_a_drift_within_the_criteria_says_what_would_remove_it_in_a_sentence(
    factors: dict, repetitions_identical: bool, action: str
) -> None:
    """Before: "(use seed=42 would remove the drift)" and "(pin the thread count (threads: 1), or accept the
    drift it causes would remove the drift)"."""
    (step,) = next_steps(dict(outputs=[_output("pass", factors, repetitions_identical=repetitions_identical)]))
    assert step["action"] == action


def test_a_failing_output_says_what_was_found_then_the_fix() -> None:
    (step,) = next_steps(dict(outputs=[_output("fail", {"seed": SEED})]))
    assert step["action"] == "repetitions differ only at seed=random: use seed=42"
