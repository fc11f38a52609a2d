"""The envelope test of a version factor: the baseline's run-to-run spread within one condition, and the
Bonferroni correction over the tests that can reject (a review's false passes)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from reprovip.analyze.envelope import envelope

VERSIONS = ("version=1.0", "version=2.0")


def _values(rng: np.random.Generator, *, shift: float, noise: tuple[float, float], threads_effect: float = 0.0):
    """(1 obs, 6 subjects, 2 versions, 2 threads, k=4): subjects 10 apart, threads=2 adds ``threads_effect`` in
    both versions, version 2.0 adds ``shift``; run-to-run SD ``noise`` per version."""
    n, k = 6, 4
    x = 10.0 * np.arange(n)[:, None, None, None] + np.zeros((n, 2, 2, k))
    x[:, :, 1] += threads_effect
    x[:, 1] += shift
    for v, sd in enumerate(noise):
        x[:, v] += rng.normal(0, sd, size=(n, 2, k))
    return x[None]


def test_a_factor_effect_does_not_widen_the_envelope() -> None:
    """threads=2 adds 30 in both versions; version 2.0 adds 10, 100 run-to-run SDs: pooled over conditions the
    spread was ~15 and |z| 0.8 (inside); within a condition it is 0.1."""
    rng = np.random.default_rng(0)
    env = envelope(_values(rng, shift=10.0, noise=(0.1, 0.1), threads_effect=30.0), ["v"], 0, VERSIONS)
    assert not env["within_envelope"] and env["outside"] == ["v"]
    assert env["observations"]["v"]["within_sd"] == pytest.approx(0.1, rel=0.3)
    assert env["max_abs_z"] > 100


def test_a_noisier_version_does_not_widen_its_own_envelope() -> None:
    """Version 2.0 with 10 times the baseline's noise and no shift: its means move by ~1/sqrt(k) = 0.5 new SDs, 5
    baseline SDs, |z| ~7: outside (pooled with the new version's own noise, it read inside)."""
    rng = np.random.default_rng(1)
    env = envelope(_values(rng, shift=0.0, noise=(0.1, 1.0)), ["v"], 0, VERSIONS)
    assert not env["within_envelope"]


def test_a_noisier_version_whose_means_stay_put_leaves_the_envelope() -> None:
    """Review M1: a new version 10 times (and, with Gaussian noise, 3 times) noisier run to run, every subject's
    mean over its repetitions unchanged: "within the envelope (max |z| 0)", exit 0. Its run-to-run variance, 4
    times the baseline's or more and significantly larger (one-sided F test), is outside; twice as noisy, or the
    same noise with heavy tails, stays inside. F on (24, 24) df against scipy's F distribution."""
    n, k = 6, 5
    base = 10.0 * np.arange(n)[:, None, None, None] + np.zeros((n, 2, 1, k))
    unit = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) / np.sqrt(2.5)  # mean 0, SD 1: the means never move
    for ratio, outside in ((10.0, True), (3.0, True), (1.5, False)):
        x = base + np.array([0.1, 0.1 * ratio])[None, :, None, None] * unit
        env = envelope(x[None], ["v"], 0, VERSIONS)
        assert env["max_abs_z"] < 1e-9 and env["within_envelope"] is not outside, ratio
        assert env["observations"]["v"]["noise_ratio"] == pytest.approx(ratio, rel=1e-9)
        assert stats.f.sf(ratio**2, n * (k - 1), n * (k - 1)) < 0.001 if outside else True
    x = base + np.array([0.1, 0.3])[None, :, None, None] * unit
    env = envelope(x[None], ["v"], 0, VERSIONS)
    assert "version=2.0 varies run to run 3 times as much as the baseline (within-subject SD" in env["detail"]
    rng = np.random.default_rng(3)
    by_noise = 0  # the same heavy-tailed noise in both versions: outside by the variances alone (0.6% in 1000)
    for _ in range(200):
        env = envelope((base + rng.standard_t(3, size=(n, 2, 1, k)))[None], ["v"], 0, VERSIONS)
        by_noise += not env["within_envelope"] and env["max_abs_z"] <= env["z_critical"]
    assert by_noise <= 4


def test_the_same_noise_stays_inside() -> None:
    rng = np.random.default_rng(2)
    env = envelope(_values(rng, shift=0.0, noise=(0.1, 0.1), threads_effect=30.0), ["v"], 0, VERSIONS)
    assert env["within_envelope"] and env["max_abs_z"] < env["z_critical"]


def test_identical_rows_do_not_dilute_the_correction() -> None:
    """The critical value counts only tests that can reject (Tarone): 300 rows identical everywhere (no noise,
    no change) left it at 3.70 for 1 x (6 + 1) x 1 x 2 tests, not 4.5."""
    rng = np.random.default_rng(3)
    noisy = _values(rng, shift=0.0, noise=(0.1, 0.1))
    flat = np.repeat(np.full_like(noisy, 5.0), 300, axis=0)
    alone = envelope(noisy, ["v"], 0, VERSIONS)
    padded = envelope(np.concatenate([noisy, flat]), ["v", *(f"c{i}" for i in range(300))], 0, VERSIONS)
    # (6 subjects + their mean) x 1 compared version x 2 conditions; Student's t on the 6 x (4 - 1) degrees of
    # freedom of one condition's spread
    expected = stats.t.isf(0.01 / (2 * 7 * 2), 18)
    assert alone["z_critical"] == pytest.approx(expected, rel=1e-12) == padded["z_critical"]


