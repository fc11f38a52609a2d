"""Evidence figures: the zero-failure bound and the ICC sample-size projection."""

from __future__ import annotations

import numpy as np
import pytest
from significantdigits import minimum_number_of_trials

from reprovip.metrics import icc_from_mean_squares
from reprovip.metrics.evidence import icc_sample_size, zero_failure_bound


@pytest.mark.parametrize(("trials", "expected"), [(1, 0.95), (3, 0.6316), (30, 0.0950), (59, 0.0495), (300, 0.00994)])
def test_zero_failure_bound_is_the_clopper_pearson_bound(trials: int, expected: float) -> None:
    """1 - 0.05 ** (1/n) (Hanley & Lippman-Hand 1983, doi:10.1001/jama.1983.03330370053031): 0.0950 for n = 30,
    close to their "rule of three" 3/n = 0.1."""
    assert zero_failure_bound(trials) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("probability", "confidence"), [(0.95, 0.95), (0.99, 0.95), (0.9, 0.99)])
def test_zero_failure_bound_agrees_with_significantdigits_trials(probability: float, confidence: float) -> None:
    """significantdigits' minimum number of trials is the n at which the bound reaches 1 - probability."""
    n = minimum_number_of_trials(probability, confidence)
    assert (
        zero_failure_bound(n, confidence=confidence)
        <= 1 - probability
        < zero_failure_bound(n - 1, confidence=confidence)
    )


def _decides(ms: tuple[float, float, float], n: int, k: int, size_n: int, size_k: int, thr: float, side: str) -> bool:
    msr, msc, mse = ms
    s_s, s_r, s_e = max((msr - mse) / k, 0), max((msc - mse) / n, 0), mse
    emsr, emsc = size_k * s_s + s_e, size_n * s_r + s_e
    emsw = (emsc + (size_n - 1) * s_e) / size_n
    r = icc_from_mean_squares(emsr, emsc, s_e, emsw, size_n, size_k)["ICC(A,1)"]
    return r.ci_low >= thr if side == "above" else r.ci_high < thr


@pytest.mark.parametrize(
    ("ms", "n", "k", "thr"),
    [((14.0, 0.12, 0.1), 10, 10, 0.9), ((60.0, 1.2, 1.0), 5, 3, 0.9), ((9.0, 0.5, 1.0), 8, 3, 0.75)],
)
def test_icc_sample_size_is_the_smallest_deciding_design(ms: tuple, n: int, k: int, thr: float) -> None:
    """The subjects found decide, one fewer does not (checked with the F-based interval, itself tested against
    pingouin in test_icc.py)."""
    s = icc_sample_size(*ms, n=n, k=k, threshold=thr)
    assert s.subjects is not None and s.subjects > n
    assert _decides(ms, n, k, s.subjects, k, thr, s.side)
    assert not _decides(ms, n, k, s.subjects - 1, k, thr, s.side)


def test_icc_sample_size_needs_both_when_raters_vary() -> None:
    """With a rater effect, ICC(A,1)'s interval keeps k - 1 degrees of freedom for it: more subjects alone never
    settle a threshold near the estimate, growing both does."""
    s = icc_sample_size(539.72, 41.156, 19.027, n=3, k=3, threshold=0.9)
    assert (s.side, s.subjects, s.raters) == ("below", None, None)
    assert s.both is not None and _decides((539.72, 41.156, 19.027), 3, 3, s.both, s.both, 0.9, "below")


def test_icc_sample_size_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"mean squares must be finite and >= 0, got \[1.0, nan, 1.0\]"):
        icc_sample_size(1.0, np.nan, 1.0, n=3, k=3, threshold=0.9)
    with pytest.raises(ValueError, match="`form` must be one of"):
        icc_sample_size(1.0, 1.0, 1.0, n=3, k=3, threshold=0.9, form="ICC(B,1)")
