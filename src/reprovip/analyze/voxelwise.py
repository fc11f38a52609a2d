"""Voxelwise maps, streamed subject by subject so memory does not grow with N x K.

Each file is decompressed once. Two things happen to every volume:

* on the whole grid, cheap comparisons: is the voxel NaN or infinite, is it non-zero and finite (the
  ``mask``), and does it differ from the subject's first execution (the exact ``differ`` map: finite values
  compare by value, non-finite ones by bit pattern, so a NaN equals the same NaN and differs from an inf);
* the voxels of the **reference mask** (non-zero and finite in the first volume read) are gathered in their
  stored dtype into one subject's block ``(voxels, *levels, k)`` and added to a
  :class:`~reprovip.metrics.FactorialAccumulator`, which accumulates in float64 (float32 and integer values
  are exact in float64, so the maps equal the metric functions applied to the data). Background voxels, zero
  in every execution, cost nothing more.

Voxels that are non-zero in some later volume but zero in the reference one get no metrics (their count is
reported as ``voxels_without_metrics``); their ``differ`` value is still exact. Voxels non-finite in some
execution get no metrics either (NaN in the metric maps; they are counted, and mapped in ``nonfinite_differ``
when the executions of a subject disagree about them); the subject keeps its other voxels.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import nibabel as nib
import numpy as np

from reprovip.analyze.design import Design
from reprovip.analyze.stats import num
from reprovip.errors import ReaderError
from reprovip.metrics import FactorialAccumulator, components_from_mean_squares
from reprovip.readers import AFFINE_TOLERANCE, read_image


def _write_map(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write a map atomically (a killed analysis never leaves a half-written file), in float32 unless that
    would turn a non-zero value into 0 or a finite one into inf (float64 data of extreme magnitude)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with np.errstate(over="ignore"):
        out = np.asarray(data, dtype=np.float32)
    if data.dtype.kind == "f" and (np.any((out == 0) & (data != 0)) or np.any(np.isinf(out) & np.isfinite(data))):
        out = data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part.nii.gz")
    nib.save(nib.Nifti1Image(out, affine), tmp)
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
    """One volume as a flat array in memory order and stored dtype, checked against the reference geometry."""
    img = read_image(path)
    if img.data.shape != ref[0]:
        raise ReaderError(f"{path}: shape {img.data.shape} differs from {ref[0]} of the other executions")
    if np.max(np.abs(img.affine - ref[1])) > AFFINE_TOLERANCE:
        raise ReaderError(f"{path}: affine differs from the other executions' by more than {AFFINE_TOLERANCE}")
    return np.ravel(img.data, order="F")  # nibabel arrays are Fortran-ordered: a view, no copy


def _nonfinite(flat: np.ndarray) -> np.ndarray | None:
    """Where ``flat`` is NaN or infinite; None when every voxel is finite (the common case: one pass)."""
    if flat.dtype.kind != "f":
        return None
    finite = np.isfinite(flat)
    return None if finite.all() else ~finite


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where ``a`` and ``b`` have the same bit pattern (compared as float64 when their dtypes differ)."""
    if a.dtype != b.dtype or a.dtype.itemsize not in (2, 4, 8):
        a, b = a.astype(np.float64), b.astype(np.float64)
    u = np.dtype(f"u{a.dtype.itemsize}")
    return a.view(u) == b.view(u)


