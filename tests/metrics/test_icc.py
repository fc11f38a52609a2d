"""Tests of reprovip.metrics.icc against published values and pingouin."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reprovip.errors import MetricInputError
from reprovip.metrics import FORMS, icc, icc_all, icc_from_mean_squares, koo_li_band
from reprovip.metrics.icc import (
    CI_UNINFORMATIVE_NOTE,
    PINGOUIN_LABELS,
    REASONS,
    icc_a1_from_mean_squares,
    two_way_mean_squares,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

SF_DATA = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
FIELDS = ("icc", "f", "df1", "df2", "pval", "ci_low", "ci_high")

# Shrout & Fleiss (1979), Table 2 data; ICC, F, df, p and 95% bounds as printed by R psych::ICC(sf)
# (help page example; the same numbers are in the brief of this module). Tolerances follow the rounding of
# the printed values: ICC to 3 decimals, F to 3 decimals, p to 5, lower bound to 3, upper bound to 2.
PUBLISHED = [
    ("ICC(1,1)", 0.166, 1.795, 5, 18, 0.16477, -0.133, 0.72),
    ("ICC(A,1)", 0.290, 11.027, 5, 15, 0.00013, 0.019, 0.76),
    ("ICC(C,1)", 0.715, 11.027, 5, 15, 0.00013, 0.342, 0.95),
    ("ICC(1,k)", 0.443, 1.795, 5, 18, 0.16477, -0.884, 0.91),
    ("ICC(A,k)", 0.620, 11.027, 5, 15, 0.00013, 0.071, 0.93),
    ("ICC(C,k)", 0.909, 11.027, 5, 15, 0.00013, 0.676, 0.99),
]


@pytest.mark.parametrize(("form", "value", "f", "df1", "df2", "p", "low", "high"), PUBLISHED)
def test_shrout_fleiss_published(form, value, f, df1, df2, p, low, high):
    """Shrout & Fleiss (1979) example as reported by R psych::ICC, to the published rounding."""
    r = icc_all(SF_DATA)[form]
    assert r.form == form
    assert r.icc == pytest.approx(value, abs=5e-4)
    assert r.f == pytest.approx(f, abs=5e-4)
    assert (r.df1, r.df2) == (df1, df2)
    assert r.pval == pytest.approx(p, abs=5e-6)
    assert r.ci_low == pytest.approx(low, abs=5e-4)
    assert r.ci_high == pytest.approx(high, abs=5e-3)
    assert r.degenerate is False
    assert (r.estimable, r.reason, r.ci_unbounded, r.above_one, r.ci_uninformative) == (True, None, False, False, False)


def _assert_matches_pingouin(res, ref):
    for form in FORMS:
        row, r = ref.loc[form], res[form]
        np.testing.assert_allclose(
            [r.icc, r.f, r.df1, r.df2, r.pval, r.ci_low, r.ci_high],
            [row["ICC"], row["F"], row["df1"], row["df2"], row["pval"], *row["CI95"]],
            rtol=1e-9,
            atol=1e-300,
            err_msg=form,
        )


@pytest.mark.parametrize("shape", [(6, 4), (10, 2), (5, 7), (30, 3), (3, 12)])
def test_matches_pingouin_random(pingouin_icc, rng, shape):
    """All six forms equal pingouin.intraclass_corr (0.7, unrounded) to 1e-9 relative."""
    x = rng.normal(size=shape) + rng.normal(size=(shape[0], 1)) * rng.uniform(0.2, 3)
    _assert_matches_pingouin(icc_all(x), pingouin_icc(x))


def test_matches_pingouin_shrout_fleiss(pingouin_icc):
    """The Shrout & Fleiss table equals pingouin.intraclass_corr to 1e-9 relative."""
    _assert_matches_pingouin(icc_all(SF_DATA), pingouin_icc(SF_DATA))


def test_pingouin_labels():
    """Shrout & Fleiss names: R psych's `type` column and pingouin < 0.7 labels; >= 0.7 uses FORMS."""
    assert PINGOUIN_LABELS == {
        "ICC(1,1)": "ICC1",
        "ICC(A,1)": "ICC2",
        "ICC(C,1)": "ICC3",
        "ICC(1,k)": "ICC1k",
        "ICC(A,k)": "ICC2k",
        "ICC(C,k)": "ICC3k",
    }


