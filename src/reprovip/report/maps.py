"""Voxelwise maps of an analysis: find them safely inside the store, cut orthogonal slices, draw them as PNG
over a grey anatomy (see :func:`anatomy_path`).

A map is named by the analysis document (``output["voxelwise"]["maps"][name]``) and only served when its
resolved path is inside the study store: a moved study folder is found again under
``<store>/results/<study>/analysis/<output>/``, and a document pointing elsewhere is ignored.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from reprovip.errors import StoreError
from reprovip.report.png import encode_png, overlay_indices, palette
from reprovip.store import BlobStore, Catalog
from reprovip.store import schema as s

MAP_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
SHOWN = ("sd", "sigdigits", "differ", "nonfinite_differ")
"""Maps drawn in reports and on the dashboard, in this order (when the analysis wrote them)."""
TITLES = {
    "sd": "within-subject SD (√MSW)",
    "sigdigits": "significant digits (Parker, decimal; min over subjects)",
    "differ": "voxels where executions differ",
    "nonfinite_differ": "voxels NaN/inf in some executions only",
    "icc_a1": "ICC(A,1)",
}
UNITS = {
    "sd": "the image's intensity unit",
    "sigdigits": "decimal digits",
    "differ": "same / differ",
    "nonfinite_differ": "same / differ",
    "icc_a1": "unitless, 0 to 1",
}
"""The unit each map's colour bar is in."""
AXES = ("axial", "coronal", "sagittal")
DISPLAY = 170  # px: the longest physical side of the three slices


@dataclass(frozen=True)
class Slice:
    """One orthogonal slice: its PNG and its display size in CSS pixels (voxel spacing respected)."""

    axis: str
    png: bytes
    width: int
    height: int


@dataclass(frozen=True)
class MapImage:
    """A map drawn as three slices through the volume centre, with its colour scale."""

    name: str
    title: str
    slices: tuple[Slice, ...]
    vmin: float
    vmax: float
    binary: bool
    background: str = ""
    """What the map is drawn over (see :func:`anatomy_path`)."""

    def slice(self, axis: str) -> Slice | None:
        """The slice along ``axis`` (``axial``, ``coronal`` or ``sagittal``)."""
        return next((s for s in self.slices if s.axis == axis), None)


def map_path(store: Path, output: dict[str, Any], name: str, *, study: str | None = None) -> Path | None:
    """The file of map ``name`` of ``output`` if it exists inside ``store``, else None.

    Looked for where the document says, then where the analysis of study ``study`` writes maps
    (``results/<study>/analysis/<output>/``, so a moved study folder still shows its maps).

    Examples
    --------
    >>> outside = {"name": "x", "voxelwise": {"maps": {"sd": "/etc/passwd"}}}
    >>> map_path(Path("/nonexistent"), outside, "sd") is None
    True
    >>> map_path(Path("/"), {"name": "x", "voxelwise": {"maps": {"../x": "/etc/passwd"}}}, "../x") is None
    True
    """
    if not isinstance(name, str) or not MAP_NAME.match(name):
        return None
    maps = (output.get("voxelwise") or {}).get("maps") or {}
    if name not in maps:
        return None
    try:
        root = Path(store).resolve(strict=True)
    except OSError:
        return None
    label = str(output.get("name", "")).replace("/", "__")
    candidates = [Path(str(maps[name]))]
    if study:
        candidates.append(root / "results" / str(study).replace("/", "__") / "analysis" / label / f"{name}.nii.gz")
    for candidate in candidates:
        try:
            p = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if p.is_relative_to(root) and p.is_file():
            return p
    return None


