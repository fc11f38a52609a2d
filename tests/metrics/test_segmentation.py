"""Tests of reprovip.metrics.segmentation: brute-force point sets, analytic spheres, conventions."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from scipy.spatial.distance import cdist

from reprovip.errors import MetricInputError
from reprovip.metrics import Overlap, label_overlap, overlap, pairwise_overlap
from reprovip.metrics.segmentation import surface

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FIELDS = ("dice", "jaccard", "hd", "hd95", "assd", "volume_a", "volume_b")


def brute_force(a, b, spacing, spacing_b=None):
    """Independent oracle: surface = mask minus its 6-connected interior (explicit neighbour test, outside
    = background), then all pairwise Euclidean distances between surface voxel centres in mm (``b``'s placed
    with ``spacing_b`` when given)."""
    spacing_b = spacing if spacing_b is None else spacing_b

    def surf(m):
        padded = np.pad(m, 1)
        interior = padded.copy()
        for ax in range(m.ndim):
            interior &= np.roll(padded, 1, ax) & np.roll(padded, -1, ax)
        return (padded & ~interior)[tuple(slice(1, -1) for _ in range(m.ndim))]

    pa, pb = np.argwhere(surf(a)) * spacing, np.argwhere(surf(b)) * spacing_b
    d = cdist(pa, pb)
    dab, dba = d.min(axis=1), d.min(axis=0)
    inter, na, nb = (a & b).sum(), a.sum(), b.sum()
    return Overlap(
        dice=2 * inter / (na + nb),
        jaccard=inter / (na + nb - inter),
        hd=max(dab.max(), dba.max()),
        hd95=max(np.percentile(dab, 95), np.percentile(dba, 95)),
        assd=(dab.sum() + dba.sum()) / (dab.size + dba.size),
        volume_a=na * np.prod(spacing),
        volume_b=nb * np.prod(spacing_b),
    )


def blob(rng, shape):
    """A few smooth random blobs (about 40% of the voxels)."""
    return ndimage.gaussian_filter(rng.normal(size=shape), 1.5) > 0.03


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 1.2, 2.5), (3.0, 0.5, 1.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(spacing, seed):
    """Every field equals a brute-force point-set computation (scipy cdist) to 1e-9."""
    rng = np.random.default_rng(seed)
    a, b = blob(rng, (14, 12, 10)), blob(rng, (14, 12, 10))
    got, ref = overlap(a, b, spacing=spacing), brute_force(a, b, np.array(spacing))
    for f in FIELDS:
        assert getattr(got, f) == pytest.approx(getattr(ref, f), rel=1e-9), f


def test_surface_is_face_connected_erosion():
    """A 3x3x3 cube: face-connected erosion keeps only the centre, so 26 surface voxels; a mask touching
    the image border has its border voxels on the surface (outside counts as background)."""
    m = np.zeros((5, 5, 5), bool)
    m[1:4, 1:4, 1:4] = True
    assert surface(m).sum() == 26
    assert surface(np.ones((3, 3, 3), bool)).sum() == 26


def test_cropping_is_exact():
    """Padding the image with background changes nothing (computations are cropped internally)."""
    rng = np.random.default_rng(3)
    a, b = blob(rng, (10, 9, 8)), blob(rng, (10, 9, 8))
    a[0] = True  # touches the image border
    pad = ((3, 2), (0, 4), (5, 1))
    assert overlap(a, b) == overlap(np.pad(a, pad), np.pad(b, pad))


def _ball(shape, centre, radius, spacing):
    grid = np.indices(shape).astype(float)
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing, strict=True))
    return d2 <= radius**2


@pytest.mark.parametrize(
    ("spacing", "r_in", "r_out"),
    [((1.0, 1.0, 1.0), 8.0, 12.0), ((1.0, 1.0, 2.0), 9.0, 15.0), ((0.5, 1.0, 1.5), 6.0, 9.0)],
)
def test_concentric_spheres(spacing, r_in, r_out):
    """Concentric balls: HD = HD95 ~ ASSD ~ R_out - R_in within one voxel; Dice ~ 2 V_in / (V_in + V_out)."""
    shape = tuple(int(2 * r_out / s) + 5 for s in spacing)
    centre = tuple((n - 1) / 2 for n in shape)
    a, b = _ball(shape, centre, r_in, spacing), _ball(shape, centre, r_out, spacing)
    o = overlap(a, b, spacing=spacing)
    tol = max(spacing)
    assert o.hd == pytest.approx(r_out - r_in, abs=tol)
    assert o.hd95 == pytest.approx(r_out - r_in, abs=tol)
    assert o.assd == pytest.approx(r_out - r_in, abs=tol)
    assert o.dice == pytest.approx(2 * r_in**3 / (r_in**3 + r_out**3), rel=0.05)
    assert o.volume_b == pytest.approx(4 / 3 * np.pi * r_out**3, rel=0.05)


masks = arrays(bool, (5, 6, 4), elements=st.booleans())


@settings(max_examples=40, deadline=None)
@given(masks, masks)
def test_symmetric(a, b):
    """Dice, Jaccard, HD, HD95 and ASSD do not depend on the order of the masks."""
    ab, ba = overlap(a, b, spacing=(1.0, 2.0, 0.7)), overlap(b, a, spacing=(1.0, 2.0, 0.7))
    for f in ("dice", "jaccard", "hd", "hd95", "assd"):
        assert getattr(ab, f) == pytest.approx(getattr(ba, f), rel=1e-12), f
    assert (ab.volume_a, ab.volume_b) == (ba.volume_b, ba.volume_a)


def test_identical_masks():
    m = _ball((9, 9, 9), (4, 4, 4), 3, (1, 1, 1))
    o = overlap(m, m)
    assert (o.dice, o.jaccard, o.hd, o.hd95, o.assd) == (1.0, 1.0, 0.0, 0.0, 0.0)


def _disks(shift: int) -> np.ndarray:
    """Two 128 x 128 disks of radius 38 px, the second shifted by ``shift`` px along x (review LB2)."""
    yy, xx = np.mgrid[:128, :128]
    return np.stack([((xx - 64 - d) ** 2 + (yy - 64) ** 2) <= 38**2 for d in (0, shift)]).astype(np.uint8)


@pytest.mark.parametrize(
    ("layout", "spacing"),
    [((128, 128, 1), (1.0, 1.0, 2.0)), ((128, 1, 128), (1.0, 2.0, 1.0)), ((1, 128, 128), (2.0, 1.0, 1.0))],
)
def test_a_single_slice_stored_with_an_axis_of_length_1_is_measured_as_its_2d_contour(layout, spacing):
    """A slice stored (X, Y, 1) has the contour distances of (X, Y): HD95 3 mm for a disk shifted by 3 px (hand:
    scipy distance transform of the 2-D contours, and the point-set oracle), not 1 mm as when its every voxel
    was surface; its volume keeps the slice's thickness (2 mm)."""
    maps = _disks(3)
    flat = pairwise_overlap(maps.reshape(2, *layout), spacing=spacing)[1]
    plane = pairwise_overlap(maps, spacing=(1.0, 1.0))[1]
    ref = brute_force(maps[0].astype(bool), maps[1].astype(bool), np.ones(2))
    assert flat.hd95[0] == plane.hd95[0] == ref.hd95 == 3.0
    for f in ("dice", "jaccard", "hd", "assd"):
        assert getattr(flat, f)[0] == pytest.approx(getattr(ref, f), rel=1e-12), f
    assert flat.assd[0] == pytest.approx(1.82051533, rel=1e-8)
    assert flat.volumes.tolist() == [2.0 * 4513, 2.0 * 4513]