@pytest.mark.parametrize("confidence", [0.9, 0.99])
def test_confidence_level_matches_pingouin_formula(rng, confidence):
    """A wider level widens the interval; 0.95 is the default."""
    x = rng.normal(size=(8, 3)) + rng.normal(size=(8, 1))
    base, other = icc_all(x), icc_all(x, confidence=confidence)
    for form in FORMS:
        wider = confidence > 0.95
        assert (other[form].ci_low < base[form].ci_low) == wider
        assert (other[form].ci_high > base[form].ci_high) == wider
        assert other[form].icc == base[form].icc


def test_vectorised_equals_loop(rng):
    """Leading axes are independent problems: one call equals the loop."""
    x = rng.normal(size=(3, 4, 7, 5)) + rng.normal(size=(3, 4, 7, 1))
    res = icc_all(x)
    for i in range(3):
        for j in range(4):
            one = icc_all(x[i, j])
            for form in FORMS:
                for field in FIELDS:
                    assert getattr(res[form], field)[i, j] == pytest.approx(getattr(one[form], field), rel=1e-12)


def test_results_are_read_only(rng):
    res = icc_all(rng.normal(size=(2, 5, 3)))["ICC(A,1)"]
    with pytest.raises(ValueError, match="read-only"):
        res.icc[0] = 0.0


def test_input_not_modified(rng):
    x = rng.normal(size=(5, 3))
    before = x.copy()
    icc_all(x)
    np.testing.assert_array_equal(x, before)


def test_icc_single_form(rng):
    x = rng.normal(size=(6, 3))
    assert icc(x) == icc_all(x)["ICC(A,1)"]
    assert icc(x, form="ICC(C,k)") == icc_all(x)["ICC(C,k)"]


def test_from_mean_squares_equals_icc_all(rng):
    x = rng.normal(size=(9, 4)) + rng.normal(size=(9, 1))
    res = icc_from_mean_squares(*two_way_mean_squares(x), 9, 4)
    assert res == icc_all(x)


# --- degenerate cases: not estimable, never a perfect score ----------------------------------------------


def _assert_not_estimable(r, reason):
    """Value and CI NaN, no Koo & Li band, and the documented reason."""
    assert np.isnan([r.icc, r.ci_low, r.ci_high]).all(), r.form
    assert (r.estimable, r.reason, r.ci_unbounded) == (False, reason, False), r.form
    assert koo_li_band(r.ci_low) is None, r.form


def _assert_consistent(res):
    """NaN exactly where not estimable, a reason exactly there; estimable values ordered low <= icc <= high <= 1;
    ``ci_unbounded`` exactly where the lower bound is -inf."""
    for r in res.values():
        est = np.asarray(r.estimable)
        for field in ("icc", "ci_low", "ci_high"):
            np.testing.assert_array_equal(np.isnan(getattr(r, field)), ~est, err_msg=f"{r.form} {field}")
        reasons = np.asarray(r.reason, dtype=object).ravel()
        assert [s is None for s in reasons] == est.ravel().tolist(), r.form
        np.testing.assert_array_equal(r.ci_unbounded, np.isneginf(r.ci_low), err_msg=r.form)
        v, lo, hi = (np.asarray(getattr(r, f))[est] for f in ("icc", "ci_low", "ci_high"))
        assert (lo <= v + 1e-9).all() and (v <= hi + 1e-9).all() and (hi <= 1).all(), r.form
        assert not np.asarray(r.above_one)[est].any(), r.form