def test_the_worst_change_is_named() -> None:
    """A failed envelope named nothing: now the observation, subject, version and condition."""
    rng = np.random.default_rng(4)
    x = _values(rng, shift=0.0, noise=(0.1, 0.1))
    x[0, 3, 1, 1] += 5.0  # subject s3, version 2.0, threads=2 only
    env = envelope(x, ["v"], 0, VERSIONS, subjects=[f"s{i}" for i in range(6)], conditions=["threads=1", "threads=2"])
    assert env["worst"] == {"subject": "s3", "level": "version=2.0", "condition": "threads=2"}
    assert re.fullmatch(
        r"largest change on v, subject s3, version=2\.0, threads=2: \+(4\.9|5\.0)\d* \([\d.]+ run-to-run SDs; "
        r"\|z\| [\d.]+ outside the critical 4\.07\)",
        env["detail"],
    )


def test_a_baseline_without_repetitions_is_skipped() -> None:
    """k = 1: there is no run-to-run spread to compare with (before, the other factors' levels served as one)."""
    x = np.arange(24, dtype=float).reshape(1, 3, 2, 4, 1)
    assert envelope(x, ["v"], 0, VERSIONS) == {"skipped": envelope.__globals__["_NEEDS"]}


@pytest.mark.parametrize("k", [2, 5])
def test_two_runs_with_the_same_noise_stay_inside_at_the_nominal_rate(k: int) -> None:
    """The same code twice (same noise): with k = 2 a normal critical value failed 5 runs of 5 (a review: the
    spread rests on a few degrees of freedom). Over 200 such pairs, the family-wise rate is about alpha (0.01):
    at most 6 outside (P < 1e-3 under the nominal rate)."""
    rng = np.random.default_rng(10 + k)
    outside = 0
    for _ in range(200):
        x = 10.0 * np.arange(5)[None, :, None, None] + rng.normal(0, 1.0, size=(1, 5, 2, k))
        outside += not envelope(x, ["v"], 0, VERSIONS)["within_envelope"]
    assert outside <= 6


def _shifted(rng: np.random.Generator, sds: np.ndarray, shifts: np.ndarray, k: int = 3) -> np.ndarray:
    """(1 obs, n subjects, 2 versions, k): subjects 10 apart, run-to-run SD ``sds`` per subject, version 2 adds
    ``shifts`` per subject."""
    n = len(sds)
    x = 10.0 * np.arange(n)[:, None, None] + rng.normal(0, 1, (n, 2, k)) * sds[:, None, None]
    x[:, 1] += shifts[:, None]
    return x[None]


@pytest.mark.parametrize(
    ("case", "sds", "shifts"),
    [
        # one noisy subject widens the pooled SD: 9 subjects moved by 300 of their own SDs read |z| 3.4 < 3.8
        ("noisy subject", np.r_[np.full(9, 0.001), 1.0], np.r_[np.full(9, 0.3), 0.0]),
        # every subject moved by 2 run-to-run SDs: no single cell leaves its envelope (a paired t-test: p ~ 1e-14)
        ("all shifted", np.full(20, 1.0), np.full(20, 2.0)),
    ],
)
def test_a_shift_of_most_subjects_leaves_the_envelope_by_its_mean(case: str, sds, shifts) -> None:
    """The review's false passes of `compare` ("within_envelope: yes"): the mean change over subjects is tested
    too, against the same pooled spread over sqrt(n)."""
    env = envelope(_shifted(np.random.default_rng(7), sds, shifts), ["v"], 0, VERSIONS)
    observation = env["observations"]["v"]
    assert not env["within_envelope"], case
    assert observation["mean_abs_z"] > env["z_critical"]
    n = len(sds)
    assert env["worst"]["subject"] == f"the mean over {n} subjects"
    assert env["detail"].startswith(f"largest change on v, the mean over {n} subjects, version=2.0: +")
    # The same noise without a shift stays inside.
    assert envelope(_shifted(np.random.default_rng(7), sds, 0 * shifts), ["v"], 0, VERSIONS)["within_envelope"]


def _deterministic_threads1(rng: np.random.Generator) -> np.ndarray:
    """(1 obs, 8 subjects, 2 versions, 2 threads, k=3): threads=1 bit-identical over repetitions, threads=2 with
    run-to-run SD 50 (the review's D/02 case), both versions alike."""
    x = 300.0 * np.arange(8)[:, None, None, None] + np.zeros((8, 2, 2, 3))
    x[:, :, 1] += rng.normal(0, 50, size=(8, 2, 3))
    return x[None]


