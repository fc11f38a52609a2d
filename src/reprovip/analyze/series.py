"""A 4-D image read as series: each voxel's values over the volumes about their own mean.

The voxel metrics judge each (voxel, volume) against the subjects' spread there, which in an fMRI series is the
subjects' mean intensities (hundreds) against a temporal SD of a few units: frames shuffled, or shifted by one,
under threads=2 read "sufficiently reproducible" (review FM). About each voxel's own mean over the volumes, the
subjects differ by their fluctuations, and a shuffle moves every value by as much as they do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reprovip.metrics.oneway import OneWayAccumulator


class Fluctuations:
    """The executions' values about each voxel's mean over the volumes, accumulated one subject at a time.

    Parameters
    ----------
    index : numpy.ndarray
        Flat (Fortran-order) positions on the 4-D grid of the values gathered for each execution.
    shape : tuple of int
        The grid, ``(x, y, z, volumes...)``.

    Examples
    --------
    Two voxels of three volumes; a voxel's values about its mean:

    >>> f = Fluctuations(np.arange(6), (2, 1, 1, 3))
    >>> f.about_mean(np.array([1.0, 10.0, 2.0, 20.0, 3.0, 30.0])).tolist()
    [-1.0, -10.0, 0.0, 0.0, 1.0, 10.0]
    """

    def __init__(self, index: np.ndarray, shape: tuple[int, ...]) -> None:
        voxel = index % math.prod(shape[:3])  # the spatial voxel of each gathered value
        self.present, self.slot, counts = np.unique(voxel, return_inverse=True, return_counts=True)
        self.counts = counts  # per present spatial voxel: its volumes gathered
        volumes = index.size // max(self.present.size, 1)
        # Every voxel in every volume (the common case: a series' background is 0 throughout): the gathered
        # values are a (volumes, voxels) array, reduced along its first axis, not by a weighted bincount
        self.rectangle = (volumes, self.present.size) if bool((counts == volumes).all()) else None
        self.acc = OneWayAccumulator(index.size)
        # each spatial voxel's temporal SD: fluctuations weakened by 20% under threads=2 stayed within a third
        # of the subjects' spread value by value, and passed (review F2)
        self.amplitude = OneWayAccumulator(self.present.size)

    def _sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per gathered value) summed over each present voxel's volumes."""
        if self.rectangle is not None:
            return values.reshape(self.rectangle).sum(axis=0)
        return np.bincount(self.slot, weights=values, minlength=self.present.size)

    def _spread(self, per_voxel: np.ndarray) -> np.ndarray:
        """``per_voxel`` (one per present voxel) at each gathered value."""
        if self.rectangle is not None:
            return np.broadcast_to(per_voxel, self.rectangle).ravel()
        return per_voxel[self.slot]

    def about_mean(self, row: np.ndarray) -> np.ndarray:
        """``row`` less, at each value, its voxel's mean over the volumes gathered there (float64)."""
        x = np.asarray(row, dtype=np.float64)
        return x - self._spread(self._sum(x) / self.counts)

    def temporal_sd(self, row: np.ndarray) -> np.ndarray:
        """Each present voxel's SD over the volumes gathered there (0 where fewer than 2 are).

        Examples
        --------
        >>> Fluctuations(np.arange(6), (2, 1, 1, 3)).temporal_sd(np.array([1.0, 10.0, 2.0, 20.0, 3.0, 30.0])).tolist()
        [1.0, 10.0]
        >>> Fluctuations(np.array([0, 1, 3, 5]), (2, 1, 1, 3)).temporal_sd(np.array([1.0, 10.0, 20.0, 30.0])).tolist()
        [0.0, 10.0]
        """
        d = self.about_mean(row)
        return np.sqrt(self._sum(d * d) / np.maximum(self.counts - 1, 1))

    def add(self, rows: Sequence[np.ndarray]) -> None:
        """Add one subject's executions (gathered rows, non-finite values already replaced by 0)."""
        self.acc.add(rows, transform=self.about_mean)
        self.amplitude.add([self.temporal_sd(r) for r in rows])

    def whole_voxels(self, finite: np.ndarray) -> np.ndarray:
        """Where a value's voxel is ``finite`` in every volume gathered (a non-finite value, replaced by 0,
        moves its voxel's mean in that execution, so every volume of it would seem to differ)."""
        return finite & self._spread(self.whole_spatial(finite))

    def whole_spatial(self, finite: np.ndarray) -> np.ndarray:
        """The present voxels of 2 or more volumes gathered, each value ``finite``: those whose temporal SD is
        judged."""
        return (self._sum(~finite * 1.0) == 0) & (self.counts >= 2)

    def spatial_mean(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per gathered value) averaged over each present voxel's volumes."""
        return self._sum(values) / self.counts
