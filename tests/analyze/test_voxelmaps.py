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


def test_a_magnitude_change_negligible_at_the_studys_scale_is_no_failure() -> None:
    """A subject's map of solver residue (1e-7) tripled in one run beside log-Jacobians of 0.1: "images of every
    execution alike" failed a reproducible study (a review). Changes of a thousandth of the study's typical
    magnitude are kept; counts of non-zero voxels are never dropped this way."""
    from reprovip.analyze.voxelmaps import negligible

    magnitudes = {"a": 0.1, "b": 0.12, "c": 0.09, "d": 1e-7}
    residue = dict(measure="mean |value|", value=3e-7, typical=1e-7)
    assert negligible(residue, magnitudes)
    assert not negligible(dict(residue, value=3e-4), magnitudes)  # 3e-4 - 1e-7 > 1e-3 x 0.095
    assert not negligible(dict(measure="non-zero voxels", value=0, typical=216), magnitudes)


def test_voxels_equal_everywhere_do_not_dilute_the_poor_fraction() -> None:
    """Review CT: a CT's air at -1024 HU (equal in every execution of every subject, "signal" to the non-zero mask)
    counted in the poor fraction's denominator: a tumour's 40 HU change under threads=2 read 0.18% instead of
    0.27%, under the warning. Voxels where nothing varies are not counted."""
    from reprovip.analyze.voxelmaps import poor_voxels

    sd = np.array([0.1] * 7 + [2.0, 0.0, 0.0, 0.0, 0.0])
    between = np.array([3.0] * 8 + [0.0] * 4)
    icc = np.array([0.95] * 7 + [0.2, np.nan, np.nan, np.nan, np.nan])
    mean = np.array([50.0] * 8 + [-1024.0] * 4)
    found = poor_voxels(sd, between, icc, mean, np.ones(12, bool), np.arange(12), (12, 1, 1))
    assert found["poor_voxels"] == 1 and found["poor_fraction"] == 1 / 8
