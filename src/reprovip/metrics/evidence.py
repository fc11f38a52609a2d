"""How much evidence a verdict rests on: bounds for "never seen to differ", sample sizes that would decide an ICC.

Two questions a reader of a verdict asks. "Identical in 12 of 12 executions": how sure is that? The
zero-failure binomial bound answers it. "ICC(A,1) 95% CI 0.85 to 0.97 against a threshold of 0.9": how many
subjects (or executions per subject) would make the interval fall on one side? A projection from the variance
components estimated now answers it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reprovip.errors import check_choice

from ._common import check_fraction, check_int
from .icc import FORMS, icc_from_mean_squares


def zero_failure_bound(trials: int, *, confidence: float = 0.95) -> float:
    """Upper confidence bound on the probability of a difference after ``trials`` comparisons that all agreed.

    With ``trials`` independent executions, each identical to its reference, the one-sided Clopper–Pearson
    bound on the probability ``p`` that another execution differs is ``1 - (1 - confidence) ** (1 / trials)``
    (about ``3 / trials`` at 95%, the "rule of three").

    Parameters
    ----------
    trials : int
        Number of comparisons that agreed, >= 1.
    confidence : float, optional
        One-sided confidence level, in (0, 1).

    Returns
    -------
    float
        The bound, in (0, 1).

    References
    ----------
    Hanley, J. A., & Lippman-Hand, A. (1983). If nothing goes wrong, is everything all right? Interpreting zero
    numerators. JAMA, 249(13), 1743-1745. doi:10.1001/jama.1983.03330370053031

    Examples
    --------
    >>> round(zero_failure_bound(59), 4)
    0.0495
    >>> round(zero_failure_bound(1), 2)
    0.95
    """
    n = check_int(trials, "trials", 1)
    c = check_fraction(confidence, "confidence")
    return float(1.0 - (1.0 - c) ** (1.0 / n))


@dataclass(frozen=True)
class SampleSize:
    """What would make an ICC's confidence interval fall on one side of a threshold.

    Attributes
    ----------
    side : str
        ``"above"`` when the point estimate is at or above the threshold (more data would lift the lower
        bound over it), ``"below"`` otherwise (more data would bring the upper bound under it).
    subjects : int or None
        Subjects needed with the same executions per subject; None beyond ``max_subjects``.
    raters : int or None
        Executions per subject needed with the same subjects; None beyond ``max_raters``.
    both : int or None
        When neither alone suffices (ICC(A,·) estimates the raters' variance from ``k - 1`` degrees of freedom
        whatever the number of subjects, and the subjects' from ``n - 1``): the smallest ``m`` such that ``m``
        subjects with ``m`` executions each would decide; None beyond ``max_raters``.
    """

    side: str
    subjects: int | None
    raters: int | None
    both: int | None = None


def _icc(msr: float, msc: float, mse: float, n: int, k: int, form: str, confidence: float):
    """``form`` from two-way mean squares (the one-way within-subject mean square follows from them)."""
    msw = (msc + (n - 1) * mse) / n
    return icc_from_mean_squares(msr, msc, mse, msw, n, k, confidence=confidence)[form]


def _bounds(sigma_s: float, sigma_r: float, sigma_e: float, n: int, k: int, form: str, confidence: float):
    """CI of ``form`` for ``n`` subjects x ``k`` raters whose mean squares equal their expectations."""
    res = _icc(k * sigma_s + sigma_e, n * sigma_r + sigma_e, sigma_e, n, k, form, confidence)
    return float(res.ci_low), float(res.ci_high)


def _smallest(decides, start: int, cap: int) -> int | None:
    """Smallest m in [start, cap] with decides(m), assuming it stays true once true (doubling, then bisection)."""
    if decides(start):
        return start
    lo, hi = start, start
    while not decides(hi):
        if hi >= cap:
            return None
        lo, hi = hi, min(2 * hi, cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return hi


def icc_sample_size(
    msr: float,
    msc: float,
    mse: float,
    *,
    n: int,
    k: int,
    threshold: float,
    form: str = "ICC(A,1)",
    confidence: float = 0.95,
    max_subjects: int = 100_000,
    max_raters: int = 1_000,
) -> SampleSize:
    """Subjects, or executions per subject, that would put the ICC's CI on one side of ``threshold``.

    The variance components are estimated from the two-way mean squares now (ANOVA estimators, negative ones
    set to 0): subjects ``(MSR - MSE) / k``, raters ``(MSC - MSE) / n``, residual ``MSE``. The design is then
    grown with those components held fixed and each mean square at its expectation, and the F-based interval
    of ``form`` recomputed; the answer is the smallest size whose interval no longer contains the threshold.
    It is a planning figure, as good as today's estimates.

    Parameters
    ----------
    msr, msc, mse : float
        Mean squares of subjects, raters (executions) and residual, finite and >= 0.
    n, k : int
        Current numbers of subjects and of executions per subject, both >= 2.
    threshold : float
        The criterion's threshold on the ICC.
    form : str, optional
        One of the six forms of :data:`~reprovip.metrics.icc.FORMS`.
    confidence : float, optional
        Level of the interval, in (0, 1).
    max_subjects, max_raters : int, optional
        Search limits; beyond them the answer is None.

    Returns
    -------
    SampleSize

    References
    ----------
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation coefficients.
    Psychological Methods, 1(1), 30-46. doi:10.1037/1082-989X.1.1.30

    Examples
    --------
    An ICC near 0.93 with a CI that straddles 0.9 at 10 subjects:

    >>> s = icc_sample_size(14.0, 0.12, 0.1, n=10, k=10, threshold=0.9)
    >>> s.side, s.subjects is not None and s.subjects > 10
    ('above', True)
    """
    check_choice("form", form, FORMS)
    n = check_int(n, "n", 2)
    k = check_int(k, "k", 2)
    check_fraction(confidence, "confidence")
    values = np.array([msr, msc, mse], dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"mean squares must be finite and >= 0, got {values.tolist()}")
    sigma_s = max((msr - mse) / k, 0.0)
    sigma_r = max((msc - mse) / n, 0.0)
    sigma_e = float(mse)
    side = "above" if float(_icc(msr, msc, mse, n, k, form, confidence).icc) >= threshold else "below"

    def decides(lo_hi: tuple[float, float]) -> bool:
        return lo_hi[0] >= threshold if side == "above" else lo_hi[1] < threshold

    def at(n_: int, k_: int) -> bool:
        return decides(_bounds(sigma_s, sigma_r, sigma_e, n_, k_, form, confidence))

    subjects = _smallest(lambda m: at(m, k), n, max(max_subjects, n))
    raters = _smallest(lambda m: at(n, m), k, max(max_raters, k))
    both = None
    if subjects is None and raters is None:
        both = _smallest(lambda m: at(max(m, n), max(m, k)), max(n, k), max(max_raters, n, k))
    return SampleSize(side, subjects, raters, both)
