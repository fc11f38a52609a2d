"""What differs between two image headers whose voxels are the same: the fields named, with both values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Fields no hash compares (free text, display hints): a difference there is no finding to name first.
_TEXT = frozenset({"descrip", "aux_file", "db_name", "intent_name", "cal_max", "cal_min", "glmax", "glmin"})


def header_differences(a: Path, b: Path, limit: int = 4) -> list[str]:
    """The header fields of NIfTI/MGH images ``a`` and ``b`` that differ, each ``field a vs b`` (its values, as
    stored), then whether their extensions differ; [] when neither can be read as such. A 4-D image whose frame
    duration moved from 40 to 50 ms read only "the difference is in the image header (units, data type, ...)"
    (a review): ``pixdim [... 0.04] vs [... 0.05]`` says where.

    Examples
    --------
    >>> import tempfile, nibabel as nib
    >>> folder = Path(tempfile.mkdtemp())
    >>> img = nib.Nifti1Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4))
    >>> img.header.set_zooms((1, 1, 1, 0.04)); nib.save(img, folder / "a.nii")
    >>> img.header.set_zooms((1, 1, 1, 0.05)); nib.save(img, folder / "b.nii")
    >>> header_differences(folder / "a.nii", folder / "b.nii")
    ['pixdim [1, 1, 1, 1, 0.04, 1, 1, 1] vs [1, 1, 1, 1, 0.05, 1, 1, 1]']
    """
    import nibabel as nib

    try:
        ha, hb = (nib.load(str(p)).header for p in (a, b))
    except Exception:  # noqa: BLE001 -- not an image nibabel reads: nothing to name
        return []
    found, text = [], []
    for key in ha.keys():  # noqa: SIM118 -- a nibabel header: keys() is its field list
        va, vb = np.asarray(ha[key]), np.asarray(hb[key]) if key in hb else None
        if vb is None or va.shape != vb.shape or not np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"):
            (text if key in _TEXT else found).append(f"{key} {_shown(va)} vs {_shown(vb)}")
    extensions = [[(e.get_code(), e.get_content()) for e in getattr(h, "extensions", [])] for h in (ha, hb)]
    if extensions[0] != extensions[1]:
        found.append("header extensions")
    return (found + text)[:limit]


def _shown(value: np.ndarray | None) -> str:
    if value is None:
        return "absent"
    if value.dtype.kind in "SU":
        return repr(value.item().decode(errors="replace") if value.dtype.kind == "S" else value.item())
    flat = [float(f"{v:.6g}") for v in np.ravel(value).astype(float)]
    return str([int(v) if v.is_integer() else v for v in flat]) if len(flat) > 1 else f"{flat[0]:g}"
