"""Is a version difference larger than run-to-run noise? The envelope test of ``reprovip compare``.

For each observation, subject and condition of the other factors (all of them when there are none), the mean
over a version's repetitions is compared with the baseline version's mean, in units of the baseline's
run-to-run SD **in that condition**: the SD of repetitions within a (subject, condition) of the baseline, pooled
over the subjects of the condition:

    z = (mean_v - mean_base) / (s_c * sqrt(2 / k)),  judged against Student's t with the spread's degrees of
                                                   freedom, subjects x (k - 1)

The spread is the baseline's alone and within one condition: pooling over versions let a noisier new version
widen its own envelope, pooling over conditions let a factor's fixed effect pass for noise (a review: a shift
of 100 run-to-run SDs read |z| 0.8), and let a noisy condition (threads=2) hide a change of a deterministic
one (threads=1 moved by +25 for every subject read "within the envelope" beside threads=2's SD of 50). An
observation leaves the envelope when some |z| exceeds the Bonferroni-corrected two-sided critical value at
``alpha``, over the tests that can reject at all (Tarone): a condition whose baseline has no run-to-run noise
(every subject's repetitions identical) is decided without it: any change leaves the envelope (z = inf), a
repetition of another version that departs from the baseline's value included (noise added where there was
none), and no change stays inside, so identical rows do not dilute the correction. Each condition also tests
the mean change over the subjects against ``s_c * sqrt(2 / (k n))`` (the same pooled spread: it is the mean
of the subjects' variances, so the test holds when subjects are not equally noisy): a shift of every subject by
a few SDs, or one a single noisy subject hides by widening the pooled SD, stays inside each subject's envelope.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reprovip.analyze.stats import DUST_ULPS, decimal_resolution, num
from reprovip.metrics._common import exact_mean

ALPHA = 0.01
# A version whose run-to-run variance is this many times the baseline's, and significantly larger (one-sided F
# test at ALPHA, Bonferroni over the conditions tested), is outside the envelope whatever its means do: a new
# version 10 times noisier, its subjects' means unchanged, read "within the envelope (max |z| 0)" (review M1)
NOISIER_RATIO = 4.0
NOISE_ALPHA = 0.1  # ... at a tenth of ALPHA: sample variances of heavy-tailed noise (Student's t, 3 df) swing widely
NOISY_AS_A_WHOLE = 0.9  # of a condition's voxels with signal varying between runs: the others agree by chance
_NEEDS = "needs at least two repetitions of each condition of the baseline (its run-to-run spread)"


def z_critical(n_tests: int, df: float, alpha: float = ALPHA) -> float:
    """The Bonferroni-corrected two-sided critical |z| for ``n_tests`` tests at family-wise ``alpha``: Student's
    t with the ``df`` degrees of freedom of the baseline's spread (a normal quantile failed two runs of one
    code most of the time at k = 2, where the spread rests on a few degrees of freedom)."""
    from scipy import special  # here, not at import: 0.15 s that commands and the voxel stream never need

    q = alpha / (2 * max(n_tests, 1))
    return float(-special.stdtrit(df, q)) if df > 0 else float("inf")  # scipy.stats.t.isf, exactly


def z_scores(diff: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``diff / se``; where ``se`` is 0 (no run-to-run noise): 0 for no difference, inf for any."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, np.abs(diff) / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))


def envelope(
    values: np.ndarray,
    names: list[str],
    axis: int,
    levels: tuple[str, ...],
    *,
    subjects: list[str] | None = None,
    conditions: list[str] | None = None,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Envelope test of each level of factor ``axis`` (an index into the level axes) against its first level.

    Parameters
    ----------
    values : ndarray
        ``(n_obs, n_subjects, *levels, k)``.
    names : list of str
        Observation names.
    axis : int
        Which level axis is the version factor.
    levels : tuple of str
        Its level labels; the first is the baseline.
    subjects, conditions : list of str, optional
        Subject names, and labels of the other factors' conditions (C order), for the sentence naming the worst.
    alpha : float
        Family-wise error rate of the test.
    """
    v = np.moveaxis(values, 2 + axis, 2)
    n_obs, n_subj, n_ver, k = v.shape[0], v.shape[1], v.shape[2], v.shape[-1]
    if n_obs == 0 or n_subj == 0:
        return {"skipped": "no subject has every execution of both versions"}
    if k < 2:
        return {"skipped": _NEEDS}
    v = v.reshape(n_obs, n_subj, n_ver, -1, k)  # (obs, subject, version, condition, repetition)
    means = exact_mean(v, -1)
    base = v[:, :, 0]
    spread = np.where((base == base[..., :1]).all(axis=-1), 0.0, base.var(axis=-1, ddof=1))
    sw = np.sqrt(spread.mean(axis=1))  # (obs, condition): each condition against its own noise
    noisy = sw[:, None, None, :] > 0
    # Where the baseline is deterministic, the change is a repetition's largest departure from its value: noise
    # the new version adds there moves its repetitions while their mean may stay put.
    dev = v[:, :, 1:] - base[:, :, None, :, :1]
    far = np.take_along_axis(dev, np.abs(dev).argmax(axis=-1)[..., None], axis=-1)[..., 0]
    diff = np.where(noisy, means[:, :, 1:] - means[:, :, :1], far)  # (obs, subject, version - 1, condition)
    z = z_scores(diff, sw[:, None, None, :] * np.sqrt(2.0 / k))
    # The mean change over subjects, against the same spread over sqrt(n): a shift of every subject by 2 SDs,
    # or one hidden by a single noisy subject that widens the pooled SD, stays inside each cell's envelope
    # (a review: 9 subjects moved by 160-450 of their own SDs read "within the envelope").
    shift = exact_mean(diff, 1)  # (obs, version - 1, condition)
    z_mean = z_scores(shift, sw[:, None, :] * np.sqrt(2.0 / (k * n_subj)))
    _rounding(v, sw, diff, shift, z, z_mean)
    _float_dust(base[..., 0], sw, diff, shift, z, z_mean)
    tests = int((sw > 0).sum()) * (n_subj + 1) * (n_ver - 1)
    z_crit = z_critical(tests, n_subj * (k - 1), alpha)
    by_condition = np.maximum(z.max(axis=(1, 2)), z_mean.max(axis=1))  # (obs, condition)
    absz = by_condition.max(axis=1)
    sw_worst = np.take_along_axis(sw, by_condition.argmax(axis=1)[:, None], axis=1)[:, 0]  # the spread that judged
    noise_ratio, noisier, noise_where = _noisier(v, alpha)
    subj_means = means.mean(axis=(2, 3))
    bsd = subj_means.std(axis=1, ddof=1) if n_subj > 1 else np.zeros(n_obs)
    rel = np.abs(diff).reshape(n_obs, -1).max(axis=1) / np.where(bsd > 0, bsd, np.inf)
    worst = int(np.argmax(absz))
    per_obs = {
        n: dict(
            max_abs_z=num(absz[i]),
            mean_abs_z=num(z_mean[i].max()),
            max_diff=num(np.abs(diff[i]).max()),
            within_sd=num(sw_worst[i]),
            max_diff_over_bsd=num(rel[i]),
            noise_ratio=num(noise_ratio[i]),
            outside=bool(absz[i] > z_crit or noisier[i]),
        )
        for i, n in enumerate(names)
    }
    outside = [n for n, d in per_obs.items() if d["outside"]]
    by_mean = z_mean[worst].max() > z[worst].max()  # the mean change over subjects is the larger departure
    if by_mean:
        lv, c = np.unravel_index(int(np.argmax(z_mean[worst])), z_mean[worst].shape)
        change = float(shift[worst][lv, c])
        who: Any = f"the mean over {n_subj} subjects"
    else:
        s, lv, c = np.unravel_index(int(np.argmax(z[worst])), z[worst].shape)
        change = float(diff[worst][s, lv, c])
        who = subjects[s] if subjects else int(s)
    where = dict(subject=who, level=levels[1 + lv], condition=conditions[c] if conditions else None)
    # The smallest change of every subject's value the mean test sees, in run-to-run SDs: a 3-SD shift of every
    # subject passed at 4 subjects x 3 repetitions (|z| 6.22, critical 6.23) and nothing said what the test sees
    # (review VC); images say it already.
    sds = float(z_crit * np.sqrt(2.0 / (k * n_subj))) if bool((sw > 0).any()) else 0.0
    detail = _sentence(names[worst], where, absz[worst], change, sw[worst, c], z_crit)
    if noisier.any():
        i = int(np.argmax(np.where(noisier, noise_ratio, -1.0)))
        lv, c = noise_where[i]
        cond = f", {conditions[c]}" if conditions and conditions[c] not in (None, "-") else ""
        detail += (
            f"; {names[i]}: {levels[1 + lv]}{cond} varies run to run {noise_ratio[i]:.3g} times as much as the "
            f"baseline (within-subject SD; F test of the variances, p < {NOISE_ALPHA * alpha:g} over the "
            "conditions tested)"
        )
    elif sds and not outside:
        detail += f"; a change of every subject below {sds:.3g} run-to-run SDs passes unseen"
    return dict(
        baseline=levels[0],
        compared=list(levels[1:]),
        alpha=alpha,
        z_critical=z_crit,
        within_envelope=not outside,
        outside=outside,
        worst_observation=names[worst],
        worst=where,
        max_abs_z=num(absz[worst]),
        observations=per_obs,
        detail=detail,
        detectable_sds=num(sds),
    )


