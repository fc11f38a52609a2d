"""The voxelwise engine's fast path (reader threads that check, compare and gather each volume, blocks reused
from subject to subject, files shared by executions read once, maps built in float32 on the grid, variance
components computed in a pool thread) equals the plain path bit for bit: the streaming accumulator fed one
subject at a time with the stacked values, itself checked against the batch metric functions (tests/metrics)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reprovip.metrics import FactorialAccumulator, components_from_mean_squares

from .test_voxelwise import SPATIAL, _alias_cell_zero, _design, _maps_of


def _plain_maps(x: np.ndarray) -> dict[str, np.ndarray]:
    """The metric maps of ``x`` ``(*SPATIAL, n, levels, k)`` by the plain path, in the maps' voxel order: every
    voxel non-zero in the first execution gets the accumulator's values (NaN where some execution is
    non-finite), the others 0; float64 (the engine writes maps of ordinary magnitude in float32)."""
    flat = x.reshape(int(np.prod(SPATIAL)), *x.shape[3:])
    finite = np.isfinite(flat).all(axis=(1, 2, 3))
    ref = flat[:, 0, 0, 0] != 0
    acc = FactorialAccumulator((int(ref.sum()),), flat.shape[2:-1], flat.shape[-1], ["threads"])
    for s in range(flat.shape[1]):
        acc.add(np.where(finite[ref, None, None], flat[ref, s], 0))  # voxel-major: the accumulator's plain layout
    comps = components_from_mean_squares(acc.mean_squares())
    values = {
        "sd": acc.within_sd(),
        "sigdigits": acc.min_significant_digits(base=10),
        "icc_a1": acc.icc_a1(),
        **{f"share_{src.replace(':', 'x')}": np.asarray(comps.share)[:, i] for i, src in enumerate(comps.sources)},
    }
    out = {}
    for name, v in values.items():
        grid = np.zeros(flat.shape[0])
        grid[ref] = v
        grid[~finite] = np.nan
        out[name] = grid.reshape(SPATIAL)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_path_equals_the_plain_accumulator_bit_for_bit(tmp_path: Path, dtype: type) -> None:
    """6 subjects x 2 conditions x 3 repetitions (36 executions, more than the 4 volumes read ahead, so later
    volumes are gathered by the reader threads), a deterministic condition whose files are shared, a voxel
    zero everywhere (no metrics) and a NaN in one execution: every metric map equals the plain path's, bit
    for bit, and so does every summary statistic computed from them."""
    rng = np.random.default_rng(13)
    n, levels, k = 6, 2, 3
    x = rng.uniform(50, 60, size=(*SPATIAL, n, 1, 1)) + 1e-3 * rng.normal(size=(*SPATIAL, n, levels, k))
    x = x.astype(dtype)
    x[..., 0, :] = x[..., 0, :1]  # condition 0 deterministic: its k files are one blob
    x[0, 0, 0] = 0.0
    x[1, 2, 1, 3, 1, 2] = np.nan
    res, maps, errors = _maps_of(tmp_path / "maps", _alias_cell_zero(_design(tmp_path, x)))
    plain = _plain_maps(x)
    assert errors == [] and res["subjects"] == n and plain.keys() <= maps.keys()
    for name, expected in plain.items():
        assert maps[name].dtype == np.float32
        np.testing.assert_array_equal(maps[name], expected.astype(np.float32), err_msg=name)
    summary = res["summary"]
    assert summary["voxels_with_metrics"] == int(np.prod(SPATIAL)) - 2 and summary["nonfinite_voxels"] == 1
    with_metrics = np.isfinite(plain["sd"]) & (x[..., 0, 0, 0] != 0)
    for name in ("sd", "sigdigits", "icc_a1"):  # order-free statistics of the float64 values: exact
        v = plain[name][with_metrics]
        for stat, value in (("median", np.median(v)), ("p05", np.percentile(v, 5)), ("min", v.min()), ("max", v.max())):
            assert summary[f"{name}_{stat}"] == float(value), (name, stat)
        assert summary[f"{name}_mean"] == pytest.approx(float(v.mean()), rel=1e-14, abs=0)  # voxel order differs


def test_finite_volumes_whose_sum_overflows_have_no_nonfinite_voxels(tmp_path: Path) -> None:
    """float32 values near the largest float32 (3.4e38): a volume's float32 sum overflows to inf although every
    voxel is finite; the finiteness check then looks at each voxel, so none is reported non-finite, all get
    metrics, and the sd map equals the plain path's."""
    rng = np.random.default_rng(17)
    x = (3e38 * (1 + 1e-3 * rng.normal(size=(*SPATIAL, 3, 2, 2)))).astype(np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(np.add.reduce(x[..., 0, 0, 0].ravel())) and np.isfinite(x).all()
    res, maps, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    assert res["summary"]["nonfinite_voxels"] == 0 and res["summary"]["voxels_with_metrics"] == int(np.prod(SPATIAL))
    np.testing.assert_array_equal(maps["sd"], _plain_maps(x)["sd"].astype(np.float32))
