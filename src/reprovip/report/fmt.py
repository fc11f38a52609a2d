"""Numbers as the analysis document stores them ("Infinity", None) turned into floats and short text."""

from __future__ import annotations

import math
import re
from typing import Any


def to_float(value: Any) -> float | None:
    """A document number as a float: ``"Infinity"`` becomes ``inf``; None, NaN and text become None.

    Examples
    --------
    >>> to_float("Infinity"), to_float("-Infinity"), to_float(None), to_float(0.5), to_float("x")
    (inf, -inf, None, 0.5, None)
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        v = float(value)
        return None if math.isnan(v) else v
    if value == "Infinity":
        return math.inf
    if value == "-Infinity":
        return -math.inf
    return None


def fmt(value: Any, digits: int = 4) -> str:
    """Short text of a number: 4 significant digits, ``∞`` for infinities, ``–`` for missing values.

    Examples
    --------
    >>> fmt(0.912345), fmt("Infinity"), fmt(None), fmt(12345678.0), fmt(3), fmt(True)
    ('0.9123', '∞', '–', '1.235e+07', '3', 'yes')
    >>> fmt(0.9999999926), fmt(1.0)
    ('0.99999999', '1')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    v = to_float(value)
    if v is None:
        return "–" if value is None or isinstance(value, float) else str(value)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    text = f"{v:.{digits}g}"
    while text in ("1", "-1") and abs(v) != 1.0 and digits < 12:  # 0.99999999 is not 1: show the nines
        digits += 2
        text = f"{v:.{digits}g}"
    return text


def pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage (``0.0712`` → ``7.1%``).

    Examples
    --------
    >>> pct(0.07114), pct(None), pct(4.4e-05), pct(0.0)
    ('7.1%', '–', '0.0044%', '0.0%')
    """
    v = to_float(value)
    if v is None or math.isinf(v):
        return "–"
    if v != 0 and abs(100 * v) < 10**-digits:
        return f"{100 * v:.2g}%"
    return f"{100 * v:.{digits}f}%"


def anchor(text: str, index: int) -> str:
    """An HTML id for a user-provided name: safe characters only, unique by its index.

    Examples
    --------
    >>> anchor("table/left <b>", 3)
    'o3-table-left-b'
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40]
    return f"o{index}-{slug}" if slug else f"o{index}"


def short(text: Any, n: int = 32) -> str:
    """Cut a label to ``n`` characters with an ellipsis.

    Examples
    --------
    >>> short("a" * 40, 10)
    'aaaaaaaaa…'
    """
    s = str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def duration(seconds: Any) -> str:
    """A duration with its unit: seconds below a minute (3 significant digits), then ``min`` and ``h``.

    Missing, NaN and negative values (a clock that went back) are ``–``: never a plausible-looking time.

    Examples
    --------
    >>> duration(0.0123), duration(12.34), duration(125), duration(3600), duration(3725.4), duration(None)
    ('0.0123 s', '12.3 s', '2 min 05 s', '1 h 00 min', '1 h 02 min', '–')
    >>> duration(59.96), duration(-1.0), duration("Infinity")
    ('1 min 00 s', '–', '∞')
    """
    v = to_float(seconds)
    if v is None or v < 0:
        return "–"
    if math.isinf(v):
        return "∞"
    if float(f"{v:.3g}") < 60:  # 59.96 s would print as "60 s": that is a minute
        return f"{v:.3g} s"
    total = round(v)
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    minutes = round(v / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def size(nbytes: Any) -> str:
    """A memory or file size in decimal SI units (1 MB = 10⁶ bytes), 3 significant digits.

    Examples
    --------
    >>> size(512), size(1234), size(45_600_000), size(2.5e9), size(None), size(-3)
    ('512 B', '1.23 kB', '45.6 MB', '2.5 GB', '–', '–')
    >>> size(999_999)
    '1 MB'
    """
    v = to_float(nbytes)
    if v is None or v < 0 or math.isinf(v):
        return "–"
    if v < 1000:
        return f"{v:.0f} B"
    i = min(int(math.log10(v) // 3), len(SIZE_UNITS) - 1)
    text = f"{v / 1000**i:.3g}"
    if float(text) >= 1000 and i < len(SIZE_UNITS) - 1:  # 999,999 B rounds to 1000 kB: say 1 MB
        i, text = i + 1, f"{v / 1000 ** (i + 1):.3g}"
    return f"{text} {SIZE_UNITS[i]}"
