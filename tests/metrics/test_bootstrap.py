"""Tests of reprovip.metrics.bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from reprovip.errors import MetricInputError
from reprovip.metrics import icc, subject_bootstrap_ci

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def test_equals_hand_rolled_percentile_bootstrap(rng):
    """Same generator, same resamples: equal to a plain percentile bootstrap loop (Efron & Tibshirani)."""
    x = rng.normal(size=(12, 3)) + rng.normal(size=(12, 1))

    def stat(a):
        return icc(a).icc

    ci = subject_bootstrap_ci(x, stat, n_boot=200, seed=3)
    g = np.random.default_rng(3)
    idx = g.integers(0, 12, size=(200, 12))
    boots = [stat(x[i]) for i in idx]
    assert ci.estimate == stat(x)
    assert (ci.low, ci.high) == pytest.approx(tuple(np.quantile(boots, [0.025, 0.975])), rel=1e-12)


def test_deterministic_for_seed(rng):
    x = rng.normal(size=(10, 2))
    a = subject_bootstrap_ci(x, lambda v: float(v.mean()), n_boot=100, seed=1)
    b = subject_bootstrap_ci(x, lambda v: float(v.mean()), n_boot=100, seed=1)
    c = subject_bootstrap_ci(x, lambda v: float(v.mean()), n_boot=100, seed=2)
    assert a == b and a != c


def test_array_statistic(rng):
    """A statistic over leading axes gives intervals of the same shape, each containing its estimate."""
    x = rng.normal(size=(4, 20, 3)) + rng.normal(size=(4, 20, 1)) * 3
    ci = subject_bootstrap_ci(x, lambda a: icc(a).icc, n_boot=100)
    assert ci.estimate.shape == ci.low.shape == ci.high.shape == (4,)
    assert np.all(ci.low <= ci.high)


def test_resamples_subjects_not_executions():
    """Rows are kept whole: a statistic of within-row spread never changes."""
    x = np.array([[1.0, 2.0], [5.0, 6.0], [9.0, 10.0]])
    ci = subject_bootstrap_ci(x, lambda a: float(np.ptp(a, axis=-1).max()), n_boot=50)
    assert (ci.estimate, ci.low, ci.high) == (1.0, 1.0, 1.0)


def test_infinite_statistic_values():
    """Equal infinite neighbours give that infinity rather than NaN."""
    ci = subject_bootstrap_ci(np.ones((3, 2)), lambda a: -np.inf, n_boot=20)
    assert (ci.estimate, ci.low, ci.high) == (-np.inf, -np.inf, -np.inf)


def test_input_not_modified(rng):
    x = rng.normal(size=(5, 2))
    before = x.copy()
    subject_bootstrap_ci(x, lambda a: float(a.sum()), n_boot=10)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.ones((1, 2)), {}, "`x` needs at least 2 subjects"),
        (np.ones(3), {}, "`x` must have at least 2 dimensions"),
        (np.ones((3, 2)), {"n_boot": 0}, "`n_boot` must be an integer >= 1"),
        (np.ones((3, 2)), {"confidence": 1.2}, r"`confidence` must be in \(0, 1\)"),
        (np.ones((3, 2)), {"statistic": 3}, "`statistic` must be callable"),
        (np.ones((3, 2)), {"statistic": lambda a: np.nan}, "`statistic` returned NaN"),
    ],
)
def test_bad_input(x, kwargs, match):
    stat = kwargs.pop("statistic", lambda a: float(a.mean()))
    with pytest.raises(MetricInputError, match=match):
        subject_bootstrap_ci(x, stat, **kwargs)
