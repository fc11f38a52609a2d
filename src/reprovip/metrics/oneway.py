"""Streaming one-way random-effects ANOVA (subjects as groups, all executions pooled), one subject at a time.

:class:`OneWayAccumulator` keeps three float64 numbers per value (the running mean of the subjects' means, its
Welford sum of squares, and the pooled within-subject sum of squares), a fraction of
:class:`~reprovip.metrics.streaming.FactorialAccumulator`'s state: the voxelwise engine uses it for a second
reading of a 4-D image (each voxel's series about its own mean), where a second factorial state would double
the memory of an fMRI series' analysis. Results equal ICC(1,1) (Shrout & Fleiss 1979; pingouin's ``ICC1``)
and the pooled within-subject SD of the stacked data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from reprovip.errors import MetricInputError

from ._common import check_int, output, ratio


class OneWayAccumulator:
    """Accumulate ``subjects x R executions`` of ``size`` values, one subject's ``R`` executions at a time.

    Parameters
    ----------
    size : int
        Values per execution (voxels).

    Examples
    --------
    >>> acc = OneWayAccumulator(2)
    >>> acc.add([np.array([1.0, 5.0]), np.array([1.2, 5.0])])
    >>> acc.add([np.array([3.0, 6.0]), np.array([3.2, 6.0])])
    >>> acc.add([np.array([5.0, 7.0]), np.array([5.0, 7.0])])
    >>> np.round(acc.within_sd(), 4).tolist()
    [0.1155, 0.0]
    >>> np.round(acc.icc1(), 4).tolist()
    [0.9965, 1.0]
    """

    def __init__(self, size: int) -> None:
        self.size = check_int(size, "size", 1)
        self._mean = np.zeros(self.size)  # running mean of the subjects' means
        self._m2 = np.zeros(self.size)  # Welford: sum of squared deviations of the subjects' means
        self._ssw = np.zeros(self.size)  # pooled within-subject sum of squares
        self.r: int | None = None
        self.n_subjects = 0

    def add(self, rows: Sequence[np.ndarray], transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Add one subject given as its executions, each a flat array of ``size`` finite real values (every
        subject the same number of executions, at least 2). ``transform``, a linear map of a float64 array
        (each voxel's series about its own mean), is applied to the executions as they are accumulated: the
        results are those of the transformed executions, and no transformed copy of them all is held.

        Examples
        --------
        >>> acc = OneWayAccumulator(2)
        >>> for rows in ([np.array([1.0, 3.0]), np.array([1.0, 3.0])], [np.array([4.0, 2.0]), np.array([5.0, 1.0])]):
        ...     acc.add(rows, transform=lambda x: x - x.mean())
        >>> acc.within_sd().tolist()
        [0.5, 0.5]
        """
        rows = list(rows)
        if len(rows) < 2 or (self.r is not None and len(rows) != self.r):
            want = "at least 2" if self.r is None else str(self.r)
            raise MetricInputError(f"`rows` must hold {want} executions, got {len(rows)}")
        for x in rows:
            if np.shape(x) != (self.size,) or np.asarray(x).dtype.kind not in "biuf":
                raise MetricInputError(f"`rows` must be real arrays of shape {(self.size,)}")
            if not np.isfinite(x).all():
                raise MetricInputError("`rows` contains NaN or infinite values; remove or impute them first")
        self.r = len(rows)
        mean = np.zeros(self.size)
        for x in rows:
            mean += x
        mean /= self.r
        # within: two-pass about the subject's mean (no sum-of-squares cancellation); a linear transform of the
        # deviations is the deviation of the transformed values
        for x in rows:
            d = x - mean
            if transform is not None:
                d = transform(d)
            self._ssw += d * d
        if transform is not None:
            mean = transform(mean)
        self.n_subjects += 1
        delta = mean - self._mean
        self._mean += delta / self.n_subjects
        self._m2 += delta * (mean - self._mean)

    def _need(self) -> tuple[np.ndarray, np.ndarray]:
        """``(MSB, MSW)`` per value; refuses fewer than 2 subjects."""
        if self.n_subjects < 2:
            raise MetricInputError(f"need at least 2 subjects, got {self.n_subjects}")
        msb = self.r * self._m2 / (self.n_subjects - 1)
        msw = self._ssw / (self.n_subjects * (self.r - 1))
        return msb, msw

    def grand_mean(self) -> np.ndarray:
        """Per value, the mean over subjects and executions."""
        return output(self._mean.copy())

    def within_sd(self) -> np.ndarray:
        """Pooled within-subject SD, ``sqrt(MSW)``."""
        return output(np.sqrt(self._need()[1]))

    def between_sd(self) -> np.ndarray:
        """The subjects' SD component, ``sqrt(max(0, (MSB - MSW) / R))``."""
        msb, msw = self._need()
        return output(np.sqrt(np.maximum(msb - msw, 0.0) / self.r))

    def icc1(self) -> np.ndarray:
        """ICC(1,1), ``(MSB - MSW) / (MSB + (R - 1) MSW)``: NaN where every value is equal (0/0)."""
        msb, msw = self._need()
        return output(ratio(msb - msw, msb + (self.r - 1) * msw, np.nan))
