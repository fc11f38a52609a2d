"""A NIfTI whose name and compression disagree does not open in nibabel: an error here too (review NH F2)."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.errors import ReaderError
from reprovip.readers import load, read_image, semantic_hash
from reprovip.readers.nifti import read_geometry
from tests.readers.conftest import volume, write_nifti


def _raw(tmp_path: Path) -> bytes:
    return write_nifti(tmp_path / "src.nii", volume()).read_bytes()


@pytest.mark.parametrize(
    ("name", "gzipped", "problem"),
    [
        ("out.nii.gz", False, "its name says .nii.gz but it is not gzip-compressed"),
        ("out.nii", True, "its name says .nii but it holds gzip-compressed bytes"),
    ],
)
@pytest.mark.parametrize("read", [load, read_image, semantic_hash, read_geometry], ids=lambda f: f.__name__)
def test_a_name_that_lies_about_compression_is_an_error(tmp_path, name, gzipped, problem, read) -> None:
    raw = _raw(tmp_path)
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if gzipped else raw)
    with pytest.raises(nib.filebasedimages.ImageFileError):  # nibabel trusts the suffix, as the next tool will
        np.asarray(nib.load(path).dataobj)
    with pytest.raises(ReaderError, match=f"{path}: {problem} .*nibabel"):
        read(path)


def test_random_bytes_under_a_gz_name_are_no_nifti_not_a_compression_mismatch(tmp_path) -> None:
    path = tmp_path / "noise.nii.gz"
    path.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(ReaderError, match="not a NIfTI file"):
        read_image(path)


def test_an_image_with_no_voxel_is_an_error(tmp_path) -> None:
    """LB5: a (24, 24, 0) map holds nothing to compare; its hash read every execution "identical"."""
    path = tmp_path / "seg.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((24, 24, 0), np.uint8), np.eye(4)), path)
    for read in (semantic_hash, read_image, lambda p: load(p, kind="labels")):
        with pytest.raises(ReaderError, match=r"the image holds no voxel \(shape \(24, 24, 0\)\)"):
            read(path)


def test_the_geometry_of_a_nifti2_split_across_gzip_members_is_read(tmp_path) -> None:
    """read_geometry stopped at the first gzip member, 500 bytes of a 540-byte NIfTI-2 header."""
    path = write_nifti(tmp_path / "img.nii.gz", volume((9, 8, 7)), nifti2=True)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:500], mtime=0) + gzip.compress(raw[500:], mtime=0))
    assert read_geometry(path).shape == (9, 8, 7)