def test_a_noisy_condition_does_not_hide_a_change_of_a_deterministic_one() -> None:
    """Every subject's threads=1 result moved by +25 (deterministically): against threads=2's SD of 50 pooled in,
    it read "within the envelope" (max |z| 3.3 < 4.1). threads=1 has no run-to-run noise: any change is outside."""
    x = _deterministic_threads1(np.random.default_rng(5))
    x[0, :, 1, 0] += 25.0
    conditions = ["threads=1", "threads=2"]
    env = envelope(x, ["gm"], 0, VERSIONS, subjects=[f"s{i}" for i in range(8)], conditions=conditions)
    assert not env["within_envelope"] and env["outside"] == ["gm"]
    assert env["max_abs_z"] == "Infinity" or env["max_abs_z"] == float("inf")
    assert env["worst"] == {"subject": "s0", "level": "version=2.0", "condition": "threads=1"}
    assert env["observations"]["gm"]["within_sd"] == 0.0
    assert "+25 (with no run-to-run noise in the baseline" in env["detail"]


def test_noise_added_where_the_baseline_is_deterministic_is_outside() -> None:
    """The new version adds run-to-run noise at threads=1 (bit-identical in the baseline) for 2 subjects, with a
    mean change of exactly 0 (-0.5, 0, +0.5): it read "within the envelope". A repetition that departs from the
    baseline's value is a change."""
    x = _deterministic_threads1(np.random.default_rng(6))
    x[0, [2, 5], 1, 0] += np.array([-0.5, 0.0, 0.5])
    env = envelope(x, ["gm"], 0, VERSIONS, subjects=[f"s{i}" for i in range(8)], conditions=["t1", "t2"])
    assert not env["within_envelope"]
    assert env["worst"] == {"subject": "s2", "level": "version=2.0", "condition": "t1"}
    assert "subject s2, version=2.0, t1: -0.5 (with no run-to-run noise in the baseline; |z| inf" in env["detail"]


def test_each_condition_is_judged_against_its_own_spread() -> None:
    """z of a noisy condition uses that condition's pooled SD alone: threads=2's spread (numpy's ddof=1 variance
    of each subject's 3 repetitions, averaged over the 8 subjects), and the critical value Student's t on
    8 x (3 - 1) degrees of freedom over (8 + 1) x 1 x 1 tests (threads=1, identical and unchanged, cannot reject)."""
    x = _deterministic_threads1(np.random.default_rng(7))
    x[0, 3, 1, 1] += 60.0  # subject 3, version 2.0, threads=2
    env = envelope(x, ["gm"], 0, VERSIONS)
    s_c = np.sqrt(np.var(x[0, :, 0, 1], axis=-1, ddof=1).mean())
    expected = abs(x[0, 3, 1, 1].mean() - x[0, 3, 0, 1].mean()) / (s_c * np.sqrt(2 / 3))
    assert env["max_abs_z"] == pytest.approx(expected, rel=1e-12)
    assert env["observations"]["gm"]["within_sd"] == pytest.approx(s_c, rel=1e-12)
    assert env["z_critical"] == pytest.approx(stats.t.isf(0.01 / (2 * 9), 16), rel=1e-12)


def _voxel_stats(x: np.ndarray) -> tuple:
    """The streaming statistics of ``x``, ``(n, voxels, versions, *other levels, k)``, version axis first."""
    from reprovip.metrics import FactorialAccumulator

    levels = x.shape[2:-1]
    acc = FactorialAccumulator(
        (x.shape[1],), levels, x.shape[-1], [f"f{i}" for i in range(len(levels))], envelope_axis=0
    )
    for block in x:
        acc.add(block)
    return acc.envelope_stats()


def _quantised_envelope(x: np.ndarray, shape: tuple[int, ...], magnitude: np.ndarray | None = None) -> tuple:
    """The voxel envelope of ``x`` (``(subjects, voxels, versions, k)``, voxels of ``shape`` in F order), with the
    isolated chance agreement the analysis feeds it (:func:`~reprovip.analyze.envelope.isolated_voxels`)."""
    from reprovip.analyze.envelope import isolated_voxels, voxel_envelope
    from reprovip.metrics import FactorialAccumulator

    n, k = x.shape[1], x.shape[-1]
    acc = FactorialAccumulator((n,), (x.shape[2],), k, ["version"], envelope_axis=0)
    for block in x:
        acc.add(block)
    diff, variance, tests, shift = acc.envelope_stats()
    sign, varies = acc.envelope_shift_sign(), acc.envelope_new_varies()
    return voxel_envelope(
        diff,
        variance,
        tests,
        k,
        x.shape[0] * (k - 1),
        ("1.0", "2.0"),
        mean_shift=shift,
        n_subjects=x.shape[0],
        signal=acc.envelope_signal(),
        new_varies=varies,
        magnitude=magnitude,
        shift_sign=sign,
        isolated=isolated_voxels((variance == 0) & (diff != 0), np.arange(n), shape, sign, varies),
    )