def _pingouin_quiet(pingouin_icc, x):
    """pingouin on a degenerate table: its own 0/0 and x/0 RuntimeWarnings are expected there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return pingouin_icc(x)


def test_identical_executions_give_one(pingouin_icc):
    """Zero within-subject variance, positive subject variance (executions identical, subjects differ): a
    legitimate perfect score. Every ICC is 1, CI (1, 1) (the limit of the F-based interval as MSE -> 0), F inf,
    p 0, estimable. pingouin (0.7.0) agrees up to its rounding residue: F ~1e16, bounds within 1e-14 of 1."""
    x = np.repeat(np.array([[0.1], [0.7], [2.3], [5.0]]), 3, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = icc_all(x)
    ref = _pingouin_quiet(pingouin_icc, x)
    for form, r in res.items():
        assert (r.icc, r.ci_low, r.ci_high, r.f, r.pval) == (1.0, 1.0, 1.0, np.inf, 0.0)
        assert (r.degenerate, r.estimable, r.reason, r.ci_unbounded, r.above_one) == (True, True, None, False, False)
        assert koo_li_band(r.ci_low) == "excellent"
        np.testing.assert_allclose([ref.loc[form, "ICC"], *ref.loc[form, "CI95"]], 1.0, atol=1e-13)
        assert ref.loc[form, "F"] > 1e15 and ref.loc[form, "pval"] < 1e-40


@pytest.mark.parametrize("value", [0.0, 0.1, -3.7, 3.0, 1e300])
def test_all_equal_not_estimable(value):
    """No variance at all: every form is 0/0, so value, CI, F and p are NaN, with the reason, never 1.

    pingouin 0.7.0 gives NaN for every form on tables of 0.0, 3.0 or 1e300 (its 0/0); on 0.1 or -3.7 its
    sums of squares keep a rounding residue and it prints ICC(C,1) = inf and ICC(C,k) = 1.33: exact zeros are
    detected from equal values here instead (see test_all_equal_pingouin_exact)."""
    res = icc_all(np.full((5, 4), value))
    for r in res.values():
        _assert_not_estimable(r, REASONS[1])
        assert np.isnan([r.f, r.pval]).all() and r.degenerate is True
    assert REASONS[1] == "no variance between subjects nor between executions: every value is equal (0/0)"


@pytest.mark.parametrize("value", [0.0, 3.0])
def test_all_equal_pingouin_exact(pingouin_icc, value):
    """Where pingouin's sums of squares are exactly 0 it returns NaN for every form, value, F and p: so do we."""
    x = np.full((5, 4), value)
    ref, res = _pingouin_quiet(pingouin_icc, x), icc_all(x)
    for form in FORMS:
        assert np.isnan([ref.loc[form, "ICC"], ref.loc[form, "F"], ref.loc[form, "pval"]]).all()
        assert np.isnan([res[form].icc, res[form].f, res[form].pval]).all()


def test_zero_between_subject_variance():
    """Every subject has the same values and executions differ by a common offset (MSR = MSE = 0, MSC > 0).

    The issue's false pass: ICC(C,1) was 1, CI (1, 1), p = 0, band "excellent". Consistency forms are 0/0,
    ICC(1,k) divides by MSR = 0; the agreement forms are exactly 0 (no subject variance, all of it between
    executions) and ICC(1,1) is its minimum -1/(k-1) (hand-computed from MSR = 0, MSW > 0)."""
    x = np.tile([1.0, 2.0, 4.0], (5, 1))
    res = icc_all(x)
    _assert_consistent(res)
    for form in ("ICC(C,1)", "ICC(C,k)"):
        _assert_not_estimable(res[form], REASONS[2])
        assert np.isnan([res[form].f, res[form].pval]).all()  # F = MSR / MSE = 0/0
    _assert_not_estimable(res["ICC(1,k)"], REASONS[3])
    assert (res["ICC(1,1)"].icc, res["ICC(1,1)"].f, res["ICC(1,1)"].pval) == (-0.5, 0.0, 1.0)
    for form in ("ICC(A,1)", "ICC(A,k)"):
        r = res[form]
        assert (r.icc, r.ci_low, r.ci_high, r.estimable) == (0.0, 0.0, 0.0, True)
        assert koo_li_band(r.ci_low) == "poor"


