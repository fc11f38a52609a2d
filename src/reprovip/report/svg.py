"""Inline SVG drawing: a few primitives and axes. No JavaScript, no style attributes (the dashboard's CSP
forbids inline styles), only presentation attributes and classes; every text goes through ``escape``."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from markupsafe import Markup, escape

PALETTE = (
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
)
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def colour(i: int) -> str:
    """The ``i``-th categorical colour."""
    return PALETTE[i % len(PALETTE)]


def n(x: float) -> str:
    """A coordinate with at most 1 decimal."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def text(
    x: float,
    y: float,
    s: object,
    *,
    anchor: str = "start",
    cls: str = "",
    fill: str = "#222",
    size: int | None = None,
) -> str:
    """A text element; ``s`` is escaped."""
    extra = f' class="{cls}"' if cls else ""
    fs = f' font-size="{size}"' if size else ""
    return f'<text x="{n(x)}" y="{n(y)}" text-anchor="{anchor}" fill="{fill}"{fs}{extra}>{escape(s)}</text>'


def rect(x: float, y: float, w: float, h: float, fill: str, *, title: str | None = None, opacity: float = 1.0) -> str:
    """A rectangle with an optional tooltip."""
    op = f' fill-opacity="{opacity}"' if opacity < 1 else ""
    inner = f"<title>{escape(title)}</title>" if title else ""
    size = f'width="{n(max(w, 0))}" height="{n(max(h, 0))}"'
    return f'<rect x="{n(x)}" y="{n(y)}" {size} fill="{fill}"{op}>{inner}</rect>'


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    stroke: str = "#444",
    *,
    width: float = 1.0,
    dash: str | None = None,
) -> str:
    """A line."""
    d = f' stroke-dasharray="{dash}"' if dash else ""
    ends = f'x1="{n(x1)}" y1="{n(y1)}" x2="{n(x2)}" y2="{n(y2)}"'
    return f'<line {ends} stroke="{stroke}" stroke-width="{width}"{d}/>'


def circle(x: float, y: float, r: float, fill: str, *, title: str | None = None, opacity: float = 1.0) -> str:
    """A dot with an optional tooltip."""
    op = f' fill-opacity="{opacity}"' if opacity < 1 else ""
    inner = f"<title>{escape(title)}</title>" if title else ""
    return f'<circle cx="{n(x)}" cy="{n(y)}" r="{n(r)}" fill="{fill}"{op}>{inner}</circle>'


def svg(width: float, height: float, body: Iterable[str], *, label: str) -> Markup:
    """Wrap elements into a responsive ``<svg>`` with an accessible label."""
    return Markup(
        f'<svg class="plot" viewBox="0 0 {n(width)} {n(height)}" width="{n(width)}" height="{n(height)}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" {FONT}>'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]``, for any finite bounds.

    The steps are 1, 2, 2.5 or 5 times a power of ten, computed in exact decimal arithmetic: a range of
    subnormal floats (``1e-310``), one wider than the largest float (``-1e308..1e308``) or far from zero
    (``1e300..1e300 + ulp``) gets ticks inside it, each the float nearest a round decimal (``0.3``, never
    ``0.30000000000000004``; zero is ``0.0``). Ticks closer than the floats can tell apart are given once.
    A bound that is not finite draws no tick: the callers scale finite values only.

    Parameters
    ----------
    lo, hi : float
        The range; ``hi <= lo`` gives the single tick ``lo``.
    count : int
        The number of intervals aimed at (at least 1).

    Returns
    -------
    list of float
        The ticks in increasing order, within ``[lo, hi]``.

    References
    ----------
    .. [1] Heckbert P. S. (1990) Nice numbers for graph labels. In Graphics Gems, pp. 61-63.

    Examples
    --------
    >>> ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> ticks(-0.3, 0.3, 3)
    [-0.2, 0.0, 0.2]
    >>> ticks(3, 3)
    [3.0]
    >>> ticks(0, 4e-310, 2)
    [0.0, 2e-310, 4e-310]
    >>> ticks(float("nan"), 1)
    []
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [float(lo)]
    # Every float is a decimal of at most 767 significant digits: at this precision nothing below rounds.
    with localcontext(prec=800, Emin=-2000, Emax=2000):
        dlo, dhi = Decimal(lo), Decimal(hi)
        raw = (dhi - dlo) / max(count, 1)
        mag = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw)), exactly
        step = next(m * mag for m in _NICE if m * mag >= raw)
        first = int((dlo / step).to_integral_value(ROUND_CEILING))
        last = int((dhi / step).to_integral_value(ROUND_FLOOR))
        # A round value just outside whose nearest float is a bound is that bound (4e-310 is 3.99...e-310).
        first -= float((first - 1) * step) >= lo
        last += float((last + 1) * step) <= hi
        # float() rounds to nearest, so a tick in [lo, hi] stays in it; dict.fromkeys drops repeats in order.
        return list(dict.fromkeys(float(k * step) or 0.0 for k in range(first, last + 1)))