@pytest.mark.parametrize(
    ("change", "inside"), [("none", True), ("bias", False), ("local", False), ("exact region", False)]
)
def test_an_integer_image_agreeing_by_chance_is_rounding_noise(change: str, inside: bool) -> None:
    """Review CT: an int16 denoiser (noise SD ~0.45 HU, rounded) compared with itself failed at 57,000 voxels: where
    both baseline repetitions round alike, and the new version's alike at the next integer, "any change" was
    outside. Such changes, up to what two roundings differ by chance, are spared where that agreement is scattered;
    not a version adding 1 HU everywhere (a sign test), nor a 6 HU change of a region, nor +1 HU on a region the
    baseline computes exactly (review R5)."""

    rng = np.random.default_rng(3)
    truth = rng.uniform(-100, 100, size=(5, 2000, 1, 1)) + rng.normal(0, 20, size=(5, 1, 1, 1))
    x = np.round(truth + rng.normal(0, 0.45, size=(5, 2000, 2, 2)))
    if change == "bias":
        x[:, :, 1] += 1.0
    elif change == "local":
        x[:, :40, 1] += 6.0
    elif change == "exact region":  # computed exactly in both versions, +1 in the new one
        x[:, 100:164, 0] = np.round(truth[:, 100:164, 0])
        x[:, 100:164, 1] = np.round(truth[:, 100:164, 0]) + 1
    _, env = _quantised_envelope(x, (2000, 1, 1))
    assert env["within_envelope"] is inside, env["detail"]


def test_images_with_the_version_alone_keep_the_pooled_test_bit_for_bit() -> None:
    """With no factor but the version there is one condition: the map, |z|, the critical value, the worst voxel
    and the sentence are those of the test as it was before conditions were judged apart (its formulas on the
    voxels' 1-D statistics, written out here), bit for bit; the critical value is Student's t (scipy) on
    n (k - 1) = 12 degrees of freedom over the noisy voxels x (n + 1) tests."""
    from reprovip.analyze.envelope import voxel_envelope, z_critical, z_scores
    from reprovip.analyze.stats import num

    rng = np.random.default_rng(11)
    x = 50 + rng.normal(0, 0.1, size=(4, 40, 2, 4)) + rng.normal(0, 5, size=(4, 40, 1, 1))
    x[:, :10] = x[:, :10, :1, :1]  # deterministic and unchanged
    x[:, 20:23, 1] += 0.4  # 3 voxels moved by 4 run-to-run SDs
    diff, variance, tests, shift = _voxel_stats(x)
    assert diff.shape == (1, 40) and tests == 5
    out, env = voxel_envelope(diff, variance, tests, 4, 12, ("1.0", "2.0"), mean_shift=shift, n_subjects=4)
    d, var, s = diff[0], variance[0], shift[0]
    z = np.maximum(z_scores(d, np.sqrt(var * (2.0 / 4))), z_scores(s, np.sqrt(var * (2.0 / 16))))
    crit = z_critical(int(np.count_nonzero(var > 0)) * tests, 12)
    assert crit == pytest.approx(stats.t.isf(0.01 / (2 * 30 * 5), 12), rel=1e-12)
    np.testing.assert_array_equal(out, z > crit)
    assert out[20:23].all() and out.sum() == env["outside_voxels"] == 3
    w = int(np.argmax(z))
    assert (env["z_critical"], env["max_abs_z"], env["worst_index"], env["worst_condition"]) == (crit, num(z[w]), w, 0)
    assert env["detail"] == (
        f"3 of 40 voxel(s) outside the baseline's run-to-run envelope; the largest change of a condition's mean, "
        f"{d[w]:.6g} ({d[w] / np.sqrt(var[w]):.3g} run-to-run SDs; |z| {z[w]:.3g}, critical {crit:.3g}), at voxel "
    )


def test_a_voxel_test_says_the_smallest_change_it_can_see() -> None:
    """Review C: 294 voxels moved by 2.5 run-to-run SDs in every subject (4 subjects x 3 repetitions) read
    "within the envelope": per voxel, a change of every subject's value is seen from z_crit x sqrt(2 / (k n))
    SDs on, 6.5 there. The envelope says it, and `check` warns when that is over 3 SDs (4.2 here, 300 voxels,
    for a 1.5-SD change unseen); 20 subjects x 5 repetitions see it (from 0.73 SDs), without a warning."""
    from reprovip.analyze.envelope import voxel_envelope, z_critical
    from reprovip.criteria.builtin import builtin_reasons

    for n, k, warned in ((4, 3, True), (20, 5, False)):
        rng = np.random.default_rng(n)
        x = 50 + rng.normal(0, 2, size=(n, 300, 2, k)) + rng.normal(0, 5, size=(n, 300, 1, 1))
        x[:, :30, 1] += 3.0  # 1.5 SDs in every subject
        diff, variance, tests, shift = _voxel_stats(x)
        _, env = voxel_envelope(diff, variance, tests, k, n * (k - 1), VERSIONS, mean_shift=shift, n_subjects=n)
        crit = z_critical(300 * tests, n * (k - 1))
        assert env["detectable_sds"] == pytest.approx(crit * np.sqrt(2 / (k * n)), rel=1e-12)
        assert env["detectable_change"] == pytest.approx(env["detectable_sds"] * np.sqrt(np.median(variance)))
        reasons = builtin_reasons(dict(kind="image", envelope=env))
        assert env["within_envelope"] is warned
        assert [r["criterion"] for r in reasons] == (["envelope sensitivity"] if warned else [])
    assert reasons == [] and env["outside_voxels"] == 30  # 20 x 5: the 1.5-SD change is seen


