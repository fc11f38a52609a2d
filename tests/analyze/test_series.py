"""Tests of reprovip.analyze.series: a 4-D image's values about each voxel's mean over the volumes, and each
voxel's temporal SD, on every voxel in every volume (a (volumes, voxels) array) and on a ragged mask."""

from __future__ import annotations

import numpy as np
import pytest

from reprovip.analyze.series import Fluctuations

SHAPE = (3, 2, 2, 5)  # 12 spatial voxels, 5 volumes


def _direct(values: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The oracle: per gathered value, its value less its voxel's mean; per present voxel, its SD (ddof 1)."""
    voxel = index % 12
    about = np.empty(values.size)
    sds = []
    for v in np.unique(voxel):
        at = voxel == v
        about[at] = values[at] - values[at].mean()
        sds.append(values[at].std(ddof=1) if at.sum() > 1 else 0.0)
    return about, np.array(sds)


@pytest.mark.parametrize("ragged", [False, True])
def test_fluctuations_equal_the_direct_computation(ragged: bool) -> None:
    """The (volumes, voxels) fast path and the ragged one give the oracle's values."""
    rng = np.random.default_rng(0)
    index = np.arange(60)
    if ragged:  # voxel 4 missing from volume 2, voxel 7 present in one volume only
        index = index[(index != 4 + 24) & ~np.isin(index, [7 + 12 * t for t in range(1, 5)])]
    f = Fluctuations(index, SHAPE)
    assert (f.rectangle is None) is ragged
    row = rng.normal(100, 5, index.size)
    about, sds = _direct(row, index)
    np.testing.assert_allclose(f.about_mean(row), about, rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.temporal_sd(row), sds, rtol=1e-12)
    finite = np.ones(index.size, bool)
    finite[3] = False  # voxel 3 in volume 0
    whole = f.whole_spatial(finite)
    assert whole.tolist() == [v != 3 and not (ragged and v == 7) for v in f.present]
    assert f.whole_voxels(finite).tolist() == [index[i] % 12 not in (3, 7 if ragged else 3) for i in range(index.size)]


def test_a_subject_block_accumulates_the_fluctuations_and_their_amplitude() -> None:
    """Three subjects of two executions: the second execution of the third subject has every fluctuation
    halved; its amplitude (temporal SD) differs, the first two subjects' do not."""
    rng = np.random.default_rng(1)
    f = Fluctuations(np.arange(60), SHAPE)
    for s in range(3):
        x = rng.normal(100 * (s + 1), 5, 60)
        f.add([x, x if s < 2 else f.about_mean(x) / 2 + (x - f.about_mean(x))])
    within = np.asarray(f.amplitude.within_sd())
    assert within.shape == (12,) and np.all(within > 0)
    assert np.asarray(f.acc.within_sd()).shape == (60,)
