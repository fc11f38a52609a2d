"""Overlap and surface distances between segmentations, in millimetres (MONAI conventions).

* Surface of a mask: the mask XOR its binary erosion with face connectivity (6-neighbourhood in 3-D,
  ``scipy.ndimage.generate_binary_structure(ndim, 1)``), voxels outside the image counting as background.
* Directed distances: for each surface voxel of A, the Euclidean distance (voxel ``spacing`` in mm) to the
  nearest surface voxel of B (``scipy.ndimage.distance_transform_edt`` with ``sampling=spacing``).
* HD: max of both directed maxima; HD95: max of both directed 95th percentiles (linear interpolation);
  ASSD: pooled mean of both directed distance sets (sum of both / total count).
* Both masks empty: Dice = Jaccard = 1, distances 0. Exactly one empty: Dice = Jaccard = 0, distances inf.
* Spatial axes of length 1 are dropped (with their spacing) before surfaces and distances: one slice stored
  ``(X, Y, 1)`` is the 2-D image ``(X, Y)``. As 3-D, background beyond its only slice made every voxel surface
  (HD95 1 where the contour's is 3: review LB2). Volumes keep every axis's spacing (mm^3).
* Maps of one subject may carry their own voxel sizes (:func:`pairwise_overlap`): each volume uses its own, and
  a pair on two voxel sizes is measured between its surface voxels placed at index x each map's own spacing
  (a map written in metres beside one in mm is not called identical: review LB4).

Computations are cropped to the bounding box of the masks' union (plus one voxel), which leaves every value
unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from reprovip.errors import MetricInputError

from ._common import output

_FIELDS = ("dice", "jaccard", "hd", "hd95", "assd")


@dataclass(frozen=True)
class Overlap:
    """Agreement of two masks; distances in mm, volumes in mm^3."""

    dice: float
    jaccard: float
    hd: float
    hd95: float
    assd: float
    volume_a: float
    volume_b: float


@dataclass(frozen=True)
class PairwiseOverlap:
    """Agreement of every pair of ``k`` masks (one label of ``k`` executions of one subject).

    ``pairs`` is ``(P, 2)`` with ``P = k(k-1)/2`` pairs ``(i, j)``, ``i < j``; metric fields are ``(P,)``;
    ``volumes`` is ``(k,)`` in mm^3.
    """

    pairs: np.ndarray
    dice: np.ndarray
    jaccard: np.ndarray
    hd: np.ndarray
    hd95: np.ndarray
    assd: np.ndarray
    volumes: np.ndarray


def _check_spacing(spacing, ndim: int) -> tuple[float, ...]:
    try:
        sp = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise MetricInputError(f"`spacing` must be a sequence of {ndim} positive numbers, got {spacing!r}") from None
    if len(sp) != ndim or not all(np.isfinite(s) and s > 0 for s in sp):
        raise MetricInputError(f"`spacing` must be {ndim} positive finite numbers (mm), got {spacing!r}")
    return sp


def _check_spacings(spacing, k: int, ndim: int) -> np.ndarray:
    """One voxel size for all ``k`` maps, or one row per map: ``(k, ndim)`` positive finite numbers."""
    rows = np.asarray(spacing, dtype=object)
    if rows.ndim == 1 and any(np.ndim(r) for r in rows):  # rows of different lengths
        raise MetricInputError(
            f"`spacing` must be one voxel size ({ndim} numbers), or one per map ({k} rows of {ndim}), got {spacing!r}"
        )
    if rows.ndim != 2:
        return np.tile(_check_spacing(spacing, ndim), (k, 1))
    if rows.shape[0] != k:
        raise MetricInputError(f"`spacing` must be one voxel size, or one per map ({k}), got {rows.shape[0]} rows")
    return np.array([_check_spacing(tuple(row), ndim) for row in rows.tolist()])


def _as_mask(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all():
        return arr.astype(bool)
    raise MetricInputError(f"`{name}` must be a boolean mask (or 0/1 integers), got dtype {arr.dtype}")


def _as_labels(a, name: str, min_ndim: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biu":
        raise MetricInputError(f"`{name}` must be an integer label map, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise MetricInputError(f"`{name}` must have at least {min_ndim} dimensions, got shape {arr.shape}")
    return arr


def _box(union: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of ``union`` grown by one voxel, clipped to the image."""
    box = []
    for ax in range(union.ndim):
        idx = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != ax)))
        box.append(slice(max(idx[0] - 1, 0), min(idx[-1] + 2, union.shape[ax])))
    return tuple(box)


def surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels of a boolean mask: ``mask ^ binary_erosion(mask)`` with face connectivity."""
    from scipy import ndimage  # here: 0.13 s of import that only label maps need

    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask ^ ndimage.binary_erosion(mask, structure=structure, border_value=0)


def _pairwise(masks: np.ndarray, spacing: np.ndarray, distances: bool = True) -> PairwiseOverlap:
    """Core: ``masks`` is ``(k, *spatial)`` boolean, ``spacing`` ``(k, len(spatial))`` in mm; without
    ``distances``, HD, HD95 and ASSD are NaN (not computed)."""
    k = masks.shape[0]
    pairs = np.array(list(itertools.combinations(range(k), 2)), dtype=np.int64).reshape(-1, 2)
    counts = masks.reshape(k, -1).sum(axis=1)
    volumes = counts * np.prod(spacing, axis=1)
    res = {f: np.empty(len(pairs)) for f in _FIELDS}
    if not distances:  # elements with no geometry (a surface's vertices, an array): overlap only
        flat = masks.reshape(k, -1)
        for p, (i, j) in enumerate(pairs):
            inter, tot = np.count_nonzero(flat[i] & flat[j]), counts[i] + counts[j]
            res["dice"][p] = 1.0 if tot == 0 else 2.0 * inter / tot
            res["jaccard"][p] = 1.0 if tot == 0 else inter / (tot - inter)
        for f in ("hd", "hd95", "assd"):
            res[f][:] = np.nan
        return PairwiseOverlap(output(pairs), *(output(res[f]) for f in _FIELDS), output(volumes))
    union = masks.any(axis=0)
    if not union.any():
        for f, v in zip(_FIELDS, (1.0, 1.0, 0.0, 0.0, 0.0), strict=True):
            res[f][:] = v
        return PairwiseOverlap(output(pairs), *(output(res[f]) for f in _FIELDS), output(volumes))
    from scipy import ndimage
    from scipy.spatial import cKDTree

    # (X, Y, 1) is the slice (X, Y): see the module's conventions
    keep = [ax for ax, n in enumerate(masks.shape[1:]) if n > 1] or [0]
    masks, spacing = masks.reshape(k, *(masks.shape[1 + ax] for ax in keep)), spacing[:, keep]
    union = union.reshape(masks.shape[1:])
    box = _box(union)
    crop = masks[(slice(None), *box)]
    surfs = [surface(m) for m in crop]
    on_any = np.logical_or.reduce(surfs)
    sel = [s[on_any] for s in surfs]  # each mask's surface points among all surface points
    dist = [
        ndimage.distance_transform_edt(~s, sampling=sp)[on_any] if s.any() else None
        for s, sp in zip(surfs, spacing, strict=True)
    ]
    start = np.array([b.start for b in box])
    for p, (i, j) in enumerate(pairs):
        inter = np.count_nonzero(crop[i] & crop[j])
        tot = counts[i] + counts[j]
        res["dice"][p] = 1.0 if tot == 0 else 2.0 * inter / tot
        res["jaccard"][p] = 1.0 if tot == 0 else inter / (tot - inter)
        if counts[i] == 0 and counts[j] == 0:
            res["hd"][p] = res["hd95"][p] = res["assd"][p] = 0.0
        elif counts[i] == 0 or counts[j] == 0:
            res["hd"][p] = res["hd95"][p] = res["assd"][p] = np.inf
        else:
            if np.array_equal(spacing[i], spacing[j]):
                dij, dji = dist[j][sel[i]], dist[i][sel[j]]
            else:  # two voxel sizes: no one grid to take distances on, so between the two point sets in mm
                pi, pj = ((np.argwhere(surfs[m]) + start) * spacing[m] for m in (i, j))
                dij, dji = cKDTree(pj).query(pi)[0], cKDTree(pi).query(pj)[0]
            res["hd"][p] = max(dij.max(), dji.max())
            res["hd95"][p] = max(np.percentile(dij, 95), np.percentile(dji, 95))
            res["assd"][p] = (dij.sum() + dji.sum()) / (dij.size + dji.size)
    return PairwiseOverlap(output(pairs), *(output(res[f]) for f in _FIELDS), output(volumes))


def overlap(a, b, *, spacing=(1.0, 1.0, 1.0)) -> Overlap:
    """Dice, Jaccard, HD, HD95, ASSD (mm) and volumes (mm^3) of two boolean masks of the same shape.

    Parameters
    ----------
    a, b : array_like of bool
        Masks (0/1 integers accepted), same shape; ``spacing`` has one entry per axis.
    spacing : sequence of float, optional
        Voxel size in mm along each axis.

    Returns
    -------
    Overlap

    References
    ----------
    Dice, L. R. (1945). Measures of the amount of ecologic association between species. Ecology, 26(3),
    297-302. doi:10.2307/1932409

    Maier-Hein, L., et al. (2024). Metrics reloaded: recommendations for image analysis validation. Nature
    Methods, 21, 195-212. doi:10.1038/s41592-023-02151-z

    Examples
    --------
    >>> a = np.zeros((5, 5, 5), bool); a[1:4, 1:4, 1:4] = True
    >>> b = np.zeros((5, 5, 5), bool); b[1:4, 1:4, 2:5] = True
    >>> o = overlap(a, b, spacing=(1.0, 1.0, 2.0))
    >>> round(o.dice, 4), o.hd, o.volume_a
    (0.6667, 2.0, 54.0)
    """
    a, b = _as_mask(a, "a"), _as_mask(b, "b")
    if a.shape != b.shape:
        raise MetricInputError(f"`a` and `b` must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim == 0:
        raise MetricInputError("`a` must have at least 1 dimension, got a scalar")
    pw = _pairwise(np.stack([a, b]), _check_spacings(spacing, 2, a.ndim))
    return Overlap(*(float(getattr(pw, f)[0]) for f in _FIELDS), float(pw.volumes[0]), float(pw.volumes[1]))


def _labels(maps: np.ndarray, labels) -> list[int]:
    if labels is None:
        return [int(v) for v in np.unique(maps) if v != 0]
    out = [int(v) for v in np.atleast_1d(np.asarray(labels))]
    if not out:
        raise MetricInputError("`labels` must not be empty")
    return out


def label_overlap(a, b, *, labels=None, spacing=(1.0, 1.0, 1.0)) -> dict[int, Overlap]:
    """:func:`overlap` of each label of two integer label maps.

    ``labels`` defaults to the union of the non-zero labels of ``a`` and ``b``; a requested label absent
    from both maps gets the both-empty values.

    References
    ----------
    Maier-Hein, L., et al. (2024). Metrics reloaded. Nature Methods, 21, 195-212.
    doi:10.1038/s41592-023-02151-z

    Examples
    --------
    >>> a = np.zeros((4, 4, 4), int); a[:2] = 1; a[2:] = 2
    >>> sorted(label_overlap(a, a))
    [1, 2]
    >>> label_overlap(a, a)[2].dice
    1.0
    """
    a, b = _as_labels(a, "a", 1), _as_labels(b, "b", 1)
    if a.shape != b.shape:
        raise MetricInputError(f"`a` and `b` must have the same shape, got {a.shape} and {b.shape}")
    return {lab: overlap(a == lab, b == lab, spacing=spacing) for lab in _labels(np.stack([a, b]), labels)}


def pairwise_overlap(
    maps, *, labels=None, spacing=(1.0, 1.0, 1.0), distances: bool = True
) -> dict[int, PairwiseOverlap]:
    """Agreement of every pair among ``k`` label maps ``(k, X, Y, Z)`` of one subject, per label.

    Each execution's surface and distance map is computed once per label, so the cost grows with ``k``
    rather than with the ``k(k-1)/2`` pairs.

    Parameters
    ----------
    maps : array_like of int
        ``(k, *spatial)`` label maps, ``k >= 2``, on one voxel grid; spatial axes of length 1 are dropped for
        surfaces and distances (a slice ``(X, Y, 1)`` is measured as ``(X, Y)``).
    labels : sequence of int, optional
        The labels to measure; by default every non-zero label of ``maps``.
    spacing : array_like of float, optional
        Voxel size in mm, one entry per spatial axis; or ``(k, n_spatial)``, each map's own (its own header's),
        for its volume and its distances.
    distances : bool, optional
        False for maps whose elements have no place in space (a surface's vertices without its mesh, an array):
        Dice, Jaccard and volumes (element counts x ``spacing``) only; HD, HD95 and ASSD are NaN. Default True.

    Returns
    -------
    dict of int to PairwiseOverlap

    References
    ----------
    Maier-Hein, L., et al. (2024). Metrics reloaded. Nature Methods, 21, 195-212.
    doi:10.1038/s41592-023-02151-z

    Examples
    --------
    >>> maps = np.zeros((3, 4, 4, 4), int); maps[:, 1:3, 1:3, 1:3] = 1; maps[2, 0, 0, 0] = 1
    >>> res = pairwise_overlap(maps)[1]
    >>> res.pairs.tolist(), np.round(res.dice, 3).tolist()
    ([[0, 1], [0, 2], [1, 2]], [1.0, 0.941, 0.941])
    >>> pairwise_overlap(maps[:2], spacing=[(1, 1, 1), (2, 1, 1)])[1].volumes.tolist()
    [8.0, 16.0]
    >>> vertices = np.array([[1, 1, 2, 2], [1, 2, 2, 2]])  # one vertex of label 1 became 2
    >>> res = pairwise_overlap(vertices, spacing=(1,), distances=False)
    >>> res[1].dice.tolist(), res[2].dice.tolist(), res[2].hd95.tolist()
    ([0.6666666666666666], [0.8], [nan])
    """
    maps = _as_labels(maps, "maps", 2)
    if maps.shape[0] < 2:
        raise MetricInputError(f"`maps` needs at least 2 label maps along axis 0, got {maps.shape[0]}")
    if not isinstance(distances, bool):
        raise MetricInputError(f"`distances` must be True or False, got {distances!r}")
    sp = _check_spacings(spacing, maps.shape[0], maps.ndim - 1)
    return {lab: _pairwise(maps == lab, sp, distances) for lab in _labels(maps, labels)}