def test_an_observation_test_says_the_smallest_change_it_can_see() -> None:
    """Review VC: a 3-SD shift of every subject (4 subjects x 3 repetitions) passed, |z| 6.22 inside 6.23, and
    nothing said what a table's test sees (images said it). The detail says it, and `check` warns over 3 SDs."""
    from reprovip.analyze.envelope import z_critical
    from reprovip.criteria.builtin import builtin_reasons

    for n, k, warned in ((3, 2, True), (4, 3, False)):
        rng = np.random.default_rng(n)
        x = 50 + rng.normal(0, 1, size=(2, n, 2, k)) + rng.normal(0, 5, size=(2, n, 1, 1))
        env = envelope(x, ["a", "b"], 0, VERSIONS)
        sds = z_critical(2 * (n + 1), n * (k - 1)) * np.sqrt(2 / (k * n))
        assert env["within_envelope"] and env["detectable_sds"] == pytest.approx(sds, rel=1e-12)
        assert env["detail"].endswith(f"; a change of every subject below {sds:.3g} run-to-run SDs passes unseen")
        reasons = [r for r in builtin_reasons(dict(kind="table", envelope=env)) if r["criterion"].startswith("env")]
        assert [r["criterion"] for r in reasons] == (["envelope sensitivity"] if warned else [])
        if warned:
            assert reasons[0]["message"].startswith("every observation is within the baseline's run-to-run envelope")
    x[0, :, 1] += 10.0  # far outside: no sentence on what passes unseen
    assert "unseen" not in envelope(x, ["a", "b"], 0, VERSIONS)["detail"]


def test_a_noisy_condition_does_not_hide_a_voxel_change_of_a_deterministic_one() -> None:
    """The review's case on images: threads=1 bit-identical in the baseline, threads=2 with run-to-run SD 50;
    the new version moves every subject's threads=1 value by +25 at voxel 3. Pooled over the conditions, the
    spread there was ~35 and |z| ~0.9: "within the envelope". Judged alone, threads=1 has no noise: voxel 3 is
    outside (|z| inf) and named with its condition; the critical value counts the 8 (condition, voxel) pairs
    with noise (threads=2) x (8 subjects + their mean), Student's t (scipy) on 8 x (3 - 1) degrees of freedom."""
    from reprovip.analyze.envelope import voxel_envelope

    rng = np.random.default_rng(5)
    x = 300.0 * np.arange(8)[:, None, None, None, None] + np.zeros((8, 8, 2, 2, 3))  # (n, voxel, version, threads, k)
    x[..., 1, :] += rng.normal(0, 50, size=(8, 8, 2, 3))
    x[:, 3, 1, 0] += 25.0
    diff, variance, tests, shift = _voxel_stats(x)
    out, env = voxel_envelope(diff, variance, tests, 3, 16, VERSIONS, mean_shift=shift, n_subjects=8)
    assert out.tolist() == [False, False, False, True, False, False, False, False]
    assert not env["within_envelope"] and env["max_abs_z"] == "Infinity"
    assert (env["worst_index"], env["worst_condition"]) == (3, 0)
    assert env["z_critical"] == pytest.approx(stats.t.isf(0.01 / (2 * 8 * 9), 16), rel=1e-12)
    assert env["detail"].startswith(
        "1 of 8 voxel(s) outside the baseline's run-to-run envelope; the largest change of a repetition, 25 "
        "(with no run-to-run noise in the baseline; |z| inf, critical "
    )


def test_images_judge_each_condition_as_the_scalar_test_does() -> None:
    """The oracle is :func:`envelope` applied to each voxel's values (tested above): 3 conditions with run-to-run
    SDs 0.1, 1 and 10, 3 versions, the last moving condition 0 by +0.5 at voxels 0-4 and condition 2 by +30 at
    voxels 5-9. The image's critical value, largest |z| and voxels outside are the scalar test's; its worst voxel
    and condition are where the scalar test's largest |z| is."""
    from reprovip.analyze.envelope import voxel_envelope

    rng = np.random.default_rng(8)
    sds = np.array([0.1, 1.0, 10.0])[:, None]
    x = 100 * rng.random(size=(6, 30, 1, 1, 1)) + rng.normal(size=(6, 30, 3, 3, 4)) * sds  # version, condition, k
    x[:, :5, 2, 0] += 0.5
    x[:, 5:10, 2, 2] += 30.0
    levels = ("version=1", "version=2", "version=3")
    diff, variance, tests, shift = _voxel_stats(x)
    out, env = voxel_envelope(diff, variance, tests, 4, 6 * 3, levels, mean_shift=shift, n_subjects=6)
    scalar = envelope(np.moveaxis(x, 1, 0), [str(i) for i in range(30)], 0, levels)
    assert env["z_critical"] == pytest.approx(scalar["z_critical"], rel=1e-12)
    assert float(env["max_abs_z"]) == pytest.approx(float(scalar["max_abs_z"]), rel=1e-9)
    assert [str(i) for i in np.flatnonzero(out)] == scalar["outside"] == [str(i) for i in range(10)]
    assert (str(env["worst_index"]), env["worst_condition"]) == (scalar["worst_observation"], 0)


