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


def brute_force(a, b, spacing):
    """Independent oracle: surface = mask minus its 6-connected interior (explicit neighbour test, outside
    = background), then all pairwise Euclidean distances between surface voxel centres in mm."""

    def surf(m):
        padded = np.pad(m, 1)
        interior = padded.copy()
        for ax in range(m.ndim):
            interior &= np.roll(padded, 1, ax) & np.roll(padded, -1, ax)
        return (padded & ~interior)[tuple(slice(1, -1) for _ in range(m.ndim))]

    pa, pb = np.argwhere(surf(a)) * spacing, np.argwhere(surf(b)) * spacing
    d = cdist(pa, pb)
    dab, dba = d.min(axis=1), d.min(axis=0)
    inter, na, nb = (a & b).sum(), a.sum(), b.sum()
    vox = np.prod(spacing)
    return Overlap(
        dice=2 * inter / (na + nb),
        jaccard=inter / (na + nb - inter),
        hd=max(dab.max(), dba.max()),
        hd95=max(np.percentile(dab, 95), np.percentile(dba, 95)),
        assd=(dab.sum() + dba.sum()) / (dab.size + dba.size),
        volume_a=na * vox,
        volume_b=nb * vox,
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
    with pytest.raises(MetricInputError, match="`labels` must not be empty"):
        pairwise_overlap(np.zeros((2, 3, 3, 3), int), labels=[])
    with pytest.raises(MetricInputError, match="`a` must be an integer label map"):
        label_overlap(np.zeros((3, 3, 3)), np.zeros((3, 3, 3)))