def test_maps_on_their_own_voxel_sizes_have_their_own_volumes_and_distances_in_mm():
    """One spacing per map: each volume in its own voxel size, and a pair on two voxel sizes measured between
    its surface points in mm (the point-set oracle); a map written in metres (1000 mm voxels) beside one in mm
    is not identical (review LB4). Pairs on one voxel size keep the one-spacing values."""
    rng = np.random.default_rng(7)
    a = blob(rng, (12, 10, 8))
    maps = np.stack([a, a, a]).astype(np.uint8)
    spacing = [(1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.5, 2.0)]
    res = pairwise_overlap(maps, spacing=spacing)[1]
    n = int(a.sum())
    assert res.volumes.tolist() == [n, n, 3.0 * n]
    ref = brute_force(a, a, np.ones(3), np.array(spacing[2]))
    for p in (1, 2):  # (0, 2) and (1, 2)
        for f in ("hd", "hd95", "assd"):
            assert getattr(res, f)[p] == pytest.approx(getattr(ref, f), rel=1e-12), f
    assert res.hd[1] > 0
    assert (res.dice[0], res.hd[0], res.hd95[0], res.assd[0]) == (1.0, 0.0, 0.0, 0.0)
    metres = pairwise_overlap(maps[:2], spacing=[(1.0, 1.0, 1.0), (1000.0, 1000.0, 1000.0)])[1]
    assert metres.volumes.tolist() == [n, 1e9 * n]
    assert metres.hd95[0] == pytest.approx(brute_force(a, a, np.ones(3), np.full(3, 1000.0)).hd95, rel=1e-12)


