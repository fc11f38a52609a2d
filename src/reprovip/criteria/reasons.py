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


def named(items: list[str]) -> str:
    """The first :data:`MAX_NAMED` items, joined, and how many more there are."""
    more = f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return "; ".join(items[:MAX_NAMED]) + more
