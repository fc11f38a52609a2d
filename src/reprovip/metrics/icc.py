"""Intraclass correlation coefficients: the six Shrout & Fleiss / McGraw & Wong forms.

Subjects are the targets and executions the raters: ``x.shape == (..., n_subjects, k)``; leading axes (voxels,
observations) are vectorised. Values, F tests and F-based confidence intervals follow R ``psych::ICC`` and
``pingouin.intraclass_corr`` (labels of pingouin >= 0.7) wherever these define them.

Estimability (see ``docs/metrics.md``). Each form is an estimated subject variance over an estimated total
variance, of one execution's value for the ``(·,1)`` forms and of the mean of ``k`` for the ``(·,k)`` forms; the
denominator of its mean-square formula is ``k`` times that total. A form is *estimable* only where that
denominator is > 0. Elsewhere its value and CI are NaN, ``estimable`` is False and ``reason`` says why: no
variance at all (0/0), a division by zero, or, for ICC(A,k) only, a negative estimated variance that would put
the ICC above 1 (``above_one``). pingouin and R psych evaluate the same formulas unguarded: 0/0 is NaN there too,
but ``x/0`` is ``±inf`` and ICC(A,k) can exceed 1.

Other fixed values: an F ratio ``x/0`` with ``x > 0`` (executions identical: the error mean square is exactly 0)
is ``+inf`` with ``p = 0``, and the CI of an estimable form is then its limit, ``(1, 1)``; an F ratio 0/0 is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reprovip.errors import MetricInputError, check_choice

from ._common import as_float_array, check_axis_size, check_fraction, check_int, exact_mean, output, ratio

FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")
"""The six forms, in pingouin's order (ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k)."""