def test_a_square_slice_stored_with_an_axis_of_length_1_has_its_hand_counted_contour_distances():
    """By hand: squares of 3 x 3 px at rows 1-3 and 2-4 of a 5 x 5 slice stored (5, 5, 1), 2 mm thick. As 2-D,
    each contour is the 8 px around the centre; 4 of A's are 1 px from B's contour (row 1 and (3, 2)), the
    others on it, and alike for B: HD = HD95 = 1, ASSD = 8 / 16 = 0.5. Measured as 3-D (every voxel surface,
    review LB2) ASSD read 6 / 18 = 1/3 (A's centre lies on B's). Dice 2 x 6 / 18, volumes 9 x 2 mm^3."""
    maps = np.zeros((2, 5, 5, 1), np.uint8)
    maps[0, 1:4, 1:4], maps[1, 2:5, 1:4] = 1, 1
    res = pairwise_overlap(maps, spacing=(1.0, 1.0, 2.0))[1]
    assert (res.hd[0], res.hd95[0], res.assd[0]) == (1.0, 1.0, 0.5)
    assert res.dice[0] == pytest.approx(2 / 3, rel=1e-15) and res.volumes.tolist() == [18.0, 18.0]
    got = overlap(maps[0], maps[1], spacing=(1.0, 1.0, 2.0))
    assert (got.hd95, got.assd) == (1.0, 0.5)
    # every spatial axis of length 1: one voxel, measured as one point (0 apart), its volume of every axis
    one = pairwise_overlap(np.ones((2, 1, 1, 1), np.uint8), spacing=(2.0, 3.0, 4.0))[1]
    assert (one.dice[0], one.hd[0], one.hd95[0], one.assd[0]) == (1.0, 0.0, 0.0, 0.0)
    assert one.volumes.tolist() == [24.0, 24.0]
    lone = pairwise_overlap(np.array([1, 0]).reshape(2, 1, 1, 1), spacing=(2.0, 3.0, 4.0))[1]
    assert (lone.dice[0], lone.hd[0]) == (0.0, np.inf)


