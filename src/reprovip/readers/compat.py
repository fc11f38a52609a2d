"""Check that two executions' readings of the same output can be compared observation by observation."""

from __future__ import annotations

import os

import numpy as np

from reprovip.readers.base import Loaded, fail

#: Largest absolute difference tolerated between two affines (mm, or unitless for rotations).
AFFINE_TOLERANCE = 1e-5


def examples(names: list[str]) -> str:
    """The first three ``names`` quoted, and ``...`` when there are more: what a message names of a list.

    Examples
    --------
    >>> examples(["a", "b", "c", "d"])
    "'a', 'b', 'c', ..."
    """
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (", ..." if len(names) > 3 else "")


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
            "the executions wrote different rows, fields or lines; compare their logs",
        )
    for name, value in a.values.items():
        if value.shape != b.values[name].shape:
            raise fail(
                path_b,
                f"shape {b.values[name].shape} of {name!r} differs {where} {value.shape}",
                "the executions produced arrays of different sizes",
            )
    if "affine" in a.meta and "affine" in b.meta:
        diff = np.abs(np.asarray(a.meta["affine"], float) - np.asarray(b.meta["affine"], float))
        if not diff.max() <= AFFINE_TOLERANCE:  # also catches NaN
            row, col = np.unravel_index(int(np.nanargmax(diff)) if np.isfinite(diff).any() else 0, diff.shape)
            raise fail(
                path_b,
                f"affine differs {where} by {diff.max():.3g} at row {row}, column {col} "
                f"(tolerance {AFFINE_TOLERANCE:g})",
                "the images are not in the same space; resample them or check the pipeline's output space",
            )