def test_identical_subject_means_latin_square(pingouin_icc):
    """MSR = MSC = 0 < MSE (a Latin square): single-measure forms equal pingouin's (-1/(k-1), and ICC(A,1) = -1,
    F = 0, p = 1). pingouin prints ICC(1,k) = ICC(C,k) = -inf (x/0) and ICC(A,k) = 3.0, above 1: here these
    are not estimable, the last flagged ``above_one`` (ICC(A,1) = -1 is below the Spearman-Brown pole -1/2)."""
    x = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [2.0, 3.0, 1.0]])
    res, ref = icc_all(x), _pingouin_quiet(pingouin_icc, x)
    _assert_consistent(res)
    for form in ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)"):
        r = res[form]
        np.testing.assert_allclose([r.icc, r.f, r.pval], ref.loc[form, ["ICC", "F", "pval"]].tolist(), rtol=1e-12)
    assert res["ICC(A,1)"].icc == pytest.approx(-1.0)
    for form in ("ICC(1,k)", "ICC(C,k)"):
        assert ref.loc[form, "ICC"] == -np.inf
        _assert_not_estimable(res[form], REASONS[3])
        assert (res[form].f, res[form].pval) == (0.0, 1.0)
    assert ref.loc["ICC(A,k)", "ICC"] == pytest.approx(3.0)
    _assert_not_estimable(res["ICC(A,k)"], REASONS[6])
    assert res["ICC(A,k)"].above_one is True


def test_two_by_two_zero_total_variance():
    """n = k = 2 with MSR = MSC = 0 < MSE: the ICC(A,1) denominator MSR + k MSC / n + (kn - k - n) MSE / n is
    0 (kn - k - n = 0), so ICC(A,1) divides by zero (was -inf). Hand-computed: MSE = 1, MSW = 1/2, ICC(1,1) =
    ICC(C,1) = -1. (pingouin needs at least 5 values.)"""
    res = icc_all(np.array([[0.0, 1.0], [1.0, 0.0]]))
    _assert_consistent(res)
    _assert_not_estimable(res["ICC(A,1)"], REASONS[4])
    _assert_not_estimable(res["ICC(A,k)"], REASONS[6])
    assert res["ICC(1,1)"].icc == res["ICC(C,1)"].icc == -1.0


def test_average_form_ci_crosses_pole(pingouin_icc):
    """The ICC(A,1) lower bound -0.737 is below -1/(k-1) = -0.5: pingouin's (and R psych's) Spearman-Brown step
    prints an ICC(A,k) lower bound of 4.66, above the estimate 0.023 and above 1, which would read as
    "excellent". Here it is -inf (``ci_unbounded``, no band); value and upper bound equal pingouin's."""
    x = np.array([[9.0, 3.0, 8.0], [3.0, 8.0, 2.0], [4.0, 3.0, 2.0]])
    res, ref = icc_all(x), pingouin_icc(x)
    _assert_consistent(res)
    a1, ak = res["ICC(A,1)"], res["ICC(A,k)"]
    assert a1.ci_low == pytest.approx(ref.loc["ICC(A,1)", "CI95"][0], rel=1e-9) and a1.ci_low < -0.5
    assert ref.loc["ICC(A,k)", "CI95"][0] == pytest.approx(4.6627, abs=1e-4)
    assert ak.icc == pytest.approx(ref.loc["ICC(A,k)", "ICC"], rel=1e-9)
    assert ak.ci_high == pytest.approx(ref.loc["ICC(A,k)", "CI95"][1], rel=1e-9)
    assert (ak.ci_low, ak.ci_unbounded, ak.estimable, ak.above_one) == (-np.inf, True, True, False)
    assert koo_li_band(ak.ci_low) is None
    assert not any(res[f].ci_unbounded for f in FORMS if f != "ICC(A,k)")


