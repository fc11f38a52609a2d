"""Tests of reprovip.metrics.streaming: the accumulator equals the batch functions on stacked data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import reprovip.metrics.streaming as streaming
from reprovip.errors import MetricInputError
from reprovip.metrics import (
    FORMS,
    FactorialAccumulator,
    factorial_mean_squares,
    icc_all,
    repeatability,
    significant_digits,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DESIGNS = [
    ((3, 4), (2, 3), 3, ["threads", "version"], 6),
    ((5,), (), 4, [], 3),
    ((2, 2, 2), (2,), 1, ["version"], 4),
    ((), (3,), 2, ["seed"], 5),
]


def _run(x, spatial, levels, k, factors, **kwargs):
    acc = FactorialAccumulator(spatial, levels, k, factors, **kwargs)
    for block in x:
        acc.add(block)
    return acc


def _assert_equal_to_batch(acc, x, spatial, factors, rtol=1e-9):
    n = x.shape[0]
    stacked = np.moveaxis(x, 0, len(spatial)).astype(np.float64)  # (*spatial, n, *levels, k)
    flat = stacked.reshape(*spatial, n, -1)
    ms_b, ms_s = factorial_mean_squares(stacked, factors), acc.mean_squares()
    assert ms_s.terms == ms_b.terms and ms_s.df.tolist() == ms_b.df.tolist()
    assert (ms_s.n_subjects, ms_s.levels, ms_s.k, ms_s.factors) == (n, ms_b.levels, ms_b.k, ms_b.factors)
    np.testing.assert_allclose(ms_s.ms, ms_b.ms, rtol=rtol, atol=0)
    ib, is_ = icc_all(flat), acc.icc_all()
    for form in FORMS:
        for field in ("icc", "f", "df1", "df2", "pval", "ci_low", "ci_high", "degenerate"):
            np.testing.assert_allclose(getattr(is_[form], field), getattr(ib[form], field), rtol=rtol, atol=0)
    np.testing.assert_allclose(acc.within_sd(), repeatability(flat).wsd, rtol=rtol, atol=0)
    np.testing.assert_array_equal(acc.differs(), np.any(flat != flat[..., :1], axis=(-2, -1)))
    ref_digits = np.min(significant_digits(x.reshape(n, *spatial, -1), method="parker"), axis=0)
    np.testing.assert_allclose(acc.min_significant_digits(), ref_digits, rtol=rtol, atol=0)


@pytest.mark.parametrize(("spatial", "levels", "k", "factors", "n"), DESIGNS)
def test_equals_batch(rng, spatial, levels, k, factors, n):
    """Mean squares, ICCs, within-SD, differs and min Parker digits equal the batch functions (1e-9)."""
    shape = (n, *spatial, *levels, k)
    x = rng.normal(size=shape) + 3 * rng.normal(size=(n, *spatial) + (1,) * (len(levels) + 1))
    _assert_equal_to_batch(_run(x, spatial, levels, k, factors), x, spatial, factors)


def test_float32_blocks(rng):
    """float32 blocks are accumulated in float64: same as batch on the float32 values; 23-bit digits cap."""
    x = (100 + rng.normal(size=(4, 6, 2, 3))).astype(np.float32)
    acc = _run(x, (6,), (2,), 3, ["threads"])
    _assert_equal_to_batch(acc, x, (6,), ["threads"])
    assert acc.min_significant_digits(base=2).max() <= 23


def _outputs(acc):
    icc = acc.icc_all()
    return {
        "ms": acc.mean_squares().ms,
        "sd": acc.within_sd(),
        "digits": acc.min_significant_digits(base=2),
        "differs": acc.differs(),
        **{f"{form} {field}": getattr(icc[form], field) for form in FORMS for field in ("icc", "ci_low", "pval")},
    }


@pytest.mark.parametrize("chunk", [5, 1 << 16])  # 2 voxels per chunk (the least); the previous default
@pytest.mark.parametrize("layout", ["voxel-major", "execution-major"])
def test_chunking_and_layout_do_not_change_results(rng, monkeypatch, chunk, layout):
    """The chunk size and the block's memory layout (the voxelwise engine passes execution-major blocks, a
    transposed view) only change how the voxels are walked, never a voxel's arithmetic: every output is
    bit for bit that of one chunk with voxel-major blocks, float32 blocks and tied executions included. 5
    voxels: with 2 per chunk the last voxel joins the previous chunk (alone, its 12 executions would be summed
    pairwise by NumPy, and differ in the last bits)."""
    x = (50 + rng.normal(size=(4, 5, 2, 3, 2))).astype(np.float32)
    x[:, :2, 0] = x[:, :2, 0, :1, :1]  # identical executions in some cells and voxels
    monkeypatch.setattr(streaming, "_CHUNK_ELEMENTS", 1 << 30)
    whole = _outputs(_run(x, (5,), (2, 3), 2, ["a", "b"]))
    monkeypatch.setattr(streaming, "_CHUNK_ELEMENTS", chunk)
    blocks = x if layout == "voxel-major" else [np.ascontiguousarray(b.reshape(5, -1).T).T.reshape(b.shape) for b in x]
    walked = _outputs(_run(blocks, (5,), (2, 3), 2, ["a", "b"]))
    for name, value in whole.items():
        np.testing.assert_array_equal(walked[name], value, err_msg=name)


def test_no_cancellation_with_large_offset(rng):
    """A 1e8 offset with 1e-3 noise: equal to the two-pass batch computation (Welford updates, no
    sum-of-squares cancellation, which would lose every digit of the smallest mean squares here)."""
    x = 1e8 + rng.normal(size=(6, 5, 2, 3)) * 1e-3 + rng.normal(size=(6, 5, 1, 1)) * 1e-2
    _assert_equal_to_batch(_run(x, (5,), (2,), 3, ["threads"]), x, (5,), ["threads"], rtol=1e-7)


def test_one_ulp_survives_a_far_larger_first_subject():
    """Executions 1 ulp apart (1 and 1 + u, u = 2**-52) in a subject whose values are far below the first
    subject's (1000, identical executions). Analytic oracle (every step exact in binary): without factors the
    subject's variance (ddof 1) is u^2 / 2 and the other's 0, so sqrt(MSW) = u / 2; with a 2-level factor and
    k = 2, each of its 2 cells holds (1, 1 + u), so MS_residual = 2 (u^2 / 2) / (n cells (k - 1) = 4) = u^2 / 4.
    Subtracting the first subject's 1000 before the within-subject sums rounded the ulp away (SD 0)."""
    u = np.spacing(1.0)
    acc = _run(np.array([[1000.0, 1000.0], [1.0, 1.0 + u]]), (), (), 2, [])
    assert acc.within_sd() == u / 2 and acc.differs()
    acc = _run(np.array([[[1000.0, 1000.0]] * 2, [[1.0, 1.0 + u]] * 2]), (), (2,), 2, ["threads"])
    ms = acc.mean_squares()
    assert ms.terms[-1] == "residual" and ms.ms[-1] == u**2 / 4
    assert acc.within_sd() == pytest.approx(
        u / np.sqrt(6), rel=1e-15, abs=0
    )  # MSW: (1, 1 + u, 1, 1 + u) has SS u^2; n (R - 1) = 6


