"""Reproducibility metrics of scalar observations, vectorised over observations.

Conventions (docs/analysis.md): the ``prod(levels) * k`` executions of a subject are the raters of the ICC
and the repeats of the within-subject statistics, except the copies (:func:`rater_columns`: the repetitions of
a condition bit-for-bit equal in every subject count once); variance components use the full factorial design;
significant digits are Parker's, in decimal digits, per subject across its executions, then the minimum
and mean over subjects.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import numpy as np

from reprovip.errors import MetricInputError
from reprovip.metrics import (
    CI_UNINFORMATIVE_NOTE,
    FORMS,
    icc_all,
    koo_li_band,
    repeatability,
    significant_digits,
    variance_components,
)
from reprovip.metrics.icc import REASONS as ICC_REASONS
from reprovip.metrics.icc import two_way_mean_squares

Z95 = 1.959963984540054


def num(x: Any) -> float | str | None:
    """A JSON-safe number: finite floats as is, infinities as "Infinity"/"-Infinity", NaN as None."""
    v = float(x)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _at(a: Any, i: int) -> float | str | None:
    """Element ``i`` of a metric result (array over observations) as a JSON-safe number."""
    return num(np.asarray(a).reshape(-1)[i])


_ICC_FIELDS = ("icc", "ci_low", "ci_high", "f", "df1", "df2", "pval", "reason", "estimable", "ci_unbounded")
_ICC_FIELDS += ("above_one", "ci_uninformative")


def _columns(result: Any, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """The ``fields`` of a metric result (arrays over observations) as Python lists, read once: indexing the
    arrays per observation and field cost 5 s of a 3600-observation table's analysis."""
    return {f: np.asarray(getattr(result, f)).reshape(-1).tolist() for f in fields}


def _icc_entry(c: dict[str, list[Any]], i: int) -> dict[str, Any]:
    """One ICC form of observation ``i`` (``c``: its result's :func:`_columns`): the numbers, and flags that say
    when they cannot support a verdict.

    ``estimable`` False (value and CI null, ``reason`` says why), ``ci_unbounded`` (lower bound -Infinity) and
    ``above_one`` come from :class:`~reprovip.metrics.ICCResult`; ``band`` is the Koo & Li band of the lower
    bound, None for a null or unbounded bound; ``ci_uninformative`` with its ``note`` when n_subjects < 3.
    """
    low = float(c["ci_low"][i])
    reason = c["reason"][i]
    few = bool(c["ci_uninformative"][i])
    return dict(
        value=num(c["icc"][i]),
        ci_low=num(low),
        ci_high=num(c["ci_high"][i]),
        f=num(c["f"][i]),
        df1=num(c["df1"][i]),
        df2=num(c["df2"][i]),
        p=num(c["pval"][i]),
        band=koo_li_band(low),
        estimable=bool(c["estimable"][i]),
        reason=None if reason is None else str(reason),
        ci_unbounded=bool(c["ci_unbounded"][i]),
        above_one=bool(c["above_one"][i]),
        ci_uninformative=few,
        note=CI_UNINFORMATIVE_NOTE if few else None,
    )


def _check_squares(flat: np.ndarray) -> None:
    """Refuse values whose spread overflows float64 once squared (sums of squares of ~1e300): the metrics'
    own check said "`msr` contains NaN or infinite values; remove or impute them first", blaming finite data."""
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.ptp(flat, axis=(1, 2)) if flat.size else np.zeros(0)
        overflow = ~np.isfinite(spread * spread * flat.shape[1] * flat.shape[2])
    if overflow.any():
        raise MetricInputError(
            f"{int(overflow.sum())} observation(s) spread over {float(spread[overflow].max()):.3g}: their sums of "
            "squares overflow float64; rescale the output (write its logarithm, or in other units)"
        )


_REPEATABILITY = ("wsd", "wcv_rms", "wcv_log", "rc", "bsd", "bcv", "sd_ratio")  # in the document's order


DUST_ULPS = 4  # values within this many units in the last place of float64 are one value


