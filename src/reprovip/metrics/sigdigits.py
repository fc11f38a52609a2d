"""Significant digits of repeated executions: Parker, and Sohier et al. (2021) CNH and General methods.

Errors are relative to a reference, ``z_i = x_i / ref - 1``, with the reference either the mean of the
executions (``reference="mean"``) or an explicit array (e.g. a reference execution). Results are in bits
(``base=2``) or decimal digits (``base=10``); ``bits * log(2) / log(base)`` converts them.

* Parker: ``-log_base(sigma / |ref|)`` with ``sigma`` the SD (``ddof``) of the executions.
* CNH (centred normality hypothesis): ``-log2(sigma_z) - [0.5 log2((k-1) / chi2_{(1-confidence)/2, k-1})
  + log2(Phi^-1((1 + probability)/2))]``. ``significantdigits`` uses ``ddof=0``: pass it to reproduce that
  package exactly; the default ``ddof=1`` is the unbiased estimator the chi-square interval assumes.
* General: the largest integer ``s`` in ``[0, nmant]`` with ``|z_i| <= 2^-s`` for all executions; the
  probability it holds for is set by the number of executions (:func:`required_samples`).

Fixed values (never NaN), with ``nmant`` the mantissa bits of the input dtype (52 for float64, 23 for
float32, 52 for integers), as in ``significantdigits``:

* identical executions (equal to each other for ``"mean"``, equal to the reference otherwise): ``nmant``
  bits (CNH: ``nmant`` minus its confidence correction, as ``significantdigits``);
* a zero reference with differing executions: 0 (the relative error is unbounded);
* a zero SD but executions different from an explicit reference: ``max|z|`` replaces the SD (as
  ``significantdigits``); Parker values are capped at ``nmant`` bits.
"""

from __future__ import annotations

import numpy as np

from reprovip.errors import MetricInputError, check_choice

from ._common import as_float_array, check_axis_size, check_fraction, check_int, exact_mean, output, ratio

METHODS = ("parker", "cnh", "general")
BASES = (2, 10)


def mantissa_bits(dtype: np.dtype) -> int:
    """Mantissa bits of a float dtype (``np.finfo(dtype).nmant``), 52 for integer and bool dtypes."""
    dtype = np.dtype(dtype)
    return int(np.finfo(dtype).nmant) if dtype.kind == "f" else int(np.finfo(np.float64).nmant)


def to_base(bits, base: int):
    """Convert bits to ``base`` (2 or 10) digits, as ``significantdigits.change_basis``."""
    return bits if base == 2 else bits * (np.log(2) / np.log(base))


def parker_bits(sd: np.ndarray, ref_abs: np.ndarray, same: np.ndarray, nmant: int) -> np.ndarray:
    """Parker significant bits from an SD and |reference|, with the module's fixed degenerate values."""
    r = ratio(sd, ref_abs, zero_zero=0.0)
    with np.errstate(divide="ignore"):
        bits = np.minimum(-np.log2(np.where(np.isinf(r), 1.0, r)), nmant)
    return np.where(same, float(nmant), np.where(ref_abs == 0, 0.0, bits))


def _cnh_correction(k: int, probability: float, confidence: float) -> float:
    from scipy import stats  # here: 0.3 s of import that only the CNH method needs

    chi2 = stats.chi2.interval(confidence, k - 1)[0]
    return 0.5 * np.log2((k - 1) / chi2) + np.log2(stats.norm.ppf((probability + 1) / 2))