def test_the_largest_change_is_named_when_every_z_is_infinite() -> None:
    """Review QQ: a deterministic baseline (no run-to-run noise) and a version changing a map by up to 150.8:
    every changed voxel's |z| is infinite, and the console named voxel 0's change of 0.0006."""
    from reprovip.analyze.envelope import voxel_envelope

    diff = np.array([[0.000615, 0.0, 150.8, -3.0]])
    out, env = voxel_envelope(diff, np.zeros((1, 4)), 7, 3, 4, ("1.0", "2.0"), mean_shift=diff, n_subjects=4)
    assert out.tolist() == [True, False, True, True] and env["max_abs_z"] == "Infinity"
    assert env["worst_index"] == 2 and "the largest change of a repetition, 150.8 (" in env["detail"]


def _printed(rng: np.random.Generator) -> np.ndarray:
    """(2 obs, 4 subjects, 2 versions, k=3) written with 6 decimals: `rot_x` carries 1e-7 noise (its last digit
    flips between runs), `rot_y` rounds alike in every baseline repetition."""
    x = np.zeros((2, 4, 2, 3))
    x[0] = 0.1 * np.arange(1, 5)[:, None, None] + 0.0000004 + rng.normal(0, 1e-7, (4, 2, 3))
    x[1] = 0.05 * np.arange(1, 5)[:, None, None] + 0.0000002
    return np.round(x, 6)


@pytest.mark.parametrize(("flip", "inside"), [(1e-6, True), (3e-6, False)])
def test_a_flip_of_the_last_printed_digit_is_rounding_where_the_output_is_noisy(flip: float, inside: bool) -> None:
    """Review FM: confounds written with 6 decimals, 1e-7 run-to-run noise; one cell rounded alike in every
    baseline repetition and flipped by 1e-06 in one repetition of the same code: |z| inf, "not reproducible" in
    4 trials of 4. A one-step change of such a cell, in an output that varies from run to run, is rounding;
    three steps are not."""
    x = _printed(np.random.default_rng(9))
    x[1, 2, 1, 0] = np.round(x[1, 2, 1, 0] + flip, 6)
    env = envelope(x, ["rot_x", "rot_y"], 0, VERSIONS)
    assert env["within_envelope"] is inside
    assert env["observations"]["rot_y"]["max_diff"] == pytest.approx(flip)


@pytest.mark.parametrize(("change", "inside"), [(0, True), (1, False), (-1, False)])
def test_a_count_moved_by_one_is_a_change_not_rounding(change: int, inside: bool) -> None:
    """Review AR: a lesion count identical in every baseline run, beside a volume that varies from run to run, went
    3 -> 4 in one subject of a new version: spared as one step of the written resolution, |z| 0, "within the
    envelope", exit 0. Whole numbers are counts, not rounded decimals."""
    rng = np.random.default_rng(5)
    x = np.zeros((2, 4, 2, 3))
    x[0] = 1000.0 * np.arange(1, 5)[:, None, None] + rng.normal(0, 0.5, (4, 2, 3))  # a volume, noisy
    x[1] = np.array([3.0, 5.0, 2.0, 7.0])[:, None, None]  # a count, the same in every run
    x[1, 1, 1] += change  # the new version, every repetition of one subject
    env = envelope(x, ["vol", "n_lesions"], 0, VERSIONS)
    assert env["within_envelope"] is inside and env["observations"]["n_lesions"]["outside"] is not inside
    assert env["observations"]["n_lesions"]["max_diff"] == abs(change)


@pytest.mark.parametrize(("moved", "inside"), [(1, True), (3, True), (4, False)])
def test_every_subject_moved_one_printed_step_the_same_way_is_a_change(moved: int, inside: bool) -> None:
    """Review VC: a release adding 0.1 mm to a thickness written with one decimal, in every subject and every
    repetition, read "within the envelope" (one step of the written resolution is rounding). Three subjects of
    four flipped one way may be rounding; all four moved alike are not."""
    x = _printed(np.random.default_rng(9))
    x[1, :moved, 1] = np.round(x[1, :moved, 1] + 1e-6, 6)
    env = envelope(x, ["rot_x", "rot_y"], 0, VERSIONS)
    assert env["within_envelope"] is inside
    assert env["observations"]["rot_y"]["outside"] is not inside


@pytest.mark.parametrize(("signs", "inside"), [((1, 1), False), ((1, -1), True)])
def test_one_step_moves_that_go_one_way_are_a_change(signs: tuple[int, int], inside: bool) -> None:
    """Review R4: a release adding 0.06 mm to thicknesses written with one decimal moved 17 subject-values of 30 up
    one step and none down: each a step, not every subject, "within the envelope". One-step moves of a level and
    condition that go one way beyond chance (a sign test) are a change; as many up as down are rounding."""
    rng = np.random.default_rng(4)
    x = np.zeros((4, 10, 2, 3))
    x[0] = np.round(rng.uniform(1, 2, (10, 1, 1)) + rng.normal(0, 1e-3, (10, 2, 3)), 4)  # a noisy observation
    x[1:] = np.round(rng.uniform(2, 3, (3, 10, 1, 1)) + np.zeros((3, 10, 2, 3)), 1)  # rounding alike
    for o in (1, 2, 3):  # 6 of 10 subjects moved one step in each observation: 18 moves
        x[o, :3, 1] += signs[0] * 0.1
        x[o, 3:6, 1] += signs[1] * 0.1
    env = envelope(np.round(x, 4), ["area", "a", "b", "c"], 0, VERSIONS)
    assert env["within_envelope"] is inside


