"""Inline SVG drawing: a few primitives and axes. No JavaScript, no style attributes (the dashboard's CSP
forbids inline styles), only presentation attributes and classes; every text goes through ``escape``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

from reprovip.report.fmt import fmt

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
    """About ``count`` round tick values covering ``[lo, hi]``.

    Examples
    --------
    >>> ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> ticks(-0.3, 0.3, 3)
    [-0.2, 0.0, 0.2]
    >>> ticks(3, 3)
    [3.0]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [float(lo)] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    out, i = [], 0
    while start + i * step <= hi + step * 1e-9:
        v = start + i * step
        # Snap to the step's grid: 0.1 + 0.2 is printed 0.3, and a zero is 0, never 3.46945e-18.
        out.append(0.0 if abs(v) < step * 1e-9 else float(f"{v:.{max(0, 1 - math.floor(math.log10(step)))}f}"))
        i += 1
    return out


class Scale:
    """A linear map from data ``[lo, hi]`` to pixels ``[p0, p1]``."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float) -> None:
        if not hi > lo:
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)


def x_axis(scale: Scale, y: float, *, label: str = "", count: int = 5, grid_to: float | None = None) -> list[str]:
    """Ticks and labels of a horizontal axis at height ``y`` (vertical grid lines up to ``grid_to``)."""
    out = [line(scale.p0, y, scale.p1, y, "#888")]
    for t in ticks(scale.lo, scale.hi, count):
        x = scale(t)
        if grid_to is not None:
            out.append(line(x, grid_to, x, y, "#e3e3e3"))
        out += [line(x, y, x, y + 4, "#888"), text(x, y + 15, fmt(t, 6), anchor="middle", fill="#555")]
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
        out += [line(x - 4, y, x, y, "#888"), text(x - 6, y + 4, fmt(t, 6), anchor="end", fill="#555")]
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
