"""check_compatible: kind, observation names, shapes and affine (tolerance 1e-5) between executions."""

from __future__ import annotations

import numpy as np
import pytest

from reprovip.errors import ReaderError
from reprovip.readers import AFFINE_TOLERANCE, Loaded, check_compatible, load

from .conftest import AFFINE, reader_error, volume, write_nifti


def _image(shape=(2, 2, 2), affine=AFFINE):
    return Loaded("image", {"data": np.zeros(shape)}, {"affine": np.asarray(affine).tolist()})


@pytest.mark.parametrize("delta", [0.0, 1e-6, AFFINE_TOLERANCE * 0.99])
def test_compatible_images(delta):
    check_compatible(_image(), _image(affine=AFFINE + delta), path_a="a.nii", path_b="b.nii")


@pytest.mark.parametrize(
    ("b", "phrase"),
    [
        (_image(shape=(2, 2, 3)), "shape (2, 2, 3) of 'data' differs from a.nii's (2, 2, 2)"),
        (
            _image(shape=(4, 2, 1)),
            "(4, 2, 1) of 'data' differs from a.nii's (2, 2, 2); the executions arranged the same",
        ),
        (
            _image(affine=AFFINE + np.pad([[1e-4]], ((2, 1), (3, 0)))),  # beyond 1e-5 + 4 float32 steps of 72
            "affine differs from a.nii's by 0.0001 at row 2, column 3",
        ),
        (_image(affine=np.full((4, 4), np.nan)), "affine differs from a.nii's by nan"),
        (Loaded("labels", {"data": np.zeros((2, 2, 2))}), "was read as 'labels' but a.nii as 'image'"),
        (
            Loaded("image", {"data": np.zeros(2), "x": np.zeros(1)}),
            "observations differ from a.nii's: extra 'x'",
        ),
    ],
    ids=["shape", "reshape", "affine", "affine-nan", "kind", "keys"],
)
def test_incompatible(b, phrase):
    with reader_error("b.nii", phrase):
        check_compatible(_image(), b, path_a="a.nii", path_b="b.nii")


def test_tables_with_different_rows(tmp_path):
    (tmp_path / "a.csv").write_text("m,x\nNAA,1\nCr,2\nCho,3\nGlu,4\n")
    (tmp_path / "b.csv").write_text("m,x\nNAA,1\nCr,2\n")
    a, b = load(tmp_path / "a.csv"), load(tmp_path / "b.csv")
    with reader_error(tmp_path / "b.csv", "missing 'Cho/x', 'Glu/x'; the executions wrote different rows"):
        check_compatible(a, b, path_a=tmp_path / "a.csv", path_b=tmp_path / "b.csv")


def test_real_images(tmp_path):
    a = load(write_nifti(tmp_path / "a.nii.gz", volume()))
    b = load(write_nifti(tmp_path / "b.nii.gz", volume(seed=1), affine=AFFINE * 1.001))
    with reader_error(tmp_path / "b.nii.gz", "affine differs"):
        check_compatible(a, b, path_a=tmp_path / "a.nii.gz", path_b=tmp_path / "b.nii.gz")


def test_one_float32_step_of_a_large_offset_is_the_same_affine() -> None:
    """Review P (affine_f32ulp): images at -300 mm whose translation differed by one float32 step (3e-5 mm,
    1/16000 of a voxel) read "not analysable: resample native-space images"; a real shift is still named, with
    its size and place."""
    from reprovip.readers import affine_mismatch

    a = np.diag([1.0, 1.0, 1.0, 1.0])
    a[:3, 3] = [-300.0, -280.0, 250.0]
    b = a.copy()
    b[0, 3] = float(np.nextafter(np.float32(-300.0), np.float32(0.0)))  # one float32 step
    assert affine_mismatch(a, b) is None
    b[2, 3] += 1.0
    assert affine_mismatch(a, b) == (pytest.approx(1.0), 2, 3)


def test_an_image_written_flipped_is_named_as_such(tmp_path) -> None:
    """Review LB6: the same label map stored with its first axis flipped (RAS beside LAS, the voxels reversed)
    read "affine differs by 2 at row 0, column 0" with no word that the image was only flipped."""
    data = volume()
    flipped = AFFINE @ np.array([[-1, 0, 0, data.shape[0] - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    a = load(write_nifti(tmp_path / "a.nii.gz", data))
    b = load(write_nifti(tmp_path / "b.nii.gz", data[::-1].copy(), affine=flipped))
    with reader_error(tmp_path / "b.nii.gz", "its axes run RAS where the other's run LAS: the image is stored flipped"):
        check_compatible(a, b, path_a=tmp_path / "a.nii.gz", path_b=tmp_path / "b.nii.gz")
    # an affine that moves the image without turning it names no axes
    moved = load(write_nifti(tmp_path / "c.nii.gz", data, affine=AFFINE + np.pad([[1.0]], ((0, 3), (3, 0)))))
    with pytest.raises(ReaderError) as err:
        check_compatible(a, moved, path_a=tmp_path / "a.nii.gz", path_b=tmp_path / "c.nii.gz")
    assert "affine differs" in str(err.value) and "axes run" not in str(err.value)