@pytest.mark.parametrize(("step", "inside"), [(1, True), (4, True), (1000, False)])
def test_a_deterministic_result_moved_by_a_few_ulps_is_inside(step: int, inside: bool) -> None:
    """Review QC: a new version (another NumPy summation order) moved deterministic IQMs by 1 ulp and `compare`
    failed "with no run-to-run noise in the baseline". Up to 4 ulps of the value is float64's dust; 1000 ulps
    (2e-13 relative) still is a change of a deterministic result."""
    rng = np.random.default_rng(6)
    x = np.repeat(rng.uniform(1, 100, (2, 5, 1, 1)), 2, axis=2).repeat(3, axis=3)  # no run-to-run noise
    x[:, :, 1] = x[:, :, 1] + step * np.spacing(x[:, :, 1])
    env = envelope(x, ["cjv", "snr"], 0, VERSIONS)
    assert env["within_envelope"] is inside


def test_a_flip_of_the_last_printed_digit_of_a_deterministic_output_is_a_change() -> None:
    """The same flip where no observation of the output varies between runs: a deterministic tool whose new
    version changes a printed digit changed its result."""
    x = _printed(np.random.default_rng(9))
    x[0] = x[0, :, :, :1]  # rot_x deterministic too
    x[1, 2, 1, 0] = np.round(x[1, 2, 1, 0] + 1e-6, 6)
    env = envelope(x, ["rot_x", "rot_y"], 0, VERSIONS)
    assert not env["within_envelope"] and env["outside"] == ["rot_y"]


def test_the_voxel_named_is_the_worst_against_its_own_critical_value() -> None:
    """Review VV: the detail named a voxel whose |z| of 880 was inside its critical 1.06e+04 (two subjects' spread,
    2 degrees of freedom) as the reason, while other voxels were outside theirs. The voxel named is the one
    farthest beyond its own critical value; `max_abs_z` stays the largest |z|."""
    from reprovip.analyze.envelope import voxel_envelope

    # k = 2: |z| = diff / sd; voxel 0's spread rests on 2 subjects (2 degrees of freedom), voxel 1's on 6
    diff, variance = np.array([[30.0, 20.0]]), np.ones((1, 2))
    out, env = voxel_envelope(
        diff, variance, 7, 2, 12, VERSIONS, mean_shift=np.zeros((1, 2)), n_subjects=6, signal=np.array([[2, 6]])
    )
    assert out.tolist() == [False, True] and env["worst_index"] == 1  # 30 inside its critical, 20 outside its own
    assert float(env["max_abs_z"]) == pytest.approx(30.0)
    assert "|z| 20, critical" in env["detail"]


