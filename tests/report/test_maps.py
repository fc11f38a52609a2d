"""Voxel maps drawn as slices (reprovip.report.maps): what a subsampled picture may not hide."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.report import maps
from reprovip.report.png import GREYS


@pytest.mark.parametrize("where", [(101, 101), (100, 100), (199, 3)])
def test_one_differing_voxel_is_drawn_when_the_slice_is_subsampled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: tuple[int, int]
) -> None:
    """A 200 x 200 axial slice is drawn at most 160 px wide, so every other voxel is skipped; a single differing
    voxel between the samples vanished and the picture read as "no difference" (before: [::2] sampling)."""
    differ = np.zeros((200, 200, 3), dtype=np.float32)
    differ[where[0], where[1], 1] = 1  # z = 1: the axial slice through the centre
    nib.save(nib.Nifti1Image(differ, np.eye(4)), tmp_path / "differ.nii.gz")
    drawn: list[np.ndarray] = []
    encode = maps.encode_png
    monkeypatch.setattr(maps, "encode_png", lambda idx, colours: drawn.append(idx) or encode(idx, colours))
    image = maps.render_map(tmp_path / "differ.nii.gz", "differ")
    axial = drawn[maps.AXES.index("axial")]
    assert axial.shape == (100, 100) and image.binary
    assert int((axial == GREYS).sum()) == 1  # one pixel in the differ colour, the rest the grey background
