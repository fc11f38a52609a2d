"""Check that two executions' readings of the same output can be compared observation by observation."""

from __future__ import annotations

import os

import numpy as np

from reprovip.readers.base import Loaded, fail

#: Largest absolute difference tolerated between two affines (mm, or unitless for rotations), plus 4 float32
#: steps of the larger value: NIfTI-1 stores its sform in float32, whose step is 3e-5 mm at an offset of 300 mm
#: (one such step read "not analysable, resample native-space images": a review).
AFFINE_TOLERANCE = 1e-5
_FLOAT32_STEPS = 4 * float(np.finfo(np.float32).eps)


def affine_mismatch(a: np.ndarray, b: np.ndarray) -> tuple[float, int, int] | None:
    """The largest difference between two affines and its row and column when some entry differs beyond the
    tolerance (:data:`AFFINE_TOLERANCE` plus 4 float32 steps of the entry), else None.

    Examples
    --------
    >>> a = np.eye(4); a[0, 3] = -300.0
    >>> b = a.copy(); b[0, 3] = np.float32(-300.0) + np.float32(3.05e-5)  # one float32 step
    >>> affine_mismatch(a, b) is None
    True
    >>> b[1, 3] = 0.5
    >>> affine_mismatch(a, b)
    (0.5, 1, 3)
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = np.abs(a - b)
    allowed = AFFINE_TOLERANCE + _FLOAT32_STEPS * np.maximum(np.abs(a), np.abs(b))
    if (diff <= allowed).all():  # NaN is never within
        return None
    beyond = np.where(diff <= allowed, 0.0, np.where(np.isnan(diff), np.inf, diff))
    row, col = np.unravel_index(int(np.argmax(beyond)), diff.shape)
    return float(diff[row, col]), int(row), int(col)


def axes_note(a: np.ndarray, b: np.ndarray) -> str:
    """``"; ..."`` naming the axes' orientations when affines ``a`` and ``b`` orient the voxel axes otherwise (an
    image stored flipped or permuted, such as LPS beside RAS), else ``""``: "affine differs by 180 at row 0,
    column 0" did not say that the same image was written flipped (review LB6).

    Examples
    --------
    >>> flipped = np.diag([-1.0, 1.0, 1.0, 1.0]); flipped[0, 3] = 90.0
    >>> axes_note(flipped, np.eye(4)).split(":")[0]
    "; its axes run LAS where the other's run RAS"
    >>> axes_note(np.eye(4), np.eye(4))
    ''
    """
    from nibabel.orientations import aff2axcodes

    try:
        codes = ["".join(str(c) for c in aff2axcodes(np.asarray(m, float))) for m in (a, b)]
    except (ValueError, np.linalg.LinAlgError):  # NaN or a singular affine: no orientation to name
        return ""
    if codes[0] == codes[1] or "None" in "".join(codes):
        return ""
    return (
        f"; its axes run {codes[0]} where the other's run {codes[1]}: the image is stored flipped or permuted "
        "(reorient it as the others, e.g. with nibabel's as_closest_canonical or FSL's fslreorient2std)"
    )


def examples(names: list[str]) -> str:
    """The first three ``names`` quoted, and ``...`` when there are more: what a message names of a list.

    Examples
    --------
    >>> examples(["a", "b", "c", "d"])
    "'a', 'b', 'c', ..."
    """
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (", ..." if len(names) > 3 else "")


DIFFERENT_ROWS = "the executions wrote different rows, fields or lines; compare their logs"


def different_rows(missing: list[str], extra: list[str]) -> str:
    """What to do when files hold other observations: where the missing and the extra ones are the same row
    keys as numbers written otherwise (``0/caudate`` and ``0.0/caudate``: a new version writing a frame time
    with a decimal), say so (review PT read "compare their logs"); else :data:`DIFFERENT_ROWS`.

    Examples
    --------
    >>> different_rows(["0/caudate", "60/caudate"], ["0.0/caudate", "60.0/caudate"])[:78]
    "the row keys are the same numbers written otherwise ('0' and '0.0'): write the"
    >>> different_rows(["a/x"], ["b/x"]) == DIFFERENT_ROWS
    True
    """

    def numeric(name: str) -> tuple[tuple[float, ...], str] | None:
        key, _, column = name.rpartition("/")
        try:
            return tuple(float(part) for part in key.split("|")), column
        except ValueError:
            return None

    gone, new = {numeric(n): n for n in missing}, {numeric(n): n for n in extra}
    if not missing or None in gone or None in new or gone.keys() != new.keys():
        return DIFFERENT_ROWS
    first = next(iter(gone))
    was, now = gone[first].rpartition("/")[0], new[first].rpartition("/")[0]
    return (
        f"the row keys are the same numbers written otherwise ({was!r} and {now!r}): write the key column alike "
        "in every execution, or key the rows by another column, or by their position (`key_columns: []`)"
    )


def check_compatible(a: Loaded, b: Loaded, *, path_a: str | os.PathLike[str], path_b: str | os.PathLike[str]) -> None:
    """Raise :class:`~reprovip.errors.ReaderError` unless ``a`` and ``b`` hold the same observations.

    Compared, in this order: the kind, the set of observation names, the shape of every observation, and
    for images the affine (largest absolute difference at most :data:`AFFINE_TOLERANCE`). The message names
    ``path_b``, what differs from ``path_a``, and by how much.

    Examples
    --------
    >>> import numpy as np
    >>> a = Loaded("scalars", {"x": np.array(1.0)})
    >>> check_compatible(a, Loaded("scalars", {"x": np.array(2.0)}), path_a="a.json", path_b="b.json")
    >>> check_compatible(a, Loaded("scalars", {"y": np.array(1.0)}), path_a="a.json", path_b="b.json")
    Traceback (most recent call last):
    ...
    reprovip.errors.ReaderError: b.json: its observations differ from a.json's: missing 'x'; extra 'y'; ...
    """
    where = f"from {os.fspath(path_a)}'s"
    if a.kind != b.kind:
        raise fail(path_b, f"was read as {b.kind!r} but {os.fspath(path_a)} as {a.kind!r}", "declare one kind")
    missing, extra = sorted(a.values.keys() - b.values.keys()), sorted(b.values.keys() - a.values.keys())
    if missing or extra:
        parts = ([f"missing {examples(missing)}"] if missing else []) + ([f"extra {examples(extra)}"] if extra else [])
        raise fail(
            path_b,
            f"its observations differ {where}: {'; '.join(parts)}",
            different_rows(missing, extra),
        )
    for name, value in a.values.items():
        if value.shape != b.values[name].shape:
            raise fail(
                path_b,
                f"shape {b.values[name].shape} of {name!r} differs {where} {value.shape}",
                # (4, 2) beside (2, 4) holds as many values: "different sizes" misled (review AR)
                "the executions produced arrays of different sizes"
                if value.size != b.values[name].size
                else "the executions arranged the same number of values in another shape",
            )
    if "affine" in a.meta and "affine" in b.meta:
        mismatch = affine_mismatch(a.meta["affine"], b.meta["affine"])
        if mismatch is not None:
            diff, row, col = mismatch
            raise fail(
                path_b,
                f"affine differs {where} by {diff:.3g} at row {row}, column {col} "
                f"(tolerance {AFFINE_TOLERANCE:g} plus 4 float32 steps)"
                + axes_note(b.meta["affine"], a.meta["affine"]),
                "the images are not in the same space; resample them or check the pipeline's output space",
            )
