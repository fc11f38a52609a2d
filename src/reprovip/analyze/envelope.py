"""Is a version difference larger than run-to-run noise? The envelope test of ``reprovip compare``.

For each observation and subject, the mean over a version's executions is compared with the baseline
version's mean, in units of the pooled within-(subject, version) SD of single executions:

    z = (mean_v - mean_base) / (s_w * sqrt(1/R_v + 1/R_base))

An observation leaves the envelope when some subject's |z| exceeds the Bonferroni-corrected two-sided
critical value at ``alpha`` (over subjects x observations x compared versions). With no run-to-run noise at
all (s_w = 0), any difference leaves the envelope (z = inf).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reprovip.analyze.stats import num

ALPHA = 0.01


def envelope(
    values: np.ndarray, names: list[str], axis: int, levels: tuple[str, ...], *, alpha: float = ALPHA
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
    alpha : float
        Family-wise error rate of the test.
    """
    n_obs, n_subj = values.shape[:2]
    if n_obs == 0 or n_subj == 0:
        return {"skipped": "needs at least two executions per subject and version"}
    v = np.moveaxis(values, 2 + axis, 2)
    v = v.reshape(n_obs, n_subj, v.shape[2], -1)  # (obs, subj, version, R)
    r = v.shape[-1]
    if n_obs == 0 or n_subj == 0 or r < 2:
        return {"skipped": "needs at least two executions per subject and version"}
    means = v.mean(axis=-1)
    s2 = v.var(axis=-1, ddof=1).mean(axis=(1, 2))  # pooled within-(subject, version) variance per obs
    sw = np.sqrt(s2)
    diff = means[:, :, 1:] - means[:, :, :1]  # (obs, subj, versions-1)
    se = sw[:, None, None] * np.sqrt(2.0 / r)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    n_tests = max(diff.size, 1)
    from scipy import special  # here, not at import: 0.15 s that commands and the voxel stream never need

    z_crit = float(-special.ndtri(alpha / (2 * n_tests)))  # scipy.stats.norm.isf, exactly
    subj_means = means.mean(axis=2)
    bsd = subj_means.std(axis=1, ddof=1) if n_subj > 1 else np.zeros(n_obs)
    absz = np.abs(z).reshape(n_obs, -1).max(axis=1)
    rel = np.abs(diff).reshape(n_obs, -1).max(axis=1) / np.where(bsd > 0, bsd, np.inf)
    worst = int(np.argmax(absz))
    per_obs = {
        n: dict(
            max_abs_z=num(absz[i]),
            max_diff=num(np.abs(diff[i]).max()),
            within_sd=num(sw[i]),
            max_diff_over_bsd=num(rel[i]),
            outside=bool(absz[i] > z_crit),
        )
        for i, n in enumerate(names)
    }
    outside = [n for n, d in per_obs.items() if d["outside"]]
    return dict(
        baseline=levels[0],
        compared=list(levels[1:]),
        alpha=alpha,
        z_critical=z_crit,
        within_envelope=not outside,
        outside=outside,
        worst_observation=names[worst],
        max_abs_z=num(absz[worst]),
        observations=per_obs,
    )
