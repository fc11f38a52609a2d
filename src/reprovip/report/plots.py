"""The report's plots as inline SVG: ICC against the Koo & Li bands, variance shares, strip plots,
Bland–Altman, segmentation agreement, trends, progress and colour bars."""

from __future__ import annotations

import math
import sys
from typing import Any

from markupsafe import Markup

from reprovip.report.fmt import fmt, pct, short, to_float
from reprovip.report.png import DIFFER, VIRIDIS
from reprovip.report.svg import Scale, circle, colour, legend, line, rect, svg, text, x_axis, y_axis

# Koo & Li's bands as koo_li_band reads them (its brackets: 0.9 is good, review D read "[0.9, 1.0)" excellent)
BAND_FILL = (
    ("poor", -math.inf, 0.5, "#f4c7c3", "[-inf, 0.5)"),
    ("moderate", 0.5, 0.75, "#fce8b2", "[0.5, 0.75)"),
    ("good", 0.75, 0.9, "#d9ead3", "[0.75, 0.9]"),
    ("excellent", 0.9, 1.0, "#b7e1cd", "(0.9, 1]"),
)
SOURCE_FILL = {"subject": "#9fb4cc", "residual": "#dd8452"}
STATUS_FILL = {"done": "#55a868", "failed": "#c44e52", "running": "#4c72b0", "pending": "#c9c9c9"}


def _padded(lo: float, hi: float, frac: float = 0.06) -> tuple[float, float]:
    pad = (hi / 2 - lo / 2) * 2 * frac  # halves: the span of -1e308..1e308 overflows
    return max(lo - pad, -sys.float_info.max), min(hi + pad, sys.float_info.max)


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _not_drawn(x: float, y: float, n_left_out: int, what: str) -> list[str]:
    """A visible note for points left out because they are not finite (a sum that overflowed)."""
    if not n_left_out:
        return []
    return [text(x, y, f"{n_left_out} {what} not drawn: not finite (overflow of the float64 range)", fill="#c44e52")]


def icc_forest(rows: list[dict[str, Any]], *, title: str = "ICC(A,1) with 95% CI") -> Markup | None:
    """One row per observation: ICC(A,1) and its CI over the Koo & Li bands (poor/moderate/good/excellent)."""
    rows = [r for r in rows if to_float(r.get("value")) is not None]
    if not rows:
        return None
    lows = [to_float(r.get("ci_low")) for r in rows]
    lo = min([0.0] + [v for v in lows if v is not None and math.isfinite(v)])
    lo = max(lo, -1.0)
    left, width, top, step = 170, 480, 26, 18
    height = top + step * len(rows) + 40
    sx = Scale(lo, 1.0, left, left + width)
    out = []
    for name, a, b, fill, interval in BAND_FILL:
        x0, x1 = sx(max(a, lo)), sx(b)
        out += [
            rect(x0, top - 8, x1 - x0, step * len(rows) + 8, fill, title=f"{name}: ICC in {interval}"),
            text((x0 + x1) / 2, top - 12, name, anchor="middle", fill="#555", size=10),
        ]
    for i, r in enumerate(rows):
        y = top + step * i + step / 2
        v, ci_lo, ci_hi = (to_float(r.get(k)) for k in ("value", "ci_low", "ci_high"))
        tip = f"{r['label']}: ICC {fmt(v)} [{fmt(ci_lo)}, {fmt(ci_hi)}]"
        out.append(text(left - 6, y + 4, short(r["label"], 26), anchor="end"))
        if ci_lo is not None and ci_hi is not None:
            out.append(line(sx(ci_lo), y, sx(ci_hi), y, "#333", width=1.5))
            if ci_lo < lo:
                out.append(text(sx(lo) + 2, y - 3, "◀", fill="#c44e52", size=9))
        out.append(circle(sx(v), y, 4, "#222", title=tip))  # type: ignore[arg-type]
        out.append(
            text(
                left + width + 8,
                y + 4,
                f"{fmt(v, 3)} [{fmt(ci_lo, 3)}, {fmt(ci_hi, 3)}]",
                fill="#333",
                size=10,
            )
        )
    out += x_axis(sx, top + step * len(rows) + 4, label="ICC(A,1) (band of the CI lower bound: Koo & Li 2016)")
    return svg(left + width + 220, height, out, label=title)


