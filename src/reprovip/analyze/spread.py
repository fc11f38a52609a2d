"""Whether a factor's level makes the repetitions vary more: run-to-run noise that depends on a condition.

A factor can change no mean and still be the culprit: `threads=2` adding noise to one field of a fit while
`threads=1` repeats itself. The bitwise test sees it only when the whole file is identical at the quiet level,
and the variance components only see means; a review's 2% noise on Glx under threads=2 (20 times the other
runs' spread) read "run-to-run nondeterminism".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SPREAD_P = 0.001  # Bonferroni over the observations that differ and the factors: a second test beside the F tests
SPREAD_RATIO = 3.0  # and the noisy level's run-to-run SD this many times the quietest level's
SIGN_P = 0.05  # and the noisy level's cells vary more in most strata (a sign test): heavy tails fool the F test


def spread_tests(values: np.ndarray, factors: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per observation of ``values`` (``(n_obs, n_subjects, *levels, k)``, finite), per factor, the level whose
    repetitions vary most against the level whose repetitions vary least: the within-cell variances pooled over
    the subjects and the other factors' levels (``level``, ``quiet``: their positions), the ratio of their median
    cell SDs (None when the quiet level's cells repeat exactly and the noisy one's do not), and the one-sided F
    test of the ratio of the two pooled variances (``p``, Bonferroni over the pairs of levels). Empty without a
    factor or with one repetition.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = 10.0 * np.arange(6)[None, :, None, None] + rng.normal(0, 0.01, (1, 6, 2, 3))
    >>> x[0, :, 1] += rng.normal(0, 0.2, (6, 3))  # threads=2 adds noise
    >>> (t,) = spread_tests(x, ("threads",))
    >>> t["threads"]["level"], t["threads"]["quiet"], t["threads"]["ratio"] > 10, t["threads"]["p"] < 1e-6
    (1, 0, True, True)
    """
    from scipy import special  # here: only designs with factors and repetitions need it

    n_obs, k = values.shape[0], values.shape[-1]
    out: list[dict[str, Any]] = [{} for _ in range(n_obs)]
    if not factors or k < 2 or values.size == 0:
        return out
    # each cell's sum of squares about its mean: (obs, subject, *levels)
    squares = ((values - values.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    for j, f in enumerate(factors):
        axis = 2 + j
        n_levels = values.shape[axis]
        if n_levels < 2:
            continue
        others = tuple(a for a in range(1, squares.ndim) if a != axis)
        cells = math.prod(squares.shape[a] for a in others)
        pooled = squares.sum(axis=others) / (cells * (k - 1))  # (obs, level)
        df = cells * (k - 1)
        noisy, quiet = np.argmax(pooled, axis=1), np.argmin(pooled, axis=1)
        high = pooled[np.arange(n_obs), noisy]
        low = pooled[np.arange(n_obs), quiet]
        with np.errstate(divide="ignore", invalid="ignore"):
            f_stat = high / low
        pairs = n_levels * (n_levels - 1) // 2
        p = np.where(
            low > 0,
            special.fdtrc(df, df, np.where(low > 0, f_stat, 1.0)),
            np.where(high > 0, 0.0, 1.0),  # the quiet level repeats itself exactly: any spread is its own
        )
        # The ratio said and judged is of the levels' median cell SDs: one wild repetition (noise with heavy
        # tails) inflates a pooled variance, not a median, and the F test alone named a level in 45% of such
        # designs with no level effect (simulated, Student's t with 3 degrees of freedom)
        cell_sd = np.moveaxis(np.sqrt(squares / (k - 1)), axis, 1).reshape(n_obs, n_levels, -1)
        typical = np.median(cell_sd, axis=2)  # (obs, level)
        top, bottom = typical[np.arange(n_obs), noisy], typical[np.arange(n_obs), quiet]
        # ... and in most strata (a subject under the other factors' levels) the noisy level's cell varies more:
        # a sign test, one-sided
        rows = np.arange(n_obs)
        wins = (cell_sd[rows, noisy] > cell_sd[rows, quiet]).sum(axis=1)
        strata = (cell_sd[rows, noisy] != cell_sd[rows, quiet]).sum(axis=1)
        for i in range(n_obs):
            if high[i] > 0:
                # None: the quiet level repeats exactly; 0: most cells of the noisy level do too
                ratio = float(top[i] / bottom[i]) if bottom[i] > 0 else (None if top[i] > 0 else 0.0)
                sign_p = float(special.bdtrc(int(wins[i]) - 1, int(strata[i]), 0.5)) if strata[i] else 1.0
                # the quiet level repeats exactly in every stratum, the noisy one differs in 3 or more: no noise
                # with a continuous distribution does that, whatever its tails
                exact = bool(not cell_sd[i, quiet[i]].any() and (cell_sd[i, noisy[i]] > 0).sum() >= 3)
                out[i][f] = dict(
                    level=int(noisy[i]),
                    quiet=int(quiet[i]),
                    ratio=ratio,
                    p=min(1.0, pairs * float(p[i])),
                    sign_p=0.0 if exact else min(1.0, 2 * pairs * sign_p),
                )
    return out


def _ratio(test: dict[str, Any]) -> float:
    return math.inf if test["ratio"] is None else float(test["ratio"])


def spread_effects(
    observations: list[dict[str, Any]], levels: dict[str, list[str]], hints: dict[str, str]
) -> dict[str, str]:
    """Per factor, the sentence naming it when its level makes some observation's repetitions vary
    :data:`SPREAD_RATIO` times more than another level's, with p < :data:`SPREAD_P` after Bonferroni over the
    observations that differ and the factors (their ``spread``, :func:`spread_tests`): the strongest such
    observation. ``levels``: each factor's level names, in the design's order."""
    tested = [o for o in observations if o.get("spread") and not o.get("identical")]
    out: dict[str, str] = {}
    for f, names in levels.items():
        found = [
            (o["spread"][f], o["name"])
            for o in tested
            if f in o["spread"]
            and _ratio(o["spread"][f]) >= SPREAD_RATIO
            and len(tested) * len(levels) * o["spread"][f]["p"] < SPREAD_P
            and o["spread"][f].get("sign_p", 0.0) <= SIGN_P
        ]
        if found:
            test, name = max(found, key=lambda t: _ratio(t[0]))
            noisy, quiet = f"{f}={names[test['level']]}", f"{f}={names[test['quiet']]}"
            where = f" on {name}" + (f" and {len(found) - 1} other observation(s)" if len(found) > 1 else "")
            said = (
                f"the repetitions differ under {noisy} and repeat exactly under {quiet}{where}"
                if test["ratio"] is None
                else f"the repetitions under {noisy} vary {test['ratio']:.3g} times as much as under {quiet}{where}"
            )
            out[f] = f"{said}: {hints.get(f, f'nondeterminism that depends on {f}')}"
    return out
