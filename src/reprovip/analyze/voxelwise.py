"""Voxelwise maps, streamed subject by subject so memory does not grow with N x K.

Each file is decompressed once. Two things happen to every volume:

* on the whole grid, two cheap comparisons: is the voxel non-zero (the ``mask``), and does it differ from the
  subject's first execution (the exact ``differ`` map);
* the voxels of the **reference mask** (non-zero in the first volume read) are gathered into one subject's
  block ``(voxels, *levels, k)`` and added to a :class:`~reprovip.metrics.FactorialAccumulator`, which holds
  the sums the metrics need. Background voxels, zero in every execution, cost nothing more.

Voxels that are non-zero in some later volume but zero in the reference one get no metrics (their count is
reported as ``voxels_without_metrics``); their ``differ`` value is still exact.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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


def _volume(path: Path, ref: tuple[tuple[int, ...], np.ndarray, Any]) -> np.ndarray:
    """One volume as a flat array in memory order, checked against the reference geometry."""
    img = read_image(path)
    if img.data.shape != ref[0]:
        raise ReaderError(f"{path}: shape {img.data.shape} differs from {ref[0]} of the other executions")
    if np.max(np.abs(img.affine - ref[1])) > AFFINE_TOLERANCE:
        raise ReaderError(f"{path}: affine differs from the other executions' by more than {AFFINE_TOLERANCE}")
    if img.data.dtype.kind == "f":
        bad = img.data.size - int(np.count_nonzero(np.isfinite(img.data)))
        if bad:
            raise ReaderError(
                f"{path}: {bad} NaN or infinite voxels; voxelwise metrics need finite values, "
                "so this subject is left out (fix the application or mask those voxels)"
            )
    return np.ravel(img.data, order="F")  # nibabel arrays are Fortran-ordered: a view, no copy


class _Stream:
    """The whole-grid maps and the masked accumulator, fed one subject at a time.

    Reading a subject (decompression releases the GIL) runs in a background thread one subject ahead of
    the accumulation, so on two cores the analysis costs about as much as reading the files.
    """

    def __init__(self, design: Design, ref: tuple[tuple[int, ...], np.ndarray, Any], *, metrics: bool) -> None:
        self.design, self.ref, self.metrics = design, ref, metrics
        nv = int(np.prod(ref[0]))
        self.mask = np.zeros(nv, dtype=bool)
        self.differ = np.zeros(nv, dtype=bool)
        self.index: np.ndarray | None = None  # voxels with metrics (the reference mask)
        self.acc: FactorialAccumulator | None = None
        self.n = 0

    def read_subject(self, subject: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """One subject's contribution: its non-zero mask, its differ map and its masked block."""
        design = self.design
        cells = {c: i for i, c in enumerate(design.cells)}
        block, first, differ = None, None, None
        for (cell, rep), rec in sorted(design.grid[subject].items(), key=lambda kv: (cells[kv[0][0]], kv[0][1])):
            flat = _volume(rec.path, self.ref)  # type: ignore[arg-type]
            if first is None:
                first, differ = flat, np.zeros(flat.size, dtype=bool)
            else:
                differ |= flat != first  # a voxel non-zero in another execution only differs, hence in mask
            if self.metrics:
                if self.index is None:
                    nonzero = np.flatnonzero(flat)
                    self.index = nonzero if nonzero.size else np.arange(flat.size)
                if block is None:
                    block = np.empty((self.index.size, len(design.cells) * design.k), dtype=np.float32)
                block[:, cells[cell] * design.k + rep] = flat[self.index]
        return (first != 0) | differ, differ, block

    def add(self, contribution: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> None:
        """Fold one subject's contribution in (only whole subjects change the state)."""
        mask, differ, block = contribution
        self.mask |= mask
        self.differ |= differ
        if block is not None:
            design = self.design
            if self.acc is None:
                self.acc = FactorialAccumulator((self.index.size,), design.levels, design.k, design.factor_names)
            self.acc.add(block.reshape(self.index.size, *design.levels, design.k))
        self.n += 1

    def full(self, values: np.ndarray) -> np.ndarray:
        """A map on the whole grid from values at the reference-mask voxels (0 elsewhere)."""
        out = np.zeros(self.mask.size, dtype=np.float32)
        out[self.index] = values
        return out.reshape(self.ref[0], order="F")


def _summary(name: str, values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {}
    return {
        f"{name}_mean": num(v.mean()),
        f"{name}_median": num(np.median(v)),
        f"{name}_p05": num(np.percentile(v, 5)),
        f"{name}_min": num(v.min()),
        f"{name}_max": num(v.max()),
    }


def voxelwise_maps(
    design: Design,
    subjects: list[str],
    out_dir: Path,
    *,
    labels: bool = False,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Stream the volumes of ``subjects`` and write the maps into ``out_dir``.

    Maps: ``differ`` (1 where some subject's executions disagree, exact on the whole grid), ``mask`` (non-zero
    in some execution), and for images ``sd`` (pooled within-subject SD, sqrt(MSW)), ``sigdigits`` (minimum
    over subjects of Parker significant digits, decimal), ``icc_a1`` (ICC(A,1), executions as raters) and
    ``share_<source>`` (share of variance per factor, subject and residual). Summaries are over the voxels
    with metrics. A subject with an unreadable volume, or one whose shape, affine or finiteness differs, is
    left out and the reason appended to ``errors``.
    """
    if not design.factors and design.k < 2:
        return {"skipped": "one execution per subject: nothing to compare voxelwise"}
    ref = _reference(design, subjects)
    if ref is None:
        return {"skipped": "no readable volume"}
    stream = _Stream(design, ref, metrics=not labels)
    with ThreadPoolExecutor(1, thread_name_prefix="reprovip-read") as reader:
        pending = [(s, reader.submit(stream.read_subject, s)) for s in subjects[:1]]
        for i, _ in enumerate(subjects):
            s, fut = pending.pop(0)
            try:
                contribution = fut.result()
            except ReaderError as exc:
                contribution = None
                if errors is not None:
                    errors.append(dict(subject=s, condition=None, repetition=None, error=str(exc)))
            if i + 1 < len(subjects):  # read the next subject while this one is accumulated
                pending.append((subjects[i + 1], reader.submit(stream.read_subject, subjects[i + 1])))
            if contribution is not None:
                stream.add(contribution)
            del contribution
    if stream.n < 2:
        return {"skipped": "fewer than two complete subjects"}
    shape, affine = ref[0], ref[1]
    maps = {"differ": stream.differ.reshape(shape, order="F"), "mask": stream.mask.reshape(shape, order="F")}
    summary: dict[str, Any] = {
        "mask_voxels": int(stream.mask.sum()),
        "voxels": int(stream.mask.size),
        "differ_fraction": num(stream.differ[stream.mask].mean()) if stream.mask.any() else 0.0,
    }
    acc = stream.acc
    if acc is not None:
        values = {
            "sd": np.asarray(acc.within_sd()),
            "sigdigits": np.asarray(acc.min_significant_digits(base=10)),
            "icc_a1": np.asarray(acc.icc_a1()),
        }
        comps = components_from_mean_squares(acc.mean_squares())
        for i, src in enumerate(comps.sources):
            values[f"share_{src.replace(':', 'x')}"] = np.asarray(comps.share)[..., i]
        summary["voxels_with_metrics"] = int(stream.index.size)
        summary["voxels_without_metrics"] = int(stream.mask.sum() - stream.mask[stream.index].sum())
        for name, v in values.items():
            maps[name] = stream.full(v)
            if name.startswith("share_"):
                summary[f"{name}_median"] = num(np.median(v))
            else:
                summary.update(_summary(name, v))
    files = {}
    for name, data in maps.items():
        path = out_dir / f"{name}.nii.gz"
        _write_map(path, data, affine)
        files[name] = str(path)
    return {"maps": files, "summary": summary, "subjects": stream.n, "spacing": [float(z) for z in ref[2][:3]]}
