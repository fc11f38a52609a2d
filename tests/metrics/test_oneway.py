"""Tests of reprovip.metrics.oneway against Shrout & Fleiss (1979), pingouin and the batch functions."""

from __future__ import annotations

import numpy as np
import pytest

from reprovip.errors import MetricInputError
from reprovip.metrics import repeatability
from reprovip.metrics.oneway import OneWayAccumulator

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; ICC(1,1) printed as 0.17 (R psych: 0.166)
SF_DATA = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)


def _accumulate(x: np.ndarray, transform=None) -> OneWayAccumulator:
    """``x`` of shape (values, subjects, executions), added one subject at a time."""
    acc = OneWayAccumulator(x.shape[0])
    for s in range(x.shape[1]):
        acc.add([x[:, s, e] for e in range(x.shape[2])], transform=transform)
    return acc


def test_shrout_fleiss_icc1():
    """ICC(1,1) of the Shrout & Fleiss table: 0.166 as R psych prints it."""
    acc = _accumulate(SF_DATA[None])
    assert acc.icc1()[0] == pytest.approx(0.166, abs=5e-4)


def test_matches_pingouin_and_repeatability(pingouin_icc, rng):
    """Per value, ICC(1,1) equals pingouin's ICC(1,1) (ICC1 before 0.7) and the within-subject SD equals ``repeatability().wsd``."""
    x = rng.normal(size=(5, 7, 3)) + rng.normal(scale=3, size=(5, 7, 1))
    acc = _accumulate(x)
    for v in range(5):
        assert acc.icc1()[v] == pytest.approx(pingouin_icc(x[v]).loc["ICC(1,1)", "ICC"], rel=1e-9)
    np.testing.assert_allclose(acc.within_sd(), repeatability(x).wsd, rtol=1e-12)
    np.testing.assert_allclose(acc.grand_mean(), x.mean(axis=(1, 2)), rtol=1e-12)
    # the subjects' SD component: (MSB - MSW) / R, from pingouin's ICC1 and the SDs
    msw = acc.within_sd() ** 2
    icc = acc.icc1()
    np.testing.assert_allclose(acc.between_sd() ** 2, icc * msw / (1 - icc), rtol=1e-9)


def test_transform_equals_transformed_rows(rng):
    """A linear transform applied while accumulating gives the results of the transformed executions."""
    x = rng.normal(size=(6, 4, 3))

    def centre(a: np.ndarray) -> np.ndarray:
        return a - a.reshape(2, 3).mean(axis=1).repeat(3)

    direct = _accumulate(np.stack([np.apply_along_axis(centre, 0, x[:, s, :]) for s in range(4)], axis=1))
    streamed = _accumulate(x, transform=centre)
    for name in ("within_sd", "between_sd", "icc1", "grand_mean"):
        np.testing.assert_allclose(getattr(streamed, name)(), getattr(direct, name)(), rtol=1e-12, atol=1e-15)


def test_identical_values_have_no_icc():
    """Every value equal: SD 0 and ICC 0/0, NaN (not 1: nothing was measured)."""
    acc = _accumulate(np.ones((1, 3, 2)))
    assert acc.within_sd()[0] == 0 and np.isnan(acc.icc1()[0])


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([np.zeros(2)], "at least 2"),
        ([np.zeros(3), np.zeros(3)], r"shape \(2,\)"),
        ([np.zeros(2), np.array([0.0, np.nan])], "NaN or infinite"),
        ([np.array(["a", "b"]), np.zeros(2)], "real arrays"),
    ],
)
def test_bad_rows(rows, match):
    """Bad executions are refused with the reason, before any state changes."""
    acc = OneWayAccumulator(2)
    with pytest.raises(MetricInputError, match=match):
        acc.add(rows)
    assert acc.n_subjects == 0


def test_needs_two_subjects_and_same_executions():
    """Two subjects at least; every subject the same number of executions."""
    acc = OneWayAccumulator(1)
    acc.add([np.zeros(1), np.ones(1)])
    with pytest.raises(MetricInputError, match="at least 2 subjects"):
        acc.icc1()
    with pytest.raises(MetricInputError, match="must hold 2 executions"):
        acc.add([np.zeros(1)] * 3)
