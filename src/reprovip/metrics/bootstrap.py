"""Subject bootstrap: percentile confidence intervals of any statistic of ``(..., n_subjects, k)`` data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reprovip.errors import MetricInputError

from ._common import as_float_array, check_axis_size, check_fraction, check_int, output


@dataclass(frozen=True)
class BootstrapCI:
    """Point estimate on the original data and percentile interval; floats or arrays like the statistic."""

    estimate: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float


def subject_bootstrap_ci(
    x, statistic: Callable[[np.ndarray], object], *, n_boot=1000, confidence=0.95, seed=0
) -> BootstrapCI:
    """Percentile bootstrap CI of ``statistic(x)``, resampling subjects (axis -2) with replacement.

    Parameters
    ----------
    x : array_like
        ``(..., n_subjects, k)``, finite, ``n_subjects >= 2``.
    statistic : callable
        Maps an array shaped like ``x`` to a float or an array (e.g. ``lambda a: icc(a).icc``). It must not
        return NaN; ``±inf`` is allowed.
    n_boot : int, optional
        Number of bootstrap resamples (>= 1).
    confidence : float, optional
        Level of the interval: the ``(1 - confidence)/2`` and ``(1 + confidence)/2`` quantiles.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`; the result is deterministic for a given seed.

    Returns
    -------
    BootstrapCI

    Notes
    -----
    Quantiles interpolate linearly between order statistics; where two neighbouring order statistics are
    the same infinity, that infinity is returned.

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall/CRC.
    doi:10.1201/9780429246593

    Examples
    --------
    >>> x = np.arange(20.0).reshape(10, 2)
    >>> ci = subject_bootstrap_ci(x, lambda a: float(a.mean()), n_boot=200)
    >>> ci.estimate, bool(ci.low < ci.estimate < ci.high)
    (9.5, True)
    """
    x = as_float_array(x, "x", min_ndim=2)
    n = x.shape[-2]
    check_axis_size(n, "x", "subjects (axis -2)", 2)
    n_boot = check_int(n_boot, "n_boot", 1)
    conf = check_fraction(confidence, "confidence")
    if not callable(statistic):
        raise MetricInputError(f"`statistic` must be callable, got {statistic!r}")
    estimate = np.asarray(statistic(x), dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    boots = np.empty((n_boot, *estimate.shape))
    for b in range(n_boot):
        boots[b] = statistic(np.take(x, idx[b], axis=-2))
    if np.isnan(boots).any() or np.isnan(estimate).any():
        raise MetricInputError("`statistic` returned NaN; make it return finite values or ±inf")
    q = [(1 - conf) / 2, (1 + conf) / 2]
    with np.errstate(invalid="ignore"):
        lin = np.quantile(boots, q, axis=0, method="linear")
    low_q = np.quantile(boots, q, axis=0, method="lower")
    bounds = np.where(np.isnan(lin), low_q, lin)
    return BootstrapCI(output(estimate), output(bounds[0]), output(bounds[1]))