def _noisier(v: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Per observation of ``v`` (``(obs, subject, version, condition, repetition)``), the largest ratio of a
    version's run-to-run SD to the baseline's (each the root of the subjects' mean variance), whether it is
    :data:`NOISIER_RATIO` in variance or more and significant (one-sided F test at ``NOISE_ALPHA * alpha``,
    Bonferroni over the tests, on Satterthwaite's degrees of freedom of each mean variance: one noisy subject
    among quiet ones carries k - 1 of them, not n (k - 1)), and where (version - 1, condition). A baseline with
    no run-to-run noise is judged by the departures themselves (:func:`envelope`), not here."""
    from scipy import special

    k = v.shape[-1]
    # a few ulps of spread is float64's dust, no noise (review P5: +-4 ulps against +-1 failed), as for the means
    dust = 2 * DUST_ULPS * np.spacing(np.abs(v).max(axis=-1))  # within DUST_ULPS of their centre
    var = np.where(np.ptp(v, axis=-1) <= dust, 0.0, v.var(axis=-1, ddof=1))  # (obs, subject, version, cond)
    total = var.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(total > 0, total**2 / ((var**2).sum(axis=1) / (k - 1)), 0.0)  # (obs, version, condition)
        noisy = np.broadcast_to(total[:, :1] > 0, total[:, 1:].shape)
        f = np.where(noisy, total[:, 1:] / np.where(noisy, total[:, :1], 1.0), 0.0)  # (obs, version - 1, cond)
    tests = max(int(noisy.sum()), 1)
    p = special.fdtrc(np.maximum(df[:, 1:], 1e-9), np.maximum(df[:, :1], 1e-9), f)
    significant = noisy & (df[:, 1:] > 0) & (p < NOISE_ALPHA * alpha / tests)
    flat = f.reshape(f.shape[0], -1)
    at = flat.argmax(axis=1)
    where = [tuple(int(x) for x in np.unravel_index(int(j), f.shape[1:])) for j in at]
    ratio = np.sqrt(flat[np.arange(f.shape[0]), at])
    return ratio, ((f >= NOISIER_RATIO) & significant).any(axis=(1, 2)), where


def _rounding(
    v: np.ndarray, sw: np.ndarray, diff: np.ndarray, shift: np.ndarray, z: np.ndarray, z_mean: np.ndarray
) -> None:
    """Zero, in place, the |z| of a change of one step of the values' written resolution (their decimals) where
    the baseline's repetitions round alike in every subject while other observations of the output vary in that
    condition: noise below the printed precision, not determinism. fMRIPrep-like confounds written with 6
    decimals, 1e-7 noise, failed every comparison of a version with itself (review FM: one cell in 135 rounded
    alike in the baseline and flipped by 1e-06 in the new version, |z| inf). Rounding flips go either way: where a
    level's one-step moves in a condition go one way beyond chance (a two-sided sign test at :data:`ALPHA` over
    the (level, condition) pairs), none is spared (review R4: a release adding 0.06 mm to a thickness written with
    one decimal moved 17 subject-values up one step and none down, "within"); and every subject moved one step the
    same way is no rounding flip either: the mean over two or more subjects is spared below that only (review VC:
    0.1 mm added to every subject's thickness was "within"). Values written as whole numbers are never spared."""
    noisy = (sw > 0).any(axis=0)  # (condition,): the output varies from run to run there
    n, levels = diff.shape[1], diff.shape[2]
    resolution = {
        (i, c): decimal_resolution(v[i, :, :, c])
        for i, c in zip(*np.nonzero((sw == 0) & noisy[None, :]), strict=True)
        if np.any(diff[i, :, :, c])
    }
    # Whole numbers are counts (lesions, vertices, iterations), not decimals rounded: a count the baseline writes
    # alike in every run and a new version moves by 1 changed (review AR: n_lesions 3 -> 4 beside a varying
    # volume read "within the envelope", |z| 0)
    resolution = {key: r for key, r in resolution.items() if r < 1}
    conditions = sorted({c for _, c in resolution})
    biased = {
        (lv, c)
        for lv in range(levels)
        for c in conditions
        if _one_way(
            np.concatenate(
                [
                    diff[i, :, lv, c][np.abs(diff[i, :, lv, c]) <= 1.5 * r]
                    for (i, cc), r in resolution.items()
                    if cc == c
                ]
            ),
            ALPHA / max(levels * len(conditions), 1),
        )
    }
    for (i, c), r in resolution.items():
        step = 1.5 * r  # one step, whatever the binary rounding of its difference
        spared = step if n == 1 else r * (n - 0.5) / n  # n - 1 subjects flipped one way: (n - 1) / n steps
        for lv in range(levels):
            if (lv, c) not in biased:
                z[i, :, lv, c][np.abs(diff[i, :, lv, c]) <= step] = 0.0
                if abs(shift[i, lv, c]) <= spared:
                    z_mean[i, lv, c] = 0.0


def _float_dust(
    value: np.ndarray, sw: np.ndarray, diff: np.ndarray, shift: np.ndarray, z: np.ndarray, z_mean: np.ndarray
) -> None:
    """Zero, in place, the |z| of a change of at most :data:`~reprovip.analyze.stats.DUST_ULPS` units in the last
    place of the baseline's
    ``value`` (``(obs, subject, condition)``) where the baseline has no run-to-run noise: a new NumPy summing in
    another order moves a deterministic result by an ulp, and `compare` failed it "with no run-to-run noise in the
    baseline" while the study's threads=2 varied by 1e-6 (review QC). A float32 result's ulp is 2**29 of these:
    still a change."""
    deterministic = (sw == 0)[:, None, None, :]  # (obs, 1, 1, condition)
    ulp = DUST_ULPS * np.spacing(np.abs(value))[:, :, None, :]  # (obs, subject, 1, condition)
    z[deterministic & (np.abs(diff) <= ulp)] = 0.0
    mean_ulp = DUST_ULPS * np.spacing(np.abs(value).max(axis=1))[:, None, :]  # (obs, 1, condition)
    z_mean[(sw == 0)[:, None, :] & (np.abs(shift) <= mean_ulp)] = 0.0


def _one_way(moves: np.ndarray, alpha: float) -> bool:
    """Whether the signs of the non-zero ``moves`` are one-sided beyond chance (two-sided exact sign test).

    Examples
    --------
    >>> _one_way(np.array([1.0] * 17), 0.01), _one_way(np.array([1.0, -1.0, 1.0, 0.0]), 0.01)
    (True, False)
    """
    from scipy import special  # the binomial CDF: exact sums of big integers took minutes at 60,000 voxels

    up, down = int((moves > 0).sum()), int((moves < 0).sum())
    m, k = up + down, min(up, down)
    return m > 0 and min(1.0, 2 * float(special.bdtr(k, m, 0.5))) < alpha


def _sentence(name: str, where: dict[str, Any], z: float, diff: float, sw: float, z_crit: float) -> str:
    """Where the largest departure from the baseline is, in words."""
    cond = f", {where['condition']}" if where.get("condition") not in (None, "-") else ""
    size = "with no run-to-run noise in the baseline" if sw == 0 else f"{abs(diff) / sw:.3g} run-to-run SDs"
    verdict = "outside" if z > z_crit else "inside"
    who = where["subject"] if str(where["subject"]).startswith("the mean") else f"subject {where['subject']}"
    return (
        f"largest change on {name}, {who}, {where['level']}{cond}: {diff:+.6g} "
        f"({size}; |z| {z:.3g} {verdict} the critical {z_crit:.3g})"
    )


def noisy_as_a_whole(
    variance: np.ndarray, signal: np.ndarray, unchanged: np.ndarray | None = None, share: float = NOISY_AS_A_WHOLE
) -> np.ndarray:
    """Per condition (rows of ``variance``, ``(conditions, voxels)``), whether its baseline varies from run to run
    at ``share`` (:data:`NOISY_AS_A_WHOLE`) or more of its voxels with signal (``signal >= 1``), but those ``unchanged``
    (no run-to-run noise and no change in any version: a CT's air at -1024 HU, "signal" to a non-zero mask, kept a
    noisy denoised CT from being noisy as a whole, review CT).

    Examples
    --------
    >>> noisy_as_a_whole(np.array([[1.0] * 9 + [0.0] * 3]), np.ones((1, 12)), np.array([[False] * 9 + [True] * 3]))
    array([ True])
    """
    with_signal = np.asarray(signal) >= 1
    if unchanged is not None:
        with_signal = with_signal & ~np.asarray(unchanged, dtype=bool)
    noisy = variance > 0
    return noisy.any(axis=1) & (noisy.sum(axis=1) >= share * with_signal.sum(axis=1))


def borrowed_noise(
    variance: np.ndarray,
    signal: np.ndarray,
    new_varies: np.ndarray | None = None,
    magnitude: np.ndarray | None = None,
    unchanged: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``variance`` (``(conditions, voxels)``) where a condition's baseline is noisy as a whole (run-to-run
    variance at :data:`NOISY_AS_A_WHOLE` or more of its voxels with signal, ``signal >= 1``) and a voxel's
    baseline repetitions agree while a compared level's differ there (``new_varies``; default everywhere):
    that voxel's agreement is chance (a smoothing tail of 1e-12 rounding alike in both float32 repetitions, an
    edge voxel three jitters left exactly 0, a softmax near 1 equal to float32's resolution in three runs)
    and it gets the median variance of the condition's noisy voxels of its order of magnitude (``magnitude``,
    per voxel: decades of at least 10 noisy voxels; else the condition's median). "Any change leaves the
    envelope" failed two runs of one code on a change of 5e-18, and of 0.003 on an image of 60-110 (review
    W1), and a softmax map's 2.9e-6 near 1 (review DL: its condition's median noise was the near-zero
    channels'). Returns the variances and where they were borrowed. A region deterministic in every version
    (a closed-form estimate inside a fitted map: review RG), or a condition deterministic at more than a
    tenth of its voxels with signal, keeps "any change".

    Examples
    --------
    A background voxel (no subject's signal) and 10 noisy ones; then a condition a quarter deterministic:

    >>> signal = np.array([[0] + [3] * 10, [3] * 11])
    >>> v, b = borrowed_noise(np.array([[0.0] + [2.0] * 9 + [4.0], [0.0] * 3 + [3.0] * 8]), signal)
    >>> v[:, :2].tolist(), b[:, :2].tolist()
    ([[2.0, 2.0], [0.0, 0.0]], [[True, False], [False, False]])
    """
    variance = np.asarray(variance, dtype=np.float64)
    borrowed = np.zeros(variance.shape, dtype=bool)
    floors = np.zeros(variance.shape)
    decade = None
    if magnitude is not None:
        mag = np.abs(np.asarray(magnitude, dtype=np.float64))
        with np.errstate(divide="ignore"):
            decade = np.where(mag > 0, np.floor(np.log10(np.where(mag > 0, mag, 1.0))), -1000.0)
    whole = noisy_as_a_whole(variance, signal, unchanged)
    for c, row in enumerate(variance):
        noisy = row > 0
        if not whole[c]:
            continue
        borrowed[c] = ~noisy if new_varies is None else ~noisy & np.asarray(new_varies[c], dtype=bool)
        if unchanged is not None:  # nothing to judge there: no borrowed noise, and no test counted
            borrowed[c] &= ~np.asarray(unchanged[c], dtype=bool)
        floors[c] = float(np.median(row[noisy]))
        if decade is not None:
            for d in np.unique(decade[borrowed[c]]):
                alike = noisy & (decade == d)
                if d > -1000 and np.count_nonzero(alike) >= 10:
                    floors[c, borrowed[c] & (decade == d)] = float(np.median(row[alike]))
    return np.where(borrowed, floors, variance), borrowed


def isolated_voxels(
    deterministic: np.ndarray,
    index: np.ndarray,
    shape: tuple[int, ...],
    sign: np.ndarray,
    new_varies: np.ndarray,
    alpha: float = ALPHA,
) -> np.ndarray:
    """Per condition and voxel (``deterministic``: ``(conditions, voxels)``, the voxels whose baseline agrees and
    that a version changes, at the grid positions ``index``, F order), whether the voxel is one and its patch of
    such voxels (face-connected on the spatial grid) is no deterministic region: neither do its mean changes
    (``sign``) go one way beyond chance (an exact sign test), nor does the new version vary (``new_varies``) at
    fewer of its voxels than half the rate it varies at over all such voxels of the condition (a binomial test);
    Bonferroni over the patches of two voxels or more at ``alpha``. Agreement by chance is no region: the new
    version's repetitions round apart there as often as elsewhere, and its changes go both ways; a region the
    baseline computes exactly and a new version moves by +1 HU, or computes exactly at other values, is one
    (review R5). Not the patches' size: rounding a smooth image agrees by chance in patches where the true value is
    near an integer in every subject (review CT's int16 denoiser compared with itself: patches of up to 131 voxels,
    against 66 for the same number placed at random; a face-neighbour majority rule failed it at 5,866 voxels).

    Examples
    --------
    A 1-D grid of 40: voxels 10-29 moved up, deterministic in the new version too; voxels 3 and 35 alone:

    >>> row, varies = np.zeros(40, bool), np.ones(40, bool)
    >>> row[[3, 35]] = row[10:30] = True
    >>> varies[10:30] = False
    >>> alone = isolated_voxels(row[None], np.arange(40), (40, 1, 1), np.ones((1, 40)), varies[None])
    >>> np.flatnonzero(alone[0]).tolist()
    [3, 35]
    """
    from scipy import ndimage, special

    spatial = tuple(shape[:3])
    size = int(np.prod(spatial))
    at = index % size
    out = np.zeros(deterministic.shape, dtype=bool)
    for c, row in enumerate(deterministic):
        if not row.any():
            continue
        grid = np.zeros(size, dtype=bool)
        grid[at[row]] = True
        labels, _ = ndimage.label(grid.reshape(spatial, order="F"))
        label = labels.reshape(-1, order="F")[at]  # each voxel's patch (a 4-D image's volumes share one)
        label = np.where(row, label, 0)
        count = np.bincount(label, minlength=2)
        varies, up, down = (
            np.bincount(label, weights=w, minlength=count.size).astype(np.int64)
            for w in (np.asarray(new_varies[c], dtype=bool), sign[c] > 0, sign[c] < 0)
        )
        rate = float(varies[1:].sum() / count[1:].sum())
        tested = count >= 2
        tested[0] = False
        level = alpha / max(int(tested.sum()), 1)
        one_way = 2 * special.bdtr(np.minimum(up, down), up + down, 0.5) < level
        still = special.bdtr(varies, count, rate / 2) < level
        region = tested & (one_way | still)
        out[c] = row & ~region[label]
    return out


BORROWED_SHIFT = 0.5  # borrowed SDs: a one-way mean change this large over a condition's borrowing voxels moved them


def _borrowed_moved(
    borrowed: np.ndarray,
    diff: np.ndarray,
    mean_shift: np.ndarray,
    variance: np.ndarray,
    sign: np.ndarray | None,
    alpha: float,
) -> np.ndarray:
    """Per condition and voxel, the voxels that borrow the noise of their magnitude (their baseline agrees, in a
    condition noisy as a whole) and moved with most of the others that borrow: their mean changes go one way
    beyond chance (a sign test over the condition's borrowing voxels) by :data:`BORROWED_SHIFT` of the borrowed SD
    or more at the median. One voxel at a time, Bonferroni over the image let a bone region that a CT denoiser
    copies exactly, which a new version moved by +1 HU (0.93 on average, 65% of its voxels up and 9% down; soft
    tissue's SD 0.5), pass (review R6). A change both ways, or one way by little (a new library's 1e-7), is left to
    the voxel test. ``(conditions, voxels)``; none without ``sign``."""
    moved = np.zeros(diff.shape, dtype=bool)
    if sign is None:
        return moved
    for c in range(diff.shape[0]):
        changed = borrowed[c] & (diff[c] != 0) & (sign[c] != 0)
        if not changed.any() or not _one_way(sign[c, changed], alpha / max(diff.shape[0], 1)):
            continue
        way = 1.0 if (sign[c, changed] > 0).sum() > (sign[c, changed] < 0).sum() else -1.0
        along = changed & (sign[c] == way)
        if np.median(np.abs(mean_shift[c, along])) >= BORROWED_SHIFT * np.sqrt(np.median(variance[c, along])):
            moved[c] = along
    return moved


QUANTISED_NOISY = 0.5  # of a quantised image's voxels with signal varying: the others may agree by chance
CHANCE_SDS = 3.0  # at least: a quantised voxel agreeing by chance may move this many SDs of two roundings apart


def quantum_flips(
    diff: np.ndarray,
    mean_shift: np.ndarray,
    own: np.ndarray,
    borrowed: np.ndarray,
    whole: np.ndarray,
    n_subjects: int,
    sign: np.ndarray | None = None,
    isolated: np.ndarray | None = None,
    alpha: float = ALPHA,
) -> np.ndarray:
    """Where a quantised image (its values' changes all multiples of one step: integers, or a scaled int16's
    slope) changes at a voxel whose baseline repetitions agree by chance, in a condition noisy as a whole
    (``whole``), by at most what two roundings differ by chance (the condition's typical run-to-run SD times
    sqrt 2, times the normal quantile Bonferroni-corrected over those voxels, :data:`CHANCE_SDS` at least; one
    step at least):
    rounding noise, as the tables' one printed step (:func:`_rounding`). With integer noise two repetitions often
    round alike, the new version's too at another value, and a comparison of an int16 CT denoiser with itself
    failed at 57,000 voxels (review CT). Not where the condition's spared changes go one way beyond chance (a sign
    test on ``sign``, the mean changes' signs: a version adding 1 HU; without it nothing is spared), nor where the
    mean change over the subjects reaches the allowance (every subject moved alike), nor in a deterministic region
    (only voxels ``isolated``, :func:`isolated_voxels`, agree by chance; without it nothing is spared: review R5).
    ``(conditions, voxels)``.

    Examples
    --------
    Integer changes where the condition's typical SD is 0.5 (two roundings differ by up to 3 x 0.5 x sqrt 2 = 2.1
    here): 1, -1 and 2 are spared, 3 is not:

    >>> d, own = np.array([[1.0, 1.0, 3.0, 2.0, 0.0]]), np.array([[0.0, 0.0, 0.0, 0.0, 0.25]])
    >>> sign = np.array([[1.0, -1.0, 1.0, -1.0, 0.0]])
    >>> alone = np.ones((1, 5), bool)
    >>> quantum_flips(d, d / 4, own, np.zeros((1, 5), bool), np.array([True]), 4, sign, alone).tolist()
    [[True, True, False, True, False]]
    """
    from scipy import special

    flips = np.zeros(diff.shape, dtype=bool)
    if sign is None or isolated is None:
        return flips
    for c in np.flatnonzero(whole):
        candidate = (own[c] == 0) & ~borrowed[c] & (diff[c] != 0) & np.isfinite(diff[c]) & isolated[c]
        if not candidate.any() or not (own[c] > 0).any():
            continue
        changes = np.abs(diff[c, candidate])
        quantum = float(changes.min())
        steps = changes / quantum
        if not np.all(np.abs(steps - np.round(steps)) <= 1e-6):  # no common step: not a quantised image
            continue
        # two roundings of one value differ by up to this much by chance, Bonferroni over the candidate voxels
        # (3 SDs left 179 voxels of 65,000 outside: review CT's own comparison)
        z = max(CHANCE_SDS, float(-special.ndtri(alpha / (2 * int(candidate.sum())))))
        allowed = max(quantum, z * float(np.sqrt(2 * np.median(own[c][own[c] > 0]))))
        spared = candidate & (np.abs(diff[c]) <= allowed * (1 + 1e-9))
        # the sign test over every voxel agreeing by chance, borrowed ones too: the few left to spare alone could
        # not tell a version adding 1 HU everywhere from rounding
        chance = (own[c] == 0) & (diff[c] != 0) & (np.abs(diff[c]) <= allowed * (1 + 1e-9))
        if _one_way(sign[c, chance], alpha / max(len(whole), 1)):
            continue
        mean_allowed = 1.5 * allowed if n_subjects == 1 else allowed * (n_subjects - 0.5) / n_subjects
        flips[c] = spared & (np.abs(mean_shift[c]) <= mean_allowed)
    return flips


def voxel_envelope(
    diff: np.ndarray,
    variance: np.ndarray,
    tests: int,
    k: int,
    df: int,
    levels: tuple[str, ...],
    *,
    mean_shift: np.ndarray,
    n_subjects: int,
    signal: np.ndarray | None = None,
    new_varies: np.ndarray | None = None,
    magnitude: np.ndarray | None = None,
    shift_sign: np.ndarray | None = None,
    isolated: np.ndarray | None = None,
    resolution: type[np.floating] = np.float64,
    alpha=ALPHA,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The envelope test voxel by voxel, from the streaming statistics
    (:meth:`~reprovip.metrics.streaming.FactorialAccumulator.envelope_stats`) at the voxels with metrics:
    each subject's change and the mean change over the ``n_subjects`` subjects, as :func:`envelope` does, each
    condition of the other factors against its own baseline spread.

    Parameters
    ----------
    diff, variance, mean_shift : ndarray
        ``(conditions, voxels)``: the largest change, the baseline's run-to-run variance (0: any change is
        outside) and the largest mean change over subjects.
    tests : int
        Tests per (condition, voxel) with run-to-run noise; Bonferroni counts them over those pairs.
    k, df : int
        Repetitions, and the degrees of freedom of one condition's variance.
    signal : ndarray, optional
        ``(conditions, voxels)``: the subjects the variance is pooled over there (those whose baseline is not 0
        in every repetition, :meth:`~reprovip.metrics.streaming.FactorialAccumulator.envelope_signal`); the
        degrees of freedom and the mean's SE are theirs, and a pair whose spread rests on 1 degree of freedom
        (one subject, k = 2) is not tested (``untestable_voxels``): a voxel at the edge of the largest brain
        only, its noise pooled with three background subjects' zeros on 8 degrees of freedom, failed two runs
        of one code (a review). Default: every subject everywhere.
    new_varies, magnitude : ndarray, optional
        ``(conditions, voxels)`` and ``(voxels,)``: where a compared level's repetitions differ, and each voxel's
        order of magnitude, for :func:`borrowed_noise`.
    shift_sign, isolated : ndarray, optional
        ``(conditions, voxels)``: the sign of the largest mean change, and where the baseline's agreement is
        scattered (:func:`isolated_voxels`), for :func:`quantum_flips` (without them, no change of a quantised
        image is spared).
    resolution : numpy floating type
        The images' stored float type: where the baseline has no run-to-run noise, a change of at most
        :data:`~reprovip.analyze.stats.DUST_ULPS` of its units in the last place at the voxel's ``magnitude`` is
        no change (review R7: a rebuilt binary moving a region a tool copies exactly by one float32 step failed
        `compare` "with no run-to-run noise in the baseline"), as for tables' float64 results.

    Returns the voxels outside the envelope (bool, ``(voxels,)``: any condition outside) and the document's
    ``envelope`` (without the voxel's grid position: ``worst_index`` is its position along ``voxels``, and
    ``worst_condition`` the condition's index).

    Examples
    --------
    Two conditions at 2 voxels: the first bit-identical in the baseline and moved by a new version at voxel 1,
    the second noisy and moved by less than its noise:

    >>> out, env = voxel_envelope(np.array([[0.0, 0.1], [3.0, 3.0]]), np.array([[0.0, 0.0], [25.0, 25.0]]), 7, 3,
    ...                           12, ("1.0", "2.0"), mean_shift=np.array([[0.0, 0.1], [1.0, 1.0]]), n_subjects=6)
    >>> out, env["max_abs_z"], env["worst_index"], env["worst_condition"]
    (array([False,  True]), 'Infinity', 1, 0)
    """
    pooled = np.full(variance.shape, n_subjects) if signal is None else np.asarray(signal)
    own = variance
    untestable = (pooled >= 1) & (pooled * (k - 1) < 2)
    unchanged = (own == 0) & (diff == 0) & (mean_shift == 0)
    variance, borrowed = borrowed_noise(variance, pooled, new_varies, magnitude, unchanged)
    # integer noise makes repetitions agree by chance often: a quantised image is noisy as a whole from half its voxels
    whole = noisy_as_a_whole(own, pooled, unchanged, QUANTISED_NOISY)
    flips = quantum_flips(diff, mean_shift, own, borrowed, whole, n_subjects, shift_sign, isolated, alpha)
    pooled = np.where(borrowed, n_subjects, pooled)  # the borrowed spread is every subject's
    # the mean over the n subjects of changes, of which those with signal carry the noise
    z = np.maximum(
        z_scores(diff, np.sqrt(variance * (2.0 / k))),
        z_scores(mean_shift, np.sqrt(variance * (2.0 / k) * pooled) / n_subjects),
    )
    z[untestable | flips] = 0.0
    if magnitude is not None:  # a last-place change where the baseline is exact: rounding of another build
        dust = DUST_ULPS * np.spacing(np.abs(np.asarray(magnitude)).astype(resolution)).astype(np.float64)
        z[(own == 0) & (np.abs(diff) <= dust) & (np.abs(mean_shift) <= dust)] = 0.0
    z[_borrowed_moved(borrowed, diff, mean_shift, variance, shift_sign, alpha)] = np.inf
    noisy_pairs = (variance > 0) & ~untestable
    z_crit = z_critical(int(np.count_nonzero(noisy_pairs)) * tests, df, alpha)
    crit = np.full(z.shape, z_crit)
    if signal is not None and noisy_pairs.any():  # each pair's own degrees of freedom
        from scipy import special

        q = alpha / (2 * max(int(np.count_nonzero(noisy_pairs)) * tests, 1))
        crit[noisy_pairs] = -special.stdtrit(pooled[noisy_pairs] * (k - 1), q)
    outside = (z > crit).any(axis=0)
    n_vox = z.shape[1]
    condition, worst = (0, 0)
    if z.size:  # ties (every |z| infinite where the baseline has no noise) go to the largest change, not voxel 0
        # the worst against its own critical value: the largest |z| of a pair on few degrees of freedom may be
        # inside while others are outside (review VV: "|z| 880, critical 1.06e+04" named as the reason)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(np.isinf(z), np.inf, z / crit)
        top = np.where(ratio == ratio.max(), np.nan_to_num(np.abs(diff), nan=0.0, posinf=np.finfo(float).max), -1.0)
        condition, worst = divmod(int(np.argmax(top)), n_vox)
    count = int(np.count_nonzero(outside))
    zworst = float(z[condition, worst]) if z.size else 0.0
    worst_crit = float(crit[condition, worst]) if z.size else z_crit
    sw = float(np.sqrt(variance[condition, worst])) if z.size else 0.0
    change = float(diff[condition, worst]) if z.size else 0.0
    if sw == 0:  # the change of a repetition (it may leave the mean put), decided without a threshold
        what, size = "of a repetition", "with no run-to-run noise in the baseline"
    elif z.size and borrowed[condition, worst]:
        what = "of a repetition"
        size = f"{change / sw:.3g} of the condition's typical run-to-run SDs: its baseline repetitions agree there"
    else:
        what, size = "of a condition's mean", f"{change / sw:.3g} run-to-run SDs"
    detail = (
        f"{count} of {n_vox} voxel(s) outside the baseline's run-to-run envelope; the largest change {what}, "
        f"{change:.6g} ({size}; |z| {zworst:.3g}, critical {worst_crit:.3g}), at voxel "
    )
    noisy = own[own > 0]
    # The smallest change of every subject's value at a voxel the test sees, in run-to-run SDs, and in the
    # image's units at the median noisy voxel: 294 voxels moved by 2.5 SDs in every subject passed unseen with 4
    # subjects x 3 repetitions (6.5 SDs needed there; a review), and nothing said so.
    sds = float(z_crit * np.sqrt(2.0 / (k * n_subjects))) if noisy.size else 0.0
    return outside, dict(
        baseline=levels[0],
        compared=list(levels[1:]),
        alpha=alpha,
        z_critical=z_crit,
        within_envelope=count == 0,
        outside_voxels=count,
        max_abs_z=num(float(z.max()) if z.size else 0.0),
        worst_index=worst,
        worst_condition=condition,
        detail=detail,
        detectable_sds=num(sds),
        detectable_change=num(sds * float(np.sqrt(np.median(noisy)))) if noisy.size else 0.0,
        untestable_voxels=int(np.count_nonzero(untestable.all(axis=0))),
        worst_critical=num(worst_crit),  # the critical |z| of the worst voxel: its own degrees of freedom
    )