def scalar_metrics(values: np.ndarray, factors: tuple[str, ...], cond_keys: list[str]) -> list[dict[str, Any]]:
    """Metrics of each observation of ``values`` (``(n_obs, n_subjects, *levels, k)``).

    Returns one dict per observation: ``mean``, ``identical`` (every subject's executions equal), ``constant``
    (every value of every subject bit-for-bit equal: reproducible by identity, though its ICC is 0/0), ``icc``
    (six forms, see :func:`_icc_entry`), ``repeatability`` fields, ``sigdigits``, ``variance`` (per source:
    variance, share, truncated), ``per_condition`` and ``execution_sd`` with the 95% interval half-width it
    implies for one execution's value.
    """
    n_obs, n_subj = values.shape[:2]
    k = values.shape[-1]
    if n_obs == 0 or n_subj == 0:
        return [{} for _ in range(n_obs)]
    flat = values.reshape(n_obs, n_subj, -1)
    r_execs = flat.shape[-1]
    with np.errstate(over="ignore"):  # values near 1e308: an infinite mean, and _check_squares says why
        means = flat.mean(axis=(1, 2))
    out: list[dict[str, Any]] = [dict(mean=num(m)) for m in means] if n_obs else []
    if n_obs == 0 or r_execs < 2:
        return out
    _check_squares(flat)
    # Bit for bit (a -0.0 among 0.0 is not constant): only then is an observation reproducible by identity.
    bits = np.ascontiguousarray(flat, dtype=np.float64).view(np.uint64).reshape(n_obs, -1)
    constant = np.all(bits == bits[:, :1], axis=1)
    for i, o in enumerate(out):
        o["identical"] = bool(np.all(flat[i] == flat[i, :, :1]))
        o["constant"] = bool(constant[i])
        if not constant[i] and np.all(flat[i] == flat[i].flat[0]):
            # One value everywhere whose zeros differ in sign only (-0.0 beside 0.0, `%.3f` of a value near
            # zero): no quantity to judge; the criteria take it as constant, the bytes still differ (a warning)
            o["signed_zeros"] = True
        elif not constant[i] and np.all(
            np.abs(flat[i] - flat[i].flat[0]) <= DUST_ULPS * np.spacing(abs(flat[i].flat[0]))
        ):
            # One value everywhere to a few ulps (a pixel spacing of 1.0 written 1.0000000000000002 under
            # threads=2): its ICC is 0 over float64's dust, and "threads changes the result differently in each
            # subject" failed a field of 16 significant digits (reviews QC, DG, RD); the criteria take it as constant
            o["float_dust"] = True
    groups = rater_columns(values, [bool(o["identical"]) for o in out])
    for obs, columns in groups:
        # Parker's digits over the executions less the copies, as the within-subject SD: a fixed seed's level
        # repeated 5 times gave 3.01 digits where its one measurement and the noisy level allow 2.89 (review EX)
        sd = significant_digits(flat[np.ix_(obs, np.arange(n_subj), np.flatnonzero(columns))], axis=-1)
        for i, digits in zip(obs, np.asarray(sd).reshape(len(obs), n_subj), strict=True):
            out[i]["sigdigits"] = dict(parker_min=num(digits.min()), parker_mean=num(digits.mean()), base=10)
    if n_subj < 2:
        return out
    comps = variance_components(values, list(factors)) if (factors or k >= 2) else None
    tests = factor_tests(values, factors) if factors and comps is not None else None
    per_cond = _per_condition(values, cond_keys) if factors and k >= 2 else [{} for _ in range(n_obs)]
    icc_columns: dict[str, dict[str, list[Any]]] = {form: {} for form in FORMS}
    rep_columns: dict[str, list[Any]] = {}
    squares: list[list[Any]] = [[None] * n_obs for _ in range(3)]
    raters = [r_execs] * n_obs
    for obs, columns in groups:
        block = flat[np.ix_(obs, np.arange(n_subj), np.flatnonzero(columns))]
        iccs = icc_all(block)
        for form in FORMS:
            _fill(icc_columns[form], obs, _columns(iccs[form], _ICC_FIELDS), n_obs)
        _fill(rep_columns, obs, _columns(repeatability(block), _REPEATABILITY), n_obs)
        # Kept so that a verdict can say how many subjects or executions would settle a straddled threshold.
        for column, ms in zip(squares, two_way_mean_squares(block)[:3], strict=True):
            for i, m in zip(obs, np.asarray(ms).reshape(-1).tolist(), strict=True):
                column[i] = m
        for i in obs:
            raters[i] = int(columns.sum())
    with np.errstate(under="ignore"):
        spread = np.ptp(flat, axis=(1, 2))
        underflow = (spread > 0) & (spread * spread < np.finfo(np.float64).tiny)
    for i, o in enumerate(out):
        o["icc"] = {form: _icc_entry(icc_columns[form], i) for form in FORMS}
        o["raters"] = raters[i]  # the executions less the copies (the ICC's and within-SD's repeats)
        if underflow[i]:  # values 1e-170 apart read "every value is equal (0/0)" (a review)
            for entry in o["icc"].values():
                if not entry["estimable"] and entry["reason"] == ICC_REASONS[1]:
                    entry["reason"] = (
                        f"the values differ, by {spread[i]:.3g} at most: their squares underflow float64 and no "
                        "variance is left to compare (0/0); rescale the output (write it in other units)"
                    )
        ms_r, ms_c, ms_e = (num(column[i]) for column in squares)
        o["mean_squares"] = dict(msr=ms_r, msc=ms_c, mse=ms_e, n=n_subj, k=raters[i], copies=raters[i] < r_execs)
        o.update({field: num(column[i]) for field, column in rep_columns.items()})
        if comps is not None:
            var = np.asarray(comps.variance).reshape(n_obs, -1)[i]
            share = np.asarray(comps.share).reshape(n_obs, -1)[i]
            trunc = np.asarray(comps.truncated).reshape(n_obs, -1)[i]
            o["variance"] = {
                src: dict(variance=num(v), share=num(sh), truncated=bool(t))
                for src, v, sh, t in zip(comps.sources, var, share, trunc, strict=True)
            }
            exec_var = float(sum(v for src, v in zip(comps.sources, var, strict=True) if src != "subject"))
            # values that differ by less than float64's squares hold: 0 is no spread, and passed `execution_sd <=
            # 1e-300` beside values varying by 30% (a review); null is not estimable
            unknown = underflow[i] and exec_var == 0
            o["execution_sd"] = None if unknown else num(np.sqrt(exec_var))
            o["ci95_halfwidth"] = None if unknown else num(Z95 * np.sqrt(exec_var))
            if tests is not None:
                o["factor_p"] = tests[i]
        o["per_condition"] = per_cond[i]
    return out


