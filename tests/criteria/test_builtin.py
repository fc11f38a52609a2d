"""Built-in reasons' messages on degenerate values."""

from __future__ import annotations

from reprovip.criteria.builtin import builtin_reasons


def test_an_icc_undefined_without_the_far_subject_is_said_not_a_crash() -> None:
    """The other subjects' values all equal: the ICC without the far one is 0/0 (None in the document), and the
    message crashed the analysis with a TypeError (a review's folders beside real subjects)."""
    lean = dict(subject="sub-analysis", **{"with": 0.97, "without": None})
    out = dict(name="o", kind="table", observations=[dict(name="a/v", icc_leans_on=lean)], bitwise={})
    (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "ICC on every subject"]
    assert why["message"].endswith("a/v: ICC(A,1) 0.97 with subject sub-analysis, undefined (0/0) without it")


def test_files_that_differ_where_the_study_ignores_say_so() -> None:
    """Review R4: files differing in an ignored value read "every number read from them is identical", and the
    ignored `time_to_peak` had varied by 10%: the values the study ignores are not read, and the message says so."""
    ignored = dict(count=2, names=["start_time", "time_to_peak"], patterns=["start_time", "tim*"], unmatched=[])
    out = dict(name="o", kind="scalars", observations=[], unmeasured_differences=5, ignored_observations=ignored)
    (why,) = [r for r in builtin_reasons(out) if "differ between executions" in r["message"]]
    assert (
        "while every number judged is identical: the difference is in what the study ignores (start_time; "
        in (why["message"])
    )
    assert "number read from them is identical" not in why["message"] and why["severity"] == "warn"


def test_the_ignored_values_that_differ_are_named() -> None:
    """Review QC: a 1000-fold change of an ignored `EchoTime` was listed among ignored values that never changed."""
    ignored = dict(count=3, names=["a", "echo", "z"], patterns=["*"], unmatched=[], differ=["echo"])
    out = dict(name="o", kind="scalars", observations=[], unmeasured_differences=2, ignored_observations=ignored)
    (why,) = [r for r in builtin_reasons(out) if "differ between executions" in r["message"]]
    assert "what the study ignores (differing: echo: not compared)" in why["message"]