def _load(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    img = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asarray(img.dataobj, dtype=np.float32)
    while data.ndim > 3:
        data = data[..., 0]
    while data.ndim < 3:
        data = data[..., None]
    zooms = tuple(float(z) or 1.0 for z in (list(img.header.get_zooms()[:3]) + [1.0, 1.0, 1.0])[:3])
    return data, zooms  # type: ignore[return-value]


def _range(name: str, values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if name in ("icc_a1",) or name.startswith("share_"):
        return 0.0, 1.0
    if finite.size == 0:
        return (0.0, 17.0) if name == "sigdigits" else (0.0, 1.0)
    lo = 0.0 if name == "sd" else float(np.percentile(finite, 1))
    hi = float(np.percentile(finite, 99))
    if not hi > lo:
        hi = lo + (abs(lo) or 1.0)
    return lo, hi


def _cut(volume: np.ndarray, axis: str) -> np.ndarray:
    """Slice through the centre: superior/anterior rows up, columns left to right (R on the right)."""
    cx, cy, cz = (n // 2 for n in volume.shape[:3])
    sl = {"axial": volume[:, :, cz], "coronal": volume[:, cy, :], "sagittal": volume[cx, :, :]}[axis]
    return sl.T[::-1, :]


def _spacing(zooms: tuple[float, float, float], axis: str) -> tuple[float, float]:
    zx, zy, zz = zooms
    return {"axial": (zx, zy), "coronal": (zx, zz), "sagittal": (zy, zz)}[axis]  # (column, row) spacing


TRANSPARENT_AT_ZERO = frozenset({"sd", "differ", "nonfinite_differ"})
"""Maps drawn only where they are non-zero (no variability there): the anatomy shows through elsewhere."""


@functools.lru_cache(maxsize=64)
def _first_image(root: str, study: str, output: str, stamp: int) -> tuple[str, str]:
    """The stored image of ``output`` in the study's first completed execution (by subject, condition and
    repetition) and its description; ``stamp`` (the map's mtime) renews the answer after a new analysis.

    Raises LookupError when there is none or the catalog cannot be read: not cached, so a catalog busy now
    is asked again next time.
    """
    try:
        catalog = Catalog.for_store(Path(root), read_only=True)
    except StoreError as exc:
        raise LookupError(str(exc)) from exc
    e, o = s.executions, s.outputs
    try:
        study_id = catalog.study_id(study)
        query = (
            select(o.c.blob, o.c.suffix, e.c.subject, e.c.condition_key, e.c.repetition)
            .join(e, e.c.id == o.c.execution_id)
            .where(e.c.study_id == study_id, e.c.status == "done", o.c.name == output, o.c.blob.is_not(None))
            .where(o.c.missing.is_not(True), o.c.error.is_(None))
            .order_by(e.c.subject, e.c.condition_key, e.c.repetition)
            .limit(1)
        )
        with catalog.engine.connect() as conn:
            row = conn.execute(query).first() if study_id is not None else None
    except SQLAlchemyError as exc:
        raise LookupError(str(exc)) from exc
    finally:
        catalog.close()
    if row is None:
        raise LookupError(f"no stored {output!r} of a completed execution")
    path = BlobStore(Path(root)).path(row.blob, row.suffix or "")
    return str(path), f"{row.subject}'s image ({row.condition_key}, repetition {row.repetition})"


def anatomy_path(store: Path, output: dict[str, Any], *, study: str | None = None) -> tuple[Path | None, str]:
    """The grey background a map of ``output`` is drawn over, and its description.

    The ``mean`` map when the analysis wrote one, else the output's image in the study's first completed
    execution (read from the blob store, only when the blob resolves inside ``store``), else None: the maps are
    then drawn over the analysis mask.
    """
    mean = map_path(store, output, "mean", study=study)
    if mean is not None:
        return mean, "the mean image over executions"
    anchor = next((p for n in ("mask", "differ") if (p := map_path(store, output, n, study=study))), None)
    if study and anchor is not None:
        try:
            found = _first_image(str(store), study, str(output.get("name", "")), anchor.stat().st_mtime_ns)
            p = Path(found[0]).resolve(strict=True)
        except (LookupError, OSError, RuntimeError):
            p = None
        if p is not None and p.is_relative_to(Path(store).resolve()) and p.is_file():
            return p, found[1]
    return None, "the analysis mask (no anatomical image in the store)"


def _grey(background: np.ndarray) -> np.ndarray:
    """An anatomy scaled to 0..1 between 0 (or its 1st percentile when negative) and its 99.5th percentile."""
    finite = background[np.isfinite(background) & (background != 0)]
    if finite.size == 0:
        return np.zeros(background.shape)
    lo = min(0.0, float(np.percentile(finite, 1)))
    hi = float(np.percentile(finite, 99.5))
    return (background - lo) / (hi - lo) if hi > lo else (background != 0).astype(np.float64)


@functools.lru_cache(maxsize=64)
def _render_cached(
    path: str,
    mtime: int,
    mask: str | None,
    mask_mtime: int,
    background: str | None,
    bg_label: str,
    name: str,
    max_side: int,
) -> MapImage:
    data, zooms = _load(Path(path))
    valid = np.ones(data.shape, dtype=bool)
    if mask is not None:
        m, _ = _load(Path(mask))
        if m.shape == data.shape:
            valid = m > 0
    grey = None
    if background is not None:
        try:
            bg, _ = _load(Path(background))
        except (OSError, ValueError, nib.filebasedimages.ImageFileError):
            bg = None
        if bg is not None and bg.shape == data.shape:
            grey = _grey(bg)
    if grey is None:
        bg_label = "the analysis mask (no anatomical image on the map's grid)" if background else bg_label
        grey = np.where(valid, 0.35, 0.0)
    binary = name in ("differ", "nonfinite_differ")
    shown = valid & ~np.isnan(data) & ((data != 0) if name in TRANSPARENT_AT_ZERO else True)
    vmin, vmax = (0.0, 1.0) if binary else _range(name, data[shown])
    colours = palette("differ" if binary else "viridis")
    extents = [
        (a.shape[1] * _spacing(zooms, ax)[0], a.shape[0] * _spacing(zooms, ax)[1])
        for ax in AXES
        for a in [_cut(data, ax)]
    ]
    scale = DISPLAY / max(max(e) for e in extents)
    slices = []
    for ax in AXES:
        values, ok, g = _cut(data, ax), _cut(shown, ax), _cut(grey, ax)
        step = max(1, math.ceil(max(values.shape) / max_side))
        if binary:  # a pixel shows a block: one differing voxel in it must not vanish between samples
            values, ok = _block_max(np.where(ok, values, 0), step), _block_max(ok, step)
        else:
            values, ok = values[::step, ::step], ok[::step, ::step]
        g = g[::step, ::step]
        zc, zr = _spacing(zooms, ax)
        png = encode_png(overlay_indices(values, ok, g, vmin, vmax, binary=binary), colours)
        slices.append(
            Slice(
                ax,
                png,
                max(1, round(values.shape[1] * step * zc * scale)),
                max(1, round(values.shape[0] * step * zr * scale)),
            )
        )
    title = f"{TITLES.get(name, name.replace('_', ' '))}, over {bg_label}"
    return MapImage(name, title, tuple(slices), vmin, vmax, binary, bg_label)


def _block_max(a: np.ndarray, step: int) -> np.ndarray:
    """The maximum of each ``step`` x ``step`` block of a 2-D array (edges padded), the shape of ``a[::step, ::step]``.

    >>> _block_max(np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]]), 2).tolist()
    [[0, 1], [0, 0]]
    """
    if step == 1:
        return a
    h, w = -(-a.shape[0] // step), -(-a.shape[1] // step)
    padded = np.zeros((h * step, w * step), dtype=a.dtype)
    padded[: a.shape[0], : a.shape[1]] = a
    return padded.reshape(h, step, w, step).max(axis=(1, 3))


def render_map(
    path: Path,
    name: str,
    *,
    mask: Path | None = None,
    background: tuple[Path | None, str] | None = None,
    max_side: int = 160,
) -> MapImage:
    """Draw map ``name`` stored at ``path`` (masked by ``mask`` when given) as three slices over ``background``
    (a ``(path, description)`` pair, see :func:`anatomy_path`; default: the mask in grey).

    Slices go through the volume centre in the closest canonical (RAS) orientation, shown in neurological
    convention; ``max_side`` bounds the PNG size in pixels (larger volumes are subsampled). Where the map is not
    drawn (outside the mask, NaN, and zero for the maps in :data:`TRANSPARENT_AT_ZERO`) the anatomy shows.
    """
    bg_path, bg_label = background or (None, "the analysis mask")
    return _render_cached(
        str(path),
        path.stat().st_mtime_ns,
        str(mask) if mask else None,
        mask.stat().st_mtime_ns if mask is not None else 0,
        str(bg_path) if bg_path else None,
        bg_label,
        name,
        max_side,
    )


def output_maps(store: Path, output: dict[str, Any], *, study: str | None = None) -> list[str]:
    """Names of the maps of ``output`` that can be drawn, in display order (``nonfinite_differ`` only when
    some voxel's finiteness differs: an empty map says nothing the summary does not)."""
    vox = output.get("voxelwise") or {}
    maps = vox.get("maps") or {}
    shown = [n for n in SHOWN if n != "nonfinite_differ" or (vox.get("summary") or {}).get("nonfinite_differ_voxels")]
    return [n for n in shown if n in maps and map_path(store, output, n, study=study) is not None]


def draw_output_map(store: Path, output: dict[str, Any], name: str, *, study: str | None = None) -> MapImage | None:
    """Draw map ``name`` of ``output`` when it is inside ``store``; None otherwise."""
    path = map_path(store, output, name, study=study)
    if path is None:
        return None
    mask = map_path(store, output, "mask", study=study)
    try:
        return render_map(path, name, mask=mask, background=anatomy_path(store, output, study=study))
    except (OSError, ValueError, nib.filebasedimages.ImageFileError):
        return None