def test_two_subjects_ci_uninformative(pingouin_icc):
    """n = 2: values, F, p and CI equal pingouin's (1e-9), and every form says its CI is uninformative
    (one between-subject degree of freedom); n = 3 does not."""
    x = np.array([[1.0, 1.4, 0.9], [2.0, 2.2, 2.5]])
    res = icc_all(x)
    _assert_matches_pingouin(res, pingouin_icc(x))
    assert all(r.ci_uninformative is True for r in res.values())
    assert not any(r.ci_uninformative for r in icc_all(np.vstack([x, [[3.0, 3.1, 2.9]]])).values())
    assert "fewer than 3 subjects" in CI_UNINFORMATIVE_NOTE


def test_degenerate_mixed_with_regular(rng):
    """Degenerate tables do not affect regular ones in a vectorised call; flags are per table."""
    regular = rng.normal(size=(6, 3)) + rng.normal(size=(6, 1))
    x = np.stack([regular, np.zeros((6, 3)), np.repeat(regular[:, :1], 3, axis=1)])
    res = icc_all(x)
    ref = icc_all(regular)
    _assert_consistent(res)
    for form in FORMS:
        assert res[form].icc[0] == pytest.approx(ref[form].icc, rel=1e-12)
        assert np.isnan(res[form].icc[1]) and res[form].icc[2] == 1.0
        assert res[form].degenerate.tolist() == [False, True, True]
        assert res[form].estimable.tolist() == [True, False, True]
        assert res[form].reason.tolist() == [None, REASONS[1], None]


def test_point_estimate_alone_matches(rng):
    """The map-only ICC(A,1) point estimate is NaN exactly where icc_all's is (same rule, one helper)."""
    regular = rng.normal(size=(2, 2)) + rng.normal(size=(2, 1))
    x = np.stack([regular, np.zeros((2, 2)), np.array([[0.0, 1.0], [1.0, 0.0]]), np.repeat(regular[:, :1], 2, 1)])
    msr, msc, mse, _ = two_way_mean_squares(x)
    np.testing.assert_array_equal(icc_a1_from_mean_squares(msr, msc, mse, 2, 2), icc_all(x)["ICC(A,1)"].icc)
    assert np.isnan(icc_a1_from_mean_squares(msr, msc, mse, 2, 2)).tolist() == [False, True, True, False]


