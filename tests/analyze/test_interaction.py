"""Tests of reprovip.analyze.interaction, checked against pingouin's and statsmodels' factorial ANOVA (subject and
factor as crossed factors, the interaction tested against the residual mean square)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from reprovip.analyze.interaction import interaction_tests


def test_interaction_tests_match_pingouins_two_way_anova() -> None:
    """p of subject x threads against the residual = pingouin.anova(between=[subject, threads]) "subject *
    threads" p_unc (pingouin 0.7.0), and one subject moved by threads=2 is named as carrying it."""
    rng = np.random.default_rng(5)
    x = 10.0 * np.arange(5)[:, None, None] + rng.normal(0, 1, (5, 2, 3))
    x[1, 1] += 6.0
    df = pd.DataFrame(
        [dict(subject=f"s{s}", threads=str(t), v=x[s, t, r]) for s, t, r in np.ndindex(x.shape)],
    )
    table = pg.anova(df, dv="v", between=["subject", "threads"]).set_index("Source")
    (got,) = interaction_tests(x[None], ("threads",), [f"s{i}" for i in range(5)])
    assert got["threads"]["p"] == pytest.approx(table.loc["subject * threads", "p_unc"], rel=1e-9)
    assert got["threads"]["subject"] == "s1" and got["threads"]["carried"] > 0.5


def test_interaction_tests_match_statsmodels_with_two_factors() -> None:
    """With threads x seed, each factor's interaction with the subjects = statsmodels' anova_lm (typ 2, full
    factorial OLS, balanced: sequential and type II agree) F test against the residual (statsmodels 0.14)."""
    rng = np.random.default_rng(6)
    x = 10.0 * np.arange(4)[:, None, None, None] + rng.normal(0, 1, (4, 2, 2, 2))
    x[0, 1] += 3.0
    df = pd.DataFrame(
        [dict(s=f"s{s}", t=str(t), d=str(d), v=x[s, t, d, r]) for s, t, d, r in np.ndindex(x.shape)],
    )
    table = sm.stats.anova_lm(smf.ols("v ~ C(s) * C(t) * C(d)", df).fit(), typ=2)
    (got,) = interaction_tests(x[None], ("threads", "seed"), ["s0", "s1", "s2", "s3"])
    assert got["threads"]["p"] == pytest.approx(table.loc["C(s):C(t)", "PR(>F)"], rel=1e-9)
    assert got["seed"]["p"] == pytest.approx(table.loc["C(s):C(d)", "PR(>F)"], rel=1e-9)


@pytest.mark.parametrize(("shape", "factors"), [((1, 4, 2, 1), ("threads",)), ((1, 1, 2, 3), ("threads",))])
def test_interaction_tests_without_a_residual_or_with_one_subject_test_nothing(shape, factors) -> None:
    """One repetition leaves no residual to test the interaction against; one subject has no interaction."""
    assert interaction_tests(np.ones(shape), factors, ["a", "b", "c", "d"][: shape[1]]) == [{}]


def test_two_subjects_never_name_one_as_carrying_the_interaction() -> None:
    """With two subjects the interaction is symmetric (each carries half): naming one would be arbitrary."""
    x = np.array([[[[0.0, 0.1], [5.0, 5.1]], [[10.0, 10.1], [10.0, 10.1]]]])
    (got,) = interaction_tests(x, ("threads",), ["a", "b"])
    assert got["threads"]["subject"] is None and got["threads"]["carried"] == pytest.approx(0.5)


def test_a_one_ulp_difference_is_no_interaction_by_rounding() -> None:
    """Review MM: one execution of one subject 1 ulp above its repetitions (values 100-400) read "threads changes
    the result of some subjects only", p 1e-8: rounding of the values' magnitude in the sums of squares. The
    exact F of that layout is 1 (the interaction and the residual mean squares are both u^2/24)."""
    from scipy import stats

    x = np.empty((1, 4, 2, 3))
    for s in range(4):
        x[0, s] = np.random.default_rng(s + 1).normal(100.0 * (s + 1), 10.0)
    x[0, 1, 1, 1] = np.nextafter(x[0, 1, 1, 1], np.inf)
    (test,) = interaction_tests(x, ("threads",), ["1", "2", "3", "4"])
    assert test["threads"]["p"] == pytest.approx(stats.f.sf(1.0, 3, 16), rel=1e-9)
