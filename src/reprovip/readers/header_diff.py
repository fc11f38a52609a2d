"""What differs between two image headers whose voxels are the same: the fields named, with both values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Fields no hash compares (free text, display hints): a difference there is no finding to name first.
_TEXT = frozenset({"descrip", "aux_file", "db_name", "intent_name", "cal_max", "cal_min", "glmax", "glmin"})
#: How :func:`header_differences` names a 4-D image's time step that differs: the data's time axis.
TIME_STEP = "time step"


def header_differences(a: Path, b: Path, limit: int = 4) -> list[str]:
    """The header fields of NIfTI/MGH images ``a`` and ``b`` that differ, each ``field a vs b`` (its values, as
    stored), then whether their extensions differ; [] when neither can be read as such. A 4-D image whose frame
    duration moved from 40 to 50 ms read only "the difference is in the image header (units, data type, ...)"
    (a review): ``pixdim [... 0.04] vs [... 0.05]`` says where. The time step of an image of several frames
    (NIfTI's ``pixdim[4]``, MGH's ``tr``) comes first, named :data:`TIME_STEP`: the data's time axis.

    Examples
    --------
    >>> import tempfile, nibabel as nib
    >>> folder = Path(tempfile.mkdtemp())
    >>> img = nib.Nifti1Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4))
    >>> img.header.set_zooms((1, 1, 1, 0.04)); nib.save(img, folder / "a.nii")
    >>> img.header.set_zooms((1, 1, 1, 0.05)); nib.save(img, folder / "b.nii")
    >>> header_differences(folder / "a.nii", folder / "b.nii")
    ['time step 0.04 vs 0.05', 'pixdim [1, 1, 1, 1, 0.04, 1, 1, 1] vs [1, 1, 1, 1, 0.05, 1, 1, 1]']
    """
    import nibabel as nib

    try:
        ha, hb = (nib.load(str(p)).header for p in (a, b))
    except Exception:  # noqa: BLE001 -- not an image nibabel reads: nothing to name
        return []
    found, text = [], []
    if (step := _time_steps(ha, hb)) is not None:
        found.append(f"{TIME_STEP} {step[0]:g} vs {step[1]:g}")
    for key in ha.keys():  # noqa: SIM118 -- a nibabel header: keys() is its field list
        va, vb = np.asarray(ha[key]), np.asarray(hb[key]) if key in hb else None
        if vb is None or va.shape != vb.shape or not np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"):
            (text if key in _TEXT else found).append(f"{key} {_shown(va)} vs {_shown(vb)}")
    extensions = [[(e.get_code(), e.get_content()) for e in getattr(h, "extensions", [])] for h in (ha, hb)]
    if extensions[0] != extensions[1]:
        found.append("header extensions")
    return (found + text)[:limit]


def _time_steps(ha: Any, hb: Any) -> tuple[float, float] | None:
    """The two time steps of images of several frames when they differ: a BOLD series whose repetition time
    moved from 2 to 2.5 s under threads=2 only warned (a review), as if a display field had changed."""
    frames = [int(np.prod(h.get_data_shape()[3:])) for h in (ha, hb)]
    if min(frames) < 2:
        return None
    steps = []
    for h in (ha, hb):
        if "tr" in h:  # MGH: the repetition time, in ms
            steps.append(float(np.asarray(h["tr"]).ravel()[0]))
        elif "pixdim" in h:
            steps.append(float(np.asarray(h["pixdim"])[4]))
        else:
            return None
    return (steps[0], steps[1]) if steps[0] != steps[1] and not (np.isnan(steps[0]) and np.isnan(steps[1])) else None


def _shown(value: np.ndarray | None) -> str:
    if value is None:
        return "absent"
    if value.dtype.kind in "SU":
        return repr(value.item().decode(errors="replace") if value.dtype.kind == "S" else value.item())
    flat = [float(f"{v:.6g}") for v in np.ravel(value).astype(float)]
    return str([int(v) if v.is_integer() else v for v in flat]) if len(flat) > 1 else f"{flat[0]:g}"
