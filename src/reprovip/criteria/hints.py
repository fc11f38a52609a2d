"""The hint an unknown metric's error gives: the known name it is likely a typo for, never a more lenient one."""

from __future__ import annotations

import difflib
import re

# How lenient each part of an ICC name is: consistency (C) ignores an execution's offset, which the one-way (1)
# and absolute-agreement (A) forms count; an average over k measures and an upper bound read higher.
_LENIENCY = ({"1": 1, "a": 1, "c": 2}, {"1": 0, "k": 1}, {"ci_low": 0, "value": 1, "": 1, "ci_high": 2})
_ICC_LOOSE = re.compile(r"^icc\((\w*),(\w*)\)(?:\.(\w*))?$")


def _leniency(metric: str) -> tuple[int, ...] | None:
    """The leniency of each part of an ICC-like name (a part not recognised, ``ICC(A,2)``, reads as the
    strictest), None if the name is not ICC-like."""
    m = _ICC_LOOSE.match(metric.lower())
    if m is None:
        return None
    return tuple(rank.get(part or "", min(rank.values())) for rank, part in zip(_LENIENCY, m.groups(), strict=True))


def suggest_metric(metric: str, known: list[str]) -> str | None:
    """The known metric an unknown ``metric`` is likely a typo for: the one it matches ignoring case first, else
    the closest name that is no more lenient than what was typed. ``icc(a,1).ci_low`` was offered
    ``ICC(C,1).ci_low`` (closer by letters), the consistency form that ignores an offset between conditions,
    and following that hint turned a failing study green (a review).

    Examples
    --------
    >>> known = ["ICC(A,1)", "ICC(A,1).ci_low", "ICC(C,1)", "ICC(C,1).ci_low", "sigdigits"]
    >>> suggest_metric("icc(a,1).ci_low", known), suggest_metric("ICC(A,2)", known), suggest_metric("sigdigit", known)
    ('ICC(A,1).ci_low', 'ICC(A,1)', 'sigdigits')
    """
    same = [k for k in known if k.lower() == metric.lower()]
    if same:
        return same[0]
    typed = _leniency(metric)
    for close in difflib.get_close_matches(metric, known, n=len(known), cutoff=0.6):
        offered = _leniency(close)
        if typed is None or offered is None or all(o <= t for t, o in zip(typed, offered, strict=True)):
            return close
    return None
