"""Does a factor act on some subjects only: the subject x factor interaction of each observation, tested against
the repetitions (a version that moved one subject's value was blamed on run-to-run noise: a review)."""

from __future__ import annotations

from typing import Any

import numpy as np

CARRIED = 0.5  # a subject carries an interaction when more than half of its sum of squares is that subject's


def interaction_tests(values: np.ndarray, factors: tuple[str, ...], subjects: list[str]) -> list[dict[str, Any]]:
    """Per observation of ``values`` (``(n_obs, n_subjects, *levels, k)``, finite), whether each factor acts on
    some subjects only: the p-value of its interaction with the subjects against the repetitions,
    ``F = MS_subject:factor / MS_residual``, and the subject that carries it (more than half of the
    interaction's sum of squares, 3 subjects or more; else None).

    When one subject carries it, ``p_subject`` is the p-value of the factor's effect within that subject against
    that subject's own repetitions: pooled with subjects whose repetitions are identical, one noisy subject's
    chance difference between levels read as the factor acting on it (seed named, p 0.0004, for noise the tool
    drew whatever the seed: a review; its own test gave 0.05). A subject the factor moves passes both.

    Empty dicts without a factor, with one subject or one repetition (no residual to test against). A version
    that moved one value of one subject by 80 run-to-run SDs has no significant main effect (the other
    subjects did not move), so "run-to-run nondeterminism" was blamed (a review).

    References
    ----------
    Montgomery, D. C. (2017). Design and Analysis of Experiments, 9th ed., Wiley, section 5.3 (two-factor
    factorial with replication: the interaction tested against the error mean square).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = 10.0 * np.arange(6)[None, :, None, None] + rng.normal(0, 0.1, (1, 6, 2, 3))
    >>> x[0, 2, 1] += 5.0  # threads=2 moves subject s2 only
    >>> (t,) = interaction_tests(x, ("threads",), [f"s{i}" for i in range(6)])
    >>> t["threads"]["p"] < 1e-10, t["threads"]["subject"], round(t["threads"]["carried"], 2)
    (True, 's2', 0.83)
    """
    from scipy import special  # here: 0.15 s that commands without factors never need

    from reprovip.metrics.variance import effect, factorial_mean_squares

    n_obs, n_subj, k = values.shape[0], values.shape[1], values.shape[-1]
    if not factors or n_subj < 2 or k < 2 or values.size == 0:
        return [{} for _ in range(n_obs)]
    # Each subject's values less its first: exact for neighbours (Sterbenz), and the tests are blind to a subject's
    # own offset. The cell means and each subject's own test carried rounding of values 100-400 (the mean squares
    # shift the same way), and a 1-ulp difference of one execution read as threads acting on some subjects, p 1e-8
    # (a review: the exact F is 1).
    first = values.reshape(n_obs, n_subj, -1)[:, :, :1].reshape(n_obs, n_subj, *(1,) * (values.ndim - 2))
    values = values - first
    ms = factorial_mean_squares(values, list(factors))
    residual, d2 = ms.term("residual"), float(ms.df[ms.terms.index("residual")])
    cells = values.mean(axis=-1)  # (obs, subject, *levels)
    axes = tuple(range(1, cells.ndim))
    out: list[dict[str, Any]] = [{} for _ in range(n_obs)]
    for j, f in enumerate(factors):
        term = f"subject:{f}"
        inter, d1 = ms.term(term), float(ms.df[ms.terms.index(term)])
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = inter / residual
        # Repetitions identical while the interaction is not: p 0; no interaction at all: p 1 (as factor_tests).
        p = np.where(
            residual > 0, special.fdtrc(d1, d2, np.where(residual > 0, stat, 0.0)), np.where(inter > 0, 0.0, 1.0)
        )
        keep = (1, 2 + j)
        contrast = effect(cells, keep, [a for a in axes if a not in keep])
        per_subject = np.sum(contrast**2, axis=tuple(a for a in axes if a != 1))  # (obs, subject)
        total = per_subject.sum(axis=1)
        top = np.argmax(per_subject, axis=1)
        own = _own_test(values, cells, j, special)  # (obs, subject)
        for i in range(n_obs):
            carried = float(per_subject[i, top[i]] / total[i]) if total[i] > 0 else 0.0
            one = n_subj >= 3 and carried > CARRIED
            out[i][f] = dict(p=float(p[i]), subject=subjects[int(top[i])] if one else None, carried=carried)
            if one:  # its effect against its own repetitions (see `p_subject` above)
                out[i][f]["p_subject"] = float(own[i, top[i]])
    return out


def _own_test(values: np.ndarray, cells: np.ndarray, j: int, special: Any) -> np.ndarray:
    """Per observation and subject, the p-value of factor ``j``'s main effect within that subject against that
    subject's own repetitions: ``F = MS_factor / MS_residual`` of its one-subject factorial design (0 when its
    repetitions are identical and the levels are not, 1 when neither differs)."""
    level_axes = tuple(range(2, cells.ndim))
    n_levels, k = cells.shape[2 + j], values.shape[-1]
    n_cells = int(np.prod(cells.shape[2:]))
    d_res, d_f = n_cells * (k - 1), n_levels - 1
    residual = np.sum((values - cells[..., None]) ** 2, axis=(*level_axes, cells.ndim)) / d_res
    by_level = cells.mean(axis=tuple(a for a in level_axes if a != 2 + j))  # (obs, subject, level)
    grand = cells.mean(axis=level_axes)
    factor = (n_cells // n_levels) * k * np.sum((by_level - grand[..., None]) ** 2, axis=-1) / d_f
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(residual > 0, factor / residual, 0.0)
    return np.where(residual > 0, special.fdtrc(d_f, d_res, stat), np.where(factor > 0, 0.0, 1.0))
