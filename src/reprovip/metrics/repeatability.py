"""Repeatability of executions: within-subject SD, coefficients of variation, repeatability coefficient.

``x.shape == (..., n_subjects, k)``, ``n >= 2`` and ``k >= 2``. Fixed values for degenerate cases (no NaN):

* ``wcv_rms``: a subject with mean 0 contributes 0 if its executions are identical, ``inf`` otherwise;
* ``wcv_log``: defined only where every value is > 0; elsewhere it takes the value of ``wcv_rms`` and
  ``log_valid`` is False;
* ``bcv``: 0 when ``bsd == 0``, ``inf`` when the grand mean is 0 but ``bsd > 0``;
* ``sd_ratio``: 0 when ``wsd == 0``, ``inf`` when ``bsd == 0`` but ``wsd > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import as_float_array, check_axis_size, exact_mean, output, ratio

RC_FACTOR = 1.96 * np.sqrt(2.0)
"""Repeatability coefficient factor of Bland & Altman (1999): 1.96 * sqrt(2)."""


@dataclass(frozen=True)
class Repeatability:
    """Repeatability statistics; floats for 2-D input, read-only arrays over the leading axes otherwise.

    Attributes
    ----------
    grand_mean : mean of all values.
    wsd : within-subject SD, sqrt(MSW) (pooled over subjects, ddof = 1 within each subject).
    wcv_rms : within-subject CV, root-mean-square method: sqrt(mean_i (s_i / |m_i|)^2).
    wcv_log : within-subject CV, log method: sqrt(exp(s_log^2) - 1), s_log^2 the pooled variance of log x.
    rc : repeatability coefficient 1.96 * sqrt(2) * wsd.
    bsd : between-subject SD: SD (ddof = 1) of the subject means.
    bcv : between-subject CV: bsd / |grand_mean|.
    sd_ratio : wsd / bsd, inter-execution SD over inter-subject SD (<< 1 means reproducible).
    log_valid : True where every value is > 0 (``wcv_log`` is the log-method estimate).
    """

    grand_mean: np.ndarray | float
    wsd: np.ndarray | float
    wcv_rms: np.ndarray | float
    wcv_log: np.ndarray | float
    rc: np.ndarray | float
    bsd: np.ndarray | float
    bcv: np.ndarray | float
    sd_ratio: np.ndarray | float
    log_valid: np.ndarray | bool


def _within_var(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject mean and variance (ddof = 1), exactly 0 for identical executions."""
    m = exact_mean(x, -1)
    return m, np.sum((x - m[..., None]) ** 2, axis=-1) / (x.shape[-1] - 1)


def _log_deviations(x: np.ndarray) -> np.ndarray:
    """``log(x / r)`` with ``r`` each subject's first value, for ``x > 0``, without cancellation.

    ``log(x) - log(r)`` cancels at large offsets (values near 1e13 differing in their last digits lose most
    of their digits). Where ``r/2 <= x <= 2r``, ``x - r`` is exact (Sterbenz) and ``log1p`` keeps full
    relative accuracy; farther apart, the logs differ by more than log 2 so their difference does not cancel
    (and ``(x - r) / r`` could overflow or lose the digits of a tiny ``x``).
    """
    r = x[..., :1]
    near = (x >= r / 2) & (x <= 2 * r)
    return np.where(near, np.log1p(np.where(near, x - r, 0.0) / r), np.log(x) - np.log(r))


def repeatability(x) -> Repeatability:
    """Within- and between-subject variability of ``x`` with shape ``(..., n_subjects, k)``.

    Parameters
    ----------
    x : array_like
        Finite values; ``n_subjects >= 2``, ``k >= 2``.

    Returns
    -------
    Repeatability

    References
    ----------
    Bland, J. M., & Altman, D. G. (1999). Measuring agreement in method comparison studies. Statistical
    Methods in Medical Research, 8(2), 135-160. doi:10.1177/096228029900800204

    Bland, J. M., & Altman, D. G. (1996). Measurement error proportional to the mean. BMJ, 313(7049), 106.
    doi:10.1136/bmj.313.7049.106

    Examples
    --------
    >>> r = repeatability([[10.0, 10.2], [20.0, 19.6], [30.0, 30.3]])
    >>> round(r.wsd, 4), round(r.rc, 4), round(r.sd_ratio, 4)
    (0.2198, 0.6094, 0.0219)
    """
    x = as_float_array(x, "x", min_ndim=2)
    check_axis_size(x.shape[-2], "x", "subjects (axis -2)", 2)
    check_axis_size(x.shape[-1], "x", "executions (axis -1)", 2)
    shift = x[..., :1, :1]  # exact for nearby values: keeps means accurate under large offsets
    ms, s2 = _within_var(x - shift)
    m = np.where(np.all(x == x[..., :1], axis=-1), x[..., 0], ms + shift[..., 0])  # subject means
    wsd = np.sqrt(s2.mean(axis=-1))
    cv2 = ratio(s2, m**2, zero_zero=0.0)
    wcv_rms = np.sqrt(cv2.mean(axis=-1))
    positive = np.all(x > 0, axis=(-2, -1))
    _, s2log = _within_var(_log_deviations(np.where(positive[..., None, None], x, 1.0)))
    with np.errstate(over="ignore"):
        wcv_log = np.sqrt(np.expm1(s2log.mean(axis=-1)))
    wcv_log = np.where(positive, wcv_log, wcv_rms)
    gs = exact_mean(ms, -1)
    grand = np.where(np.all(m == m[..., :1], axis=-1), m[..., 0], gs + shift[..., 0, 0])
    bsd = np.sqrt(np.sum((ms - gs[..., None]) ** 2, axis=-1) / (x.shape[-2] - 1))
    return Repeatability(
        grand_mean=output(grand),
        wsd=output(wsd),
        wcv_rms=output(wcv_rms),
        wcv_log=output(wcv_log),
        rc=output(RC_FACTOR * wsd),
        bsd=output(bsd),
        bcv=output(ratio(bsd, np.abs(grand), zero_zero=0.0)),
        sd_ratio=output(ratio(wsd, bsd, zero_zero=0.0)),
        log_valid=output(positive),
    )