def share_bars(shares: list[dict[str, Any]], *, title: str = "share of total variance per source") -> Markup | None:
    """Horizontal bars: the share of one observation's total variance per source (subject, each factor and
    interaction, repetition); the components sum to 100%, the last line says so."""
    items = [(str(s["source"]), to_float(s.get("share")), bool(s.get("truncated"))) for s in shares]
    items = [(k, v, tr) for k, v, tr in items if v is not None]
    if not items:
        return None
    left, width, step = 150, 380, 20
    sx = Scale(0.0, 1.0, left, left + width)
    out = []
    for i, (k, v, tr) in enumerate(items):
        y = 8 + i * step
        fill = SOURCE_FILL.get(k.split(" ")[0], colour(i + 1))
        label = pct(v, 2) + (" (negative estimate, set to 0)" if tr else "")
        out += [
            text(left - 6, y + 11, k, anchor="end"),
            rect(left, y, width, 14, "#f0f0f0"),
            rect(left, y, sx(v) - left, 14, fill, title=f"{k}: {label}"),
            text(left + width + 6, y + 11, label, fill="#333"),
        ]
    total = sum(v for _, v, _ in items)
    y = 8 + len(items) * step
    out.append(text(left - 6, y + 11, "total", anchor="end", fill="#555"))
    out.append(text(left, y + 11, pct(total, 2), fill="#555"))
    extra = 230 if any(tr for *_, tr in items) else 70
    return svg(left + width + extra, 16 + step * (len(items) + 1), out, label=title)


def variance_bars(
    rows: list[dict[str, Any]], sources: list[str], *, title: str = "variance components"
) -> Markup | None:
    """Stacked bars, one per observation: % of total variance per source (subject, factors, residual)."""
    if not rows or not sources:
        return None
    fills = {s: SOURCE_FILL.get(s, colour(i + 2)) for i, s in enumerate(sources)}
    left, width, step = 170, 520, 18
    sx = Scale(0.0, 1.0, left, left + width)
    out: list[str] = []
    for i, r in enumerate(rows):
        y, x = 6 + i * step, float(left)
        out.append(text(left - 6, y + 11, short(r["label"], 26), anchor="end"))
        for s in sources:
            v = to_float(r["shares"].get(s)) or 0.0
            w = sx(v) - left
            out.append(rect(x, y, w, 13, fills[s], title=f"{r['label']} · {s}: {pct(v, 2)}"))
            x += w
    base = 10 + step * len(rows)
    out += x_axis(sx, base, count=4)
    items, h = legend([(s, fills[s]) for s in sources], left, base + 34, width=width)
    return svg(left + width + 20, base + 34 + h, out + items, label=title)


def strip_plot(data: dict[str, Any]) -> Markup | None:
    """Per subject, each execution's deviation from the subject's mean, coloured by condition."""
    subjects = data.get("subjects") or []
    if not subjects:
        return None
    devs = [d for s in subjects for d in s["deviations"]]
    span = max((abs(d) for d in _finite(devs)), default=0.0) or 1.0
    left, width, step = 120, 500, 18
    sx = Scale(*_padded(-span, span, 0.025), left, left + width)
    conds = data["conditions"]
    out = [line(sx(0), 4, sx(0), 8 + step * len(subjects), "#999", dash="3 3")]
    for i, s in enumerate(subjects):
        y = 12 + i * step
        out.append(text(left - 6, y + 4, short(s["subject"], 18), anchor="end"))
        # Points that would be drawn on top of each other (same condition, same pixel) are drawn once, counted.
        spots: dict[tuple[int, float], list[tuple[int, float, float]]] = {}
        for d, c, rep, v in zip(s["deviations"], s["conditions"], s["repetitions"], s["values"], strict=True):
            if not math.isfinite(d):
                continue  # counted below the axis
            spots.setdefault((c, round(sx(d))), []).append((rep, v, d))
        for (c, _), reps in spots.items():
            rep, v, d = reps[0]
            dy = (c % 5 - 2) * 2.2  # conditions side by side, not on top of each other
            many = f"; ×{len(reps)}: repetitions {', '.join(str(r + 1) for r, _, _ in reps)}" if len(reps) > 1 else ""
            tip = f"{s['subject']} · {conds[c]} · rep {rep + 1}: {fmt(v, 8)} (Δ {fmt(d, 3)}){many}"
            out.append(circle(sx(d), y + dy, 3.2, colour(c), opacity=0.85, title=tip))
            if len(reps) > 1:
                out.append(text(sx(d) + 5, y + dy + 4, f"×{len(reps)}", fill=colour(c), size=9))
    base = 12 + step * len(subjects)
    out += x_axis(sx, base, label=f"{data['observation']}: deviation from the subject's mean", grid_to=4)
    note = _not_drawn(left, base + 46, len(devs) - len(_finite(devs)), "deviation(s)")
    items, h = legend([(c, colour(i)) for i, c in enumerate(conds)], left, base + 48 + 16 * len(note), width=width)
    return svg(
        left + width + 20,
        base + 48 + 16 * len(note) + h,
        out + note + items,
        label=f"strip plot of {data['observation']} per subject across executions",
    )


