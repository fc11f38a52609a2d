"""Voxelwise maps, streamed subject by subject so memory does not grow with N x K.

Each file is decompressed once (the first subject's and every other subject's first volume twice: they first
give the reference mask). Two things happen to every volume:

* on the whole grid, cheap comparisons: is the voxel NaN or infinite, is it non-zero and finite (the
  ``mask``), and does it differ from the subject's first execution (the exact ``differ`` map: finite values
  compare by value, non-finite ones alike when both are NaN, whatever their payload, or the same infinity);
* the voxels of the **reference mask** (non-zero and finite in some execution of the first subject, or in the
  first execution of another) are
  gathered in their stored dtype, one array per volume, and a subject's ``prod(levels) x k`` arrays are added to a
  :class:`~reprovip.metrics.FactorialAccumulator` (:meth:`~reprovip.metrics.FactorialAccumulator.add_executions`,
  no block is assembled), which accumulates in float64 (float32 and integer values
  are exact in float64, so the maps equal the metric functions applied to the data). Background voxels, zero
  in every execution, cost nothing more.

Voxels that are non-zero in some later execution but zero in every volume of the reference mask get no metrics
(their count is reported as ``voxels_without_metrics``); their ``differ`` value is still exact. Voxels
non-finite in some execution get no metrics either (NaN in the metric maps; they are counted, and mapped in
``nonfinite_differ`` when the executions of a subject disagree about them); the subject keeps its other voxels.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reprovip.analyze.design import Design
from reprovip.analyze.series import Fluctuations
from reprovip.analyze.stats import num
from reprovip.analyze.voxelmaps import finish_maps, map_dtype
from reprovip.errors import ReaderError
from reprovip.metrics import FactorialAccumulator
from reprovip.readers import AFFINE_TOLERANCE, affine_mismatch, read_image
from reprovip.readers.base import not_whole
from reprovip.readers.compat import axes_note
from reprovip.readers.inflate import DecodeBuffers
from reprovip.readers.nifti import read_geometry

ONE_GRID = (
    "voxelwise maps need every execution on one grid: images in each subject's native space must be resampled "
    "to a common template first, or declare the output `kind: bytes` to compare the files only"
)
_ANY_FACTOR = "the attribution names the factor, or run-to-run nondeterminism"
GRIDS_DIFFER = "its subject's executions wrote their images on different grids"
OWN_GRID = (
    f"{GRIDS_DIFFER}: the application's output geometry is not "
    f"reproducible ({_ANY_FACTOR}); voxelwise maps need every "
    "execution on one grid, or declare the output `kind: bytes` to compare the files only"
)
_READERS = 2  # reader threads: with the main thread's accumulation, both cores of a laptop stay busy
_AHEAD = 4  # volumes read but not yet consumed, at most (each holds a decoded volume in memory)
SUPPORT_CHANGE = (
    0.5  # an execution with half (or more) of its subject's non-zero voxels (or magnitude) missing or added
)
# ... or a fifth where the subject's other executions are bit-for-bit equal: one run's map scaled 1.8 times among
# identical ones passed beside subjects 100 to 3600 apart (review L2)
SUPPORT_LONE = 0.2
SUPPORT_FLOOR = 10  # ... when that is at least 10 voxels and 1% of the subject's typical count (a lesion map's 2 -> 1)
SAMPLED = 2000  # voxels kept with every execution's value, for the ICC without each subject (80 kB per execution)
RESIDUE = 1e-6  # of a subject's typical largest |value|: below it a voxel is residue, not image, in the support count
MAGNITUDE_VOXELS = 100  # the mean magnitude of an execution is compared when its subject has this many non-zero voxels
DISTANT = 0.5  # an execution this many between-subject spreads from its condition's other repetitions...
DISTANT_RATIO = 3.0  # ... and this many times farther than the farthest of them: another subject's data, a slab
# ... or a quarter of a spread when the others agree ten times closer: one run of a registration a voxel off among
# identical ones (0.36 spreads, a review) passed unnamed, with a median voxel ICC of 0.99
DISTANT_TIGHT, DISTANT_TIGHT_RATIO = 0.25, 10.0
# One execution apart from its subject's others at a voxel (they agree 10 times closer): a failure when it lies
# half a between-subject SD away or more, and this many times the typical voxel's within-subject SD and the
# execution's own typical departure: among millions of voxels, noise leaves one execution alone at thousands
APART_BETWEEN, APART_NOISE = 0.5, 10.0
APART_EDGE = 2.0  # ... and more than this many times the voxel's largest difference with a neighbour (a shift)


#: The reference grid: shape, affine, voxel sizes, and the files whose subject wrote its executions on more than
#: one grid (an execution off its own subject's grid is the application's geometry changing, not native space).
Reference = tuple[tuple[int, ...], np.ndarray, tuple[float, ...], frozenset[Path], str]


def _reference(design: Design, subjects: list[str]) -> Reference | None:
    """The most common (shape, affine) among the volumes, from their headers alone (no decompression), so one
    odd volume is the one reported, whichever is read first."""
    seen: Counter[tuple[Any, ...]] = Counter()
    found = {}
    mixed: set[Path] = set()
    deciding: set[str] | None = None  # the factors whose levels each write one grid, in every mixed subject
    for s in subjects:
        grids, by_label = {}, {}
        for rec in design.grid[s].values():
            try:
                grid = read_geometry(rec.path)
            except ReaderError:  # unreadable: reported when the volume itself is read
                continue
            key = (grid_shape(grid.shape), tuple(np.round(grid.affine, 4).ravel()))
            seen[key] += 1
            found.setdefault(key, (key[0], grid.affine, grid.voxel_mm))
            grids[Path(rec.path)] = key
            by_label[key] = by_label.get(key, set()) | set(rec.labels)
        if len(set(grids.values())) > 1:
            mixed.update(grids)
            # a factor decides when no level of it is found on two grids
            here = {
                name
                for name, _ in design.factors
                if all(len({lv for f, lv in labels if f == name}) == 1 for labels in by_label.values())
                and len({next(lv for f, lv in labels if f == name) for labels in by_label.values()}) == len(by_label)
            }
            deciding = here if deciding is None else deciding & here
    if not seen:
        return None
    return (*found[seen.most_common(1)[0][0]], frozenset(mixed), " or ".join(sorted(deciding or ())))


def _rows(affine: np.ndarray) -> str:
    return "; ".join(" ".join(f"{v:g}" for v in row) for row in np.asarray(affine)[:3])


def grid_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` without trailing axes of length 1 beyond the third: ``(x, y, z, 1)``, as many tools write one
    volume, is the grid ``(x, y, z)`` (a review's executions writing either read "not analysable")."""
    shape = tuple(int(d) for d in shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def _volumes_in(shape: tuple[int, ...]) -> str:
    n = math.prod(shape[3:])
    return f"{n} volume{'s' if n != 1 else ''} (shape {shape})"


def _volume(path: Path, ref: Reference, buffers: DecodeBuffers) -> np.ndarray:
    """One volume as a flat array in memory order and stored dtype, checked against the reference geometry."""
    return _image_read(path, ref, buffers)[0]


def _image_read(path: Path, ref: Reference, buffers: DecodeBuffers) -> tuple[np.ndarray, str, str]:
    """:func:`_volume`, the digest of what its header says the voxels mean (``Image.meaning``), and how the file
    stores them (``Image.stored``)."""
    # a review: a 1e-3 mm shift under threads=2 was told to resample native-space images to a template
    hint = ONE_GRID
    if Path(path) in ref[3]:
        hint = OWN_GRID
        if ref[4]:  # a review's 0.5 mm translation by a new version read "run-to-run nondeterminism"
            hint = hint.replace(_ANY_FACTOR, f"{ref[4]} decides it: each of its levels writes its own grid")
    img = read_image(path, buffers)
    shape = grid_shape(img.data.shape)
    if shape != ref[0] and shape[:3] == ref[0][:3]:
        raise ReaderError(
            f"{path}: {_volumes_in(shape)} where the other executions have {_volumes_in(ref[0])}: this execution "
            "wrote more or fewer volumes (frames) than the others; check its log"
        )
    if shape != ref[0]:
        raise ReaderError(f"{path}: shape {img.data.shape} differs from {ref[0]} of the other executions; {hint}")
    if (mismatch := affine_mismatch(img.affine, ref[1])) is not None:
        diff, row, col = mismatch
        raise ReaderError(
            f"{path}: affine differs from the other executions' by {diff:.3g} at row {row}, column {col} "
            f"(tolerance {AFFINE_TOLERANCE:g} plus 4 float32 steps){axes_note(img.affine, ref[1])}; {hint}"
        )
    return np.ravel(img.data, order="F"), img.meaning, img.stored  # Fortran-ordered as nibabel's: a view, no copy


def _nonfinite(flat: np.ndarray) -> np.ndarray | None:
    """Where ``flat`` is NaN or infinite; None when every voxel is finite (the common case: one SIMD sum,
    finite only when every term is; an overflowing sum of finite values just takes the exact path)."""
    if flat.dtype.kind != "f":
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(flat)):
            return None
    finite = np.isfinite(flat)
    return None if finite.all() else ~finite


