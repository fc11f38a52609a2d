"""Voxelwise maps, streamed subject by subject so memory does not grow with N x K.

Each file is decompressed once. One subject's executions form a block ``(*spatial, *levels, k)`` added to a
:class:`~reprovip.metrics.FactorialAccumulator`; the maps are written as NIfTI next to the catalog.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from reprovip.analyze.design import Design
from reprovip.analyze.stats import num
from reprovip.errors import ReaderError
from reprovip.metrics import FactorialAccumulator, components_from_mean_squares
from reprovip.readers import AFFINE_TOLERANCE, read_image


def _write_map(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write a map atomically (a killed analysis never leaves a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part.nii.gz")
    nib.save(nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine), tmp)
    os.replace(tmp, path)


def _subject_block(design: Design, subject: str, ref: tuple[tuple[int, ...], np.ndarray] | None):
    index = {c: i for i, c in enumerate(design.cells)}
    block = None
    for (cell, rep), rec in design.grid[subject].items():
        img = read_image(rec.path)  # type: ignore[arg-type]
        if ref is None:
            ref = (img.data.shape, img.affine, img.zooms)
        if img.data.shape != ref[0]:
            raise ReaderError(f"{rec.path}: shape {img.data.shape} differs from {ref[0]} of the other executions")
        if np.max(np.abs(img.affine - ref[1])) > AFFINE_TOLERANCE:
            raise ReaderError(f"{rec.path}: affine differs from the other executions' by more than {AFFINE_TOLERANCE}")
        bad = img.data.size - int(np.count_nonzero(np.isfinite(img.data))) if img.data.dtype.kind == "f" else 0
        if bad:
            raise ReaderError(f"{rec.path}: {bad} NaN or infinite voxels; voxelwise metrics need finite values, "
                              "so this subject is left out (fix the application or mask those voxels)")
        if block is None:
            block = np.empty((*img.data.shape, *design.levels, design.k), dtype=np.float32)
        ci = np.unravel_index(index[cell], design.levels) if design.levels else ()
        block[(Ellipsis, *ci, rep)] = img.data
    return block, ref


def _reference(design: Design, subjects: list[str]) -> tuple[tuple[int, ...], np.ndarray, tuple[float, ...]] | None:
    """The most common (shape, affine) among the volumes, from their headers alone (no decompression), so one
    odd volume is the one reported, whichever is read first."""
    seen: Counter[tuple[Any, ...]] = Counter()
    found = {}
    for s in subjects:
        for rec in design.grid[s].values():
            try:
                img = nib.load(str(rec.path))
            except Exception:  # unreadable: reported when the volume itself is read
                continue
            key = (tuple(img.shape), tuple(np.round(img.affine, 4).ravel()))
            seen[key] += 1
            found.setdefault(key, (tuple(img.shape), img.affine, tuple(img.header.get_zooms())))
    return found[seen.most_common(1)[0][0]] if seen else None


def _summary(name: str, data: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    v = data[mask]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    return {f"{name}_mean": num(v.mean()), f"{name}_median": num(np.median(v)),
            f"{name}_p05": num(np.percentile(v, 5)), f"{name}_min": num(v.min()), f"{name}_max": num(v.max())}


def voxelwise_maps(design: Design, subjects: list[str], out_dir: Path, *, labels: bool = False,
                   errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Stream the volumes of ``subjects`` and write the maps into ``out_dir``.

    Maps: ``sd`` (pooled within-subject SD, sqrt(MSW)), ``sigdigits`` (minimum over subjects of Parker
    significant digits, decimal), ``icc_a1`` (ICC(A,1), executions as raters), ``differ`` (1 where any
    subject's executions disagree) and ``share_<source>`` (% of variance per factor, subject and residual).
    For label maps only ``differ`` is meaningful and written. Summaries are taken inside the mask of
    voxels that are non-zero in any execution.

    A subject with an unreadable volume, or one whose shape, affine or finiteness differs, is left out and
    the reason appended to ``errors``.
    """
    if not design.factors and design.k < 2:
        return {"skipped": "one execution per subject: nothing to compare voxelwise"}
    ref = _reference(design, subjects)
    acc = None
    mask = None
    n = 0
    for s in subjects:
        try:
            block, new_ref = _subject_block(design, s, ref)
        except ReaderError as exc:
            if errors is not None:
                errors.append(dict(subject=s, condition=None, repetition=None, error=str(exc)))
            continue
        ref = new_ref
        if acc is None:
            acc = FactorialAccumulator(block.shape[: len(ref[0])], design.levels, design.k, design.factor_names)
            mask = np.zeros(ref[0], dtype=bool)
        nonzero = block != 0
        mask |= nonzero.reshape(*ref[0], -1).any(axis=-1)
        acc.add(block)
        n += 1
        del block, nonzero
    if acc is None or n < 2:
        return {"skipped": "fewer than two complete subjects"}
    affine = ref[1]
    maps: dict[str, np.ndarray] = {"differ": np.asarray(acc.differs(), dtype=np.float32)}
    if not labels:
        maps["sd"] = np.asarray(acc.within_sd())
        maps["sigdigits"] = np.asarray(acc.min_significant_digits(base=10))
        maps["icc_a1"] = np.asarray(acc.icc_all()["ICC(A,1)"].icc)
        comps = components_from_mean_squares(acc.mean_squares())
        for i, src in enumerate(comps.sources):
            maps[f"share_{src.replace(':', 'x')}"] = np.asarray(comps.share)[..., i]
    files = {}
    for name, data in maps.items():
        path = out_dir / f"{name}.nii.gz"
        _write_map(path, data, affine)
        files[name] = str(path)
    summary: dict[str, Any] = {"mask_voxels": int(mask.sum()), "voxels": int(mask.size),
                               "differ_fraction": num(maps["differ"][mask].mean()) if mask.any() else 0.0}
    for name in ("sd", "sigdigits", "icc_a1"):
        if name in maps:
            summary.update(_summary(name, maps[name], mask))
    for name, data in maps.items():
        if name.startswith("share_") and mask.any():
            summary[f"{name}_median"] = num(np.median(data[mask]))
    _write_map(out_dir / "mask.nii.gz", mask.astype(np.float32), affine)
    files["mask"] = str(out_dir / "mask.nii.gz")
    return {"maps": files, "summary": summary, "subjects": n, "spacing": [float(z) for z in ref[2][:3]]}