def rater_columns(values: np.ndarray, identical: list[bool]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The executions that count as raters of the ICC (and repeats of the within-subject SD), per group of
    observations of ``values`` (``(n_obs, n_subjects, *levels, k)``) that share them: a list of (observation
    indices, boolean mask over the ``prod(levels) * k`` executions in their flattened order).

    The repetitions of a condition that are bit-for-bit equal in every subject are one measurement written k
    times (a fixed seed, a deterministic tool): they count once, as does a condition whose executions equal an
    earlier condition's, repetition by repetition, in every subject. As k raters, they made the ICC's confidence
    interval k times narrower than the data allow (df2 8 -> 32 with k = 3: a seed sweep whose three seeds read
    ICC lower bound 0.52 at k = 1 read 0.91 at k = 3 and passed, a review) and shrank the within-subject SD.
    Observations ``identical`` in every execution keep every execution (nothing varies), as do those that
    would be left with one rater.

    Examples
    --------
    >>> x = np.array([[[[1.0, 1.0], [2.0, 2.0]], [[3.0, 3.0], [5.0, 5.1]]]])  # 1 obs, 2 subjects, 2 levels, k=2
    >>> [(obs.tolist(), cols.tolist()) for obs, cols in rater_columns(x, [False])]  # the first level's are copies
    [([0], [True, False, True, True])]
    >>> x[0, 1, 1, 1] = 5.0  # now every condition's repetitions are copies: one rater per condition
    >>> [(obs.tolist(), cols.tolist()) for obs, cols in rater_columns(x, [False])]
    [([0], [True, False, True, False])]
    >>> y = np.array([[[[1.0, 1.5], [1.0, 1.5], [2.0, 2.5]], [[3.0, 3.5], [3.0, 3.5], [5.0, 5.5]]]])  # 3 levels
    >>> [(obs.tolist(), cols.tolist()) for obs, cols in rater_columns(y, [False])]  # the second copies the first
    [([0], [True, True, False, False, True, True])]
    """
    n_obs, n_subj, k = values.shape[0], values.shape[1], values.shape[-1]
    cells = np.ascontiguousarray(values, dtype=np.float64).reshape(n_obs, n_subj, -1, k).view(np.uint64)
    n_cond = cells.shape[2]
    copies = np.all(cells == cells[..., :1], axis=(1, 3))  # (n_obs, conditions)
    keep = np.ones((n_obs, n_cond, k), dtype=bool)
    keep[:, :, 1:] &= ~copies[:, :, None]
    # A condition equal, repetition by repetition in every subject, to an earlier one is that condition's
    # measurement written again (a `threads` level that changes nothing beside a seed sweep): it counts once too
    # (review EX: as six raters where three were distinct, a seed sweep's ICC lower bound 0.877 read above 0.9)
    for c in range(1, n_cond):
        for earlier in range(c):
            keep[np.all(cells[:, :, c] == cells[:, :, earlier], axis=(1, 2)), c] = False
    keep = keep.reshape(n_obs, -1)
    keep[(keep.sum(axis=1) < 2) | np.asarray(identical, dtype=bool)] = True
    patterns, inverse = np.unique(keep, axis=0, return_inverse=True)
    return [(np.flatnonzero(inverse.reshape(-1) == g), patterns[g]) for g in range(len(patterns))]


def _fill(into: dict[str, list[Any]], obs: np.ndarray, columns: dict[str, list[Any]], n_obs: int) -> None:
    """Place one group's :func:`_columns` at its observations ``obs`` in per-observation lists."""
    for field, values in columns.items():
        target = into.setdefault(field, [None] * n_obs)
        for i, v in zip(obs, values, strict=True):
            target[i] = v


def _per_condition(values: np.ndarray, cond_keys: list[str]) -> list[dict[str, Any]]:
    """ICC(A,1) (null where not estimable, with the reason), within-SD and SD ratio across the k repetitions of
    each condition."""
    n_obs = values.shape[0]
    levels = values.shape[2:-1]
    result: list[dict[str, Any]] = [{} for _ in range(n_obs)]
    for ci, idx in enumerate(itertools.product(*[range(n) for n in levels])):
        sub = values[(slice(None), slice(None), *idx, slice(None))]  # (n_obs, n_subj, k)
        icc = icc_all(sub)["ICC(A,1)"]
        rep = repeatability(sub)
        same = np.all(sub == sub[..., :1], axis=(1, 2))
        for i in range(n_obs):
            pick = functools.partial(_at, i=i)
            result[i][cond_keys[ci]] = dict(
                icc_a1=pick(icc.icc),
                icc_a1_ci_low=pick(icc.ci_low),
                icc_a1_estimable=bool(np.asarray(icc.estimable).reshape(-1)[i]),
                icc_a1_reason=np.asarray(icc.reason).reshape(-1)[i],
                wsd=pick(rep.wsd),
                sd_ratio=pick(rep.sd_ratio),
                identical=bool(same[i]),
            )
    return result


def decimal_resolution(values: np.ndarray) -> float:
    """The resolution the finite ``values`` are written at, as decimals: ``10**-d`` for the most decimals ``d``
    any of them needs (shortest round-trip form), 1 for integers. The smallest gap between distinct values
    stood for it: between subjects 3 mm apart, a registration run 10 mm off among identical ones needed 30 mm
    to be named (review R2).

    Examples
    --------
    >>> decimal_resolution(np.array([15.0, 16.0, 24.0])), decimal_resolution(np.array([2.5, 2.25, 300.0]))
    (1.0, 0.01)
    >>> decimal_resolution(np.array([-25.86347235740627, -22.894371570676306])) < 1e-13
    True
    """
    decimals = 0
    for v in np.unique(values[np.isfinite(values)]):
        text = np.format_float_positional(float(v), unique=True, trim="-")
        decimals = max(decimals, len(text.partition(".")[2]))
    return 10.0**-decimals


ODD_CHANGE = 0.5  # an execution half (or more) away from its subject's median, relative to the larger of the two
ODD_SUBJECTS = 0.25  # ... or a quarter (or more) of the SD between subjects' medians away
ODD_NOISE = 10.0  # ... and ten times farther than the executions of a typical subject spread (relative to its median)
# ... or a fifth (or more) of the larger value where the subject's other executions (two or more) agree: one run 40%
# off its subject's bit-identical others (a lesion volume 1250 -> 1750) was under both thresholds beside subjects
# 1250 to 7500 apart, and passed as "run-to-run flakiness" (review L2)
ODD_LONE = 0.2
ODD_LONE_SUBJECTS = 0.05


ODD_AGREE = 1e-6  # a subject's other executions this close, relative to an odd one's departure, agree


def odd_executions(
    values: np.ndarray, subjects: list[str], resolution: float | None = None
) -> list[dict[str, Any] | None]:
    """Per observation of ``values`` (``(n_obs, n_subjects, *levels, k)``, finite), the executions whose value
    is half or more away from their subject's median (``|x - m| >= 0.5 max(|x|, |m|)``), or a quarter or more of
    the SD between the subjects' medians away: a silent failure (an execution that wrote 0, or a third of its
    result) or a run stuck in another local minimum (a registration 3 mm off where the others agree to 0.01 mm),
    which an ICC hides when subjects differ much more than executions (a review's zero among 30 subjects read
    ICC 0.98; a review's 300-SD outlier passed unnamed). Only an outlier among its subject's
    executions: it must also be ten times farther from the median than a typical subject's executions spread,
    relative to its median and in the output's unit (medians over subjects of their range), so that noise
    around 0, or as large as the values, is not named. None where no execution is odd, else the count and the
    farthest one: its subject, ``column`` (its position in C order of ``(*levels, k)``), value, its
    subject's median (``typical``) and whether its subject's other executions (two or more) are bit-for-bit
    equal (``others_identical``), or agree to :data:`ODD_AGREE` of the departure (``others_agree``).
    ``resolution``: the step the values move by (a label's voxel volume), for the ten steps a departure must
    be; by default the decimals they are written with (:func:`decimal_resolution`).

    Examples
    --------
    >>> v = np.array([[[10.0, 10.1, 0.0], [20.0, 20.0, 20.1], [30.0, 30.1, 30.0], [40.0, 40.0, 40.1]]])
    >>> odd = odd_executions(v, ["s1", "s2", "s3", "s4"])  # one observation, 4 subjects, k = 3
    >>> {k: odd[0][k] for k in ("count", "subject", "column", "value", "typical", "others_identical", "others_agree")}
    {'count': 1, 'subject': 's1', 'column': 2, 'value': 0.0, 'typical': 10.0, 'others_identical': False, \
'others_agree': False}
    >>> v[0, 0, 2] = 14.0  # 28% off only, but 39 times a subject's spread (0.1) and 0.3 of the subjects' SD (13)
    >>> odd_executions(v, ["s1", "s2", "s3", "s4"])[0]["value"]
    14.0
    >>> v[0, 0, 2] = 12.0  # 0.15 of the subjects' SD: one of the executions' spread, not a silent failure
    >>> odd_executions(v, ["s1", "s2", "s3", "s4"])
    [None]
    """
    n_obs, n_subj = values.shape[:2]
    if values.size == 0 or math.prod(values.shape[2:]) < 2:
        return [None] * n_obs
    flat = values.reshape(n_obs, n_subj, -1)
    out: list[dict[str, Any] | None] = []
    typical = np.median(flat, axis=-1, keepdims=True)
    dev = np.abs(flat - typical)
    scale = np.maximum(np.abs(flat), np.abs(typical))
    ranges = np.ptp(flat, axis=-1, keepdims=True)
    # inf or nan where a median is 0 (a relative spread, then its product with that 0): compared as such, unsaid
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = ranges / np.abs(typical)
        noise = np.median(np.where(np.isnan(spread), 0.0, spread), axis=(1, 2), keepdims=True)
        far = (dev >= ODD_NOISE * noise * np.abs(typical)) & (
            dev >= ODD_NOISE * np.median(ranges, axis=(1, 2), keepdims=True)
        )
        between = np.std(typical, axis=1, ddof=1, keepdims=True) if n_subj > 1 else np.zeros((n_obs, 1, 1))
        halved = (dev > 0) & (dev >= ODD_CHANGE * scale) & far
        moved = (dev > 0) & (dev >= ODD_SUBJECTS * between) & far & ~halved
        # ... away from its own condition's repetitions too: a level that moves one subject (its repetitions
        # agreeing) is that factor's effect, not an odd run (the MRS case study named 72 executions so); with one
        # repetition per condition, and factors, an odd run cannot be told from a level's effect
        k = values.shape[-1]
        if k >= 2:
            own = np.abs(values - np.median(values, axis=-1, keepdims=True)).reshape(flat.shape)
            moved &= own >= 0.5 * dev
        elif values.ndim > 3:
            moved[:] = False
        # ... and a twentieth of the between-subject SD: a translation 0.0021 -> 0.0028 mm, subjects 1 mm apart,
        # is no odd run though 25% of its value (review P2)
        lone = _lone(dev, scale, far, k >= 2 or values.ndim == 3) & (dev >= ODD_LONE_SUBJECTS * between)
    for i, s in zip(*np.nonzero(lone.any(axis=2)), strict=True):  # ten steps of the values' resolution too
        lone[i, s] &= dev[i, s] >= ODD_NOISE * (resolution or decimal_resolution(flat[i]))
    for i, s in zip(*np.nonzero(moved.any(axis=2)), strict=True):
        # ... and ten times the other subjects' own spread where they vary, and ten steps of the values' resolution:
        # most subjects' executions equal made the typical spread 0, and honest counts moving by 1 in a few runs
        # were named (a review)
        others = np.delete(ranges[i, :, 0], s)
        noise_floor = max(
            float(np.median(others[others > 0])) if (others > 0).any() else 0.0,
            resolution or decimal_resolution(flat[i]),
        )
        moved[i, s] &= dev[i, s] >= ODD_NOISE * noise_floor
    odd = halved | moved | lone
    relative = np.where(odd, dev / np.where(scale > 0, scale, 1.0), -1.0)  # the farthest named, of those kept
    for i in range(n_obs):
        count = int(odd[i].sum())
        if not count:
            out.append(None)
            continue
        s, j = np.unravel_index(int(np.argmax(relative[i])), odd[i].shape)
        others = np.delete(flat[i, s], j)
        out.append(
            dict(
                count=count,
                subject=subjects[s],
                column=int(j),
                value=num(flat[i, s, j]),
                typical=num(typical[i, s, 0]),
                # two or more others, bit-for-bit equal: a deterministic result one run left (review R2)
                others_identical=bool(others.size >= 2 and (others == others[0]).all()),
                # ... or agreeing to a millionth of the departure: Monte Carlo arithmetic's last-bit noise in the
                # others turned a sign flip beside them into a warning (review SD)
                others_agree=bool(
                    others.size >= 2 and np.ptp(others) <= ODD_AGREE * abs(float(flat[i, s, j] - typical[i, s, 0]))
                ),
            )
        )
    return out


def _lone(dev: np.ndarray, scale: np.ndarray, far: np.ndarray, repeated: bool) -> np.ndarray:
    """Where an execution departs :data:`ODD_LONE` of the larger value or more from its subject's median while
    the subject's other executions (two or more) agree to :data:`ODD_AGREE` of that departure (``dev``: the
    departures, ``(n_obs, n_subjects, R)``). Not with one repetition per condition (``repeated`` False):
    there a level moving one subject cannot be told from an odd run."""
    if dev.shape[-1] < 3 or not repeated:
        return np.zeros(dev.shape, dtype=bool)
    ordered = np.sort(dev, axis=-1)
    largest, second = ordered[..., -1:], ordered[..., -2:-1]
    return (dev > 0) & (dev == largest) & (second <= ODD_AGREE * largest) & (dev >= ODD_LONE * scale) & far


def factor_tests(values: np.ndarray, factors: tuple[str, ...]) -> list[dict[str, float]]:
    """Per observation of ``values`` (``(n_obs, n_subjects, *levels, k)``), the p-value of each factor's main
    effect, and of each interaction between factors (key ``threads:lib``): ``F = MS_term / MS_subject:term`` on
    their degrees of freedom (subjects random, the factors fixed: the subjects' own reactions to the term are its
    noise). A variance share alone named pure
    run-to-run noise as a factor's effect in a tenth of the designs of 4 subjects x 2 repetitions (a review).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1, 6, 2, 3)) + np.array([0.0, 5.0])[:, None]  # threads adds 5 to every subject
    >>> factor_tests(x, ("threads",))[0]["threads"] < 1e-4
    True
    """
    from scipy import special  # here: 0.15 s that commands without factors never need

    from reprovip.metrics.variance import factorial_mean_squares

    ms = factorial_mean_squares(values, list(factors))
    out: list[dict[str, float]] = [{} for _ in range(values.shape[0])]
    # Every fixed term: the main effects and the factors' interactions with each other (threads:lib, whose
    # effect no main effect shows: a review's +2 only under threads=4 with lib=b was "run-to-run nondeterminism")
    for f in (t for t in ms.terms if t not in ("residual", "subject") and not t.startswith("subject:")):
        num_ms, den_ms = ms.term(f), ms.term(f"subject:{f}")
        d1, d2 = (float(ms.df[ms.terms.index(t)]) for t in (f, f"subject:{f}"))
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = num_ms / den_ms
        p = np.where(den_ms > 0, special.fdtrc(d1, d2, np.where(den_ms > 0, stat, 0.0)), np.where(num_ms > 0, 0.0, 1.0))
        for i, v in enumerate(np.atleast_1d(p)):
            out[i][f] = float(v)
    return out


LEAN_FULL, LEAN_WITHOUT = 0.75, 0.5  # an ICC in Koo & Li's good band or above that falls to poor without one subject


def leaning_subject(values: np.ndarray, subjects: list[str]) -> list[dict[str, Any] | None]:
    """Per observation of ``values`` (``(n_obs, n_subjects, *levels, k)``, finite), whether its ICC(A,1) rests
    on one subject: the subject whose mean is farthest from the median subject's, when the ICC is at least
    0.75 with it and below 0.5 without it (4 subjects or more). A subject 100 times larger than the others
    made the ICC 0.999998 while the other nine gave 0.45: their executions vary as much as they do (a review).
    None elsewhere, else the subject and both ICCs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(10, 1, (1, 9, 3))  # 9 subjects whose executions vary as much as they do
    >>> x = np.concatenate([x, np.full((1, 1, 3), 1000.0)], axis=1)  # and one 100 times larger
    >>> (lean,) = leaning_subject(x, [f"s{i}" for i in range(10)])
    >>> lean["subject"], lean["with"] > 0.99, lean["without"] < 0.5
    ('s9', True, True)
    """
    from reprovip.metrics.icc import icc_a1_from_mean_squares, two_way_mean_squares

    n_obs, n_subj = values.shape[:2]
    if values.size == 0 or n_subj < 4 or math.prod(values.shape[2:]) < 2:
        return [None] * n_obs
    flat = values.reshape(n_obs, n_subj, -1)
    r = flat.shape[-1]
    means = flat.mean(axis=-1)
    far = np.argmax(np.abs(means - np.median(means, axis=1, keepdims=True)), axis=1)  # (obs,)
    keep = np.ones((n_obs, n_subj), dtype=bool)
    keep[np.arange(n_obs), far] = False
    rest = flat[keep].reshape(n_obs, n_subj - 1, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        full = icc_a1_from_mean_squares(*two_way_mean_squares(flat)[:3], n_subj, r)
        without = icc_a1_from_mean_squares(*two_way_mean_squares(rest)[:3], n_subj - 1, r)
    out: list[dict[str, Any] | None] = []
    for i in range(n_obs):
        leans = full[i] >= LEAN_FULL and not without[i] >= LEAN_WITHOUT  # NaN without it: nothing left to agree
        out.append(
            {"subject": subjects[int(far[i])], "with": num(full[i]), "without": num(without[i])} if leans else None
        )
    return out