def significant_digits(
    x,
    *,
    axis=-1,
    method="parker",
    reference="mean",
    base=10,
    probability=0.95,
    confidence=0.95,
    ddof=1,
):
    """Significant digits shared by the executions of ``x`` along ``axis``.

    Parameters
    ----------
    x : array_like
        Finite values; at least 2 executions along ``axis``.
    axis : int, optional
        Axis of the executions (default last; ``significantdigits`` defaults to 0).
    method : {'parker', 'cnh', 'general'}, optional
    reference : 'mean' or array_like, optional
        ``"mean"`` of the executions, or an array broadcastable to ``x`` without ``axis``.
    base : {2, 10}, optional
        2 for bits, 10 for decimal digits.
    probability, confidence : float, optional
        CNH only: probability that the digits are correct, and confidence of that statement.
    ddof : int, optional
        Delta degrees of freedom of the SD (Parker and CNH), smaller than the number of executions.

    Returns
    -------
    float or ndarray
        Shape of ``x`` without ``axis``.

    References
    ----------
    Parker, D. S. (1997). Monte Carlo arithmetic: exploiting randomness in floating-point arithmetic.
    UCLA Technical Report CSD-970002.

    Sohier, D., de Oliveira Castro, P., Févotte, F., Lathuilière, B., Petit, E., & Jamond, O. (2021).
    Confidence intervals for stochastic arithmetic. ACM Transactions on Mathematical Software, 47(2), 1-33.
    doi:10.1145/3432184 (preprint: doi:10.48550/arXiv.1807.09655)

    Examples
    --------
    >>> x = [1.0001, 0.9999, 1.0, 1.0]
    >>> round(significant_digits(x), 3)
    4.088
    >>> significant_digits(x, method="general", base=2)
    13.0
    """
    check_choice("method", method, METHODS)
    check_choice("base", base, BASES)
    probability = check_fraction(probability, "probability")
    confidence = check_fraction(confidence, "confidence")
    raw = np.asarray(x) if not isinstance(x, np.ndarray) else x
    xf = as_float_array(raw, "x")
    if not isinstance(axis, (int, np.integer)) or not -xf.ndim <= axis < xf.ndim:
        raise MetricInputError(f"`axis` must be an integer in [-{xf.ndim}, {xf.ndim}), got {axis!r}")
    xm = np.moveaxis(xf, axis, -1)
    k = xm.shape[-1]
    check_axis_size(k, "x", "executions along `axis`", 2)
    ddof = check_int(ddof, "ddof", 0)
    if ddof >= k:
        raise MetricInputError(f"`ddof` must be smaller than the number of executions {k}, got {ddof}")
    nmant = mantissa_bits(raw.dtype)
    if isinstance(reference, str):
        check_choice("reference", reference, ("mean",))
        same = np.all(xm == xm[..., :1], axis=-1)
        ref = exact_mean(xm, -1)
    else:
        ref = as_float_array(reference, "reference", min_ndim=0)
        try:
            ref = np.broadcast_to(ref, xm.shape[:-1])
        except ValueError:
            raise MetricInputError(
                f"`reference` must broadcast to {xm.shape[:-1]} (x without `axis`), got shape {ref.shape}"
            ) from None
        same = np.all(xm == ref[..., None], axis=-1)
    zero_ref = ref == 0
    safe_ref = np.where(zero_ref, 1.0, ref)[..., None]
    if method == "parker":
        mean = exact_mean(xm, -1)
        sd = np.sqrt(np.sum((xm - mean[..., None]) ** 2, axis=-1) / (k - ddof))
        sd = np.where(sd == 0, np.max(np.abs(xm - ref[..., None]), axis=-1), sd)
        bits = parker_bits(sd, np.abs(ref), same, nmant)
    elif method == "cnh":
        z = xm / safe_ref - 1
        sd = np.std(z, axis=-1, ddof=ddof)
        sd = np.where(sd == 0, np.max(np.abs(z), axis=-1), sd)
        delta = _cnh_correction(k, probability, confidence)
        with np.errstate(divide="ignore"):
            bits = -np.log2(np.where(sd == 0, 1.0, sd)) - delta
        bits = np.where(same, nmant - delta, np.where(zero_ref, 0.0, np.where(sd == 0, nmant - delta, bits)))
    else:
        zmax = np.max(np.abs(xm / safe_ref - 1), axis=-1)
        mant, expo = np.frexp(zmax)
        bits = np.clip(-expo + (mant == 0.5), 0, nmant).astype(np.float64)
        bits = np.where(same, float(nmant), np.where(zero_ref, 0.0, np.where(zmax == 0, float(nmant), bits)))
    return output(to_base(bits, base))


def required_samples(probability=0.95, confidence=0.95) -> int:
    """Executions needed for the General method to hold with ``probability`` at ``confidence``.

    ``ceil(log(1 - confidence) / log(probability))`` (Sohier et al. 2021), as
    ``significantdigits.minimum_number_of_trials``.

    References
    ----------
    Sohier et al. (2021), doi:10.1145/3432184

    Examples
    --------
    >>> required_samples(0.95, 0.95)
    59
    >>> required_samples(0.99, 0.95)
    299
    """
    p = check_fraction(probability, "probability")
    c = check_fraction(confidence, "confidence")
    return int(np.ceil(np.log(1 - c) / np.log(p)))