def _same_nonfinite(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where ``a`` and ``b`` are both NaN (whatever its sign and payload: x86's default NaN from a SIMD 0/0 is
    negative, numpy's positive, and no reader or statistic tells them apart: review PH's failed-fit voxels,
    one mask, read "not reproducible") or have the same bit pattern (the same infinity; compared as float64
    when their dtypes differ)."""
    if a.dtype != b.dtype or a.dtype.itemsize not in (2, 4, 8):
        a, b = a.astype(np.float64), b.astype(np.float64)
    u = np.dtype(f"u{a.dtype.itemsize}")
    return (a.view(u) == b.view(u)) | (np.isnan(a) & np.isnan(b))


def phase_wraps(gaps: np.ndarray) -> bool:
    """Whether nine in ten of ``gaps`` (an execution's departures) are within 1% of a whole multiple of 2 pi: a
    phase at +/- pi wrapping to the other side in one run (review PH read it named "another local minimum").

    Examples
    --------
    >>> phase_wraps(np.array([6.2831, 6.2830, 12.566])), phase_wraps(np.array([6.2831, 3.0, 3.1]))
    (True, False)
    """
    turns = np.asarray(gaps, dtype=np.float64) / (2 * math.pi)
    near = (np.round(turns) >= 1) & (np.abs(turns - np.round(turns)) < 0.01)
    return bool(gaps.size and np.count_nonzero(near) >= 0.9 * gaps.size)


class _Subject(NamedTuple):
    """One subject's contribution, on the whole grid except ``rows`` (reference-mask voxels only)."""

    mask: np.ndarray  # non-zero and finite in some execution, or differing
    differ: np.ndarray
    nonfinite: np.ndarray | None  # non-finite in some execution; None: finite everywhere
    nonfinite_all: np.ndarray | None  # non-finite in every execution; None: nowhere
    rows: list[np.ndarray] | None  # per execution, in block order: the reference-mask voxels in the stored
    # dtype, non-finite values replaced by 0; executions sharing a file share one array
    subject: str = ""


@dataclass
class _Partial:
    """A subject being gathered: its first volume's data voxels, and the rest as in :class:`_Subject`."""

    data: np.ndarray  # non-zero and finite in the first volume
    differ: np.ndarray
    nf_any: np.ndarray | None
    nf_all: np.ndarray | None
    counts: list[int]  # per column: the volume's non-zero voxels on the whole grid
    rows: list[np.ndarray] | None = None
    means: list[float] | None = None  # per column: the mean |value| of its row
    blank: set[int] = field(default_factory=set)  # the columns whose volume is non-finite at every voxel
    # the first volume's header digest and column, and the first column whose header says otherwise (or None)
    meaning: tuple[str, int, int | None] = ("", 0, None)
    types: dict[str, list[int]] = field(default_factory=dict)  # the columns of each stored number type


class _Read(NamedTuple):
    """One volume as the reader threads leave it for the main thread."""

    flat: np.ndarray
    bad: np.ndarray | None  # non-finite voxels; None: all finite
    differ: np.ndarray | None  # differs from the subject's first volume; None for the first volume itself
    row: np.ndarray | None  # the reference-mask voxels (non-finite ones 0); None: not gathered yet
    mean: float | None  # the mean |value| of ``row``
    nonzero: int  # non-zero voxels on the whole grid (NaN counts: it is no zero)
    meaning: str = ""  # what its header says of where the voxels are and what they mean (``Image.meaning``)
    stored: str = ""  # how its file stores the voxels (``Image.stored``: `int16 (scaled)`, `float32`)


def _gather(flat: np.ndarray, bad: np.ndarray | None, index: np.ndarray) -> np.ndarray:
    """The voxels ``index`` of ``flat``, non-finite ones replaced by 0 (a placeholder: those voxels are
    excluded from the metrics)."""
    out = np.take(flat, index, mode="wrap")  # valid indices; "wrap" is numpy's fastest take
    if bad is not None:
        out[bad[index]] = 0
    return out


def _departures(values: list[float], floor: float, lone: bool = True) -> list[tuple[int, float]]:
    """``(column, relative change)`` of the values half or less, or twice or more, of their median (a fifth
    off it, :data:`SUPPORT_LONE`, where the other values, two or more, are equal, unless ``lone`` is False: one
    repetition per condition, where a level moving one subject is no odd run, review P4), and ``floor`` and 1%
    of that median away from it (a sparse map's voxel or two is no failure)."""
    typical = float(np.median(values))
    least = max(floor, 0.01 * abs(typical))
    out = []
    for col, value in enumerate(values):
        changed = abs(value - typical) / max(abs(value), abs(typical), 1e-300)
        others = values[:col] + values[col + 1 :]
        alone = lone and len(others) >= 2 and all(o == others[0] for o in others)
        if changed >= (SUPPORT_LONE if alone else SUPPORT_CHANGE) and abs(value - typical) >= least:
            out.append((col, changed))
    return out


def _rms(deviations: np.ndarray) -> np.ndarray:
    """The root mean square of each row of ``deviations``."""
    return np.sqrt(np.mean(np.square(deviations), axis=-1))


def _magnitude(row: np.ndarray) -> float:
    """The mean |value| of a gathered row, in float64 (computed where the row was gathered: still in cache)."""
    return float(np.mean(np.abs(row), dtype=np.float64))


def _read(path: Path, stream: _Stream, first: Future | None) -> _Read:
    """Decompress and check one volume, compare it with its subject's first, and gather its reference-mask
    voxels once they are known (a reader-thread task: the volume is still in this core's cache)."""
    flat, meaning, stored = _image_read(path, stream.ref, stream.buffers)
    bad = _nonfinite(flat)
    if bad is not None and not stream.metrics:
        raise ReaderError(f"{path}: {int(bad.sum())} NaN or infinite voxels in a label map")
    # Here, not when the labels are compared: there a fraction made the whole output "not analysable", named by
    # its copy in the store, no execution said (a review); here it names the execution and leaves its subject out
    if not stream.metrics and (error := not_whole(path, flat.reshape(stream.ref[0], order="F"))) is not None:
        raise error
    index = stream.index  # set by the main thread from the first volume; until then it gathers
    row = None if index is None else _gather(flat, bad, index)
    mean = None if row is None else _magnitude(row)
    # size - count(== 0): a third of count_nonzero's time on floats (same count: NaN is non-zero in both)
    nonzero = flat.size - int(np.count_nonzero(flat == 0))
    if first is None:
        return _Read(flat, bad, None, row, mean, nonzero, meaning, stored)
    f = first.result()  # submitted earlier, so running or done: waiting cannot deadlock
    d = flat != f.flat  # a voxel non-zero in another execution only differs, hence in mask
    if bad is not None and f.bad is not None:
        d &= ~_same_nonfinite(flat, f.flat)  # NaN != NaN: a NaN is the same as any NaN
    return _Read(flat, bad, d, row, mean, nonzero, meaning, stored)


class _Stream:
    """The whole-grid maps and the masked accumulator, fed one subject at a time.

    The volumes are decompressed, checked, compared and gathered by reader threads (decompression and NumPy
    release the GIL), a few ahead of the main thread, which folds them into the subject's maps; a pool thread
    accumulates the previous subject meanwhile: on two cores decompression and accumulation overlap. A file
    met twice in a subject (byte-identical outputs share one blob) is read once, and its gathered voxels
    serve every execution that shares it.
    """

    def __init__(self, design: Design, ref: Reference, *, metrics: bool, version_axis: int | None) -> None:
        self.design, self.ref, self.metrics, self.version_axis = design, ref, metrics, version_axis
        nv = int(np.prod(ref[0]))
        self.mask = np.zeros(nv, dtype=bool)
        self.differ = np.zeros(nv, dtype=bool)
        self.nonfinite = np.zeros(nv, dtype=bool)  # in some execution of some subject
        self.nonfinite_differ = np.zeros(nv, dtype=bool)  # non-finite somewhere and differing within a subject
        self.everywhere: np.ndarray | None = None  # non-finite in every execution of every subject
        self.index: np.ndarray | None = None  # voxels with metrics (the reference mask)
        self.acc: FactorialAccumulator | None = None
        self.n = 0
        self.single: bool | None = None  # some reference volume read is stored as float32 (_reference_index)
        # per subject whose executions store their voxels with other number types: {type: [(condition, rep)]}
        self.stored_types: list[dict[str, Any]] = []
        self.buffers = DecodeBuffers()  # the volumes in flight are inflated into a few reused buffers
        self.support_outliers: list[dict[str, Any]] = []  # executions whose image lost most of its voxels
        self.magnitudes: dict[str, float] = {}  # per subject: the median over its executions of the mean |value|
        self.sample: np.ndarray | None = None  # positions in `index` of the voxels kept whole, every execution
        self.sampled: dict[str, np.ndarray] = {}  # per subject: (executions, sampled voxels) in float64
        self.accumulated: list[str] = []  # the subjects in the accumulator, in the order added
        self.blank: list[str] = []  # subjects whose every voxel is non-finite in every execution
        # subjects whose first execution is 0 at every voxel, a minority among subjects with a signal: left out
        # when every execution of theirs is (`zero`)
        self.zero_candidates: set[str] = set()
        self.zero: list[str] = []  # subjects whose every voxel is 0 in every execution, left out
        self.series: Fluctuations | None = None  # a 4-D image's values about each voxel's mean over the volumes
        # two files of one subject whose headers say other things of where the voxels are or what they mean
        # (``_Read.meaning``), the first found: named whatever the voxels do (review C)
        self.header_pair: tuple[Path, Path] | None = None

    def plan(self, subject: str) -> list[tuple[int, Path]]:
        """The subject's (block column, path) pairs in block order (cells in C order, then repetitions)."""
        design = self.design
        cells = {c: i for i, c in enumerate(design.cells)}
        return sorted(
            (cells[cell] * design.k + rep, rec.path)  # type: ignore[misc]
            for (cell, rep), rec in design.grid[subject].items()
        )

    def begin(self, n_columns: int) -> None:
        """Start a subject of ``n_columns`` executions."""
        self.columns, self.cur = n_columns, None
        self.failed: ReaderError | None = None
        self.failed_at: dict[str, Any] = {}
        self.unread: list[tuple[dict[str, Any], ReaderError]] = []  # every execution whose file was unreadable
        self.unread_columns: dict[int, ReaderError] = {}

    def execution(self, subject: str, col: int) -> dict[str, Any]:
        """The condition and repetition of a subject's block column (an error names the execution, not only its
        subject: a review could not tell which of a subject's files was on another grid)."""
        cell, rank = divmod(col, self.design.k)
        rec = self.design.grid[subject][(self.design.cells[cell], rank)]
        return dict(condition=rec.condition_key, repetition=rec.repetition)

    def take(self, col: int, vol: _Read | int) -> None:
        """Fold in one of the subject's volumes (in block order), or the column of an earlier one of the same
        file (byte-identical outputs share one blob): same values, nothing new to compare."""
        cur = self.cur
        if isinstance(vol, int):
            if cur is not None:
                cur.counts[col] = cur.counts[vol]
                for cols in cur.types.values():
                    if vol in cols:
                        cols.append(col)
                if vol in cur.blank:
                    cur.blank.add(col)
                if cur.rows is not None:
                    cur.rows[col], cur.means[col] = cur.rows[vol], cur.means[vol]
            return
        if cur is not None and cur.meaning[2] is None and self.header_pair is None and vol.meaning != cur.meaning[0]:
            cur.meaning = (cur.meaning[0], cur.meaning[1], col)
        if cur is None:
            data = vol.flat != 0 if vol.bad is None else (vol.flat != 0) & ~vol.bad
            if self.metrics and self.index is None:
                nonzero = np.flatnonzero(data)
                self.index = nonzero if nonzero.size else np.arange(data.size)
            cur = self.cur = _Partial(data, np.zeros(data.size, dtype=bool), vol.bad, vol.bad, [0] * self.columns)
            cur.meaning = (vol.meaning, col, None)
        cur.counts[col] = vol.nonzero
        cur.types.setdefault(vol.stored or vol.flat.dtype.name, []).append(col)
        if vol.bad is not None and vol.bad.all():
            cur.blank.add(col)
        if vol.differ is not None:
            cur.differ |= vol.differ
            if vol.bad is not None:
                cur.nf_any = vol.bad if cur.nf_any is None else cur.nf_any | vol.bad
            cur.nf_all = None if vol.bad is None or cur.nf_all is None else cur.nf_all & vol.bad
        if self.metrics:
            flat = vol.flat
            if cur.rows is None:
                cur.rows = [None] * self.columns  # type: ignore[list-item]  # each column is taken once
                cur.means = [0.0] * self.columns
            row = _gather(flat, vol.bad, self.index) if vol.row is None else vol.row
            cur.rows[col] = row
            cur.means[col] = _magnitude(row) if vol.mean is None else vol.mean

    def end(self, subject: str) -> _Subject | None:
        """The subject's contribution, once every column was taken; None for a subject whose every voxel is
        non-finite in every execution (named in ``blank``, left out: its NaN everywhere left no voxel finite in
        every subject, and the others' maps were never computed: a review's study read "not analysable")."""
        cur, self.cur = self.cur, None
        if cur.meaning[2] is not None:
            paths = dict(self.plan(subject))
            self.header_pair = (paths[cur.meaning[1]], paths[cur.meaning[2]])
        if len(cur.types) > 1:  # compared as stored: one execution's float32 rounding reads as agreement
            at = {t: [tuple(self.execution(subject, c).values()) for c in cols] for t, cols in cur.types.items()}
            self.stored_types.append(dict(name="voxels", subject=subject, types=at))
        if cur.nf_all is not None and cur.nf_all.all():
            self.blank.append(subject)
            return None
        if subject in self.zero_candidates and not any(cur.counts):
            # 0 at every voxel of every execution, beside subjects with a signal: an application that failed
            # silently for it. Kept, its exact agreement made a study whose other subjects fail read
            # "sufficiently reproducible" (review DG: median voxel ICC 0.718 without it)
            self.zero.append(subject)
            return None
        if cur.rows is not None:
            named = self._outliers(subject, self.support(subject, cur.counts), "non-zero voxels", floor=SUPPORT_FLOOR)
            # A small map (a lesion's voxels) is judged by its count: the subject's own, since the voxels with
            # metrics cover the other subjects' too (a 2-voxel map among 125-voxel ones lost 1 and read "lost half
            # of its mean magnitude")
            if np.median(cur.counts) >= MAGNITUDE_VOXELS:
                self._outliers(subject, cur.means, "mean |value|", skip=named, blank=cur.blank)
                self.magnitudes[subject] = float(np.median(cur.means))
            if self.sample is None:  # evenly spaced voxels with metrics, for the ICC without each subject
                self.sample = np.unique(np.linspace(0, self.index.size - 1, min(SAMPLED, self.index.size)).astype(int))
            self.sampled[subject] = np.array([r[self.sample] for r in cur.rows], dtype=np.float64)
        return _Subject(cur.data | cur.differ, cur.differ, cur.nf_any, cur.nf_all, cur.rows, subject)

    def _outliers(
        self,
        subject: str,
        values: list[float],
        measure: str,
        floor: float = 0.0,
        skip: frozenset[int] = frozenset(),
        blank: set[int] | frozenset[int] = frozenset(),
    ) -> frozenset[int]:
        """Name the executions whose ``measure`` is half or less, or twice or more, of the median over the
        subject's executions (:func:`_departures`): its non-zero voxels on the whole grid (an empty or truncated
        image, a failed skull strip that kept the head) or the mean magnitude of its voxels with metrics (one
        execution wrote the brain mask, 0/1, instead of the image). A median ICC does not see them when subjects
        differ much more than executions (reviews' "sufficiently reproducible"). Compared with the median, the
        odd one is named whichever comes first (counted among the voxels with metrics, the reference region of a
        nearly empty first volume, a failure read first was never named). Columns in ``skip`` (already named)
        are not named again; those in ``blank`` are said to be non-finite at every voxel (their mean |value|
        reads 0: review PT read "mean |value| 0" of an execution that wrote NaN everywhere); returns the columns
        named."""
        named = set()
        for col, changed, typical in self._departures(values, floor):
            if col in skip:
                continue
            named.add(col)
            cell, rep = self.design.cells[col // self.design.k], col % self.design.k
            rec = self.design.grid[subject][(cell, rep)]
            self.support_outliers.append(
                dict(
                    subject=subject,
                    condition=rec.condition_key,
                    repetition=rec.repetition,
                    measure=measure,
                    value=num(values[col]),
                    typical=num(typical),
                    changed_fraction=round(changed, 4),
                    **({"nonfinite_everywhere": True} if col in blank else {}),
                )
            )
        return frozenset(named)

    def _departures(self, values: list[float], floor: float) -> list[tuple[int, float, float]]:
        """:func:`_departures` among the executions of each version (the version factor's level), each with the
        median it departs from: with `compare`, a new version that kept the skull in every execution named the
        baseline's as the ones that lost voxels, against a median over both (a review)."""
        groups: dict[Any, list[int]] = {}
        for col in range(len(values)):
            cell = self.design.cells[col // self.design.k]
            groups.setdefault(None if self.version_axis is None else cell[self.version_axis], []).append(col)
        out = []
        lone = self.design.k >= 2 or not self.design.factors
        for cols in groups.values():
            part = [values[c] for c in cols]
            typical = float(np.median(part))
            out += [(cols[i], changed, typical) for i, changed in _departures(part, floor, lone)]
        return out

    def distant_executions(self) -> None:
        """Name the executions far from their condition's other repetitions (3 or more; with 2, from all their
        subject's executions: :meth:`_groups`) on the sampled
        voxels, :data:`DISTANT` times the spread of subjects' images about the study's typical image and
        :data:`DISTANT_RATIO` times the farthest of its other repetitions (or :data:`DISTANT_TIGHT` spreads and
        :data:`DISTANT_TIGHT_RATIO` times, when the others agree that closely): an execution that holds another
        subject's image, or a slab of it, keeps its voxel count and magnitude, and one execution in 18 left the
        median voxel ICC at 0.945 ("sufficiently reproducible", a review; its values as a table failed). Distances
        are RMS
        over the sampled voxels finite everywhere, from the voxelwise median of the group (or of the subject's
        executions, for its spread), so one far execution does not move the centre it is measured from."""
        if len(self.sampled) < 3 or self.sample is None:
            return
        keep = ~self.nonfinite[self.index[self.sample]]
        if int(keep.sum()) < SUPPORT_FLOOR:
            return
        scale = max(float(np.max(np.abs(v[:, keep]), initial=0.0)) for v in self.sampled.values())
        if not (0 < scale < np.inf):
            return
        values = {s: v[:, keep] / scale for s, v in self.sampled.items()}  # squares stay finite near 1e300
        centres = np.array([np.median(v, axis=0) for v in values.values()])
        spread = float(np.median(_rms(centres - np.median(centres, axis=0))))
        if not spread > 0:
            return
        named = {(o["subject"], o["condition"], o["repetition"]) for o in self.support_outliers}
        for subject, v in values.items():
            for start, stop, measure in self._groups(v.shape[0]):
                group = v[start:stop]
                far = _rms(group - np.median(group, axis=0))
                for rank in np.flatnonzero(far >= DISTANT_TIGHT * spread):
                    # Against the farthest of the others: a median of three distances let ordinary jitter
                    # (a registration's random sub-voxel shift) reach 3 times it (a review's false alarm).
                    typical = float(np.max(np.delete(far, rank)))
                    ratio = far[rank] / typical if typical > 0 else np.inf
                    if not (far[rank] >= DISTANT * spread and ratio >= DISTANT_RATIO) and ratio < DISTANT_TIGHT_RATIO:
                        continue
                    at = self.execution(subject, start + int(rank))
                    if (subject, at["condition"], at["repetition"]) in named:
                        continue
                    self.support_outliers.append(
                        dict(
                            subject=subject,
                            **at,
                            measure=measure,
                            value=num(far[rank] * scale),
                            typical=num(typical * scale),
                            between_subjects=num(spread * scale),
                            changed_fraction=num(far[rank] / spread),
                        )
                    )

    def executions_apart(
        self, between: np.ndarray, within: np.ndarray, finite: np.ndarray
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The distance (0 elsewhere) at the voxels (with metrics) where one execution lies apart from its
        subject's others, which agree ten times closer
        (:meth:`~reprovip.metrics.FactorialAccumulator.executions_apart`), by :data:`APART_BETWEEN`
        between-subject SDs or more
        (``between``, per voxel; at least a tenth of its median, so that a voxel
        where subjects happen to agree does not make rounding a failure), :data:`APART_NOISE` times the
        typical voxel's within-subject SD (the median of ``within``: among millions of voxels, ordinary noise
        leaves one execution alone at thousands) and as many times the execution's own median departure from
        its subject's voxelwise median (a registration jitter moves a whole image); and those executions, most
        voxels first. A fit that failed
        in a few hundred voxels of each run (0, or clipped), or one run in another local minimum over 1% of
        the brain, left the median and 5th-percentile ICC unmoved: "sufficiently reproducible" (a review; the
        same values as an array failed)."""
        found = self.acc.executions_apart() if self.acc is not None else None
        if found is None or not finite.any():
            return np.zeros(finite.shape), []
        gap, at, others = found
        floor = 0.1 * float(np.median(between[finite]))
        noise = APART_NOISE * float(np.median(within[finite]))
        far = finite & (gap > noise) & (gap >= APART_BETWEEN * np.maximum(between, floor))
        r = self.acc.n_executions
        # ... and this many times the execution's own typical departure (over the sampled voxels): an image
        # moved by a sub-voxel registration jitter departs everywhere, most at its edges, a failed fit at a few
        typical = np.full(len(self.accumulated) * r, np.inf)
        keep = ~self.nonfinite[self.index[self.sample]] if self.sample is not None else None
        for i, subject in enumerate(self.accumulated):
            if keep is not None and keep.any() and subject in self.sampled:
                v = self.sampled[subject][:, keep]
                typical[i * r : (i + 1) * r] = np.median(np.abs(v - np.median(v, axis=0)), axis=1)
        far &= gap >= APART_NOISE * typical[np.maximum(at, 0)]
        # Not where the others hold exactly 0 (background the execution reaches: an image that moved a fraction of
        # a voxel at a brain's edge, the same outline in every subject; a review's false alarm): what an image
        # gains or loses at its edge is the support checks' and the differ map's
        far &= others != 0
        # ... nor by what a shift of up to a voxel explains: twice the largest difference between the voxel and its
        # 26 neighbours in the study's mean image (a subject's edge may be sharper than the mean's; the edge of a
        # smooth brain moved a fraction of a voxel in one run while the others agree: a review's false alarm),
        # which a failed fit or another minimum inside the image exceeds
        if far.any():
            far[far] = gap[far] > APART_EDGE * self._edge(np.flatnonzero(far))
        codes = Counter(at[far].tolist())
        named = []
        for code, count in codes.most_common():
            subject = self.accumulated[code // r]
            voxels = far & (at == code)
            named.append(
                dict(
                    subject=subject,
                    **self.execution(subject, code % r),
                    voxels=count,
                    largest=num(float(gap[voxels].max())),
                    between_subjects=num(float(np.median(between[voxels]))),
                    wraps=phase_wraps(gap[voxels]),
                )
            )
        return np.where(far, gap, 0.0), named

    def _edge(self, at: np.ndarray) -> np.ndarray:
        """For the voxels with metrics at positions ``at`` of the reference index: the largest |difference| with
        one of their 26 neighbours in the study's mean image (0 beyond the voxels with metrics)."""
        shape = self.ref[0][:3]
        volume = math.prod(shape)
        mean = np.zeros(self.mask.size)
        mean[self.index] = self.acc.grand_mean()
        where = self.index[at]
        coords = np.array(np.unravel_index(where % volume, shape, order="F"))
        base = where - where % volume  # the volume (4-D images) each voxel is in
        largest = np.zeros(at.size)
        for offset in itertools.product((-1, 0, 1), repeat=3):
            if offset == (0, 0, 0):
                continue
            moved = coords + np.array(offset)[:, None]
            inside = np.all((moved >= 0) & (moved < np.array(shape)[:, None]), axis=0)
            flat = base[inside] + np.ravel_multi_index(moved[:, inside], shape, order="F")
            np.maximum.at(largest, np.flatnonzero(inside), np.abs(mean[where[inside]] - mean[flat]))
        return largest

    def _groups(self, n: int) -> list[tuple[int, int, str]]:
        """The executions :meth:`distant_executions` compares with one another, as ``(start, stop, measure)``
        column ranges of a subject's ``n``: each condition's repetitions, 3 or more of them; with 2, all the
        subject's executions (with 2 conditions or more): an execution that lost a third of its image passed
        with K = 2 (a review). A level that changes the result moves both its repetitions, so neither lies 3
        times farther than the other; with K = 1 an odd execution cannot be told from a level's effect."""
        k = self.design.k
        if k >= 3:
            return [(start, start + k, "distance from the other repetitions") for start in range(0, n, k)]
        if k == 2 and n >= 4:
            return [(0, n, "distance from the subject's other executions")]
        return []

    def support(self, subject: str, counts: list[int]) -> list[int]:
        """The subject's non-zero voxel counts, or when they name an execution, the counts of voxels above
        :data:`RESIDUE` x the subject's typical largest |value| (its volumes read again: rare): a build that
        flushes denormals to zero, or writes exact zeros where the others leave 1e-12 of solver residue, has
        not lost its image (reviews' false alarms)."""
        if not self._departures(counts, SUPPORT_FLOOR):
            return counts
        buffers, paths = DecodeBuffers(), [path for _, path in self.plan(subject)]
        largest: dict[Path, float] = {}
        for path in dict.fromkeys(paths):  # each file once
            flat = _volume(path, self.ref, buffers)
            finite = np.abs(flat[np.isfinite(flat)]) if flat.dtype.kind == "f" else np.abs(flat)
            largest[path] = float(finite.max()) if finite.size else 0.0
        threshold = RESIDUE * float(np.median([largest[p] for p in paths]))
        above = {}
        for path in largest:
            flat = _volume(path, self.ref, buffers)
            above[path] = int(np.count_nonzero(~(np.abs(flat) <= threshold)))  # NaN and inf are no zero
        return [above[p] for p in paths]

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
        if sub.rows is not None:
            design = self.design
            if self.acc is None:
                self.acc = FactorialAccumulator(
                    (self.index.size,), design.levels, design.k, design.factor_names, envelope_axis=self.version_axis
                )
            # (executions, voxels) seen as (voxels, *levels, k): a view the accumulator reads row by row
            # Squares beyond float64 (values near 1e154 or more) give inf: counted in the summary's
            # `overflow_voxels` and explained by the criteria, not printed as numpy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                self.acc.add_executions(sub.rows)
                if math.prod(self.ref[0][3:]) >= 2:
                    if self.series is None:
                        self.series = Fluctuations(self.index, self.ref[0])
                    self.series.add(sub.rows)
            self.accumulated.append(sub.subject)
        self.n += 1

    def full(self, values: np.ndarray, finite: np.ndarray) -> np.ndarray:
        """A map on the whole grid from values at the reference-mask voxels (``finite`` where they are finite
        in every execution): 0 elsewhere, NaN where non-finite; built directly in :func:`_map_dtype` of the
        values it keeps (the same check as on the whole grid, on a quarter of the voxels)."""
        out = np.zeros(self.mask.size, dtype=map_dtype(values[finite]))
        with np.errstate(over="ignore"):
            out[self.index] = values
        out[self.nonfinite] = np.nan
        return out.reshape(self.ref[0], order="F")


def _reference_index(stream: _Stream, subjects: list[str], pool: ThreadPoolExecutor) -> np.ndarray | None:
    """The voxels with metrics: non-zero and finite in some execution of the first subject or in the first
    execution of another (these volumes read once more by ``pool``: about a sixth of the reading on the
    benchmark), or None when none can be read.

    Not the first volume alone: which execution is read first decided what the metric maps judged (a first
    execution with 42% of the grid zeroed passed `voxel_sd_max`, the same damage in a later one failed), and
    a signal a new version writes over the baseline's zero background had no voxel metric, so no envelope test
    (reviews' false passes). Not the first subject alone: a version raising by 10% the voxels of the larger
    brains that the first, smallest one does not cover read "within the baseline's envelope" (review V)."""

    def data(path: Path) -> np.ndarray | None:
        try:
            flat = _volume(path, stream.ref, stream.buffers)
        except ReaderError:  # named when the stream reads it
            return None
        # the images' float type, for the envelope's last-place changes: float32 when one read is, the coarser
        # (review C: a version storing in float64 what the baseline stored in float32 moved by its rounding, and
        # failed "with no run-to-run noise in the baseline; |z| inf"); the change of type is said (stored_types)
        stream.single = flat.dtype == np.float32 or bool(stream.single)
        return (flat != 0) & np.isfinite(flat) if flat.dtype.kind == "f" else flat != 0

    paths = [path for _, path in stream.plan(subjects[0])] + [stream.plan(s)[0][1] for s in subjects[1:]]
    union = None
    blank = set()  # first executions with no voxel non-zero and finite
    for path, found in zip(dict.fromkeys(paths), pool.map(data, dict.fromkeys(paths)), strict=True):
        if found is not None:
            if not found.any():
                blank.add(path)
            union = found if union is None else np.logical_or(union, found, out=union)
    if union is None:
        return None
    zero = {s for s in subjects if stream.plan(s)[0][1] in blank}
    if union.any() and 2 * len(zero) < len(subjects):  # a few subjects without a signal among others with one
        stream.zero_candidates = zero
    index = np.flatnonzero(union)
    return index if index.size else np.arange(union.size)


def _volumes(
    stream: _Stream, subjects: list[str], pool: ThreadPoolExecutor
) -> Iterator[tuple[str, int | None, _Read | int | ReaderError | None]]:
    """``(subject, column, volume)`` in block order, read by ``pool`` at most :data:`_AHEAD` volumes ahead;
    ``volume`` is an earlier column when the file repeats in the subject, the ReaderError when it cannot be
    read; ``(subject, None, None)`` closes each subject."""
    queue: deque[tuple[str, int, Future | int]] = deque()
    todo = ((s, col, path) for s in subjects for col, path in stream.plan(s))
    seen: dict[Path, int] = {}  # the current subject's files, by column
    first: Future | None = None
    current = None

    def refill() -> None:
        nonlocal current, seen, first
        while sum(isinstance(f, Future) for *_, f in queue) < _AHEAD and (item := next(todo, None)):
            s, col, path = item
            if s != current:
                current, seen, first = s, {}, None
            if path in seen:
                queue.append((s, col, seen[path]))
                continue
            fut = pool.submit(_read, path, stream, first)
            first, seen[path] = first or fut, col
            queue.append((s, col, fut))

    refill()
    while queue:
        s, col, fut = queue.popleft()
        if isinstance(fut, Future):
            try:
                vol: _Read | int | ReaderError = fut.result()
            except ReaderError as exc:
                vol = exc
        else:
            vol = fut
        refill()
        yield s, col, vol
        del vol
        if not queue or queue[0][0] != s:
            yield s, None, None


def voxelwise_maps(
    design: Design,
    subjects: list[str],
    out_dir: Path,
    *,
    labels: bool = False,
    errors: list[dict[str, Any]] | None = None,
    version_axis: int | None = None,
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
    voxels, is left out and the reason appended to ``errors``. With ``version_axis`` (the factor whose first
    level is the baseline), images also get the envelope test voxel by voxel (``envelope``, and the map
    ``envelope_outside``: 1 where a version's condition mean leaves the baseline's run-to-run envelope).
    """
    if not design.factors and design.k < 2:
        return {"skipped": "one execution per subject: nothing to compare voxelwise"}
    ref = _reference(design, subjects)
    if ref is None:
        return {"skipped": "no readable volume"}
    if math.prod(ref[0]) == 0:  # a zero-length axis: nothing to compare voxel by voxel (the files still are)
        return {"skipped": f"the images hold no voxel (shape {ref[0]})"}
    if not np.linalg.det(ref[1][:3, :3]):  # no map can be written on it (nibabel cannot decompose it): a review
        return {
            "skipped": f"the images' affine is singular (a voxel size or axis of 0: {_rows(ref[1])}); fix the header"
        }
    stream = _Stream(design, ref, metrics=not labels, version_axis=version_axis)
    with ThreadPoolExecutor(_READERS, thread_name_prefix="reprovip-read") as pool:
        if stream.metrics:
            stream.index = _reference_index(stream, subjects, pool)
        started, adding = None, None
        for s, col, vol in _volumes(stream, subjects, pool):
            if s != started:
                started = s
                stream.begin(len(design.grid[s]))
            if col is None:  # the subject is complete: accumulate it in a pool thread while the next is gathered
                if stream.failed is None:
                    if (sub := stream.end(s)) is not None:  # None: NaN everywhere, named in `blank`
                        if adding is not None:
                            adding.result()  # subjects are added one after the other
                        adding = pool.submit(stream.add, sub)
                    del sub
                elif errors is not None:
                    errors += [dict(subject=s, **where, error=str(exc)) for where, exc in stream.unread]
                started = None
            elif isinstance(vol, ReaderError) or (isinstance(vol, int) and vol in stream.unread_columns):
                # Every execution whose file could not be read is named, not only the first: a file shared by
                # repetitions (one blob) counted once, "4 files" where 8 were off the grid (reviews)
                exc = vol if isinstance(vol, ReaderError) else stream.unread_columns[vol]
                # not the later volumes compared with an unreadable first one: they raise its very error, and a
                # column sharing their file is no unreadable one either (review DL: a readable label map was
                # named with the first's float file)
                if isinstance(vol, int) or not any(exc is e for _, e in stream.unread):
                    stream.unread_columns[col] = exc
                    stream.unread.append((stream.execution(s, col), exc))
                if stream.failed is None:  # the first file that could not be read leaves the subject out
                    stream.failed, stream.failed_at = exc, stream.execution(s, col)
            elif stream.failed is None:
                stream.take(col, vol)
        if adding is not None:
            adding.result()
        del adding
        if stream.n < 2:
            skipped = {"skipped": "fewer than two subjects whose every execution could be read on one grid"}
            if stream.zero:
                skipped["zero_subjects"] = sorted(stream.zero)
            return dict(skipped, nonfinite_subjects=sorted(stream.blank)) if stream.blank else skipped
        return finish_maps(stream, out_dir, pool, 2 * _READERS)
