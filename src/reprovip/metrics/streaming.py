"""Streaming accumulation of the factorial ANOVA, one subject at a time, for voxelwise maps.

A voxelwise study has ``(*spatial, n_subjects, *levels, k)`` values, far too many to hold at once in float64.
:class:`FactorialAccumulator` takes one subject's block ``(*spatial, *levels, k)`` at a time and keeps
``O(spatial x (prod(levels) * k + 2**m + 8))`` float64 numbers. Results equal the batch functions
(:func:`~reprovip.metrics.variance.factorial_mean_squares`, :func:`~reprovip.metrics.icc.icc_all`,
:func:`~reprovip.metrics.repeatability.repeatability`, Parker
:func:`~reprovip.metrics.sigdigits.significant_digits`) applied to the stacked data.

Numerics: values are accumulated in float64 whatever the block dtype. Between-subject sums of squares use
Welford's update on the running per-column means (a shift by the running mean, which generalises shifting
by the first subject's values), so no ``sum(x^2) - n mean^2`` cancellation occurs; within-subject sums of
squares are computed two-pass inside each block on the deviations from that subject's first execution (exact
for nearby values), so executions 1 ulp apart give a non-zero SD whatever the other subjects' magnitudes
(above ~1e-146 in magnitude, where the squared ulp no longer underflows). Work is done in chunks of voxels,
never voxel by voxel.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from reprovip.errors import MetricInputError

from ._common import check_int, check_names, exact_mean, output
from .icc import ICCResult, icc_a1_from_mean_squares, icc_from_mean_squares
from .sigdigits import BASES, mantissa_bits, parker_bits, to_base
from .variance import MeanSquares, effect, factorial_terms, force_zeros

_CHUNK_ELEMENTS = 1 << 18  # float64 elements per chunk temporary: 2 MiB (L2-sized); fewer, longer NumPy calls


class _Work:
    """Scratch buffers for one chunk of voxels, reused by every chunk of every subject."""

    def __init__(self, r: int, n: int, levels: tuple[int, ...], k: int) -> None:
        cells = r // k
        self.c, self.tmp = np.empty((r, n)), np.empty((r, n))
        self.eq = np.empty((r, n), dtype=bool)
        self.vec = np.empty((7, n))
        self.flag = np.empty((2, n), dtype=bool)
        self.cell_mean, self.cell_same = np.empty((cells, n)), np.empty((cells, n), dtype=bool)


class FactorialAccumulator:
    """Accumulate a crossed ``subjects x factors x k repetitions`` design, one subject block at a time.

    Parameters
    ----------
    spatial_shape : tuple of int
        Shape of the leading (voxel) axes, e.g. ``(182, 218, 182)``; ``()`` for a single observation.
    levels : tuple of int
        Number of levels of each factor (each >= 2); ``()`` when only repetitions vary.
    k : int
        Repetitions per condition (>= 1; >= 2 without factors).
    factors : sequence of str
        Factor names, one per entry of ``levels``.
    ddof : int, optional
        Delta degrees of freedom of the SD in Parker significant digits.
    envelope_axis : int, optional
        The factor (index into ``levels``) whose first level is the baseline of an envelope test
        (:meth:`envelope_stats`): a ``version`` factor.

    Notes
    -----
    For ICC, within-SD, ``differs`` and significant digits, the ``R = prod(levels) * k`` executions of a
    subject are the raters (flattened in C order). ``differs`` is True where any of a subject's ``R``
    executions differs in value from another one, for any subject.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> acc = FactorialAccumulator((4,), (2,), 3, ["threads"])
    >>> for _ in range(5):
    ...     acc.add(rng.normal(size=(4, 2, 3)).astype(np.float32))
    >>> acc.mean_squares().terms
    ('subject', 'threads', 'subject:threads', 'residual')
    >>> acc.icc_all()["ICC(A,1)"].icc.shape
    (4,)
    """

    def __init__(self, spatial_shape, levels, k, factors: Sequence[str], *, ddof=1, envelope_axis=None) -> None:
        try:
            self.spatial_shape = tuple(check_int(s, "spatial_shape", 1) for s in spatial_shape)
            self.levels = tuple(check_int(v, "levels", 2) for v in levels)
        except TypeError:
            raise MetricInputError("`spatial_shape` and `levels` must be tuples of integers") from None
        self.factors = check_names(factors, "factors")
        if len(self.factors) != len(self.levels):
            raise MetricInputError(f"`factors` names {len(self.factors)} factors but `levels` has {len(self.levels)}")
        self.k = check_int(k, "k", 2 if not self.levels else 1)
        self.n_executions = int(np.prod(self.levels, dtype=np.int64)) * self.k
        self.ddof = check_int(ddof, "ddof", 0)
        if self.ddof >= self.n_executions:
            raise MetricInputError(f"`ddof` must be smaller than prod(levels) * k = {self.n_executions}")
        m, nv, r = len(self.levels), int(np.prod(self.spatial_shape, dtype=np.int64)), self.n_executions
        self._subsets = [c for size in range(m + 1) for c in itertools.combinations(range(m), size)]
        self._chunk = max(2, _CHUNK_ELEMENTS // r)
        self._mean = np.zeros((r, nv))  # running column means of the shifted values
        self._shift = np.zeros(nv)  # the first subject's first execution, per voxel
        self._m2 = np.zeros((len(self._subsets), nv))  # one row per subset: contiguous updates
        self._m2_cols = np.zeros(nv)
        self._ssw = np.zeros(nv)
        self._sse = np.zeros(nv)
        self._differs = np.zeros(nv, dtype=bool)
        self._rows_same = np.ones(nv, dtype=bool)
        self._bits = np.full(nv, np.inf)
        # One execution apart from its subject's others (3 or more executions): the largest such distance over
        # subjects, and which (subject, execution) it is: (subject added - 1) * R + execution, -1 for none
        self._apart = np.zeros(nv) if r >= 3 else None
        self._apart_at = np.full(nv, -1, dtype=np.int64) if r >= 3 else None
        self._apart_others = np.zeros(nv) if r >= 3 else None  # the other executions' mean there
        if envelope_axis is not None and not (isinstance(envelope_axis, int) and 0 <= envelope_axis < m):
            raise MetricInputError(f"`envelope_axis` must be the index of a factor (0 to {m - 1}), got {envelope_axis}")
        self._env_axis = envelope_axis if self.k >= 2 else None  # the baseline's run-to-run spread needs k >= 2
        if self._env_axis is not None:  # per condition of the other factors: each is judged against its own noise
            versions = self.levels[self._env_axis]
            conditions = r // self.k // versions
            self._env_diff = np.zeros((conditions, nv))  # the largest |condition mean - baseline's| (subjects, levels)
            self._env_far = np.zeros((conditions, nv))  # the largest |repetition of a level - baseline's first one|
            self._env_ss = np.zeros((conditions, nv))  # the baseline's within-subject sum of squares
            self._env_sum = np.zeros((versions - 1, conditions, nv))  # per compared level: the sum over subjects
            self._env_signal = np.zeros((conditions, nv), dtype=np.int64)  # subjects not all 0 in the baseline
            self._env_new_varies = np.zeros((conditions, nv), dtype=bool)  # a compared level's repetitions differ
        self._work: _Work | None = None
        self._raters: tuple[int, tuple[np.ndarray, ...]] | None = None
        self.n_subjects = 0

    def add(self, block) -> None:
        """Add one subject: ``block.shape == (*spatial_shape, *levels, k)``, finite real values.

        Any memory layout is accepted; an execution-major one (``block.reshape(-1, R).T`` C-contiguous) is
        read without a strided gather.
        """
        b = np.asarray(block)
        expected = (*self.spatial_shape, *self.levels, self.k)
        if b.shape != expected:
            raise MetricInputError(f"`block` must have shape {expected}, got {b.shape}")
        if b.dtype.kind not in "biuf":
            raise MetricInputError(f"`block` must be a real numeric array, got dtype {b.dtype}")
        flat = b.reshape(self._mean.shape[::-1])
        self._add("block", lambda s, e: flat[s:e].T, b.dtype)

    def add_executions(self, rows: Sequence[np.ndarray]) -> None:
        """Add one subject given as its ``R = prod(levels) * k`` executions, each a flat array of
        ``prod(spatial_shape)`` finite real values (spatial axes in C order; executions in C order of
        ``(*levels, k)``): the same as :meth:`add` of their stack, without building it. The voxelwise engine
        passes the volumes' gathered voxels as they are, and one array for the executions that share a file.

        Examples
        --------
        >>> acc = FactorialAccumulator((3,), (), 2, [])
        >>> acc.add_executions([np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0])])
        >>> acc.differs()
        array([False,  True, False])
        """
        r, nv = self._mean.shape
        rows = [np.asarray(x) for x in rows]
        if len(rows) != r:
            raise MetricInputError(f"`rows` must hold prod(levels) * k = {r} executions, got {len(rows)}")
        for x in rows:
            if x.shape != (nv,) or x.dtype.kind not in "biuf":
                raise MetricInputError(f"`rows` must be real arrays of shape {(nv,)}, got {x.dtype} {x.shape}")
        self._add("rows", lambda s, e: [x[s:e] for x in rows], np.result_type(*rows))

    def _spans(self) -> list[tuple[int, int]]:
        """The voxel chunks ``(start, end)``: none of 1 voxel among others (see :meth:`_add_chunk`)."""
        nv = self._mean.shape[1]
        starts = list(range(0, nv, self._chunk))
        if nv > 1 and nv - starts[-1] == 1:
            starts.pop()
        return list(zip(starts, [*starts[1:], nv], strict=True))

    def _by_chunks(self, fn) -> np.ndarray:
        """``fn(slice)`` of every voxel chunk, joined: no temporary of the state's full (R, voxels) size,
        whose page faults alone cost more than the arithmetic; the values are those of the whole."""
        out = np.empty(self._mean.shape[1])
        for s, e in self._spans():
            out[s:e] = fn(slice(s, e))
        return out

    def _add(self, name: str, part, dtype: np.dtype) -> None:
        """Add a subject whose executions over voxels ``s:e`` are the R rows of ``part(s, e)``."""
        spans = self._spans()
        if dtype.kind == "f":  # checked before any state changes
            for s, e in spans:
                if not all(np.isfinite(x).all() for x in part(s, e)):
                    raise MetricInputError(f"`{name}` contains NaN or infinite values; remove or impute them first")
        if self._work is None:
            r, nv = self._mean.shape
            self._work = _Work(r, min(self._chunk + 1, nv), self.levels, self.k)
        nmant, i = mantissa_bits(dtype), self.n_subjects + 1
        for s, e in spans:
            self._add_chunk(slice(s, e), part(s, e), i, nmant)
        self.n_subjects = i

    def _add_chunk(self, sl: slice, rows, i: int, nmant: int) -> None:
        # Execution-major layout (R, voxels): reductions over executions add contiguous voxel rows, one
        # after the other, so a voxel's sums do not depend on the chunk it is in, as long as the chunk holds
        # 2 voxels or more (with 1, NumPy would sum along the executions pairwise: last bits differ). Every
        # temporary lives in the preallocated work buffers (fresh ones cost page faults at every chunk).
        n, m, k = sl.stop - sl.start, len(self.levels), self.k
        wk = self._work
        c, tmp, eq = wk.c[:, :n], wk.tmp[:, :n], wk.eq[:, :n]
        first, mean_d, ref, ss, sd, hi, lo = (v[:n] for v in wk.vec)
        same, flag = wk.flag[0, :n], wk.flag[1, :n]
        r = c.shape[0]
        for row, x in zip(c, rows, strict=True):
            np.copyto(row, x, casting="unsafe")
        np.copyto(first, c[0])
        np.logical_and.reduce(np.equal(c, first, out=eq), axis=0, out=same)
        if self._env_axis is not None:  # on the values as added: distinct values stay distinct
            self._add_far(sl, c, tmp)
        if i == 1:
            self._shift[sl] = first
        # Within-subject sums are taken on deviations from this subject's own first execution: exact for
        # nearby values (Sterbenz), so a 1-ulp difference survives even when other subjects' values (the
        # between-subject shift below) are far larger.
        c -= first
        np.add.reduce(c, axis=0, out=mean_d)
        mean_d /= r  # c.mean(axis=0): exactly 0 where the executions are identical
        np.add(first, mean_d, out=ref)
        np.copyto(ref, first, where=same)  # the subject's mean, exact where its executions are identical
        np.abs(ref, out=ref)
        np.subtract(c, mean_d, out=tmp)
        if self._apart is not None:
            np.maximum.reduce(tmp, axis=0, out=hi)
            np.minimum.reduce(tmp, axis=0, out=lo)
        np.add.reduce(np.square(tmp, out=tmp), axis=0, out=ss)
        if self._apart is not None:
            self._fold_apart(sl, c, mean_d, ss, hi, lo, i, sd, flag, first)
        self._ssw[sl] += ss
        self._differs[sl] |= np.logical_not(same, out=flag)
        np.divide(ss, r - self.ddof, out=sd)
        self._bits[sl] = np.minimum(self._bits[sl], parker_bits(np.sqrt(sd, out=sd), ref, same, nmant))
        if m == 0:
            self._sse[sl] += ss
        elif k >= 2:
            cells, dev = c.reshape(-1, k, n), tmp.reshape(-1, k, n)
            cm, cell_same = wk.cell_mean[:, :n], wk.cell_same[:, :n]
            np.add.reduce(cells, axis=1, out=cm)
            cm /= k
            np.logical_and.reduce(np.equal(cells, cells[:, :1], out=eq.reshape(-1, k, n)), axis=1, out=cell_same)
            np.copyto(cm, cells[:, 0], where=cell_same)  # exact_mean: the common value where all are equal
            np.subtract(cells, cm[:, None], out=dev)
            np.add.reduce(np.square(tmp, out=tmp), axis=0, out=ss)
            self._sse[sl] += ss
            if self._env_axis is not None:
                self._add_envelope(sl, cm, tmp)
        c += np.subtract(first, self._shift[sl], out=first)  # shifted by the first subject: accurate means
        if i == 1:
            self._mean[:, sl] = c
            return
        mean = self._mean[:, sl]
        delta = np.subtract(c, mean, out=c)
        np.logical_or.reduce(np.not_equal(delta, 0, out=eq), axis=0, out=flag)
        self._rows_same[sl] &= np.logical_not(flag, out=flag)
        mean += np.divide(delta, i, out=tmp)
        w = (i - 1) / i
        dmean = np.add.reduce(delta, axis=0, out=mean_d)
        dmean /= r
        self._m2[0, sl] += np.multiply(np.square(dmean, out=ss), w, out=ss)
        dl = delta.reshape(*self.levels, k, n)
        for j, sub in enumerate(self._subsets[1:], start=1):
            y = effect(dl, list(sub), [a for a in range(m) if a not in sub] + [m])
            self._m2[j, sl] += w * np.square(y).reshape(-1, n).sum(axis=0)
        dc = np.subtract(delta, dmean, out=delta)
        np.add.reduce(np.square(dc, out=dc), axis=0, out=ss)
        self._m2_cols[sl] += np.multiply(ss, w, out=ss)

    def _fold_apart(self, sl: slice, c, mean_d, ss, hi, lo, i: int, scratch, flag, first: np.ndarray) -> None:
        """Fold in the voxels where one of the subject's ``R`` executions lies apart from the others, which agree
        ten times closer (their SD at most a tenth of its distance from their mean), given the largest and
        smallest deviations from the subject's mean (``hi``, ``lo``) and their sum of squares ``ss``. With one
        execution at ``d`` from the others' mean and their SD ``s``, the largest deviation is ``d (R-1)/R`` and
        ``dev^2 / (ss / R) = (R-1) d^2 / (R s^2 + d^2)``: ``s <= d / 10`` is that ratio at ``(R-1) / (1 + R/100)``
        or more. An execution in another local minimum at a few voxels leaves a median ICC unmoved (a review)."""
        r = c.shape[0]
        dev = np.maximum(hi, np.negative(lo, out=lo), out=hi)  # the largest |execution - subject mean|
        ratio = np.multiply(dev, dev, out=lo)
        ratio *= r * (1 + r / 100)
        np.greater_equal(ratio, np.multiply(ss, r - 1, out=scratch), out=flag)
        flag &= dev > 0
        apart = np.flatnonzero(flag)
        if not apart.size:
            return
        gap = dev[apart] * (r / (r - 1))  # its distance from the others' mean
        held = self._apart[sl]
        better = gap > held[apart]
        at = apart[better]
        if at.size:
            held[at] = gap[better]
            cols = np.argmax(np.abs(c[:, at] - mean_d[at]), axis=0)
            self._apart_at[sl][at] = (i - 1) * r + cols
            # the others' mean, in the values' units: c holds each execution less the subject's first one
            apart_dev = c[cols, at]
            self._apart_others[sl][at] = (r * mean_d[at] - apart_dev) / (r - 1) + first[at]

    def grand_mean(self) -> np.ndarray:
        """Per voxel, the mean over subjects and executions.

        Examples
        --------
        >>> acc = FactorialAccumulator((2,), (), 2, [])
        >>> acc.add_executions([np.array([1.0, 2.0]), np.array([3.0, 2.0])])
        >>> acc.add_executions([np.array([5.0, 0.0]), np.array([7.0, 0.0])])
        >>> acc.grand_mean().tolist()
        [4.0, 1.0]
        """
        self._need(1)
        return output(
            (self._by_chunks(lambda sl: self._mean[:, sl].mean(axis=0)) + self._shift).reshape(self.spatial_shape)
        )

    def executions_apart(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Per voxel, the largest distance of one execution from its subject's other executions' mean where
        those agree ten times closer (0 where none does), which it is: ``(subject - 1) * R + execution``
        (subjects in the order added, executions in C order of ``(*levels, k)``), -1 for none, and the others'
        mean there. None with fewer than 3 executions per subject (one other: no agreement to depart from).

        Examples
        --------
        >>> acc = FactorialAccumulator((2,), (), 3, [])
        >>> acc.add_executions([np.array([1.0, 1.0]), np.array([1.0, 1.1]), np.array([4.0, 1.2])])
        >>> gap, at, others = acc.executions_apart()
        >>> gap.round(6).tolist(), at.tolist(), others.tolist()
        ([3.0, 0.0], [2, -1], [1.0, 0.0])
        """
        if self._apart is None:
            return None
        shape = self.spatial_shape
        return (
            output(self._apart.reshape(shape).copy()),
            self._apart_at.reshape(shape),
            output(self._apart_others.reshape(shape).copy()),
        )

    def _add_envelope(self, sl: slice, cell_means: np.ndarray, squares: np.ndarray) -> None:
        """Fold a subject's condition means (``(cells, n)``) and squared deviations from them (``(R, n)``)
        into the envelope statistics of each condition of the other factors."""
        n, ax, k = sl.stop - sl.start, self._env_axis, self.k
        means = np.moveaxis(cell_means.reshape(*self.levels, n), ax, 0)
        change = (means[1:] - means[:1]).reshape(self._env_sum.shape[:2] + (n,))  # (level - 1, condition, n)
        np.maximum(self._env_diff[:, sl], np.abs(change).max(axis=0), out=self._env_diff[:, sl])
        self._env_sum[:, :, sl] += change
        baseline = np.moveaxis(squares.reshape(*self.levels, k, n), ax, 0)[0]
        self._env_ss[:, sl] += baseline.reshape(-1, k, n).sum(axis=1)

    def _add_far(self, sl: slice, values: np.ndarray, scratch: np.ndarray) -> None:
        """Fold a subject's executions (``(R, n)``) into the largest departure of a compared level's repetition
        from the baseline's first one, per condition: the change where the baseline is deterministic (noise a
        new version adds there moves its repetitions while their mean may stay put)."""
        n, ax, k = sl.stop - sl.start, self._env_axis, self.k
        x = np.moveaxis(values.reshape(*self.levels, k, n), ax, 0)  # (level, *other levels, k, n)
        dev = scratch[: x[1:].size // n].reshape(x[1:].shape)
        np.abs(np.subtract(x[1:], x[:1, ..., :1, :], out=dev), out=dev)
        far = dev.reshape(len(x) - 1, -1, k, n).max(axis=(0, 2))
        np.maximum(self._env_far[:, sl], far, out=self._env_far[:, sl])
        self._env_signal[:, sl] += (x[0] != 0).reshape(-1, k, n).any(axis=1)
        varies = (x[1:] != x[1:, ..., :1, :]).reshape(len(x) - 1, -1, k, n).any(axis=(0, 2))
        np.logical_or(self._env_new_varies[:, sl], varies, out=self._env_new_varies[:, sl])

    def envelope_stats(self) -> tuple[np.ndarray, np.ndarray, int, np.ndarray] | None:
        """The envelope test's statistics per condition of the other factors and voxel, each of shape
        ``(conditions, *spatial_shape)`` (:mod:`reprovip.analyze.envelope`), or None without an
        ``envelope_axis`` or with k < 2: the change, the largest ``|mean - baseline mean|`` over subjects and
        compared levels, or where the condition's baseline has no run-to-run noise the largest ``|repetition -
        baseline's value|``; the baseline's run-to-run variance in the condition (repetitions within a subject,
        pooled over the subjects whose baseline is not 0 in every repetition there, :meth:`envelope_signal`, on
        their number times ``k - 1`` degrees of freedom: a voxel only one brain covers has its noise, not a
        quarter of it); the number of tests per condition and voxel
        (each subject's changes, and each mean over subjects); and the largest ``|mean over subjects of the
        condition's changes|``.

        Examples
        --------
        >>> acc = FactorialAccumulator((1,), (2, 2), 2, ["version", "threads"], envelope_axis=0)
        >>> acc.add(np.array([[[[1.0, 1.0], [5.0, 7.0]], [[1.5, 1.5], [6.0, 8.0]]]]))  # (voxel, version, threads, k)
        >>> diff, variance, tests, shift = acc.envelope_stats()
        >>> diff, variance, tests
        (array([[0.5],
               [1. ]]), array([[0.],
               [2.]]), 2)
        """
        if self._env_axis is None:
            return None
        n = self._need(1)
        shape = (self._env_ss.shape[0], *self.spatial_shape)
        variance = self._env_ss / (np.maximum(self._env_signal, 1) * (self.k - 1))
        diff = np.where(variance > 0, self._env_diff, self._env_far)
        mean_shift = (np.abs(self._env_sum) / n).max(axis=0)
        tests = (n + 1) * (self.levels[self._env_axis] - 1)
        return diff.reshape(shape), variance.reshape(shape), tests, mean_shift.reshape(shape)

    def envelope_shift_sign(self) -> np.ndarray | None:
        """Per condition of the other factors and voxel (``(conditions, *spatial_shape)``), the sign of the mean
        change over subjects of the compared level whose change is the largest (:meth:`envelope_stats` gives its
        size): rounding noise moves as many voxels up as down, a version's bias one way. None without an envelope.

        Examples
        --------
        >>> acc = FactorialAccumulator((2,), (2,), 2, ["version"], envelope_axis=0)
        >>> acc.add(np.array([[[1.0, 1.0], [2.0, 2.0]], [[5.0, 5.0], [4.0, 4.0]]]))  # (voxel, version, k)
        >>> acc.add(np.array([[[3.0, 3.0], [3.0, 3.0]], [[7.0, 7.0], [7.0, 7.0]]]))
        >>> acc.envelope_shift_sign().tolist()
        [[1.0, -1.0]]
        """
        if self._env_axis is None:
            return None
        worst = np.abs(self._env_sum).argmax(axis=0)[None]
        signed = np.take_along_axis(self._env_sum, worst, axis=0)[0]
        return np.sign(signed).reshape((self._env_ss.shape[0], *self.spatial_shape))

    def envelope_new_varies(self) -> np.ndarray | None:
        """Per condition of the other factors and voxel (``(conditions, *spatial_shape)``), whether the
        repetitions of some compared level differ for some subject there: where the baseline's agree, the
        agreement is chance when the code is the same. None without an envelope.

        Examples
        --------
        >>> acc = FactorialAccumulator((2,), (2,), 2, ["version"], envelope_axis=0)
        >>> acc.add(np.array([[[1.0, 1.0], [1.0, 1.5]], [[5.0, 5.0], [6.0, 6.0]]]))  # (voxel, version, k)
        >>> acc.add(np.array([[[3.0, 3.0], [3.0, 3.0]], [[7.0, 7.0], [8.0, 8.0]]]))
        >>> acc.envelope_new_varies().tolist()
        [[True, False]]
        """
        if self._env_axis is None:
            return None
        return self._env_new_varies.reshape((self._env_ss.shape[0], *self.spatial_shape)).copy()

    def envelope_signal(self) -> np.ndarray | None:
        """Per condition of the other factors and voxel (``(conditions, *spatial_shape)``), the number of subjects
        whose baseline repetitions are not all 0 there (background elsewhere): those the baseline's spread is
        pooled over (:meth:`envelope_stats`). None without an envelope."""
        if self._env_axis is None:
            return None
        return self._env_signal.reshape((self._env_ss.shape[0], *self.spatial_shape)).copy()

    def _need(self, minimum: int) -> int:
        if self.n_subjects < minimum:
            raise MetricInputError(f"needs at least {minimum} subjects added, got {self.n_subjects}")
        return self.n_subjects

    def mean_squares(self) -> MeanSquares:
        """Mean squares of the factorial ANOVA, ``ms`` of shape ``(*spatial_shape, n_terms)``."""
        n = self._need(2)
        levels, k, m = self.levels, self.k, len(self.levels)
        cells = int(np.prod(levels, dtype=np.int64))
        colm = self._mean.reshape(*levels, k, -1)

        def effect_ss(sub: tuple[int, ...]) -> np.ndarray:
            keep, average = list(sub), [a for a in range(m) if a not in sub] + [m]
            return self._by_chunks(
                lambda sl: np.sum(effect(colm[..., sl], keep, average).reshape(-1, sl.stop - sl.start) ** 2, axis=0)
            )

        terms, ms, df = [], [], []
        for name, axes in factorial_terms(self.factors):
            sub = tuple(a - 1 for a in axes if a > 0)
            per_cell = k * int(np.prod([levels[a] for a in range(m) if a not in sub], dtype=np.int64))
            if axes[0] == 0:
                ss = per_cell * self._m2[self._subsets.index(sub)]
            else:
                ss = n * per_cell * effect_ss(sub)
            d = int(np.prod([(n, *levels)[a] - 1 for a in axes], dtype=np.int64))
            terms.append(name)
            ms.append(ss / d)
            df.append(d)
        if k >= 2:
            terms.append("residual")
            ms.append(self._sse / (n * cells * (k - 1)))
            df.append(n * cells * (k - 1))
        shape = self.spatial_shape
        # Shaped before they are joined: the joined array is then returned as it is, not copied.
        arr = force_zeros(
            [a.reshape(shape) for a in ms], tuple(terms), ~self._differs.reshape(shape), self._rows_same.reshape(shape)
        )
        return MeanSquares(
            self.factors,
            n,
            levels,
            k,
            tuple(terms),
            output(arr),
            output(np.asarray(df, dtype=np.int64)),
        )

    def _rater_mean_squares(self) -> tuple[np.ndarray, ...]:
        n, r = self._need(2), self.n_executions
        if self._raters is not None and self._raters[0] == n:  # maps ask for several forms: compute once
            return self._raters[1]
        within_same, rows_same = ~self._differs, self._rows_same
        msr = np.where(rows_same, 0.0, r * self._m2[0] / (n - 1))

        def column_ss(sl: slice) -> np.ndarray:
            cc = self._mean[:, sl] - exact_mean(self._mean[:, sl], 0)
            return np.einsum("ij,ij->j", cc, cc)

        msc = np.where(within_same, 0.0, n * self._by_chunks(column_ss) / (r - 1))
        mse = np.where(within_same | rows_same, 0.0, self._m2_cols / ((n - 1) * (r - 1)))
        msw = np.where(within_same, 0.0, self._ssw / (n * (r - 1)))
        result = tuple(a.reshape(self.spatial_shape) for a in (msr, msc, mse, msw))
        self._raters = (n, result)
        return result

    def overflowed(self) -> np.ndarray:
        """Boolean map: True where a rater mean square is not finite (values near 1e154 or beyond, whose squares
        overflow float64), so the ICC, within-SD and significant digits there are not defined."""
        out = np.zeros(self.spatial_shape, dtype=bool)
        for ms in self._rater_mean_squares():
            out |= ~np.isfinite(ms)
        return output(out)

    def icc_a1(self) -> np.ndarray:
        """ICC(A,1) point estimates only: no F test or CI, a fraction of :meth:`icc_all`'s cost (maps)."""
        msr, msc, mse, _ = self._rater_mean_squares()
        return output(icc_a1_from_mean_squares(msr, msc, mse, self.n_subjects, self.n_executions))

    def icc_all(self, *, confidence=0.95) -> dict[str, ICCResult]:
        """The six ICC forms with the ``prod(levels) * k`` executions of each subject as raters."""
        msr, msc, mse, msw = self._rater_mean_squares()
        return icc_from_mean_squares(msr, msc, mse, msw, self.n_subjects, self.n_executions, confidence=confidence)

    def within_sd(self) -> np.ndarray:
        """Pooled within-subject SD over all executions, sqrt(MSW) (``repeatability(...).wsd``)."""
        return output(np.sqrt(self._rater_mean_squares()[3]))

    def differs(self) -> np.ndarray:
        """Boolean map: True where some subject's executions are not all equal."""
        return output(self._differs.reshape(self.spatial_shape).copy())

    def min_significant_digits(self, *, base=10) -> np.ndarray:
        """Minimum over subjects of Parker significant digits across each subject's executions."""
        from reprovip.errors import check_choice

        check_choice("base", base, BASES)
        self._need(1)
        return output(to_base(self._bits, base).reshape(self.spatial_shape))