PINGOUIN_LABELS = dict(zip(FORMS, ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"), strict=True))
"""Shrout & Fleiss name of each form: R psych's ``type`` column and pingouin < 0.7 labels."""

REASONS = (
    None,
    "no variance between subjects nor between executions: every value is equal (0/0)",
    "no variance between subjects and no residual (MSR = MSE = 0): subjects are identical and executions differ "
    "only by offsets common to all subjects (0/0)",
    "identical subject means (MSR = 0) while executions differ: the average-measure ICC 1 - MS_error / MSR "
    "divides by zero",
    "no variance between subjects nor between execution means (MSR = MSC = 0) with 2 subjects x 2 executions: "
    "the estimated total variance is 0 and ICC(A,1) divides by zero",
    "the estimated variance of the mean of k executions, (MSR + (MSC - MSE) / n) / k, is 0: ICC(A,k) divides by zero",
    "the estimated variance of the mean of k executions, (MSR + (MSC - MSE) / n) / k, is negative: the formula "
    "would give ICC(A,k) above k/(k-1) > 1 (ICC(A,1) is below -1/(k-1))",
)
"""Why a form is not estimable, indexed by reason code (0: estimable). Code 6 is the only ``above_one`` case."""

_ABOVE_ONE = 6
CI_UNINFORMATIVE_NOTE = (
    "fewer than 3 subjects: the F-based ICC interval rests on one between-subject degree of freedom and is "
    "uninformative (e.g. the ICC(C,1) lower bound with k = 3 is above 0 only if F > 38.5)"
)
"""Note attached to the confidence interval when ``n < 3``."""


@dataclass(frozen=True)
class ICCResult:
    """One ICC form with its F test and confidence interval.

    Fields are floats (bools, str) for a single ``(n, k)`` table, else read-only arrays over the leading axes.

    Attributes
    ----------
    form : str
        One of :data:`FORMS`.
    icc : float or ndarray
        The coefficient; NaN where not ``estimable``.
    f, df1, df2, pval : float or ndarray
        F statistic of the subject effect, its degrees of freedom and upper-tail p-value. ``f`` and ``pval``
        are NaN where the F ratio is 0/0 (subject and error mean squares both 0).
    ci_low, ci_high : float or ndarray
        F-based confidence interval at the requested ``confidence``; NaN where not ``estimable``; ``ci_low``
        is ``-inf`` where ``ci_unbounded``.
    degenerate : bool or ndarray
        True where the error mean square of the form is exactly 0 (MSW for the one-way forms, MSE for
        the others), so that ``f`` is a fixed value (``inf``, or NaN if the subject mean square is 0 too).
    estimable : bool or ndarray
        True where the form's estimated total variance (its denominator) is > 0.
    reason : str or None, or ndarray of object
        Why the form is not estimable (an entry of :data:`REASONS`), None where it is.
    ci_unbounded : bool or ndarray
        True where the lower bound is ``-inf``: for ICC(A,k), the ICC(A,1) lower bound is at or below the
        Spearman-Brown pole ``-1/(k-1)``; never true where not estimable.
    above_one : bool or ndarray
        True where the formula would give a value above 1 (ICC(A,k) only; then not estimable).
    ci_uninformative : bool or ndarray
        True when ``n < 3`` subjects (:data:`CI_UNINFORMATIVE_NOTE`).
    """

    form: str
    icc: np.ndarray | float
    f: np.ndarray | float
    df1: np.ndarray | float
    df2: np.ndarray | float
    pval: np.ndarray | float
    ci_low: np.ndarray | float
    ci_high: np.ndarray | float
    degenerate: np.ndarray | bool
    estimable: np.ndarray | bool
    reason: np.ndarray | str | None
    ci_unbounded: np.ndarray | bool
    above_one: np.ndarray | bool
    ci_uninformative: np.ndarray | bool


def _single_from_f(fb: np.ndarray, k: int) -> np.ndarray:
    """(F - 1) / (F + k - 1), equal to 1 at F = inf."""
    inf = np.isinf(fb)
    fb0 = np.where(inf, 0.0, fb)
    return np.where(inf, 1.0, (fb0 - 1.0) / (fb0 + k - 1.0))


def _average_from_f(fb: np.ndarray) -> np.ndarray:
    """1 - 1/F, equal to -inf at F = 0 and 1 at F = inf."""
    return np.where(np.isinf(fb), 1.0, ratio(fb - 1.0, fb, zero_zero=np.nan))


def _spearman_brown(r: np.ndarray, k: int) -> np.ndarray:
    """k r / (1 + (k - 1) r) on the admissible branch r > -1/(k-1), which it maps onto (-inf, 1]; -inf at or
    beyond the pole (the limit from the admissible side: a bound there leaves the average form unbounded)."""
    den = 1.0 + (k - 1.0) * r
    pos = den > 0
    with np.errstate(over="ignore"):
        sb = k * r / np.where(pos, den, 1.0)
    return np.where(pos, sb, np.where(np.isnan(r), np.nan, -np.inf))


def _estimate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where the estimated total variance ``den`` is > 0, NaN elsewhere (no warning)."""
    pos = den > 0
    with np.errstate(over="ignore"):
        return np.where(pos, num / np.where(pos, den, 1.0), np.nan)


def _a1_terms(msr, msc, mse, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of ICC(A,1); the denominator ``msr + (k-1) mse + k (msc - mse) / n`` is
    written as a sum of non-negative terms (``kn - k - n >= 0``) so that it is exactly 0 only when they all are."""
    return msr - mse, msr + k * msc / n + (k * n - k - n) / n * mse


def icc_from_mean_squares(msr, msc, mse, msw, n, k, *, confidence=0.95) -> dict[str, ICCResult]:
    """All six ICC forms from two-way ANOVA mean squares (subjects x raters, one rating per cell).

    Parameters
    ----------
    msr, msc, mse, msw : array_like
        Mean squares of rows (subjects, df ``n-1``), columns (raters, df ``k-1``), residual (df
        ``(n-1)(k-1)``) and within subjects (one-way, df ``n(k-1)``); broadcast together; finite, >= 0.
    n, k : int
        Number of subjects and of raters (executions), both >= 2.
    confidence : float, optional
        Level of the confidence intervals, in (0, 1).

    Returns
    -------
    dict of str to ICCResult
        Keyed by :data:`FORMS`.

    Notes
    -----
    Formulas of Shrout & Fleiss (1979) and McGraw & Wong (1996) as implemented by R ``psych::ICC``; the
    ICC(A,1) interval uses Satterthwaite's degrees of freedom ``v``. Where ``v`` is undefined (``MSE = 0``)
    its limit ``k - 1`` is used; where it is otherwise non-positive or not finite, ``(n-1)(k-1)``.

    A form is estimable where its denominator (``k`` times an estimated total variance) is > 0; see
    :data:`REASONS` for every other case. The ICC(A,k) interval is the Spearman-Brown image of the ICC(A,1)
    one, whose lower bound can fall at or below the pole ``-1/(k-1)``: the ICC(A,k) lower bound is then
    ``-inf`` (``ci_unbounded``) where psych and pingouin print a value above 1. The other average forms come
    from F bounds (``1 - 1/F``) and are unbounded only where ``MSR = 0``, which is not estimable.

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater reliability.
    Psychological Bulletin, 86(2), 420-428. doi:10.1037/0033-2909.86.2.420

    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation coefficients.
    Psychological Methods, 1(1), 30-46. doi:10.1037/1082-989X.1.1.30

    Examples
    --------
    >>> res = icc_from_mean_squares(11.24, 32.49, 1.02, 6.26, 6, 4)
    >>> round(res["ICC(C,1)"].icc, 3)
    0.715
    >>> res = icc_from_mean_squares(0.0, 0.0, 0.0, 0.0, 6, 4)  # every value equal
    >>> res["ICC(C,1)"].icc, res["ICC(C,1)"].estimable
    (nan, False)
    >>> res["ICC(C,1)"].reason
    'no variance between subjects nor between executions: every value is equal (0/0)'
    """
    n = check_int(n, "n", 2)
    k = check_int(k, "k", 2)
    conf = check_fraction(confidence, "confidence")
    arrays = []
    for name, v in (("msr", msr), ("msc", msc), ("mse", mse), ("msw", msw)):
        a = as_float_array(v, name, min_ndim=0)
        if np.any(a < 0):
            raise MetricInputError(f"`{name}` must be >= 0 (a mean square), got a negative value")
        arrays.append(a)
    try:
        msr, msc, mse, msw = np.broadcast_arrays(*arrays)
    except ValueError:
        raise MetricInputError("`msr`, `msc`, `mse` and `msw` must broadcast together") from None
    shape = msr.shape
    q = 1.0 - (1.0 - conf) / 2.0
    flat = [np.ravel(a) for a in (msr, msc, mse, msw)]
    size = flat[0].size
    out = {key: np.empty(size, dtype=_DTYPES.get(key[:4], np.float64)) for key in _KEYS}
    for s in range(0, size, _CHUNK):  # chunks bound the temporaries of millions of voxels
        part = _core(*(a[s : s + _CHUNK] for a in flat), n, k, q)
        for key in _KEYS:
            out[key][s : s + _CHUNK] = part[key]
    raw = {key: val.reshape(shape) for key, val in out.items()}
    res = {key: output(val) for key, val in raw.items()}
    dfw, dfe = n * (k - 1.0), (n - 1.0) * (k - 1.0)
    d1 = output(np.broadcast_to(np.float64(n - 1.0), shape))
    one_way = {"f": res["f1"], "df2": output(np.broadcast_to(dfw, shape)), "pval": res["p1"]}
    two_way = {"f": res["f3"], "df2": output(np.broadcast_to(dfe, shape)), "pval": res["p3"]}
    few = output(np.broadcast_to(n < 3, shape))
    reasons = np.array(REASONS, dtype=object)
    return {
        form: ICCResult(
            form=form,
            icc=res[f"icc{i}"],
            df1=d1,
            ci_low=res[f"low{i}"],
            ci_high=res[f"high{i}"],
            degenerate=res["zero_w" if form[4] == "1" else "zero_e"],
            estimable=output(raw[f"code{i}"] == 0),
            reason=REASONS[int(raw[f"code{i}"])] if not shape else output(reasons[raw[f"code{i}"]]),
            ci_unbounded=output(np.isneginf(raw[f"low{i}"])),
            above_one=output(raw[f"code{i}"] == _ABOVE_ONE),
            ci_uninformative=few,
            **(one_way if form[4] == "1" else two_way),
        )
        for i, form in enumerate(FORMS)
    }


def icc_a1_from_mean_squares(msr, msc, mse, n, k) -> np.ndarray:
    """ICC(A,1) alone, from the two-way mean squares: the point estimate of :func:`icc_from_mean_squares`.

    NaN where not estimable (every value equal, or ``MSR = MSC = 0`` with ``n = k = 2``).

    Examples
    --------
    >>> round(float(icc_a1_from_mean_squares(11.24, 32.49, 1.02, 6, 4)), 3)
    0.29
    >>> float(icc_a1_from_mean_squares(0.0, 0.0, 0.0, 6, 4))
    nan
    """
    msr, msc, mse = (np.asarray(a, dtype=np.float64) for a in (msr, msc, mse))
    return _estimate(*_a1_terms(msr, msc, mse, n, k))


_CHUNK = 1 << 16
_KEYS = (
    *(f"{name}{i}" for name in ("icc", "low", "high", "code") for i in range(6)),
    *("f1", "f3", "p1", "p3", "zero_w", "zero_e"),
)
_DTYPES = {"code": np.int8, "zero": bool}
_POLE_RTOL = 1e-12


def _core(msr, msc, mse, msw, n: int, k: int, q: float) -> dict[str, np.ndarray]:
    """Every distinct array of the six forms, on 1-D chunks (see :func:`icc_from_mean_squares`)."""
    from scipy import special  # here: 0.15 s of import that commands and voxel maps without CIs never need

    df1, dfw, dfe = n - 1.0, n * (k - 1.0), (n - 1.0) * (k - 1.0)
    num2, den2 = _a1_terms(msr, msc, mse, n, k)
    nums = (msr - msw, num2, msr - mse, msr - msw, msr - mse, msr - mse)
    # The only denominator that is a difference: within rounding of 0 (|ICC(A,k)| would exceed 1e12) it is 0.
    den5 = msr + (msc - mse) / n
    den5 = np.where(np.abs(den5) <= _POLE_RTOL * (msr + (msc + mse) / n), 0.0, den5)
    dens = (msr + (k - 1) * msw, den2, msr + (k - 1) * mse, msr, den5, msr)
    # Reason codes where a denominator is 0 and some value differs (see REASONS); < 0 happens for ICC(A,k) only.
    const = (msr == 0) & (msw == 0)
    specific = (1, 4, 2, 3, 5, np.where(mse == 0, 2, 3))
    codes = [
        np.where(den > 0, 0, np.where(den < 0, _ABOVE_ONE, np.where(const, 1, sp)))
        for den, sp in zip(dens, specific, strict=True)
    ]
    iccs = [_estimate(num, den) for num, den in zip(nums, dens, strict=True)]
    icc2 = iccs[1]
    f1 = ratio(msr, msw, zero_zero=np.nan)
    f3 = ratio(msr, mse, zero_zero=np.nan)
    f1l, f1u = f1 / special.fdtri(df1, dfw, q), f1 * special.fdtri(dfw, df1, q)
    f3l, f3u = f3 / special.fdtri(df1, dfe, q), f3 * special.fdtri(dfe, df1, q)

    # ICC(A,1): Satterthwaite degrees of freedom, computed scaled to avoid overflow of fj**2.
    zero_e = mse == 0
    fj = ratio(msc, np.where(zero_e, 1.0, mse), zero_zero=0.0)
    big = fj > 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        i2 = np.where(np.isfinite(icc2), icc2, 0.0)
        a = k * i2 * np.where(big, 1.0, fj)
        b = (n * (1.0 + (k - 1.0) * i2) - k * i2) * np.where(big, 1.0 / np.where(big, fj, 1.0), 1.0)
        v = ratio(dfe * (a + b) ** 2, df1 * a**2 + b**2, zero_zero=np.nan)
    v = np.where(zero_e, k - 1.0, v)
    v = np.where(np.isfinite(v) & (v > 0) & np.isfinite(icc2), v, dfe)
    f2u = special.fdtri(df1, v, q)
    f2l = special.fdtri(v, df1, q)
    kn = k * n - k - n
    # pingouin's lower bound divided through by f2u, which is +inf when v is tiny (limit v -> 0). Numerator and
    # denominator share the rounded term t, so that each bound is <= 1 in floating point as in exact arithmetic.
    rest = k * msc + kn * mse
    t = n * msr / f2u
    l2 = ratio(t - n * mse, rest + t, zero_zero=np.nan)
    t = n * f2l * msr
    u2 = ratio(t - n * mse, rest + t, zero_zero=np.nan)
    lows = (_single_from_f(f1l, k), l2, _single_from_f(f3l, k))
    lows += (_average_from_f(f1l), _spearman_brown(l2, k), _average_from_f(f3l))
    highs = (_single_from_f(f1u, k), u2, _single_from_f(f3u, k))
    highs += (_average_from_f(f1u), _spearman_brown(u2, k), _average_from_f(f3u))
    out = {"f1": f1, "f3": f3, "p1": special.fdtrc(df1, dfw, f1), "p3": special.fdtrc(df1, dfe, f3)}
    out.update(zero_w=msw == 0, zero_e=zero_e)
    for i in range(6):
        est = codes[i] == 0
        out[f"icc{i}"], out[f"code{i}"] = iccs[i], codes[i]
        out[f"low{i}"], out[f"high{i}"] = np.where(est, lows[i], np.nan), np.where(est, highs[i], np.nan)
    return out


def two_way_mean_squares(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(MSR, MSC, MSE, MSW) of a validated float array ``(..., n, k)``, exact 0 in degenerate cases."""
    n, k = x.shape[-2:]
    within_same = np.all(x == x[..., :1], axis=(-2, -1))  # identical executions in every subject
    rows_same = np.all(x == x[..., :1, :], axis=(-2, -1))  # every subject has the same k values
    x = x - x[..., :1, :1]  # shift: exact for nearby values, keeps means accurate under large offsets
    rowm = exact_mean(x, -1)[..., :, None]
    colm = exact_mean(x, -2)[..., None, :]
    grand = exact_mean(rowm, (-2, -1))[..., None, None]
    ssr = k * np.sum((rowm - grand) ** 2, axis=(-2, -1))
    ssc = n * np.sum((colm - grand) ** 2, axis=(-2, -1))
    sse = np.sum(((x - colm) - (rowm - grand)) ** 2, axis=(-2, -1))
    ssw = np.sum((x - rowm) ** 2, axis=(-2, -1))
    ssr = np.where(rows_same, 0.0, ssr)
    sse = np.where(rows_same | within_same, 0.0, sse)
    ssc = np.where(within_same, 0.0, ssc)
    ssw = np.where(within_same, 0.0, ssw)
    return ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1)), ssw / (n * (k - 1))


def icc_all(x, *, confidence=0.95) -> dict[str, ICCResult]:
    """All six ICC forms of ``x`` (``(..., n_subjects, k)``): subjects are targets, executions raters.

    Parameters
    ----------
    x : array_like
        Finite values, ``n_subjects >= 2`` and ``k >= 2``; leading axes are independent problems.
    confidence : float, optional
        Level of the F-based confidence intervals.

    Returns
    -------
    dict of str to ICCResult
        Keyed by :data:`FORMS`; floats for 2-D ``x``, arrays over the leading axes otherwise.

    References
    ----------
    Shrout & Fleiss (1979), doi:10.1037/0033-2909.86.2.420; McGraw & Wong (1996), doi:10.1037/1082-989X.1.1.30

    Examples
    --------
    >>> x = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> res = icc_all(x)
    >>> round(res["ICC(A,1)"].icc, 3), round(res["ICC(A,1)"].ci_low, 3), round(res["ICC(C,1)"].f, 3)
    (0.29, 0.019, 11.027)
    """
    x = as_float_array(x, "x", min_ndim=2)
    check_axis_size(x.shape[-2], "x", "subjects (axis -2)", 2)
    check_axis_size(x.shape[-1], "x", "executions (axis -1)", 2)
    msr, msc, mse, msw = two_way_mean_squares(x)
    return icc_from_mean_squares(msr, msc, mse, msw, x.shape[-2], x.shape[-1], confidence=confidence)


def icc(x, *, form="ICC(A,1)", confidence=0.95) -> ICCResult:
    """One ICC form of ``x`` (``(..., n_subjects, k)``); ``form`` is one of :data:`FORMS`.

    References
    ----------
    McGraw & Wong (1996), doi:10.1037/1082-989X.1.1.30

    Examples
    --------
    >>> round(icc([[1.0, 1.1], [2.0, 2.1], [3.0, 2.9]]).icc, 3)
    0.994
    """
    check_choice("form", form, FORMS)
    return icc_all(x, confidence=confidence)[form]


def koo_li_band(value):
    """Koo & Li (2016) reliability band of an ICC value (apply it to the CI lower bound), or None.

    ``< 0.5`` poor, ``[0.5, 0.75)`` moderate, ``[0.75, 0.9]`` good, ``(0.9, 1]`` excellent. Every band is an
    explicit interval: NaN (not estimable), ``-inf`` (an unbounded lower bound) and values above 1 get None,
    never a band by default.

    Parameters
    ----------
    value : float or array_like
        ICC values.

    Returns
    -------
    str or None, or ndarray of object
        The band of each value; None where it has none.

    References
    ----------
    Koo, T. K., & Li, M. Y. (2016). A guideline of selecting and reporting intraclass correlation
    coefficients for reliability research. Journal of Chiropractic Medicine, 15(2), 155-163.
    doi:10.1016/j.jcm.2016.02.012

    Examples
    --------
    >>> koo_li_band(0.8)
    'good'
    >>> koo_li_band([0.2, 0.5, 0.95, float("nan"), float("-inf")]).tolist()
    ['poor', 'moderate', 'excellent', None, None]
    """
    if isinstance(value, float | int):  # one value (every observation's band): no array to build
        v = float(value)
        if not (math.isfinite(v) and v <= 1.0):
            return None
        return "poor" if v < 0.5 else "moderate" if v < 0.75 else "good" if v <= 0.9 else "excellent"
    a = np.asarray(value, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        banded = np.isfinite(a) & (a <= 1.0)
        idx = np.select([~banded, a < 0.5, a < 0.75, a <= 0.9], [0, 1, 2, 3], 4)
    return _BANDS[int(idx)] if idx.ndim == 0 else output(_BANDS[idx])


_BANDS = np.array([None, "poor", "moderate", "good", "excellent"], dtype=object)
