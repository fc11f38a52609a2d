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
