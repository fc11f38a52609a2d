"""Tests of reprovip.metrics.sigdigits against the significantdigits package (Sohier et al. 2021)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprovip.errors import MetricInputError
from reprovip.metrics import required_samples, significant_digits

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

sd = pytest.importorskip("significantdigits")

LOG10_2 = np.log10(2)


def _data(rng, shape, scale):
    return 3.0 + rng.normal(size=shape[:-1] + (1,)) + rng.normal(size=shape) * scale


@pytest.mark.parametrize("method", ["cnh", "general"])
@pytest.mark.parametrize("base", [2, 10])
@pytest.mark.parametrize("reference", ["mean", "explicit"])
@pytest.mark.parametrize(("shape", "scale"), [((50, 8), 1e-3), ((4, 6, 20), 1e-7), ((30, 3), 0.5)])
def test_matches_significantdigits(rng, method, base, reference, shape, scale):
    """Equal to significantdigits.significant_digits (relative error, axis 0 there) to 1e-9 relative.

    CNH is compared with ``ddof=0``, the SD significantdigits uses.
    """
    x = _data(rng, shape, scale)
    if reference == "mean":
        ref, ours = x.mean(axis=-1), significant_digits(x, method=method, base=base, ddof=0)
    else:
        ref, x = x[..., 0], x[..., 1:]
        ours = significant_digits(x, method=method, base=base, ddof=0, reference=ref)
    theirs = sd.significant_digits(
        np.moveaxis(x, -1, 0), reference=ref, axis=0, basis=base, method=method, error="relative"
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0)


@pytest.mark.parametrize(("probability", "confidence"), [(0.9, 0.9), (0.99, 0.95), (0.51, 0.6)])
def test_cnh_probability_confidence(rng, probability, confidence):
    """CNH's probability and confidence correction equals significantdigits' for other levels."""
    x = _data(rng, (20, 10), 1e-4)
    ours = significant_digits(x, method="cnh", base=2, ddof=0, probability=probability, confidence=confidence)
    theirs = sd.significant_digits(
        x.T,
        reference=x.mean(-1),
        axis=0,
        basis=2,
        method="cnh",
        probability=probability,
        confidence=confidence,
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_cnh_default_ddof_is_unbiased(rng):
    """Default ddof = 1 differs from ddof = 0 by 0.5 log2(k / (k - 1)) bits exactly."""
    x = _data(rng, (10, 6), 1e-3)
    diff = significant_digits(x, method="cnh", base=2, ddof=0) - significant_digits(x, method="cnh", base=2)
    np.testing.assert_allclose(diff, 0.5 * np.log2(6 / 5), rtol=1e-9)


@pytest.mark.parametrize("base", [2, 10])
def test_parker_formula(rng, base):
    """Parker: -log_base(sigma / |mu|), sigma with ddof = 1."""
    x = _data(rng, (30, 7), 1e-5)
    expected = -np.log(x.std(axis=-1, ddof=1) / np.abs(x.mean(axis=-1))) / np.log(base)
    np.testing.assert_allclose(significant_digits(x, base=base), expected, rtol=1e-9)


def test_axis(rng):
    x = _data(rng, (6, 5), 1e-3)
    np.testing.assert_array_equal(significant_digits(x.T, axis=0), significant_digits(x))


def test_input_not_modified(rng):
    x = _data(rng, (6, 5), 1e-3)
    before = x.copy()
    significant_digits(x, reference=x[:, 0], method="general")
    np.testing.assert_array_equal(x, before)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1e-12, 1e-4), st.floats(-1e6, 1e6).filter(lambda m: abs(m) > 1e-3))
def test_parker_doubling_noise_loses_log10_2(seed, scale, mean):
    """Doubling the noise SD costs log10(2) decimal digits on average (2000 voxels: SE ~ 0.003)."""
    rng = np.random.default_rng(seed)
    x1 = mean + abs(mean) * scale * rng.normal(size=(2000, 10))
    x2 = mean + 2 * abs(mean) * scale * rng.normal(size=(2000, 10))
    drop = significant_digits(x1).mean() - significant_digits(x2).mean()
    assert drop == pytest.approx(LOG10_2, abs=0.02)


# --- degenerate cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["parker", "cnh", "general"])
@pytest.mark.parametrize(("dtype", "bits"), [(np.float64, 52), (np.float32, 23), (np.int32, 52)])
def test_identical_executions_max_precision(method, dtype, bits):
    """Identical executions: the dtype's mantissa bits (CNH: minus its correction, as significantdigits)."""
    first = 0.1 if np.dtype(dtype).kind == "f" else 7  # 0.1 * 4 / 4 != 0.1 in floating point
    x = np.array([[first] * 4, [3.0] * 4, [0.0] * 4]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = significant_digits(x, method=method, base=2)
    if method == "cnh":
        theirs = sd.significant_digits(x[:2].T, reference=x[:2, 0], axis=0, method="cnh")
        np.testing.assert_allclose(got[:2], theirs, rtol=1e-12)
        assert np.all(got < bits)
    else:
        assert got.tolist() == [bits] * 3
    assert significant_digits(x, method=method, base=10)[1] == pytest.approx(got[1] * LOG10_2)


@pytest.mark.parametrize("method", ["parker", "cnh", "general"])
def test_zero_reference_differing_gives_zero(method):
    """Zero reference with differing executions: 0 digits (unbounded relative error), no NaN or warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert significant_digits([-1.0, 1.0], method=method) == 0.0
        assert significant_digits([1.0, 1.0], method=method, reference=0.0) == 0.0
        assert significant_digits([0.0, 0.0], method=method, reference=0.0) > 0


def test_constant_bias_against_reference():
    """Executions equal to each other but not to the reference: max|z| replaces the zero SD."""
    got = significant_digits([1.001, 1.001, 1.001], reference=1.0, method="parker", base=10)
    assert got == pytest.approx(3.0, abs=1e-6)


def test_parker_capped():
    """Executions one ulp apart: Parker is capped at the mantissa bits, the identical-executions value."""
    x = np.array([1.0, np.nextafter(1.0, 2.0)] * 5)
    assert significant_digits(x, base=2) == 52.0


@pytest.mark.parametrize(("p", "c"), [(0.95, 0.95), (0.99, 0.95), (0.9, 0.99), (0.5, 0.5)])
def test_required_samples(p, c):
    """Equal to significantdigits.minimum_number_of_trials (Sohier et al. 2021, Eq. for the general case)."""
    assert required_samples(p, c) == sd.minimum_number_of_trials(p, c)


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        ([1.0, 2.0], {"method": "foo"}, r"`method` must be one of \{'cnh', 'general', 'parker'\}, got 'foo'"),
        ([1.0, 2.0], {"base": 3}, r"`base` must be one of \{2, 10\}, got 3"),
        ([1.0, 2.0], {"reference": "median"}, r"`reference` must be one of \{'mean'\}"),
        ([[1.0, 2.0]], {"reference": [1.0, 2.0, 3.0]}, "`reference` must broadcast"),
        ([1.0, 2.0], {"reference": np.nan}, "`reference` contains NaN"),
        ([1.0], {}, "`x` needs at least 2 executions"),
        ([1.0, 2.0], {"ddof": 2}, "`ddof` must be smaller than the number of executions 2"),
        ([1.0, 2.0], {"probability": 1.5}, r"`probability` must be in \(0, 1\)"),
        ([1.0, 2.0], {"confidence": 0}, r"`confidence` must be in \(0, 1\)"),
        ([1.0, np.nan], {}, "`x` contains NaN"),
        ([1.0, 2.0], {"axis": 1}, "`axis` must be an integer in"),
        (3.0, {}, "`x` must have at least 1 dimensions"),
    ],
)
def test_bad_input(x, kwargs, match):
    with pytest.raises(MetricInputError, match=match):
        significant_digits(x, **kwargs)


def test_required_samples_bad_input():
    with pytest.raises(MetricInputError, match=r"`probability` must be in \(0, 1\)"):
        required_samples(1.0)
