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
        for i in range(n_obs):
            carried = float(per_subject[i, top[i]] / total[i]) if total[i] > 0 else 0.0
            one = n_subj >= 3 and carried > CARRIED
            out[i][f] = dict(p=float(p[i]), subject=subjects[int(top[i])] if one else None, carried=carried)
    return out
