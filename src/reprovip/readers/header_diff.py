"""What differs between two image headers whose voxels are the same: the fields named, with both values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: The header fields whose difference, between two files whose decoded voxels are identical, leaves where the
#: voxels are and what they mean: free text and display hints, ...
_TEXT = frozenset({"descrip", "aux_file", "db_name", "intent_name", "cal_max", "cal_min", "glmax", "glmin"})
#: ... how the values are stored (the stored type and its scaling: the decoded values are the same), Analyze's
#: unused fields, and the acquisition's notes no hash covers (slice timing; MGH's scan parameters, a series' TR
#: being named :data:`TIME_STEP`). Every other field (shape, voxel sizes, affines, units, space codes, intent)
#: places the voxels or says what they mean: :func:`changes_meaning`.
_KEPT = frozenset(
    {"sizeof_hdr", "magic", "vox_offset", "datatype", "bitpix", "scl_slope", "scl_inter", "version", "type"}
    | {"data_type", "extents", "session_error", "regular"}
    | {"dim_info", "slice_code", "slice_start", "slice_end", "slice_duration", "toffset"}
    | {"tr", "flip_angle", "te", "ti", "fov", "dof"}
)
#: How :func:`header_differences` names a 4-D image's time step that differs: the data's time axis.
TIME_STEP = "time step"
#: How it names a difference in the extensions that say what the values mean (a label table), an AFNI attribute
#: after a colon (``header extensions: AFNI VALUE_LABEL_DTABLE``).
EXTENSIONS = "header extensions"
#: How it names a difference in extensions that say nothing of the voxels (comments, AFNI's history).
NOTES = "header notes (extensions of no content: comments, history)"
#: The end of a field's entry whose difference is where no reader looks (an srow with sform_code 0 in both files).
UNUSED = " (unused)"
#: The end of a placement field's entry (sform, qform, their codes) when both files place the voxels alike for
#: every reader, those that prefer the sform and those that prefer the qform: the same placement, stored in the
#: other form (review G: sform only, code 2, beside the same matrix in the qform only, code 2, failed).
SAME_PLACEMENT = " (the same placement, stored in the other form)"
_PLACEMENT = ("sform_code", "qform_code", "srow_", "quatern_", "qoffset_")


def changes_meaning(difference: str) -> bool:
    """Whether a difference named by :func:`header_differences` changes where the voxels are or what they mean.

    The one place that classes header fields: the shape, the voxel sizes and time step, the affines in use, the
    spatial and (for a series) time units, the sform and qform codes, a statistic map's intent, and the extensions
    that say what the values mean (label tables) do; free text, display hints, the stored type and scaling (the
    decoded values being equal), the acquisition's notes and what no reader uses do not.

    Examples
    --------
    >>> [changes_meaning(d) for d in ("time step 2 vs 2.5", "qform_code 1 vs 4", "descrip 'a' vs 'b'")]
    [True, True, False]
    >>> changes_meaning("srow_x [1, 0, 0, 0] vs [2, 0, 0, 0]" + UNUSED), changes_meaning("datatype 16 vs 4")
    (False, False)
    """
    name = difference.split(" ", 1)[0]
    quiet = difference.endswith((UNUSED, SAME_PLACEMENT))
    return not (name in _TEXT or name in _KEPT or difference == NOTES or quiet)


def header_differences(a: Path, b: Path, limit: int = 4) -> list[str]:
    """The header fields of NIfTI/MGH images ``a`` and ``b`` that differ, each ``field a vs b`` (its values, as
    stored), then whether their extensions differ; [] when neither can be read as such. A 4-D image whose frame
    duration moved from 40 to 50 ms read only "the difference is in the image header (units, data type, ...)"
    (a review): ``pixdim [... 0.04] vs [... 0.05]`` says where. The differences that change where the voxels are
    or what they mean (:func:`changes_meaning`) come first, the time step of an image of several frames (NIfTI's
    ``pixdim[4]`` and time unit, MGH's ``tr``) first of all, named :data:`TIME_STEP`: the data's time axis; a
    field whose difference no reader uses ends with :data:`UNUSED`; free text and display hints come last.

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

    from reprovip.readers.image_hash import read_meaning_extensions

    try:
        ha, hb = (_header(nib.load(str(p))) for p in (a, b))
        meaning = [dict(read_meaning_extensions(p)) for p in (a, b)]
    except Exception:  # noqa: BLE001 -- not an image nibabel and reprovip read: nothing to name
        return []
    found = []
    if (step := _time_steps(ha, hb)) is not None:
        found.append(f"{TIME_STEP} {step[0]} vs {step[1]}")
    same_place = _same_placement(ha, hb)
    for key in ha.keys():  # noqa: SIM118 -- a nibabel header: keys() is its field list
        va, vb = np.asarray(ha[key]), np.asarray(hb[key]) if key in hb else None
        if vb is None or va.shape != vb.shape or not np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"):
            unused = vb is not None and va.shape == vb.shape and _unused(key, va, vb, ha, hb)
            note = UNUSED if unused else SAME_PLACEMENT if same_place and key.startswith(_PLACEMENT) else ""
            found.append(f"{key} {_shown(va)} vs {_shown(vb)}{note}")
    names = sorted({n for m in meaning for n in m if meaning[0].get(n) != meaning[1].get(n)})
    found += [f"{EXTENSIONS}: {n}" for n in names if n.startswith("AFNI ")]  # AFNI's attributes by name
    if any(not n.startswith("AFNI ") for n in names):  # a label table, CIFTI-2's or NIfTI-MRS's metadata
        found.append(EXTENSIONS)
    elif not names and _extensions(ha) != _extensions(hb):
        found.append(NOTES)
    # what places the voxels or says what they mean first, then the rest, free text and display hints last
    found.sort(key=lambda d: 0 if changes_meaning(d) else 2 if d.split(" ", 1)[0] in _TEXT else 1)
    return found[:limit]


def _same_placement(ha: Any, hb: Any) -> bool:
    """Whether NIfTI headers ``ha`` and ``hb`` place their voxels alike for every reader: the affine and space code a
    reader preferring the sform finds (nibabel, FSL), and those a reader preferring the qform finds (ITK), within
    float32 rounding; False for other headers (MGH).

    Examples
    --------
    >>> import nibabel as nib
    >>> a, b = nib.Nifti1Header(), nib.Nifti1Header()
    >>> m = np.diag([2.0, 2.0, 2.0, 1.0]); m[:3, 3] = [-90, -126, -72]
    >>> a.set_sform(m, code=2); a.set_qform(None, code=0); b.set_qform(m, code=2); b.set_sform(None, code=0)
    >>> _same_placement(a, b), _same_placement(a, a)
    (True, True)
    >>> b.set_qform(m, code=1); _same_placement(a, b)
    False
    """
    try:
        found = []
        for h in (ha, hb):
            sform, qform = h.get_sform(coded=True), h.get_qform(coded=True)
            base = (h.get_base_affine(), 0)
            ordered = [f for f in (sform, qform) if f[1]] + [base], [f for f in (qform, sform) if f[1]] + [base]
            found.append([(np.asarray(o[0][0], dtype=np.float64), int(o[0][1])) for o in ordered])
    except (AttributeError, KeyError, TypeError, ValueError):
        return False
    return all(
        ca == cb and np.allclose(fa, fb, rtol=1e-6, atol=1e-5) for (fa, ca), (fb, cb) in zip(*found, strict=True)
    )


def _header(img: Any) -> Any:
    """The header of nibabel image ``img`` with its effective scaling: nibabel moves it to the image's data
    (NaN in the header), where a review's slope 2 vs 1 went unnamed."""
    header = img.header
    if "scl_slope" in header:
        header = header.copy()
        header["scl_slope"], header["scl_inter"] = img.dataobj.slope, img.dataobj.inter
    return header


def _extensions(h: Any) -> list[tuple[int, bytes]]:
    return [(e.get_code(), e.get_content()) for e in getattr(h, "extensions", [])]


def _unused(key: str, va: np.ndarray, vb: np.ndarray, ha: Any, hb: Any) -> bool:
    """Whether the values ``va`` and ``vb`` of NIfTI field ``key`` differ only where no reader looks (nor the
    semantic hash): the sform's rows when neither file's sform_code is set, the qform's parameters when neither
    qform_code is, a statistic's parameters when neither intent_code is, pixdim beyond the image's axes (and its
    qfac without a qform), a 3-D image's time unit."""
    if key not in ("pixdim", "xyzt_units") and not key.startswith(("srow_", "quatern_", "qoffset_", "intent_p")):
        return False
    codes = {c: any(int(h[c]) for h in (ha, hb)) for c in ("sform_code", "qform_code", "intent_code")}
    ndim = max(int(h["dim"][0]) for h in (ha, hb))
    if key == "pixdim":
        used = slice(0 if codes["qform_code"] else 1, ndim + 1)
        return bool(np.array_equal(va[used], vb[used], equal_nan=True))
    if key == "xyzt_units":
        units = [h.get_xyzt_units() for h in (ha, hb)]
        return units[0][0] == units[1][0] and (ndim <= 3 or units[0][1] == units[1][1])
    code = "sform_code" if key.startswith("srow_") else "intent_code" if key.startswith("intent_p") else "qform_code"
    return not codes[code]


def _time_steps(ha: Any, hb: Any) -> tuple[str, str] | None:
    """The two time steps of images of several frames when they differ, in value or unit (with the units then):
    a BOLD series whose repetition time moved from 2 to 2.5 s under threads=2 only warned (a review), as if a
    display field had changed, and so did one whose unit moved from sec to msec (another)."""
    frames = [int(np.prod(h.get_data_shape()[3:])) for h in (ha, hb)]
    if min(frames) < 2:
        return None
    steps = []
    for h in (ha, hb):
        if "tr" in h:  # MGH: the repetition time, in ms
            steps.append((float(np.asarray(h["tr"]).ravel()[0]), "msec"))
        elif "pixdim" in h:
            steps.append((float(np.asarray(h["pixdim"])[4]), h.get_xyzt_units()[1]))
        else:
            return None
    (a, unit_a), (b, unit_b) = steps
    if unit_a != unit_b:
        return f"{a:g} {unit_a}", f"{b:g} {unit_b}"
    return (f"{a:g}", f"{b:g}") if a != b and not (np.isnan(a) and np.isnan(b)) else None


def _shown(value: np.ndarray | None) -> str:
    if value is None:
        return "absent"
    if value.dtype.kind in "SU":
        return repr(value.item().decode(errors="replace") if value.dtype.kind == "S" else value.item())
    flat = [float(f"{v:.6g}") for v in np.ravel(value).astype(float)]
    return str([int(v) if v.is_integer() else v for v in flat]) if len(flat) > 1 else f"{flat[0]:g}"