def bland_altman(data: dict[str, Any]) -> Markup | None:
    """Difference between two levels of a factor against their mean, with bias and 95% limits of agreement."""
    pts = data.get("points") or []
    drawn = [p for p in pts if math.isfinite(p["mean"]) and math.isfinite(p["diff"])]
    if not drawn:
        return None
    lines = [
        (name, data[key], dash)
        for name, key, dash in (("bias", "bias", None), ("−1.96 SD", "loa_low", "4 3"), ("+1.96 SD", "loa_high", "4 3"))
        if math.isfinite(data[key])
    ]
    xs, ys = [p["mean"] for p in drawn], [p["diff"] for p in drawn]
    lims = [v for _, v, _ in lines] + ys
    left, width, top, height = 70, 460, 14, 220
    sx = Scale(*_padded(min(xs), max(xs)), left, left + width)
    sy = Scale(*_padded(min(lims), max(lims)), top + height, top)
    out = y_axis(sy, left, label="difference", grid_to=left + width)
    out += x_axis(sx, top + height, label=f"mean of {data['factor']}={data['level_a']} and ={data['level_b']}")
    notes: list[str] = []
    for n_left_out, what in ((len(pts) - len(drawn), "point(s)"), (3 - len(lines), "line(s) of bias or agreement")):
        notes += _not_drawn(left, top + height + 50 + 16 * len(notes), n_left_out, what)
    for name, v, dash in lines:
        out += [
            line(left, sy(v), left + width, sy(v), "#c44e52", dash=dash),
            text(left + width + 4, sy(v) + 4, f"{name} {fmt(v, 3)}", fill="#c44e52", size=10),
        ]
    for p in drawn:
        out.append(
            circle(
                sx(p["mean"]),
                sy(p["diff"]),
                3.5,
                "#4c72b0",
                opacity=0.8,
                title=f"{p['subject']} {p['cell']}: mean {fmt(p['mean'], 6)}, diff {fmt(p['diff'], 3)}",
            )
        )
    return svg(
        left + width + 150,
        top + height + 40 + 16 * len(notes),
        out + notes,
        label=f"Bland–Altman of {data['observation']}: {data['factor']}={data['level_b']} minus ={data['level_a']}",
    )


def seg_bars(labels: list[dict[str, Any]]) -> Markup | None:
    """Per label: minimum and mean Dice within and between conditions, and the worst HD95 (mm)."""
    if not labels:
        return None
    keys = [
        ("dice_within_min", "Dice within, min"),
        ("dice_within_mean", "Dice within, mean"),
        ("dice_between_min", "Dice between, min"),
        ("dice_between_mean", "Dice between, mean"),
    ]
    keys = [(k, lab) for k, lab in keys if any(to_float(r.get(k)) is not None for r in labels)]
    hd = [
        max(
            (v for v in (to_float(r.get(k)) for k in ("hd95_within_max", "hd95_between_max")) if v is not None),
            default=None,
        )
        for r in labels
    ]
    finite_hd = [v for v in hd if v is not None and math.isfinite(v)]
    left, width, bar = 80, 300, 9
    sx = Scale(0.0, 1.0, left, left + width)
    hx = Scale(0.0, min(max(finite_hd or [1.0]) * 1.1, sys.float_info.max), left + width + 80, left + width + 260)
    group = bar * max(len(keys), 1) + 10
    out = [
        text(left, 12, "Dice (1 = same voxels)", fill="#333"),
        text(hx.p0, 12, "HD95 max (mm)", fill="#333"),
    ]
    for i, r in enumerate(labels):
        y0 = 22 + i * group
        out.append(text(left - 6, y0 + group / 2, f"label {short(r['label'], 8)}", anchor="end"))
        for j, (k, lab) in enumerate(keys):
            v = to_float(r.get(k))
            if v is not None:
                out.append(
                    rect(
                        left,
                        y0 + j * bar,
                        sx(v) - left,
                        bar - 1,
                        colour(j),
                        title=f"label {r['label']} · {lab}: {fmt(v, 4)}",
                    )
                )
        h = hd[i]
        if h is not None:
            w = (hx(h) - hx.p0) if math.isfinite(h) else hx.p1 - hx.p0
            out += [
                rect(hx.p0, y0, w, bar * 2, "#8172b3", title=f"label {r['label']} · HD95 max: {fmt(h)} mm"),
                text(hx.p0 + w + 4, y0 + bar * 1.6, fmt(h, 3), size=10),
            ]
    base = 26 + group * len(labels)
    out += x_axis(sx, base, count=4) + x_axis(hx, base, count=3)
    items, hgt = legend([(lab, colour(j)) for j, (_, lab) in enumerate(keys)], left, base + 34, width=560)
    return svg(left + width + 300, base + 34 + hgt, out + items, label="segmentation agreement per label")