@pytest.mark.parametrize(
    ("nan_in", "outside"),
    [("v2", True), ("v1", True), ("both", False)],
    ids=["new-version-nan", "baseline-nan", "nan-in-both"],
)
def test_a_version_changing_whether_a_value_is_a_number_leaves_the_envelope(
    tmp_path: Path, nan_in: str, outside: bool
) -> None:
    """Review PH: version v2 wrote `NaN` for one subject's field: "finite in every execution" failed while
    "within_envelope: yes" passed beside it (the NaN subject was left out of the test). A version that changes
    whether a subject's value is a number, every baseline execution alike, is outside; a subject NaN in every
    execution of both versions is no change."""
    import json

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(1)
    folders = {}
    for s in range(4):
        for v in ("v1", "v2"):
            for r in (1, 2, 3):
                value = 800 + 50 * s + rng.normal(0, 1)
                if s == 2 and nan_in in (v, "both"):
                    value = float("nan")
                folders[f"{v}/sub-{s}/run-{r}"] = {"fit.json": json.dumps({"t2s": value, "r2": 0.9 + 0.01 * s})}
    study = ingested_folders(
        tmp_path, "  fit: {path: fit.json, kind: scalars}\n", folders, "{version}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    env = out["envelope"]
    assert env["within_envelope"] is not outside
    if outside:
        first, other = ("finite", "v2") if nan_in == "v2" else ("non-finite", "v2")
        assert env["outside"] == ["t2s"] and env["worst_observation"] == "t2s"
        assert env["observations"]["t2s"]["finiteness"] == (
            f"t2s of sub-2 is {first} in every baseline execution and not under version={other}"
        )
        assert env["observations"]["t2s"]["max_abs_z"] < env["z_critical"]  # the finite subjects' test: inside


@pytest.mark.parametrize(("change", "inside"), [("none", True), ("exact texture", False), ("exact +1", False)])
def test_rounding_a_smooth_image_agrees_by_chance_in_patches(change: str, inside: bool) -> None:
    """Review CT: rounding a smooth int16 image (noise SD 0.3) agrees by chance in patches, where the true value is
    near an integer in every subject: a face-neighbour majority rule called them regions, and the denoiser compared
    with itself failed at 5,866 voxels. A region the baseline computes exactly, which the new version computes
    exactly at other values (a texture of +-2, or +1), stays outside (review R5)."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    shape = (40, 40, 12)
    truth = np.stack([ndimage.gaussian_filter(rng.normal(0, 40, shape), 2.0) for _ in range(5)])
    x = np.round(truth[:, :, :, :, None, None] + rng.normal(0, 0.3, size=(5, *shape, 2, 2)))
    region = np.zeros(shape, bool)
    region[10:20, 10:20, 3:7] = True
    if change != "none":
        exact = np.round(truth[:, region])
        x[:, region, 0] = exact[..., None]
        step = np.where(np.arange(region.sum()) % 2 == 0, 2.0, -2.0) if change == "exact texture" else 1.0
        x[:, region, 1] = (exact + step)[..., None]
    out, env = _quantised_envelope(x.reshape(5, -1, 2, 2, order="F"), shape)
    assert env["within_envelope"] is inside, env["detail"]
    if not inside:  # the region is named
        assert out.reshape(shape, order="F")[region].mean() > 0.5


@pytest.mark.parametrize(("shift", "inside"), [(1.0, False), (0.0, True)])
def test_a_region_borrowing_noise_moved_one_way_is_outside(shift: float, inside: bool) -> None:
    """Review R6: a CT denoiser copies bone exactly (5% of the voxels) and smooths soft tissue with noise (SD 0.5);
    a new version denoises bone too, +1 HU and noisy (SD 1): bone borrows soft tissue's noise, and one voxel at a
    time, Bonferroni over the image, the +1 passed. Its mean changes going one way over the borrowing voxels, by
    half a borrowed SD or more, move it out; the same region made noisy without a shift stays a documented limit."""

    rng = np.random.default_rng(11)
    n = 2000
    truth = rng.uniform(-100, 100, size=(5, n, 1, 1)) + rng.normal(0, 20, size=(5, 1, 1, 1))
    x = np.round(truth + rng.normal(0, 0.5, size=(5, n, 2, 3)))
    bone = np.arange(n) >= n - 100
    x[:, bone, 0] = np.round(truth[:, bone, 0])
    x[:, bone, 1] = np.round(truth[:, bone, 0] + shift + rng.normal(0, 1.0, size=(5, 100, 3)))
    out, env = _quantised_envelope(x, (n, 1, 1), magnitude=truth.mean(axis=0)[:, 0, 0])
    assert env["within_envelope"] is inside, env["detail"]
    if not inside:
        assert out[bone].mean() > 0.5 and out[~bone].sum() == 0


@pytest.mark.parametrize(
    ("step", "resolution", "inside"),
    [("ulp", np.float32, True), ("ulp", np.float64, False), ("1e-4", np.float32, False)],
)
def test_a_last_place_change_where_the_baseline_is_exact_is_no_change(
    step: str, resolution: type, inside: bool
) -> None:
    """Review R7: a deterministic float32 map rebuilt (another compiler, FMA) moved a region by one float32 step and
    failed `compare` "with no run-to-run noise in the baseline"; 4 steps of the images' stored type are rounding.
    Stored as float64, the same change is a change; 1e-4 relative is a change in float32."""
    from reprovip.analyze.envelope import voxel_envelope
    from reprovip.metrics import FactorialAccumulator

    rng = np.random.default_rng(2)
    base = rng.uniform(100, 1000, size=(5, 500)).astype(np.float32)
    new = base.copy()
    new[:, :100] = np.nextafter(base[:, :100], np.float32(np.inf)) if step == "ulp" else base[:, :100] * 1.0001
    x = np.stack([base, new.astype(np.float32)], axis=2).astype(np.float64)[..., None].repeat(2, axis=-1)
    acc = FactorialAccumulator((500,), (2,), 2, ["version"], envelope_axis=0)
    for block in x:
        acc.add(block)
    diff, variance, tests, shift = acc.envelope_stats()
    _, env = voxel_envelope(
        diff,
        variance,
        tests,
        2,
        5,
        ("1.0", "2.0"),
        mean_shift=shift,
        n_subjects=5,
        magnitude=base.mean(axis=0).astype(np.float64),
        resolution=resolution,
    )
    assert env["within_envelope"] is inside, env["detail"]


def test_a_few_ulps_of_run_to_run_noise_is_no_noisier_version() -> None:
    """Review P5: a baseline at +-1 ulp and a version at +-4 ulps (reduction order), the same means: "varies run to
    run 3.8 times as much as the baseline", not reproducible. A spread within a few ulps is float64's dust."""
    mus = np.array([101.37, 87.912, 120.455, 95.0371, 110.62]) / 3
    v = np.zeros((1, 5, 2, 1, 3))
    for j, ulps in enumerate((1, 4)):
        for r, off in enumerate((0, ulps, -ulps)):
            v[0, :, j, 0, r] = mus + off * np.spacing(mus)
    env = envelope(v.reshape(1, 5, 2, 3), ["t"], 0, VERSIONS)
    assert env["within_envelope"] and env["observations"]["t"]["noise_ratio"] == 0
