"""Validation and small numeric helpers shared by the metric modules (private).

Every public metric validates its inputs here so that errors name the argument, the value received and what
was expected, and raise :class:`~reprovip.errors.MetricInputError` (never ``assert``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reprovip.errors import MetricInputError


def as_float_array(x: object, name: str, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``x`` as a float64 array (a new array when a conversion happens), rejecting NaN and inf."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise MetricInputError(f"`{name}` must be an array of numbers: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise MetricInputError(f"`{name}` must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise MetricInputError(f"`{name}` must have at least {min_ndim} dimensions, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise MetricInputError(f"`{name}` contains NaN or infinite values; remove or impute them first")
    return arr


def check_axis_size(size: int, name: str, what: str, minimum: int) -> None:
    """Raise unless an axis has at least ``minimum`` entries."""
    if size < minimum:
        raise MetricInputError(f"`{name}` needs at least {minimum} {what}, got {size}")


def check_fraction(value: object, name: str) -> float:
    """Return ``value`` as a float strictly between 0 and 1 (a confidence level or a probability)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MetricInputError(f"`{name}` must be a number in (0, 1), got {value!r}") from None
    if not 0.0 < v < 1.0:
        raise MetricInputError(f"`{name}` must be in (0, 1), got {value!r}")
    return v


def check_int(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise MetricInputError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise MetricInputError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_names(names: object, name: str) -> tuple[str, ...]:
    """Validate factor names: a sequence of distinct identifiers-like strings, not 'subject'/'residual'."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise MetricInputError(f"`{name}` must be a sequence of factor names, got {names!r}")
    out = tuple(names)
    for f in out:
        if not isinstance(f, str) or not f or ":" in f or f in ("subject", "residual"):
            raise MetricInputError(
                f"`{name}` entries must be non-empty strings without ':' and other than 'subject'/'residual', got {f!r}"
            )
    if len(set(out)) != len(out):
        raise MetricInputError(f"`{name}` must not repeat a factor, got {list(out)}")
    return out


def exact_mean(a: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """Mean over ``axis`` that is exactly the common value when all entries along ``axis`` are equal.

    ``np.mean([0.1] * 3) != 0.1``: this rounding would turn "identical executions" into tiny non-zero
    variances whose ratios are noise. Degenerate-case detection relies on this helper.
    """
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    first = a
    for ax in sorted((ax % a.ndim for ax in axes), reverse=True):
        first = np.take(first, [0], axis=ax)
    same = np.all(a == first, axis=axes)
    return np.where(same, np.squeeze(first, axis=axes), a.mean(axis=axes))


def ratio(num: np.ndarray, den: np.ndarray, zero_zero: float) -> np.ndarray:
    """``num / den`` without warnings: ``0/0 -> zero_zero`` and ``x/0 -> sign(x) * inf``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    zero = den == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = num / np.where(zero, 1.0, den)
    if np.any(zero):
        q = np.where(zero, np.where(num == 0, zero_zero, np.copysign(np.inf, num)), q)
    return q


def output(a: np.ndarray) -> np.ndarray | float | bool:
    """Return a read-only array, or a Python scalar for 0-d results (2-D inputs give floats)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return bool(a) if a.dtype == bool else float(a)
    if a.flags.writeable and a.base is None:
        a.flags.writeable = False
    elif a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a