def trend(series: list[dict[str, Any]], *, title: str) -> Markup | None:
    """A small line chart per metric over stored analyses (x: analysis order, labelled by version or date)."""
    pts = [(i, to_float(v)) for i, v in enumerate(s.get("value") for s in series)]
    pts = [(i, v) for i, v in pts if v is not None and math.isfinite(v)]
    if not pts:
        return None
    left, width, top, height = 60, 300, 16, 90
    ys = [v for _, v in pts]
    sx = Scale(0, max(len(series) - 1, 1), left, left + width)
    sy = Scale(min(ys), max(ys), top + height, top)
    out = [text(left, 11, title, fill="#333")] + y_axis(sy, left, count=3, grid_to=left + width)
    out.append(line(left, top + height, left + width, top + height, "#888"))
    coords = [(sx(i), sy(v)) for i, v in pts]
    # One line per run of analyses with a value: an analysis without one (an observation non-finite in some
    # executions makes the worst cases unknown) is marked, not joined over as if it had not been made
    runs: list[list[tuple[float, float]]] = []
    for k, (i, _) in enumerate(pts):
        if k == 0 or i != pts[k - 1][0] + 1:
            runs.append([])
        runs[-1].append(coords[k])
    for run in runs:
        if len(run) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            out.append(f'<polyline points="{d}" fill="none" stroke="#4c72b0" stroke-width="1.5"/>')
    for (i, v), (x, y) in zip(pts, coords, strict=True):
        out.append(circle(x, y, 3, "#4c72b0", title=f"{series[i].get('label', i)}: {fmt(v)}"))
    valued = {i for i, _ in pts}
    for i in (i for i in range(len(series)) if i not in valued):
        out.append(text(sx(i), top + height - 4, "n/a", anchor="middle", fill="#c44e52", size=9))
    for i in (0, len(series) - 1):
        out.append(
            text(
                sx(i),
                top + height + 14,
                short(series[i].get("label", ""), 20),
                anchor="start" if i == 0 else "end",
                fill="#555",
                size=10,
            )
        )
    return svg(left + width + 20, top + height + 22, out, label=title)


def status_bar(counts: dict[str, int], *, width: float = 600) -> Markup | None:
    """A stacked bar of executions by status (done, failed, running, pending)."""
    total = sum(counts.values())
    if not total:
        return None
    order = [s for s in ("done", "failed", "running", "pending") if counts.get(s)] + sorted(
        s for s in counts if s not in STATUS_FILL and counts[s]
    )
    out, x = [], 0.0
    for i, s in enumerate(order):
        w = width * counts[s] / total
        out.append(rect(x, 0, w, 22, STATUS_FILL.get(s, colour(i)), title=f"{s}: {counts[s]} of {total}"))
        x += w
    items, h = legend(
        [(f"{s} {counts[s]}", STATUS_FILL.get(s, colour(i))) for i, s in enumerate(order)], 0, 40, width=width
    )
    return svg(width, 40 + h, out + items, label="executions by status")


def _rgb(c: tuple[int, int, int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def colour_bar(vmin: float, vmax: float, *, binary: bool = False) -> Markup:
    """The colour scale of a voxel map drawn over the grey anatomy (see :mod:`reprovip.report.maps`)."""
    if binary:
        out = [
            rect(0, 2, 12, 12, "rgb(120,120,120)"),
            text(16, 12, "same (anatomy shows)"),
            rect(150, 2, 12, 12, _rgb(DIFFER)),
            text(166, 12, "differ"),
        ]
        return svg(210, 18, out, label="colour scale: same or differ")
    out = []
    for i, c in enumerate(VIRIDIS):
        out.append(rect(46 + i * 12, 2, 12.5, 12, _rgb(c)))
    out += [
        text(42, 12, fmt(vmin, 3), anchor="end", size=10),
        text(46 + 12 * len(VIRIDIS) + 4, 12, fmt(vmax, 3), size=10),
    ]
    return svg(220, 18, out, label=f"colour scale from {fmt(vmin, 3)} to {fmt(vmax, 3)}")