_NICE = tuple(Decimal(m) for m in ("1", "2", "2.5", "5", "10"))


def tick_label(t: float) -> str:
    """The shortest ``%g`` text that reads back as ``t``: the round decimal a tick is, and distinct ticks get
    distinct labels (``1e-310`` and ``1.000000025e-310``; the smallest float is ``5e-324``, not ``4.94066e-324``).

    Examples
    --------
    >>> tick_label(0.25), tick_label(5e-324), tick_label(2.0), tick_label(1.000000025e-310), tick_label(-1e300)
    ('0.25', '5e-324', '2', '1.000000025e-310', '-1e+300')
    """
    return next(s for d in range(1, 18) if float(s := f"{t:.{d}g}") == t)


class Scale:
    """A linear map from data ``[lo, hi]`` to pixels ``[p0, p1]``; any finite bounds (``hi <= lo`` is widened
    around ``lo``), never an infinite or NaN coordinate.

    Examples
    --------
    >>> s = Scale(-1.7e308, 1.7e308, 0, 100)
    >>> s(0.0), s(1.7e308)
    (50.0, 100.0)
    >>> Scale(2e-310, 2e-310, 0, 10)(2e-310)
    5.0
    """

    def __init__(self, lo: float, hi: float, p0: float, p1: float) -> None:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"a plot scale needs finite bounds, got [{lo}, {hi}]: non-finite values must be left out")
        if not hi > lo:
            pad = abs(lo) * 0.1 or 1.0
            # Widened within the floats: around 1.7e308 the padding would overflow to infinity.
            lo, hi = max(lo - pad, -sys.float_info.max), min(hi + pad, sys.float_info.max)
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        # Halved when the span overflows (-1e308..1e308); halving loses nothing at that magnitude.
        if math.isinf(self.hi - self.lo):
            frac = (v / 2 - self.lo / 2) / (self.hi / 2 - self.lo / 2)
        else:
            frac = (v - self.lo) / (self.hi - self.lo)
        return self.p0 + frac * (self.p1 - self.p0)


def x_axis(scale: Scale, y: float, *, label: str = "", count: int = 5, grid_to: float | None = None) -> list[str]:
    """Ticks and labels of a horizontal axis at height ``y`` (vertical grid lines up to ``grid_to``)."""
    out = [line(scale.p0, y, scale.p1, y, "#888")]
    for t in ticks(scale.lo, scale.hi, count):
        x = scale(t)
        if grid_to is not None:
            out.append(line(x, grid_to, x, y, "#e3e3e3"))
        out += [line(x, y, x, y + 4, "#888"), text(x, y + 15, tick_label(t), anchor="middle", fill="#555")]
    if label:
        out.append(text((scale.p0 + scale.p1) / 2, y + 30, label, anchor="middle", fill="#333"))
    return out


def y_axis(scale: Scale, x: float, *, label: str = "", count: int = 5, grid_to: float | None = None) -> list[str]:
    """Ticks and labels of a vertical axis at ``x`` (optional horizontal grid lines up to ``grid_to``)."""
    out = [line(x, scale.p0, x, scale.p1, "#888")]
    for t in ticks(scale.lo, scale.hi, count):
        y = scale(t)
        if grid_to is not None:
            out.append(line(x, y, grid_to, y, "#e3e3e3"))
        out += [line(x - 4, y, x, y, "#888"), text(x - 6, y + 4, tick_label(t), anchor="end", fill="#555")]
    if label:
        mid = (scale.p0 + scale.p1) / 2
        out.append(
            f'<text x="12" y="{n(mid)}" text-anchor="middle" fill="#333" '
            f'transform="rotate(-90 12 {n(mid)})">{escape(label)}</text>'
        )
    return out


def legend(items: Sequence[tuple[str, str]], x: float, y: float, *, width: float) -> tuple[list[str], float]:
    """Colour swatches with their full labels laid out in rows from ``(x, y)``; returns elements and the height
    used. A label too long for one row is broken over several lines (never cut: two conditions whose names
    share a long prefix must stay apart)."""
    out, cx, cy = [], x, y
    per_line = max(8, int((width - 18) / 6.5))
    for label, fill in items:
        text_ = str(label)
        lines = [text_[i : i + per_line] for i in range(0, len(text_), per_line)] or [""]
        w = 18 + 6.5 * max(len(s) for s in lines)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 16
        out.append(rect(cx, cy - 9, 10, 10, fill))
        out += [text(cx + 14, cy + 14 * j, s, fill="#333", cls="legend-label") for j, s in enumerate(lines)]
        if len(lines) > 1:
            cx, cy = x, cy + 14 * (len(lines) - 1) + 16
        else:
            cx += w + 10
    return out, cy - y + 16