class _Subject(NamedTuple):
    """One subject's contribution, on the whole grid except ``block`` (reference-mask voxels only)."""

    mask: np.ndarray  # non-zero and finite in some execution, or differing
    differ: np.ndarray
    nonfinite: np.ndarray | None  # non-finite in some execution; None: finite everywhere
    nonfinite_all: np.ndarray | None  # non-finite in every execution; None: nowhere
    block: np.ndarray | None  # (voxels, executions) in the stored dtype; non-finite values replaced by 0


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
        self.nonfinite = np.zeros(nv, dtype=bool)  # in some execution of some subject
        self.nonfinite_differ = np.zeros(nv, dtype=bool)  # non-finite somewhere and differing within a subject
        self.everywhere: np.ndarray | None = None  # non-finite in every execution of every subject
        self.index: np.ndarray | None = None  # voxels with metrics (the reference mask)
        self.acc: FactorialAccumulator | None = None
        self.n = 0

    def read_subject(self, subject: str) -> _Subject:
        """Read one subject's volumes into its contribution."""
        design = self.design
        cells = {c: i for i, c in enumerate(design.cells)}
        first = first_bad = differ = block = nf_any = nf_all = None
        for (cell, rep), rec in sorted(design.grid[subject].items(), key=lambda kv: (cells[kv[0][0]], kv[0][1])):
            flat = _volume(rec.path, self.ref)  # type: ignore[arg-type]
            bad = _nonfinite(flat)
            if bad is not None and not self.metrics:
                raise ReaderError(f"{rec.path}: {int(bad.sum())} NaN or infinite voxels in a label map")
            if first is None:
                first, first_bad, differ, nf_any, nf_all = flat, bad, np.zeros(flat.size, dtype=bool), bad, bad
            else:
                d = flat != first  # a voxel non-zero in another execution only differs, hence in mask
                if bad is not None and first_bad is not None:
                    d &= ~_same_bits(flat, first)  # NaN != NaN: non-finite pairs compare by bit pattern
                differ |= d
                if bad is not None:
                    nf_any = bad if nf_any is None else nf_any | bad
                nf_all = None if bad is None or nf_all is None else nf_all & bad
            if self.metrics:
                if self.index is None:
                    nonzero = np.flatnonzero(first != 0 if first_bad is None else (first != 0) & ~first_bad)
                    self.index = nonzero if nonzero.size else np.arange(flat.size)
                if block is None:
                    block = np.empty((self.index.size, len(design.cells) * design.k), dtype=flat.dtype)
                elif not np.can_cast(flat.dtype, block.dtype, "safe"):
                    block = block.astype(np.result_type(block.dtype, flat.dtype))
                values = flat[self.index]
                if bad is not None:
                    values[bad[self.index]] = 0  # a placeholder: these voxels are excluded from the metrics
                block[:, cells[cell] * design.k + rep] = values
        data = first != 0 if first_bad is None else (first != 0) & ~first_bad
        return _Subject(data | differ, differ, nf_any, nf_all, block)

    def add(self, sub: _Subject) -> None:
        """Fold one subject's contribution in (only whole subjects change the state)."""
        self.mask |= sub.mask
        self.differ |= sub.differ
        if sub.nonfinite is not None:
            self.nonfinite |= sub.nonfinite
            self.nonfinite_differ |= sub.nonfinite & sub.differ
        if self.n == 0:
            self.everywhere = sub.nonfinite_all
        elif self.everywhere is not None:
            self.everywhere = None if sub.nonfinite_all is None else self.everywhere & sub.nonfinite_all
        if sub.block is not None:
            design = self.design
            if self.acc is None:
                self.acc = FactorialAccumulator((self.index.size,), design.levels, design.k, design.factor_names)
            self.acc.add(sub.block.reshape(self.index.size, *design.levels, design.k))
        self.n += 1

    def full(self, values: np.ndarray) -> np.ndarray:
        """A map on the whole grid from values at the reference-mask voxels: 0 elsewhere, NaN where non-finite."""
        out = np.zeros(self.mask.size)
        out[self.index] = values
        out[self.nonfinite] = np.nan
        return out.reshape(self.ref[0], order="F")


def _summary(name: str, values: np.ndarray) -> dict[str, Any]:
    """Statistics over the voxels where the map is defined; the others (e.g. an ICC that is not estimable,
    0/0, in a voxel equal in every execution of every subject) are counted, not hidden."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {f"{name}_undefined_voxels": int(values.size)}
    return {
        f"{name}_undefined_voxels": int(values.size - v.size),
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

    Maps: ``differ`` (1 where some subject's executions disagree, exact on the whole grid; non-finite values
    compare by bit pattern), ``nonfinite_differ`` (1 where a voxel is non-finite in some execution of a subject
    and finite or another non-finite value in another), ``mask`` (non-zero and finite in some execution, or
    differing), and for images ``sd`` (pooled within-subject SD, sqrt(MSW)), ``sigdigits`` (minimum over
    subjects of Parker significant digits, decimal), ``icc_a1`` (ICC(A,1), executions as raters) and
    ``share_<source>`` (share of variance per factor, subject and residual). Metric maps are computed on the
    voxels finite in every execution of every subject (NaN at the others) and summarised over them. The
    summary always holds ``nonfinite_voxels`` (non-finite in at least one execution),
    ``nonfinite_differ_voxels`` and ``nonfinite_everywhere_voxels`` (non-finite in every execution). A
    subject with an unreadable volume, one whose shape or affine differs, or a label map with non-finite
    voxels, is left out and the reason appended to ``errors``.
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
    summary: dict[str, Any] = {
        "mask_voxels": int(stream.mask.sum()),
        "voxels": int(stream.mask.size),
        "differ_fraction": num(stream.differ[stream.mask].mean()) if stream.mask.any() else 0.0,
        "nonfinite_voxels": int(stream.nonfinite.sum()),
        "nonfinite_differ_voxels": int(stream.nonfinite_differ.sum()),
        "nonfinite_everywhere_voxels": 0 if stream.everywhere is None else int(stream.everywhere.sum()),
    }
    files: dict[str, str] = {}

    def write(name: str, data: np.ndarray) -> None:  # one map at a time: full-grid float64 maps are large
        path = out_dir / f"{name}.nii.gz"
        _write_map(path, data.reshape(shape, order="F"), affine)
        files[name] = str(path)

    for name, grid in (("differ", stream.differ), ("nonfinite_differ", stream.nonfinite_differ), ("mask", stream.mask)):
        write(name, grid)
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
        finite = ~stream.nonfinite[stream.index]  # the voxels with metrics
        with_metrics = np.zeros(stream.mask.size, dtype=bool)
        with_metrics[stream.index] = finite
        summary["voxels_with_metrics"] = int(finite.sum())
        summary["voxels_without_metrics"] = int(np.count_nonzero(stream.mask & ~with_metrics))
        for name, v in values.items():
            write(name, stream.full(v))
            v = v[finite]
            if name.startswith("share_"):
                if v.size:
                    summary[f"{name}_median"] = num(np.median(v))
            else:
                summary.update(_summary(name, v))
    return {"maps": files, "summary": summary, "subjects": stream.n, "spacing": [float(z) for z in ref[2][:3]]}
