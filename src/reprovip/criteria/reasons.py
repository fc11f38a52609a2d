"""What a verdict is made of: a reason (a criterion with its value and message), and the helpers that word it."""

from __future__ import annotations

from typing import Any

MAX_NAMED = 5  # items a message names before "and N more"


def as_float(v: Any) -> float | None:
    """``v`` as a float (``"Infinity"`` parses too); None for None, NaN and what is not a number."""
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v)  # "Infinity" parses too
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def reason(criterion: str, *, passed: bool, message: str, severity: str = "fail", **extra: Any) -> dict[str, Any]:
    """One reason of a verdict: ``criterion`` judged ``passed`` (or not) at ``severity``, with ``message``."""
    base = dict(
        criterion=criterion,
        metric=None,
        severity=severity,
        passed=passed,
        estimable=True,
        value=None,
        threshold=None,
        observation=None,
    )
    return dict(base, **extra, message=message)


def named(items: list[str], total: int | None = None) -> str:
    """The first :data:`MAX_NAMED` items, joined, and how many more there are: of ``total`` when ``items`` is
    itself a sample of them (the document keeps 20 names of 200 text fields, which read "and 15 more": a review).

    >>> named([f"f{i}" for i in range(20)], total=200)
    'f0; f1; f2; f3; f4 and 195 more'
    """
    total = len(items) if total is None else max(total, len(items))
    more = f" and {total - MAX_NAMED} more" if total > MAX_NAMED else ""
    return "; ".join(items[:MAX_NAMED]) + more
