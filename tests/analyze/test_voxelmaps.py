"""The maps' own rules: the dtype a map is written in, and subjects on another intensity scale."""

from __future__ import annotations

import numpy as np

from reprovip.analyze.voxelmaps import FAR_RATIO, far_subjects, map_dtype


def test_maps_are_float32_unless_that_loses_values() -> None:
    assert map_dtype(np.array([0.5, 1e30])) == np.float32
    assert map_dtype(np.array([1e-50, 1.0])) == np.float64  # 1e-50 would become 0
    assert map_dtype(np.array([1e300])) == np.float64  # would become inf
    assert map_dtype(np.array([1, 2], dtype=np.int16)) == np.float32


def test_far_subjects_by_the_median_of_the_others() -> None:
    """A subject 10 times (or a tenth of) the median of the others is named; 9.9 times is not; fewer than 3
    subjects give no median of others to compare with."""
    assert far_subjects({"a": 1.0, "b": 1.1, "c": 0.9, "d": FAR_RATIO}) == [
        {"subject": "d", "magnitude": 10.0, "others": 1.0, "ratio": 10.0}
    ]
    assert far_subjects({"a": 1.0, "b": 1.1, "c": 0.9, "d": 9.9}) == []
    assert [f["subject"] for f in far_subjects({"a": 1.0, "b": 1.1, "c": 0.09})] == ["c"]
    assert far_subjects({"a": 1.0, "b": 100.0}) == []
    # a control's empty lesion map is on no scale: identical maps read "ICC on every subject: 0 times" (a review)
    assert far_subjects({"a": 0.0, "b": 1.0, "c": 1.1, "d": 0.9}) == []
