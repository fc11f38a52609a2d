"""header_differences names the header fields that differ between two images with both values, and
changes_meaning classes each: where the voxels are or what they mean (a failure) or not (a warning at most)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.readers.header_diff import NOTES, UNUSED, changes_meaning, header_differences

from .conftest import AFFINE, volume
from .test_image_hash_header import _afni, _sform_only


def _image(path: Path, change: Callable[[nib.Nifti1Image], None] | None = None, frames: int = 0) -> Path:
    """A NIfTI image (a series of ``frames`` when > 0) with sform and qform (code 1), mm and sec, then ``change``."""
    data = volume() if not frames else np.stack([volume(seed=i) for i in range(frames)], axis=-1)
    img = nib.Nifti1Image(data, AFFINE)
    img.set_qform(AFFINE, 1)
    img.header.set_xyzt_units("mm", "sec")
    if frames:
        img.header["pixdim"][4] = 2.0
    if change:
        change(img)
    nib.save(img, path)
    return path


def _moved_qform(img: nib.Nifti1Image) -> None:
    qform = AFFINE.copy()
    qform[0, 3] += 10.0
    img.set_qform(qform, 1)


def _set(**fields: object) -> Callable[[nib.Nifti1Image], None]:
    def change(img: nib.Nifti1Image) -> None:
        for key, value in fields.items():
            img.header[key] = value

    return change


@pytest.mark.parametrize(
    ("change", "first"),
    [
        (_moved_qform, "qoffset_x 90 vs 100"),
        (lambda img: img.header.set_xyzt_units("meter", "sec"), "xyzt_units 10 vs 9"),
        (lambda img: (img.set_sform(AFFINE, 4), img.set_qform(AFFINE, 4)), "qform_code 1 vs 4"),
        (lambda img: img.header.set_intent("t test", (10,)), "intent_p1 0 vs 10"),
        (lambda img: img.header.set_intent("z score"), "intent_code 0 vs 5"),
    ],
    ids=["qform-moved", "metres", "space", "t-map", "z-map"],
)
def test_a_field_that_places_the_voxels_or_says_what_they_mean_changes_the_meaning(
    tmp_path: Path, change: Callable[[nib.Nifti1Image], None], first: str
) -> None:
    """Review NH F4: these only warned, as if a display field had changed."""
    found = header_differences(_image(tmp_path / "a.nii"), _image(tmp_path / "b.nii.gz", change))
    assert found[0] == first and all(changes_meaning(d) for d in found), found


def test_the_voxel_sizes_of_pixdim_are_named(tmp_path: Path) -> None:
    """Review NH F1: pixdim 2x2x2 vs 1x1x3 with one sform and qform_code 0 read "bit-for-bit identical"."""
    found = header_differences(_sform_only(tmp_path / "a.nii", (2, 2, 2)), _sform_only(tmp_path / "b.nii", (1, 1, 3)))
    assert found == ["pixdim [-1, 2, 2, 2, 1, 1, 1, 1] vs [-1, 1, 1, 3, 1, 1, 1, 1]"]
    assert changes_meaning(found[0])


def test_a_series_whose_time_unit_changes_has_another_time_step(tmp_path: Path) -> None:
    """Review NH F3: pixdim[4] 2 in sec vs msec only warned, where 2 vs 2.5 s failed."""
    msec = _image(tmp_path / "b.nii", lambda img: img.header.set_xyzt_units("mm", "msec"), frames=3)
    found = header_differences(_image(tmp_path / "a.nii", frames=3), msec)
    assert found == ["time step 2 sec vs 2 msec", "xyzt_units 10 vs 18"]
    assert all(changes_meaning(d) for d in found)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set(descrip=b"run 2", cal_max=10.0), ["cal_max 0 vs 10", "descrip '' vs 'run 2'"]),
        (lambda img: img.set_data_dtype(np.float64), ["datatype 16 vs 64", "bitpix 32 vs 64"]),
        (_set(slice_duration=0.05, toffset=1.5), ["slice_duration 0 vs 0.05", "toffset 0 vs 1.5"]),
        (lambda img: img.header.set_xyzt_units("mm", "msec"), ["xyzt_units 10 vs 18" + UNUSED]),  # 3-D: no time
        (_set(srow_x=[9.0, 0, 0, 0], sform_code=0), ["sform_code 2 vs 0"]),
    ],
    ids=["text", "dtype", "slice-timing", "3d-time-unit", "sform-dropped"],
)
def test_what_leaves_the_voxels_and_their_meaning_is_named_last_or_as_unused(
    tmp_path: Path, change: Callable[[nib.Nifti1Image], None], expected: list[str]
) -> None:
    """Free text, display hints, the stored type (the decoded values equal), slice timing and the fields no reader
    uses may stay warnings; a dropped sform (the qform then places the image) may not."""
    found = header_differences(_image(tmp_path / "a.nii"), _image(tmp_path / "b.nii", change))
    assert found[: len(expected)] == expected
    assert [changes_meaning(d) for d in found] == [d.startswith(("sform_code", "srow_x")) for d in found]


def test_an_unused_sform_is_named_unused(tmp_path: Path) -> None:
    """An srow that differs while neither sform_code is set: no reader looks at it, nor the hash."""

    def stale(x: float) -> Callable[[nib.Nifti1Image], None]:
        return _set(sform_code=0, srow_x=[x, 0, 0, 0])

    found = header_differences(_image(tmp_path / "a.nii", stale(1.0)), _image(tmp_path / "b.nii", stale(3.0)))
    assert found == ["srow_x [1, 0, 0, 0] vs [3, 0, 0, 0]" + UNUSED] and not changes_meaning(found[0])


def test_the_effective_scaling_is_named(tmp_path: Path) -> None:
    """Review NH F8: int16 2x with slope 1 vs x with slope 2 (the same values) named no field; nibabel moves the
    scaling out of the header it loads."""

    raw = np.arange(60, dtype=np.int16).reshape(5, 3, 4)
    for name, values, slope in (("a", 2 * raw, 1.0), ("b", raw, 2.0)):
        img = nib.Nifti1Image(values, AFFINE)
        img.header.set_slope_inter(slope, 0.0)
        nib.save(img, tmp_path / f"{name}.nii")
    found = header_differences(tmp_path / "a.nii", tmp_path / "b.nii")
    assert found == ["scl_slope 1 vs 2"] and not changes_meaning(found[0])


def test_an_afni_label_table_is_named_and_its_history_is_a_note(tmp_path: Path) -> None:
    """Review LB3: the AFNI attribute is named; a history that differs alone is no meaning."""
    names = ("Left-Hippocampus", "Right-Hippocampus")
    reference = _afni(tmp_path / "a.nii.gz", names, "Mon")
    found = header_differences(reference, _afni(tmp_path / "b.nii.gz", names[::-1], "Tue"))
    assert found == ["header extensions: AFNI VALUE_LABEL_DTABLE"] and changes_meaning(found[0])
    assert header_differences(reference, _afni(tmp_path / "c.nii.gz", names, "Tue")) == [NOTES]
    assert not changes_meaning(NOTES)


def test_the_same_placement_in_the_sform_or_in_the_qform_changes_no_meaning(tmp_path: Path) -> None:
    """Review G: a label map placed by its sform only (code 2) beside the same matrix in its qform only (code 2):
    every reader places it alike, and the study failed "the header says where the voxels are". A qform of another
    space code beside it still changes the meaning."""

    def sform_only(img: nib.Nifti1Image) -> None:
        img.set_sform(AFFINE, 2)
        img.set_qform(None, 0)

    def qform_only(img: nib.Nifti1Image, code: int = 2) -> None:
        img.set_qform(AFFINE, code)
        img.set_sform(None, 0)

    a, b = _image(tmp_path / "a.nii", sform_only), _image(tmp_path / "b.nii", qform_only)
    found = header_differences(a, b)
    assert found and not any(changes_meaning(d) for d in found)
    assert any(
        d.startswith("sform_code 2 vs 0") and d.endswith("(the same placement, stored in the other form)")
        for d in found
    )
    c = _image(tmp_path / "c.nii", lambda img: qform_only(img, code=1))
    assert any(changes_meaning(d) for d in header_differences(a, c))
