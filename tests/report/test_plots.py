"""Strip and Bland–Altman plots of values at the edges of the float64 range: sums that overflow are not a
crash nor an infinite coordinate, and a point that cannot be drawn is counted in the plot, never dropped
silently (found by review with the ticks crash on subnormal values)."""

from __future__ import annotations

import math
import re
import sys

import numpy as np

from reprovip.report.plots import bland_altman, strip_plot
from reprovip.report.values import Values, bland_altman_data, strip_data

MAX = sys.float_info.max


def _coordinates(svg: str) -> list[float]:
    return [float(v) for v in re.findall(r'\b(?:c?[xy][12]?|width|height)="([^"]*)"', svg)]


def test_a_mean_whose_sum_overflows_is_still_the_mean() -> None:
    """Three values near 1.8e308: their sum overflows, their mean (1.53e308) does not. Before: deviations -inf."""
    vals = Values(["v"], np.array([[[1.7e308, 1.53e308, 1.36e308]]]), ["s1"], ())
    (subject,) = strip_data(vals, 0)["subjects"]
    assert subject["deviations"] == [1.7e308 - 1.53e308, 0.0, 1.36e308 - 1.53e308]


def test_a_deviation_beyond_the_float_range_is_counted_not_drawn() -> None:
    """MAX, -MAX, -MAX: the mean -MAX/3 is finite, MAX - mean is not (4/3 MAX); the two others are drawn."""
    vals = Values(["v"], np.array([[[MAX, -MAX, -MAX], [1.0, 2.0, 3.0]]]), ["s1", "s2"], ())
    data = strip_data(vals, 0)
    devs = [d for s in data["subjects"] for d in s["deviations"]]
    assert sum(not math.isfinite(d) for d in devs) == 1
    svg = str(strip_plot(data))
    assert "1 deviation(s) not drawn: not finite (overflow of the float64 range)" in svg
    # 6 executions, 1 not drawn; at this scale s1's two -2/3 MAX share a pixel, and s2's three too
    assert svg.count("<circle") == 2 and ">×2</text>" in svg and ">×3</text>" in svg
    assert all(math.isfinite(v) for v in _coordinates(svg))


def test_bland_altman_near_the_float_max() -> None:
    """Levels a = -MAX/2 and b = MAX for one subject: the difference overflows (not drawn, counted, and so are
    the bias and limits it makes infinite); the other subject's point is drawn at finite coordinates."""
    values = np.array([[[[-MAX / 2] * 2, [MAX] * 2], [[1.0] * 2, [2.0] * 2]]])  # (obs, subject, level, rep)
    vals = Values(["v"], values, ["s1", "s2"], (("f", ("a", "b")),))
    data = bland_altman_data(vals, 0)
    assert data is not None
    assert [p["mean"] for p in data["points"]] == [MAX / 4, 1.5]  # (a + b) / 2 would overflow
    assert [p["diff"] for p in data["points"]] == [math.inf, 1.0]
    svg = str(bland_altman(data))
    assert "1 point(s) not drawn: not finite" in svg
    assert "3 line(s) of bias or agreement not drawn: not finite" in svg
    assert svg.count("<circle") == 1
    assert all(math.isfinite(v) for v in _coordinates(svg))


def test_a_trend_marks_an_analysis_without_a_value_and_does_not_join_over_it() -> None:
    """Code review: an analysis whose worst cases are unknown (null: an observation non-finite in some
    executions) vanished from the trend, the line joining its neighbours as if it had not been made."""
    from reprovip.report.plots import trend

    series = [dict(value=0.9, label="a"), dict(value=None, label="b"), dict(value=0.95, label="c"), dict(value=0.96)]
    svg = str(trend(series, title="ICC(A,1) CI low"))
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3 and svg.count(">n/a<") == 1
    joined = str(trend([dict(value=0.9), dict(value=0.95), dict(value=0.96)], title="t"))
    assert joined.count("<polyline") == 1 and ">n/a<" not in joined


def test_the_band_chart_says_the_bands_as_koo_li_band_reads_them() -> None:
    """Review D: the chart's tooltips read "good: ICC in [0.75, 0.9)" and "excellent: ICC in [0.9, 1.0)", where
    koo_li_band (and docs/metrics.md) call 0.9 good."""
    from reprovip.metrics.icc import koo_li_band
    from reprovip.report.plots import icc_forest

    svg = str(icc_forest([dict(label="v", value=0.95, ci_low=0.9, ci_high=0.99)]))
    assert "good: ICC in [0.75, 0.9]" in svg and "excellent: ICC in (0.9, 1]" in svg
    assert (koo_li_band(0.9), koo_li_band(0.9000001)) == ("good", "excellent")
