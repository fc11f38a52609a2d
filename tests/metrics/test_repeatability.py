"""Tests of reprovip.metrics.repeatability against hand-worked values and textbook formulas."""

from __future__ import annotations

import warnings
from decimal import Decimal, localcontext

import numpy as np
import pytest

from reprovip.errors import MetricInputError
from reprovip.metrics import icc_all, repeatability
from reprovip.metrics.icc import two_way_mean_squares

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FIELDS = ("grand_mean", "wsd", "wcv_rms", "wcv_log", "rc", "bsd", "bcv", "sd_ratio")


def test_hand_worked():
    """Three subjects, two executions; values worked out by hand from Bland & Altman (1996, 1999).

    s_i^2 = d_i^2 / 2 for k = 2: 0.02, 0.08, 0.045 -> MSW = 0.145 / 3; RC = 1.96 sqrt(2) sqrt(MSW).
    """
    x = np.array([[10.0, 10.2], [20.0, 19.6], [30.0, 30.3]])
    r = repeatability(x)
    s2 = np.array([0.02, 0.08, 0.045])
    m = np.array([10.1, 19.8, 30.15])
    assert r.wsd == pytest.approx(np.sqrt(0.145 / 3), rel=1e-12)
    assert r.rc == pytest.approx(1.96 * np.sqrt(2) * np.sqrt(0.145 / 3), rel=1e-12)
    assert r.wcv_rms == pytest.approx(np.sqrt(np.mean(s2 / m**2)), rel=1e-12)
    assert r.grand_mean == pytest.approx(m.mean(), rel=1e-12)
    assert r.bsd == pytest.approx(np.std(m, ddof=1), rel=1e-12)
    assert r.bcv == pytest.approx(np.std(m, ddof=1) / m.mean(), rel=1e-12)
    assert r.sd_ratio == pytest.approx(r.wsd / r.bsd, rel=1e-12)
    assert r.log_valid is True


def test_log_method(rng):
    """Log method: sqrt(exp(s_log^2) - 1), s_log^2 the pooled within-subject variance of log values."""
    x = np.exp(rng.normal(size=(8, 4)) * 0.05 + rng.normal(size=(8, 1)))
    s2log = np.var(np.log(x), axis=1, ddof=1).mean()
    assert repeatability(x).wcv_log == pytest.approx(np.sqrt(np.exp(s2log) - 1), rel=1e-12)
    assert repeatability(x).wcv_log == pytest.approx(repeatability(x).wcv_rms, rel=0.1)


def _exact_wcv_log(x: np.ndarray) -> float:
    """Log-method wCV in 60-digit decimal arithmetic: the logs of the binary values taken exactly."""
    with localcontext() as ctx:
        ctx.prec = 60
        s2 = []
        for row in x:
            logs = [Decimal(float(v)).ln() for v in row]
            m = sum(logs) / len(logs)
            s2.append(sum((v - m) ** 2 for v in logs) / (len(logs) - 1))
        return float(((sum(s2) / len(s2)).exp() - 1).sqrt())


@pytest.mark.parametrize("offset", [1e9, 1e13, 1e14])
def test_log_method_large_offset(rng, offset):
    """Values near a large offset varying in their last digits: log x - mean(log x) must not cancel (a review:
    32% error at 1e13)."""
    x = offset + np.arange(5)[:, None] * offset * 1e-14 + rng.normal(0, offset * 1e-15, (5, 3))
    assert repeatability(x).wcv_log == pytest.approx(_exact_wcv_log(x), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "x",
    [[[1e-10, 1.0, 1e10], [3.0, 2.0, 7.0]], [[1e-150, 1e150], [0.5, 0.25]], [[5.0, 2.6, 9.9], [1.0, 0.51, 1.99]]],
)
def test_log_method_spread_values(x):
    """Values far apart (beyond a factor 2 of the subject's first value) keep full accuracy too."""
    assert repeatability(x).wcv_log == pytest.approx(_exact_wcv_log(np.array(x)), rel=1e-12, abs=0)


def test_wsd_is_sqrt_msw(rng):
    """wsd^2 equals the within-subject mean square of the one-way ANOVA used by the ICC."""
    x = rng.normal(size=(6, 3))
    assert repeatability(x).wsd ** 2 == pytest.approx(two_way_mean_squares(x)[3], rel=1e-12)
    assert icc_all(x)["ICC(1,1)"].f == pytest.approx(
        x.shape[1] * repeatability(x).bsd ** 2 / repeatability(x).wsd ** 2, rel=1e-12
    )


def test_vectorised_equals_loop(rng):
    x = rng.normal(size=(4, 5, 3)) + 10
    r = repeatability(x)
    for i in range(4):
        one = repeatability(x[i])
        for f in FIELDS:
            assert getattr(r, f)[i] == pytest.approx(getattr(one, f), rel=1e-12)


# --- degenerate cases ------------------------------------------------------------------------------------


def test_identical_executions():
    """Identical executions (0.1 repeated, whose float mean is inexact): every within statistic is 0."""
    x = np.repeat(np.array([[0.1], [0.3], [0.7]]), 3, axis=1)
    r = repeatability(x)
    assert (r.wsd, r.wcv_rms, r.wcv_log, r.rc, r.sd_ratio) == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_all_equal():
    """All values equal: no variation anywhere, every statistic 0 (sd_ratio 0/0 -> 0, bcv 0/|m| -> 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = repeatability(np.full((4, 3), 2.5))
    assert [getattr(r, f) for f in FIELDS] == [2.5, 0, 0, 0, 0, 0, 0, 0]


def test_all_zero():
    r = repeatability(np.zeros((4, 3)))
    assert [getattr(r, f) for f in FIELDS] == [0.0] * 8
    assert r.log_valid is False


def test_zero_mean_subject_gives_inf_cv():
    """A subject with mean 0 whose executions differ makes the RMS wCV infinite (documented)."""
    r = repeatability(np.array([[-1.0, 1.0], [2.0, 2.1]]))
    assert r.wcv_rms == np.inf
    assert r.log_valid is False and r.wcv_log == np.inf


def test_non_positive_data_falls_back_to_rms():
    x = np.array([[-1.0, -1.2], [2.0, 2.1], [3.0, 2.9]])
    r = repeatability(x)
    assert r.log_valid is False
    assert r.wcv_log == r.wcv_rms


def test_zero_grand_mean_bcv_inf():
    r = repeatability(np.array([[-1.0, -1.0], [1.0, 1.0]]))
    assert r.bcv == np.inf and r.bsd > 0 and r.sd_ratio == 0.0


def test_identical_subjects_sd_ratio_inf():
    """Subjects with identical means but differing executions: bsd = 0, sd_ratio = inf."""
    r = repeatability(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert r.bsd == 0.0 and r.sd_ratio == np.inf


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.ones(3), "`x` must have at least 2 dimensions"),
        (np.ones((1, 3)), "`x` needs at least 2 subjects"),
        (np.ones((3, 1)), "`x` needs at least 2 executions"),
        ([[1.0, np.nan], [1.0, 2.0]], "`x` contains NaN"),
        ([[1.0, 2.0], [3.0]], "`x` must be an array of numbers"),
    ],
)
def test_bad_input(x, match):
    with pytest.raises(MetricInputError, match=match):
        repeatability(x)
