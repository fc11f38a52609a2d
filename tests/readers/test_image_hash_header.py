"""The NIfTI semantic hash (nifti.v4): the voxel sizes whatever the qform code, and the AFNI attributes that say
what the values mean, but not AFNI's history."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.readers import image_hash, image_header, semantic_hash

from .conftest import AFFINE, volume


def _sform_only(path: Path, zooms: tuple[float, float, float]) -> Path:
    """The same voxels and sform (code 1), qform_code 0, voxel sizes ``zooms`` in pixdim."""
    img = nib.Nifti1Image(volume(), AFFINE)
    img.set_sform(AFFINE, 1)
    img.set_qform(None, 0)
    img.header["pixdim"][1:4] = zooms
    img.update_header = lambda: None  # nibabel would rewrite pixdim from the sform on save
    nib.save(img, path)
    return path


def test_the_voxel_sizes_are_hashed_when_the_sform_alone_places_the_image(tmp_path: Path) -> None:
    """Review NH F1: pixdim 2x2x2 vs 1x1x3 mm (FSL reads pixdim) with the same sform read "bit-for-bit
    identical"."""
    reference = semantic_hash(_sform_only(tmp_path / "a.nii.gz", (2.0, 2.0, 2.0)))
    assert nib.load(tmp_path / "a.nii.gz").header.get_zooms() == (2.0, 2.0, 2.0)
    assert semantic_hash(_sform_only(tmp_path / "same.nii", (2.0, 2.0, 2.0))) == reference
    assert semantic_hash(_sform_only(tmp_path / "b.nii.gz", (1.0, 1.0, 3.0))) != reference


def _afni(path: Path, names: tuple[str, str], when: str) -> Path:
    """A label map with AFNI's extension (code 4): its HISTORY_NOTE says ``when``, its VALUE_LABEL_DTABLE names
    labels 1 and 2 ``names``."""
    table = "".join(f'\\n \\"{k}\\" \\"{v}\\"' for k, v in enumerate(names, 1))
    xml = (
        f'<?xml version=\'1.0\' ?>\n<AFNI_attributes self_idcode="XYZ_{when}" ni_form="ni_group" >\n'
        f'<AFNI_atr ni_type="String" ni_dimen="1" atr_name="HISTORY_NOTE" >\n "[me@host: {when}] 3dcalc"\n'
        '</AFNI_atr>\n<AFNI_atr\n  ni_type="String"\n  ni_dimen="1"\n  atr_name="VALUE_LABEL_DTABLE" >\n'
        f' "<VALUE_LABEL_DTABLE\\n  ni_type=\\"2*String\\"\\n  ni_dimen=\\"2\\" >{table}\\n</VALUE_LABEL_DTABLE>\\n"\n'
        "</AFNI_atr>\n</AFNI_attributes>\n"
    )
    img = nib.Nifti1Image(np.arange(64, dtype=np.int16).reshape(4, 4, 4) % 3, np.eye(4))
    img.header.extensions.append(nib.nifti1.Nifti1Extension(4, xml.encode()))
    nib.save(img, path)
    return path


@pytest.mark.parametrize("piece", [7, 1 << 22])
def test_an_afni_label_table_is_content_but_its_history_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """Review LB3: an AFNI label map whose VALUE_LABEL_DTABLE swapped two names read "bit-for-bit identical": the
    whole extension was left out for its HISTORY_NOTE's time stamp."""
    monkeypatch.setattr(image_hash, "_PIECE", piece)
    left_right = ("Left-Hippocampus", "Right-Hippocampus")
    reference = _afni(tmp_path / "a.nii.gz", left_right, "Mon 10:00")
    later = _afni(tmp_path / "later.nii.gz", left_right, "Tue 11:30")
    swapped = _afni(tmp_path / "swapped.nii.gz", left_right[::-1], "Mon 10:00")
    assert reference.read_bytes() != later.read_bytes()
    assert semantic_hash(later) == semantic_hash(reference)
    assert semantic_hash(swapped) != semantic_hash(reference)
    for path in (reference, swapped):  # streamed and one-shot alike
        assert semantic_hash(path) == image_hash.decoded_hash(image_header.decode(path))
    (name, table), *rest = image_hash.read_meaning_extensions(swapped)
    assert (name, rest) == ("AFNI VALUE_LABEL_DTABLE", [])
    assert table.index(b"Right-Hippocampus") < table.index(b"Left-Hippocampus")