def test_two_voxel_sizes_place_each_map_s_voxels_at_their_index_times_its_own_size():
    """By hand: voxels (5, 5, 5) and (6, 5, 5) in both maps, one in 1 mm voxels, the other in 2 mm: A's points
    (5, 5, 5) and (6, 5, 5) mm, B's (10, 10, 10) and (12, 10, 10) mm. A to B: sqrt 75, sqrt 66; B to A: sqrt 66,
    sqrt 86. HD sqrt 86, HD95 the larger directed 95th percentile (linear), ASSD the mean of the four. Placed in
    the bounding box the computation crops to (from voxel 4) instead, B's points were (2, 2, 2) and (4, 2, 2)."""
    maps = np.zeros((2, 9, 9, 9), np.uint8)
    maps[:, 5:7, 5, 5] = 1
    res = pairwise_overlap(maps, spacing=[(1.0, 1.0, 1.0), (2.0, 2.0, 2.0)])[1]
    r66, r75, r86 = np.sqrt([66.0, 75.0, 86.0])
    assert res.dice[0] == 1.0 and res.volumes.tolist() == [2.0, 16.0]
    assert res.hd[0] == pytest.approx(r86, rel=1e-12)
    assert res.hd95[0] == pytest.approx(r66 + 0.95 * (r86 - r66), rel=1e-12)
    assert res.assd[0] == pytest.approx((r75 + 2 * r66 + r86) / 4, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_distances_between_point_sets_equal_the_distance_transform_s_on_one_voxel_size(seed):
    """Two voxel sizes take distances between surface points (cKDTree); one takes them from the distance
    transform. Two sizes 1e-12 apart must give the one-size values (to 1e-9), blobs away from the grid's
    corner so that the crop box starts inside it."""
    rng = np.random.default_rng(seed)
    maps = np.zeros((2, 20, 18, 16), np.uint8)
    maps[0, 3:17, 4:16, 2:12], maps[1, 3:17, 4:16, 2:12] = blob(rng, (14, 12, 10)), blob(rng, (14, 12, 10))
    sp = np.array([0.8, 1.2, 2.5])
    one = pairwise_overlap(maps, spacing=sp)[1]
    two = pairwise_overlap(maps, spacing=[sp, sp * (1 + 1e-12)])[1]
    for f in ("dice", "jaccard", "hd", "hd95", "assd"):
        assert getattr(two, f)[0] == pytest.approx(getattr(one, f)[0], rel=1e-9), f
    assert one.hd[0] > 0


# --- degenerate cases ------------------------------------------------------------------------------------


def test_both_empty():
    """Both empty: Dice = Jaccard = 1, distances 0 (MONAI convention, documented)."""
    z = np.zeros((4, 4, 4), bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert overlap(z, z) == Overlap(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_one_empty():
    """One empty: Dice = Jaccard = 0, distances inf."""
    z, m = np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), bool)
    m[1, 1, 1] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o = overlap(z, m, spacing=(2.0, 1.0, 1.0))
    assert o == Overlap(0.0, 0.0, np.inf, np.inf, np.inf, 0.0, 2.0)


# --- labels and pairs -------------------------------------------------------------------------------------


def test_label_overlap_defaults_to_union():
    a = np.zeros((6, 6, 6), int)
    b = np.zeros((6, 6, 6), int)
    a[:3], b[:3], b[4:] = 1, 1, 3
    res = label_overlap(a, b)
    assert sorted(res) == [1, 3]
    assert res[1].dice == 1.0 and res[3].dice == 0.0 and res[3].hd == np.inf


def test_label_overlap_absent_label():
    a = np.zeros((4, 4, 4), int)
    assert label_overlap(a, a, labels=[5])[5] == Overlap(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_pairwise_equals_overlap():
    """pairwise_overlap holds overlap() of every pair i < j, per label."""
    rng = np.random.default_rng(5)
    maps = np.stack([blob(rng, (10, 9, 8)).astype(int) + 2 * blob(rng, (10, 9, 8)) for _ in range(4)])
    spacing = (1.0, 1.5, 0.9)
    res = pairwise_overlap(maps, spacing=spacing)
    assert sorted(res) == sorted(set(np.unique(maps)) - {0})
    for lab, pw in res.items():
        assert pw.pairs.tolist() == [list(p) for p in itertools.combinations(range(4), 2)]
        for p, (i, j) in enumerate(pw.pairs):
            o = overlap(maps[i] == lab, maps[j] == lab, spacing=spacing)
            for f in ("dice", "jaccard", "hd", "hd95", "assd"):
                assert getattr(pw, f)[p] == pytest.approx(getattr(o, f), rel=1e-12)
            assert (pw.volumes[i], pw.volumes[j]) == (o.volume_a, o.volume_b)


def test_pairwise_with_empty_execution():
    maps = np.zeros((3, 4, 4, 4), int)
    maps[:2, 1:3, 1:3, 1:3] = 1
    pw = pairwise_overlap(maps)[1]
    assert pw.dice.tolist() == [1.0, 0.0, 0.0]
    assert pw.hd.tolist() == [0.0, np.inf, np.inf]


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        (np.zeros((3, 3, 3), bool), np.zeros((3, 3, 4), bool), {}, "`a` and `b` must have the same shape"),
        (np.zeros((3, 3, 3)), np.zeros((3, 3, 3), bool), {}, "`a` must be a boolean mask"),
        (np.zeros((3, 3, 3), bool), np.full((3, 3, 3), 2), {}, "`b` must be a boolean mask"),
        (np.zeros((3, 3), bool), np.zeros((3, 3), bool), {}, "`spacing` must be 2 positive finite"),
        (np.zeros((3, 3, 3), bool), np.zeros((3, 3, 3), bool), {"spacing": (1, 0, 1)}, "`spacing` must be 3"),
        (
            np.zeros((3, 3, 3), bool),
            np.zeros((3, 3, 3), bool),
            {"spacing": 1.0},
            "`spacing` must be a sequence",
        ),
    ],
)
def test_overlap_bad_input(a, b, kwargs, match):
    with pytest.raises(MetricInputError, match=match):
        overlap(a, b, **kwargs)