@settings(max_examples=60, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(2, 5), st.integers(2, 4)), elements=st.integers(0, 1)))
def test_binary_data_consistent(x):
    """Integer 0/1 data hit exact zero mean squares in many combinations: NaN exactly where not estimable,
    never a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_consistent(icc_all(x))


# --- properties ------------------------------------------------------------------------------------------

_tables = arrays(np.int16, st.tuples(st.integers(2, 6), st.integers(2, 5)), elements=st.integers(-20, 20)).map(
    lambda a: a * 0.5
)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-7)


def _off_pole(x) -> bool:
    """False at a pole of an ICC formula (a denominator that is 0 in exact arithmetic but not exactly 0 in
    floating point, e.g. MSR = 0 and MSC = MSE for ICC(A,k)): the value there is +-inf or +-1/eps depending on
    rounding, which no order-dependent float computation reproduces; near one (|denominator| < 1e-6) the
    condition number exceeds the test tolerance."""
    n, k = x.shape
    msr, msc, mse, msw = two_way_mean_squares(x)
    scale = msr + msc + mse + msw
    if scale == 0:
        return True
    dens = [msr + (msc - mse) / n, msr + (k - 1) * mse + k * (msc - mse) / n]
    a1 = icc_all(x)["ICC(A,1)"]  # Spearman-Brown step of the ICC(A,k) interval: pole at -1/(k-1)
    sb = [1 + (k - 1) * b for b in (a1.ci_low, a1.ci_high) if np.isfinite(b)]
    msr_ok = msr == 0 or msr > 1e-6 * scale  # an exact 0 is detected exactly (equal subject means)
    return msr_ok and all(abs(d) > 1e-6 * scale for d in dens) and all(abs(d) > 1e-6 for d in sb)


@settings(max_examples=60, deadline=None)
@given(_tables, st.integers(-1000, 1000))
def test_invariant_to_constant(x, c):
    """Adding a constant to every value leaves every ICC and CI unchanged."""
    assume(_off_pole(x))
    a, b = icc_all(x), icc_all(x + c)
    for form in FORMS:
        _close([a[form].icc, a[form].ci_low, a[form].ci_high], [b[form].icc, b[form].ci_low, b[form].ci_high])


@settings(max_examples=60, deadline=None)
@given(_tables, st.randoms(use_true_random=False))
def test_invariant_to_subject_order(x, random):
    """Permuting subjects leaves every ICC, F, p and CI unchanged."""
    assume(_off_pole(x))
    perm = list(range(x.shape[0]))
    random.shuffle(perm)
    a, b = icc_all(x), icc_all(x[perm])
    for form in FORMS:
        for field in FIELDS:
            _close(getattr(a[form], field), getattr(b[form], field))


# --- Koo & Li bands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-0.3, "poor"),
        (0.49, "poor"),
        (0.5, "moderate"),
        (0.749, "moderate"),
        (0.75, "good"),
        (0.9, "good"),
        (0.9001, "excellent"),
        (1.0, "excellent"),
        (np.nan, None),
        (-np.inf, None),
        (1.0001, None),
        (np.inf, None),
    ],
)
def test_koo_li_band(value, band):
    """Koo & Li (2016): <0.5 poor, 0.5-0.75 moderate, 0.75-0.9 good, >0.9 excellent; NaN (not estimable), -inf
    (unbounded lower bound) and values above 1 get no band, never "excellent" by default."""
    assert koo_li_band(value) == band


def test_koo_li_band_vectorised():
    assert koo_li_band(np.array([[0.1, 0.95, np.nan, -np.inf]])).tolist() == [["poor", "excellent", None, None]]


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.ones(4), {}, "`x` must have at least 2 dimensions"),
        (np.ones((1, 4)), {}, "`x` needs at least 2 subjects"),
        (np.ones((4, 1)), {}, "`x` needs at least 2 executions"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), {}, "`x` contains NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), {}, "`x` contains NaN or infinite"),
        (np.array([["a", "b"], ["c", "d"]]), {}, "`x` must be a real numeric array"),
        (np.ones((3, 3)), {"confidence": 1.0}, "`confidence` must be in \\(0, 1\\)"),
        (np.ones((3, 3)), {"confidence": "high"}, "`confidence` must be a number"),
    ],
)
def test_bad_input(x, kwargs, match):
    with pytest.raises(MetricInputError, match=match):
        icc_all(x, **kwargs)


def test_bad_form():
    with pytest.raises(MetricInputError, match=r"`form` must be one of \{.*'ICC\(A,1\)'.*\}, got 'ICC2'"):
        icc(np.ones((3, 3)), form="ICC2")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1.0, 1.0, 1.0, 1.0, 5, 3), "`msr` must be >= 0"),
        ((1.0, 1.0, np.nan, 1.0, 5, 3), "`mse` contains NaN"),
        ((1.0, 1.0, 1.0, 1.0, 1, 3), "`n` must be an integer >= 2"),
        ((1.0, 1.0, 1.0, 1.0, 5, 2.5), "`k` must be an integer >= 2"),
        (([1.0, 2.0], [1.0, 2.0, 3.0], 1.0, 1.0, 5, 3), "must broadcast together"),
    ],
)
def test_from_mean_squares_bad_input(args, match):
    with pytest.raises(MetricInputError, match=match):
        icc_from_mean_squares(*args)


@pytest.mark.parametrize("values", [(0.0, 1.0), (0.0, 0.1), (-1.3, 2.2)])
def test_every_two_valued_table_consistent(values):
    """Exhaustive: every 2-valued table up to 4 x 4 (all exact-zero mean-square patterns), in one call: NaN
    exactly where not estimable, bounds ordered, no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n, k in [(2, 2), (2, 4), (3, 3), (4, 4)]:
            bits = (np.arange(2 ** (n * k))[:, None] >> np.arange(n * k)) & 1
            _assert_consistent(icc_all(np.where(bits == 1, values[1], values[0]).reshape(-1, n, k)))
