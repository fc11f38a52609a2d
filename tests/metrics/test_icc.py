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
from reprovip.metrics.icc import PINGOUIN_LABELS, two_way_mean_squares

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


# --- degenerate cases ------------------------------------------------------------------------------------


def _no_nan(res):
    for r in res.values():
        for field in FIELDS:
            assert not np.isnan(getattr(r, field)).any(), (r.form, field)


def test_identical_executions_give_one():
    """Zero within-subject variance, positive subject variance: every ICC is 1, CI (1, 1), F inf, p 0."""
    x = np.repeat(np.array([[0.1], [0.7], [2.3], [5.0]]), 3, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = icc_all(x)
    for r in res.values():
        assert (r.icc, r.ci_low, r.ci_high, r.f, r.pval) == (1.0, 1.0, 1.0, np.inf, 0.0)
        assert r.degenerate is True


@pytest.mark.parametrize("value", [0.0, 0.1, -3.7, 1e300])
def test_all_equal_gives_one(value):
    """No variance at all (0/0): documented fixed values ICC = 1, CI (1, 1), F = inf, p = 0."""
    res = icc_all(np.full((5, 4), value))
    for r in res.values():
        assert (r.icc, r.ci_low, r.ci_high, r.f, r.pval, r.degenerate) == (1.0, 1.0, 1.0, np.inf, 0.0, True)


def test_identical_subjects_executions_differ():
    """Subject mean square 0 with executions that differ: ICC(1,1) = -1/(k-1), ICC(1,k) = -inf, no NaN."""
    x = np.tile([1.0, 2.0, 4.0], (5, 1))
    res = icc_all(x)
    _no_nan(res)
    assert res["ICC(1,1)"].icc == pytest.approx(-0.5)
    assert res["ICC(1,k)"].icc == -np.inf
    assert res["ICC(A,1)"].icc == 0.0
    assert res["ICC(C,1)"].icc == 1.0  # no residual once rater offsets are removed: the 0/0 convention
    assert res["ICC(1,1)"].pval == 1.0


def test_consistent_offsets():
    """Executions differ by a constant offset only: consistency forms are 1, agreement forms below 1."""
    x = np.arange(6.0)[:, None] + np.array([0.0, 0.5, 1.0])
    res = icc_all(x)
    _no_nan(res)
    assert res["ICC(C,1)"].icc == pytest.approx(1.0)
    assert 0 < res["ICC(A,1)"].icc < 1
    assert 0 < res["ICC(A,1)"].ci_low <= res["ICC(A,1)"].icc <= res["ICC(A,1)"].ci_high <= 1


def test_degenerate_mixed_with_regular(rng):
    """Degenerate voxels do not affect regular ones in a vectorised call."""
    regular = rng.normal(size=(6, 3)) + rng.normal(size=(6, 1))
    x = np.stack([regular, np.zeros((6, 3)), np.repeat(regular[:, :1], 3, axis=1)])
    res = icc_all(x)
    ref = icc_all(regular)
    for form in FORMS:
        assert res[form].icc[0] == pytest.approx(ref[form].icc, rel=1e-12)
        assert res[form].icc[1] == res[form].icc[2] == 1.0
        assert res[form].degenerate.tolist() == [False, True, True]


@settings(max_examples=60, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(2, 5), st.integers(2, 4)), elements=st.integers(0, 1)))
def test_binary_data_never_nan(x):
    """Integer 0/1 data hit exact zero mean squares in many combinations: never NaN, never a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _no_nan(icc_all(x))


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
        (-np.inf, "poor"),
        (0.49, "poor"),
        (0.5, "moderate"),
        (0.749, "moderate"),
        (0.75, "good"),
        (0.9, "good"),
        (0.9001, "excellent"),
        (1.0, "excellent"),
    ],
)
def test_koo_li_band(value, band):
    """Koo & Li (2016): <0.5 poor, 0.5-0.75 moderate, 0.75-0.9 good, >0.9 excellent."""
    assert koo_li_band(value) == band


def test_koo_li_band_vectorised():
    assert koo_li_band(np.array([[0.1, 0.95]])).tolist() == [["poor", "excellent"]]


def test_koo_li_band_rejects_nan():
    with pytest.raises(MetricInputError, match="`value` must not contain NaN"):
        koo_li_band([0.5, np.nan])


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
def test_every_two_valued_table_never_nan(values):
    """Exhaustive: every 2-valued table up to 4 x 4 (all exact-zero mean-square patterns), in one call."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n, k in [(2, 2), (2, 4), (3, 3), (4, 4)]:
            bits = (np.arange(2 ** (n * k))[:, None] >> np.arange(n * k)) & 1
            _no_nan(icc_all(np.where(bits == 1, values[1], values[0]).reshape(-1, n, k)))