def test_pairwise_bad_input():
    with pytest.raises(MetricInputError, match="`maps` needs at least 2 label maps"):
        pairwise_overlap(np.zeros((1, 3, 3, 3), int))
    with pytest.raises(MetricInputError, match="`maps` must be an integer label map"):
        pairwise_overlap(np.zeros((2, 3, 3, 3)))
    with pytest.raises(MetricInputError, match=r"`spacing` must be one voxel size, or one per map \(2\), got 3 rows"):
        pairwise_overlap(np.zeros((2, 3, 3, 3), int), spacing=np.ones((3, 3)))
    with pytest.raises(MetricInputError, match="`spacing` must be 3 positive finite numbers"):
        pairwise_overlap(np.zeros((2, 3, 3, 3), int), spacing=[(1, 1, 1), (1, 0, 1)])
    with pytest.raises(MetricInputError, match=r"`spacing` must be 3 positive finite numbers \(mm\), got \(1, 1\)"):
        pairwise_overlap(np.zeros((2, 3, 3, 3), int), spacing=[(1, 1), (1, 1)])
    with pytest.raises(
        MetricInputError,
        match=r"`spacing` must be one voxel size \(3 numbers\), or one per map \(2 rows of 3\), got \[\(1, 1, 1\), \(1, 1\)\]$",
    ):
        pairwise_overlap(np.zeros((2, 3, 3, 3), int), spacing=[(1, 1, 1), (1, 1)])
    with pytest.raises(MetricInputError, match="`labels` must not be empty"):
        pairwise_overlap(np.zeros((2, 3, 3, 3), int), labels=[])
    with pytest.raises(MetricInputError, match="`a` must be an integer label map"):
        label_overlap(np.zeros((3, 3, 3)), np.zeros((3, 3, 3)))


def test_maps_without_a_geometry_get_dice_and_counts_and_no_distance() -> None:
    """Review AR: vertices of a surface or elements of an array have no voxel grid, so no surface distance:
    Dice and Jaccard by hand (label 1: 40 vs 38 elements sharing 38; label 2: 30 vs 32 sharing 30), HD, HD95 and
    ASSD NaN rather than distances along the array's index."""
    a = np.array([1] * 40 + [2] * 30 + [3] * 30)
    b = a.copy()
    b[38:40] = 2
    res = pairwise_overlap(np.stack([a, b]), spacing=(1.0,), distances=False)
    assert res[1].dice.tolist() == [2 * 38 / 78] and res[1].jaccard.tolist() == [38 / 40]
    assert res[2].dice.tolist() == [2 * 30 / 62] and res[3].dice.tolist() == [1.0]
    assert res[1].volumes.tolist() == [40.0, 38.0] and res[2].volumes.tolist() == [30.0, 32.0]
    assert all(np.isnan(getattr(res[lab], f)).all() for lab in (1, 2, 3) for f in ("hd", "hd95", "assd"))
    with pytest.raises(MetricInputError, match=r"`distances` must be True or False, got 'no'"):
        pairwise_overlap(np.stack([a, b]), distances="no")