@pytest.mark.parametrize("spatial", [(), (1,), (3,)])
def test_blocks_not_modified(rng, spatial):
    acc = FactorialAccumulator(spatial, (2,), 2, ["a"])
    blocks = [rng.normal(size=(*spatial, 2, 2)) for _ in range(3)]
    copies = [b.copy() for b in blocks]
    for b in blocks:
        acc.add(b)
    for b, c in zip(blocks, copies, strict=True):
        np.testing.assert_array_equal(b, c)


# --- degenerate cases ------------------------------------------------------------------------------------


def test_degenerate_voxels_match_batch():
    """Constant voxels, identical executions, identical subjects: exact zeros as in batch; NaN exactly where the
    ICC is not estimable (0/0: docs/metrics.md), never a default of 1."""
    rng = np.random.default_rng(1)
    n, levels, k = 4, (2,), 3
    x = rng.normal(size=(n, 4, *levels, k))
    x[:, 0] = 0.1  # all equal (0.1 has an inexact float mean)
    x[:, 1] = rng.normal(size=(n, 1, 1))  # identical executions within each subject
    x[:, 2] = x[0, 2]  # identical subjects
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        acc = _run(x, (4,), levels, k, ["threads"])
        _assert_equal_to_batch(acc, x, (4,), ["threads"])
        res = acc.icc_all()
    assert (acc.mean_squares().ms[0] == 0).all()
    assert acc.differs().tolist() == [False, False, True, True]
    assert np.isnan(res["ICC(A,1)"].icc[0]) and not res["ICC(A,1)"].estimable[0]  # every value equal: 0/0
    assert res["ICC(A,1)"].icc[1] == 1.0  # identical executions, subjects differ: perfect agreement
    for r in res.values():
        assert (np.isnan(r.icc) == ~np.asarray(r.estimable)).all()
        assert (np.isnan(r.ci_low) == ~np.asarray(r.estimable)).all()


