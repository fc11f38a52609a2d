"""Axes of the report's plots for any finite data (found by review: ``reprovip report`` crashed with ``math
domain error`` on a study whose values were subnormal floats, while ``check`` worked).

Expected ticks are computed by hand with the rule of Heckbert (1990, "Nice numbers for graph labels",
Graphics Gems): the step is the smallest of 1, 2, 2.5, 5 and 10 times a power of ten that is at least
``(hi - lo) / count``; the ticks are the step's multiples in ``[lo, hi]``, each the float nearest that decimal.
"""

from __future__ import annotations

import math
import re
import sys

import pytest

from reprovip.report.svg import Scale, tick_label, ticks, x_axis, y_axis

MAX = sys.float_info.max
TINY = 5e-324  # the smallest positive float (subnormal)

# (lo, hi, count, expected ticks)
CASES = [
    pytest.param(0.0, 1.0, 5, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], id="unit"),
    pytest.param(-5.0, -1.0, 5, [-5.0, -4.0, -3.0, -2.0, -1.0], id="negative"),
    pytest.param(0.1, 0.7, 5, [0.2, 0.4, 0.6], id="no-float-noise"),
    # step 1e-310 (raw 8e-311): subnormal values, as the study of the review
    pytest.param(1e-310, 5e-310, 5, [1e-310, 2e-310, 3e-310, 4e-310, 5e-310], id="subnormal"),
    # raw 1.98e-324 underflows to 0 in floats (the crash); step 2e-324: -6e-324 and -4e-324 round to -TINY
    pytest.param(-TINY, TINY, 5, [-TINY, 0.0, TINY], id="smallest-float"),
    pytest.param(0.0, TINY, 5, [0.0, TINY], id="one-ulp-at-zero"),
    # raw 2.0000000000000001e299 (the float 1e300 is 1.0000000000000000525e300): step 2.5e299
    pytest.param(1e-300, 1e300, 5, [2.5e299, 5e299, 7.5e299, 1e300], id="huge-range"),
    # hi - lo overflows to infinity in floats; step 1e308 (raw 7.19e307)
    pytest.param(-MAX, MAX, 5, [-1e308, 0.0, 1e308], id="whole-float-range"),
    pytest.param(1.7e308, MAX, 5, [1.7e308, 1.72e308, 1.74e308, 1.76e308, 1.78e308], id="near-float-max"),
    # the range is one ulp: step 5e-17, ticks closer than the floats can tell apart given once
    pytest.param(1.0, 1.0 + 2**-52, 5, [1.0, 1.0 + 2**-52], id="one-ulp-at-one"),
    pytest.param(3.0, 3.0, 5, [3.0], id="single-value"),
    pytest.param(1e-310, 1e-310, 5, [1e-310], id="single-subnormal"),
    pytest.param(0.0, 0.0, 5, [0.0], id="zero-range"),
]


@pytest.mark.parametrize(("lo", "hi", "count", "expected"), CASES)
def test_ticks_of_any_finite_range(lo: float, hi: float, count: int, expected: list[float]) -> None:
    got = ticks(lo, hi, count)
    assert got == expected
    assert all(lo <= t <= hi for t in got) and got == sorted(set(got))


@pytest.mark.parametrize(("lo", "hi", "count", "expected"), CASES)
def test_tick_labels_are_round_and_distinct(lo: float, hi: float, count: int, expected: list[float]) -> None:
    labels = [tick_label(t) for t in ticks(lo, hi, count)]
    assert [float(s) for s in labels] == expected and len(set(labels)) == len(labels)
    # no more significant digits than Python's shortest round-trip repr: 5e-324, not 4.94066e-324
    assert [_digits(s) for s in labels] == [_digits(repr(t)) for t in expected]


def _digits(text: str) -> int:
    return len(re.sub(r"e[-+]\d+$|[-.]", "", text).strip("0")) or 1


@pytest.mark.parametrize(("lo", "hi"), [(math.nan, 1.0), (0.0, math.inf), (-math.inf, 0.0), (math.nan, math.nan)])
def test_non_finite_bounds_draw_no_tick_and_no_scale(lo: float, hi: float) -> None:
    assert ticks(lo, hi) == []
    with pytest.raises(ValueError, match=r"a plot scale needs finite bounds, got \[.*\]: non-finite values"):
        Scale(lo, hi, 0, 100)


@pytest.mark.parametrize(
    ("lo", "hi", "values", "pixels"),
    [
        # the span overflows: halved, 0 is the middle
        (-MAX, MAX, [-MAX, 0.0, MAX], [0.0, 50.0, 100.0]),
        # a single value is widened by 10% of it each side, within the floats (1.7e308 + 1.7e307 overflows)
        (1.7e308, 1.7e308, [1.53e308, 1.7e308, MAX], [0.0, 100 * (0.17e308 / (MAX - 1.53e308)), 100.0]),
        # widened around a subnormal: 10% of 5e-324 is 0 in floats, so by 1 each side
        (TINY, TINY, [-1.0, TINY, 1.0], [0.0, 50.0, 100.0]),
        (0.0, 0.0, [-1.0, 0.0, 1.0], [0.0, 50.0, 100.0]),
        (1e-310, 3e-310, [1e-310, 2e-310, 3e-310], [0.0, 50.0, 100.0]),
    ],
)
def test_scale_maps_any_finite_range(lo: float, hi: float, values: list[float], pixels: list[float]) -> None:
    scale = Scale(lo, hi, 0, 100)
    assert math.isfinite(scale.lo) and math.isfinite(scale.hi) and scale.lo < scale.hi
    assert [scale(v) for v in values] == pytest.approx(pixels, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(("lo", "hi", "count", "expected"), CASES)
def test_axes_have_finite_coordinates_and_one_label_per_tick(
    lo: float, hi: float, count: int, expected: list[float]
) -> None:
    scale = Scale(lo, hi, 10, 510)
    for axis in (x_axis(scale, 100, count=count), y_axis(scale, 100, count=count)):
        svg = "".join(axis)
        coordinates = [float(v) for v in re.findall(r'(?:x|y)[12]?="([^"]*)"', svg)]
        assert coordinates and all(math.isfinite(v) for v in coordinates)
        assert len(re.findall(r"<text", svg)) == len(ticks(scale.lo, scale.hi, count))