def _envelope_data(rng) -> np.ndarray:
    """(5 subjects, 6 voxels, threads 3 x version 2, k=3), the version axis second: threads=1 is bit-identical
    run to run in the baseline at voxels 0-2; there the new version shifts voxel 0 by +0.25 and adds noise of
    mean 0 (-0.5, 0, +0.5) at voxel 1 for subject 2; voxel 2 stays put; the rest is noisy."""
    x = 100 + rng.normal(size=(5, 6, 3, 2, 3)) + 10 * rng.normal(size=(5, 1, 1, 1, 1))
    x[:, :3, 0] = x[:, :3, 0, :1, :1]
    x[:, 0, 0, 1] += 0.25
    x[2, 1, 0, 1] += [-0.5, 0.0, 0.5]
    return x


def _envelope_stats(x: np.ndarray) -> tuple:
    return _run(x, (6,), (3, 2), 3, ["threads", "version"], envelope_axis=1).envelope_stats()


@pytest.mark.parametrize("chunk", [5, 1 << 16])  # 2 voxels per chunk (the least); one chunk
def test_envelope_stats_equal_the_batch_computation_per_condition(rng, monkeypatch, chunk):
    """Each condition of the other factors keeps its own statistics, equal to the batch computation on the
    stacked data (numpy's mean and ddof=1 variance, with :func:`reprovip.analyze.envelope.envelope`'s
    convention: 0 where a subject's repetitions are identical): the change is the largest |mean - baseline mean|
    over subjects and compared levels, or where the condition's baseline has no run-to-run noise the largest
    |repetition - baseline's value|; the variance is pooled over subjects on n (k - 1) degrees of freedom. The
    chunk size changes no bit of them."""
    x = _envelope_data(rng)
    monkeypatch.setattr(streaming, "_CHUNK_ELEMENTS", 1 << 30)
    whole = _envelope_stats(x)
    monkeypatch.setattr(streaming, "_CHUNK_ELEMENTS", chunk)
    diff, variance, tests, shift = _envelope_stats(x)
    for walked, value in zip((diff, variance, tests, shift), whole, strict=True):
        np.testing.assert_array_equal(walked, value)
    v = np.moveaxis(x, 3, 2)  # (subject, voxel, version, threads, k)
    base = v[:, :, 0]
    spread = np.where((base == base[..., :1]).all(axis=-1), 0.0, base.var(axis=-1, ddof=1)).mean(axis=0).T
    change = v[:, :, 1:].mean(axis=-1) - v[:, :, :1].mean(axis=-1)  # (subject, voxel, version - 1, threads)
    far = np.abs(v[:, :, 1:] - base[:, :, None, :, :1]).max(axis=(0, 2, 4)).T
    assert diff.shape == variance.shape == shift.shape == (3, 6) and tests == (5 + 1) * (2 - 1)
    np.testing.assert_array_equal(variance > 0, spread > 0)
    assert (variance[0, :3] == 0).all() and (variance[:, 3:] > 0).all()
    np.testing.assert_allclose(variance, spread, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(diff[variance == 0], far[variance == 0])  # the same float64 subtraction
    assert diff[0, :3].tolist() == [0.25, 0.5, 0.0]
    np.testing.assert_allclose(diff[variance > 0], np.abs(change).max(axis=(0, 2)).T[variance > 0], rtol=1e-12)
    np.testing.assert_allclose(shift, np.abs(change.mean(axis=0)).max(axis=1).T, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("chunk", [5, 1 << 16])
def test_executions_apart_equal_the_brute_force_over_subjects(rng, monkeypatch, chunk):
    """Per voxel, the largest distance of one execution from its subject's others' mean where their SD is a
    tenth of it or less (0 elsewhere), and which (subject, execution) it is, as a loop over subjects and
    executions computes it; honest noise sets none apart."""
    monkeypatch.setattr(streaming, "_CHUNK_ELEMENTS", chunk)
    n, nv, levels, k = 5, 40, (2,), 3
    r = 6
    x = rng.normal(0, 1e-3, (n, nv, *levels, k)) + 10 * rng.normal(size=(n, nv, 1, 1))
    x[1, 3, 1, 2] += 7.0  # one execution apart
    x[2, 3, 0, 0] += 9.0  # ... farther, in another subject: it is the one kept
    x[3, 8, 0, 1] -= 2.0
    x[4, 9] += np.array([[0, 0, 0], [5.0, 5.0, 5.0]])  # a condition, not one execution: nothing apart
    acc = _run(x, (nv,), levels, k, ["threads"])
    gap, at, others_mean = acc.executions_apart()
    flat = x.reshape(n, nv, r)
    best, where, centre = np.zeros(nv), np.full(nv, -1), np.zeros(nv)
    for s in range(n):
        for v in range(nv):
            for e in range(r):
                others = np.delete(flat[s, v], e)
                d = abs(flat[s, v, e] - others.mean())
                if others.std() <= d / 10 and d > best[v]:
                    best[v], where[v], centre[v] = d, s * r + e, others.mean()
    assert where[[3, 8, 9]].tolist() == [2 * r + 0, 3 * r + 1, -1]
    np.testing.assert_array_equal(at, where)
    np.testing.assert_allclose(gap, best, rtol=1e-9, atol=0)
    np.testing.assert_allclose(others_mean, centre, rtol=1e-9, atol=1e-12)
    assert gap[3] == pytest.approx(9.0, rel=1e-3) and (gap[[0, 1, 2, 9]] == 0).all()
    assert FactorialAccumulator((2,), (), 2, []).executions_apart() is None  # one other: no agreement


# --- bad input --------------------------------------------------------------------------------------------


def test_bad_construction():
    with pytest.raises(MetricInputError, match="`factors` names 1 factors but `levels` has 2"):
        FactorialAccumulator((3,), (2, 2), 2, ["a"])
    with pytest.raises(MetricInputError, match="`levels` must be an integer >= 2"):
        FactorialAccumulator((3,), (1,), 2, ["a"])
    with pytest.raises(MetricInputError, match="`k` must be an integer >= 2"):
        FactorialAccumulator((3,), (), 1, [])
    with pytest.raises(MetricInputError, match="`ddof` must be smaller than"):
        FactorialAccumulator((3,), (), 2, [], ddof=2)
    with pytest.raises(MetricInputError, match="`spatial_shape` and `levels` must be tuples of integers"):
        FactorialAccumulator(3, (), 2, [])


def test_bad_blocks():
    acc = FactorialAccumulator((3,), (2,), 2, ["a"])
    with pytest.raises(MetricInputError, match=r"`block` must have shape \(3, 2, 2\), got \(3, 4\)"):
        acc.add(np.zeros((3, 4)))
    bad = np.zeros((3, 2, 2))
    bad[1, 0, 1] = np.nan
    with pytest.raises(MetricInputError, match="`block` contains NaN"):
        acc.add(bad)
    with pytest.raises(MetricInputError, match="`block` must be a real numeric array"):
        acc.add(np.zeros((3, 2, 2), dtype=complex))
    assert acc.n_subjects == 0  # rejected blocks leave the state untouched
    acc.add(np.zeros((3, 2, 2)))
    with pytest.raises(MetricInputError, match="needs at least 2 subjects added, got 1"):
        acc.mean_squares()
    with pytest.raises(MetricInputError, match=r"`base` must be one of \{2, 10\}"):
        acc.min_significant_digits(base=8)


def test_add_executions_equals_add_of_the_stack(rng):
    """One array per execution (mixed int16/float32 rows, one array shared by two executions, as the voxelwise
    engine passes them) gives every output bit for bit as :meth:`add` of the stacked float32 block."""
    x = (50 + rng.normal(size=(4, 7, 2, 2))).astype(np.float32)
    x[..., 0, 1] = x[..., 0, 0]  # cell 0 deterministic
    x[1, ..., 1, :] = np.round(x[1, ..., 1, :])  # integer-valued: sent as int16
    stacked = _run(x, (7,), (2,), 2, ["threads"])
    acc = FactorialAccumulator((7,), (2,), 2, ["threads"])
    for s, block in enumerate(x):
        rows = [block[:, i // 2, i % 2] for i in range(4)]
        rows[1] = rows[0]
        if s == 1:
            rows[2:] = [r.astype(np.int16) for r in rows[2:]]
        acc.add_executions(rows)
    for name, value in _outputs(stacked).items():
        np.testing.assert_array_equal(_outputs(acc)[name], value, err_msg=name)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([np.zeros(3)] * 3, r"`rows` must hold prod\(levels\) \* k = 4 executions, got 3"),
        ([np.zeros(3)] * 3 + [np.zeros(2)], r"`rows` must be real arrays of shape \(3,\), got float64 \(2,\)"),
        ([np.zeros(3)] * 3 + [np.array([0.0, np.nan, 0.0])], "`rows` contains NaN or infinite values"),
    ],
)
def test_add_executions_rejects_bad_rows(rows, match):
    acc = FactorialAccumulator((3,), (2,), 2, ["threads"])
    with pytest.raises(MetricInputError, match=match):
        acc.add_executions(rows)
    assert acc.n_subjects == 0


def test_overflowed_maps_the_voxels_whose_squares_leave_float64() -> None:
    """Values near 1e300 differing between executions: their squares are infinite, so no SD or ICC there; values
    of ordinary magnitude beside them are not flagged."""
    acc = FactorialAccumulator((3,), (), 2, [])
    with np.errstate(over="ignore", invalid="ignore"):  # what the voxelwise engine does: inf, then this map
        for s in range(3):
            acc.add(np.array([[1.0 + s, 1.5 + s], [1e300 * (s + 1), 2e300 * (s + 1)], [5.0, 5.0 + s]]))
        assert np.asarray(acc.overflowed()).tolist() == [False, True, False]
        assert np.isfinite(np.asarray(acc.within_sd())).tolist() == [True, False, True]
