"""Metrics of a table's or JSON file's observations, each over the subjects that write it.

Most observations are written by every subject; a table's row or a JSON field that some subject writes in none of
its executions (:attr:`~reprovip.analyze.observations.Observations.absent`) is measured over the others. The
observations are grouped by the subjects that write them, and every group gets the same metrics, outlier
tests and (with a ``version`` factor) envelope test, merged into one verdict.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from reprovip.analyze.design import Design
from reprovip.analyze.envelope import envelope
from reprovip.analyze.interaction import interaction_tests
from reprovip.analyze.observations import Observations
from reprovip.analyze.spread import spread_tests
from reprovip.analyze.stats import leaning_subject, num, odd_executions, scalar_metrics
from reprovip.criteria.rules import ENVELOPE_FACTORS


def version_factor(design: Design) -> str | None:
    """The design's ``version`` (or ``environments``) factor, whose first level is the baseline; or None."""
    return next((f for f in ENVELOPE_FACTORS if f in design.factor_names), None)


def version_envelope(design: Design, values: Any, names: list[str], subjects: list[str]) -> dict[str, Any] | None:
    """A ``version`` (or ``environments``) factor gets the envelope test: is its effect beyond run-to-run noise?
    None without such a factor."""
    factor = version_factor(design)
    if factor is None:
        return None
    axis = design.factor_names.index(factor)
    others = [(f, lv) for i, (f, lv) in enumerate(design.factors) if i != axis]
    conditions = [
        ",".join(f"{f}={x}" for (f, _), x in zip(others, c, strict=True)) or "-"
        for c in itertools.product(*(lv for _, lv in others))
    ]
    levels = tuple(f"{factor}={lv}" for lv in design.factors[axis][1])
    env = envelope(values, names, axis, levels, subjects=subjects, conditions=conditions)
    if "baseline" in env:  # the levels as the factor names them
        env["baseline"], env["compared"] = design.factors[axis][1][0], list(design.factors[axis][1][1:])
    return dict(env, factor=factor)


def by_subjects(obs: Observations, indices: list[int]) -> list[tuple[list[int], list[int]]]:
    """``indices`` (observations) grouped by the subjects that write them: ``(observations, subjects)`` index
    lists, the group every subject writes first."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in indices:
        n = obs.names[i]
        gone = set(obs.absent.get(n, ())) | set(obs.zero.get(n, ()))  # written as 0 by a few: left out too
        groups.setdefault(tuple(s for s in obs.subjects if s in gone), []).append(i)
    return [
        (idx, [j for j, s in enumerate(obs.subjects) if s not in gone])
        for gone, idx in sorted(groups.items(), key=lambda g: (len(g[0]), g[0]))
    ]


def _severity(env: dict[str, Any]) -> float:
    """How far a group's worst observation is beyond its own critical value (the groups' differ)."""
    z, crit = env.get("max_abs_z"), env.get("z_critical")
    if z is None or not crit:
        return math.inf
    return float(z) / float(crit)


def merge_envelopes(envs: list[dict[str, Any]]) -> dict[str, Any]:
    """One envelope verdict from the groups' tests: outside when any group's is; the worst group's sentence.

    Examples
    --------
    >>> a = dict(within_envelope=True, outside=[], observations={"x": {}}, max_abs_z=1.0, z_critical=3.0)
    >>> b = dict(within_envelope=False, outside=["y"], observations={"y": {}}, max_abs_z=9.0, z_critical=3.5)
    >>> m = merge_envelopes([a, b])
    >>> m["within_envelope"], m["outside"], sorted(m["observations"]), m["max_abs_z"]
    (False, ['y'], ['x', 'y'], 9.0)
    """
    tested = [e for e in envs if "skipped" not in e]
    if len(tested) < 2:
        return tested[0] if tested else envs[0]
    worst = max(tested, key=_severity)
    observations: dict[str, dict[str, Any]] = {}
    for e in tested:  # an observation tested in two groups (its finite subjects, its finiteness) keeps both
        for n, d in e["observations"].items():
            observations[n] = {**observations.get(n, {}), **d}
    return dict(
        worst,
        within_envelope=all(e["within_envelope"] for e in tested),
        outside=sorted({n for e in tested for n in e["outside"]}),
        observations=observations,
    )


def observation_metrics(
    obs: Observations, design: Design, cond_keys: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The metrics of every finite observation of ``obs`` (name -> metrics, with ``absent_subjects`` and
    ``written_by``, the number of subjects that write it, where some subjects write it in none of their
    executions), and the merged envelope test (None without a version factor)."""
    finite = [i for i, n in enumerate(obs.names) if n not in obs.nonfinite]
    metrics: dict[str, dict[str, Any]] = {}
    envs = []
    for idx, subj in by_subjects(obs, finite):
        values = obs.values[np.ix_(idx, subj)]
        names, subjects = [obs.names[i] for i in idx], [obs.subjects[j] for j in subj]
        metrics.update(zip(names, scalar_metrics(values, design.factor_names, cond_keys), strict=True))
        for n, odd in zip(names, odd_executions(values, subjects), strict=True):
            if odd is not None:
                metrics[n]["odd_executions"] = placed(odd, design, cond_keys)
        for n, lean in zip(names, leaning_subject(values, subjects), strict=True):
            # Not where every subject's executions agree: there is no run-to-run variation for one subject to
            # hide (a review's CSF mean, 0 in the subjects without CSF, warned in a bit-for-bit identical study)
            if lean is not None and not metrics[n].get("identical"):
                metrics[n]["icc_leans_on"] = lean
        for n, test in zip(names, interaction_tests(values, design.factor_names, subjects), strict=True):
            if test:
                metrics[n]["interaction"] = test
        for n, test in zip(names, spread_tests(values, design.factor_names), strict=True):
            if test:
                metrics[n]["spread"] = test
        for n in names:
            if n in obs.absent:
                metrics[n].update(absent_subjects=obs.absent[n], written_by=len(subjects))
            if n in obs.zero:
                metrics[n]["zero_subjects"] = obs.zero[n]
        if (env := version_envelope(design, values, names, subjects)) is not None:
            envs.append(env)
    if envs:
        envs += _partial_envelopes(obs, design)
        critical = max((float(e["z_critical"]) for e in envs if "z_critical" in e), default=math.inf)
        if (changed := _finiteness_changes(obs, design, critical)) is not None:
            envs.append(changed)
    return metrics, (merge_envelopes(envs) if envs else None)


def _finiteness_changes(obs: Observations, design: Design, critical: float) -> dict[str, Any] | None:
    """The non-finite observations whose finiteness a compared version changes for some subject (every baseline
    repetition finite and a compared level's not, or the converse) as an envelope test outside, the first
    named (``critical``, the tests' critical |z|, is said beside its infinite one); None when there are none.
    The subjects finite everywhere are tested by :func:`_partial_envelopes`;
    a new version writing NaN for one subject read "within_envelope: yes" beside its failing finiteness check
    (review PH)."""
    factor = version_factor(design)
    axis = design.factor_names.index(factor)
    levels = design.factors[axis][1]
    flat = obs.values.reshape(len(obs.names), len(obs.subjects), *design.levels, design.k)
    found: dict[str, str] = {}
    for i, n in enumerate(obs.names):
        if n not in obs.nonfinite:
            continue
        for j, subject in enumerate(obs.subjects):
            if subject in obs.absent.get(n, ()):
                continue
            finite = np.moveaxis(np.isfinite(flat[i, j]), axis, 0).reshape(len(levels), -1)
            base = bool(finite[0].all())
            changed = [lv for lv, f in zip(levels[1:], finite[1:], strict=True) if bool(f.all()) != base]
            if changed and (finite[0].all() or not finite[0].any()):  # a baseline finite, or non-finite, throughout
                what = "finite" if base else "non-finite"
                found[n] = f"{n} of {subject} is {what} in every baseline execution and not under {factor}={changed[0]}"
                break
    if not found:
        return None
    first = next(iter(found))
    return dict(
        factor=factor,
        baseline=levels[0],
        compared=list(levels[1:]),
        within_envelope=False,
        outside=list(found),
        worst_observation=first,
        max_abs_z=num(math.inf),
        z_critical=num(critical),
        observations={n: {"outside": True, "finiteness": why} for n, why in found.items()},
        detail=f"{found[first]}: a new version that changes whether a value is a number leaves the envelope",
    )


def _partial_envelopes(obs: Observations, design: Design) -> list[dict[str, Any]]:
    """The envelope tests of the non-finite observations, each over the subjects finite in every execution of
    it: a new version writing `NA` for one subject took the others' +30% out of the test, which read "within
    the baseline's run-to-run envelope" (a review; the verdict failed on the non-finite value only)."""
    flat = obs.values.reshape(len(obs.names), len(obs.subjects), -1)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, n in enumerate(obs.names):
        if n in obs.nonfinite:
            gone = obs.absent.get(n, ())
            finite = tuple(j for j, s in enumerate(obs.subjects) if s not in gone and np.isfinite(flat[i, j]).all())
            if finite:
                groups.setdefault(finite, []).append(i)
    envs = []
    for subj, idx in groups.items():
        names, subjects = [obs.names[i] for i in idx], [obs.subjects[j] for j in subj]
        env = version_envelope(design, obs.values[np.ix_(idx, list(subj))], names, subjects)
        if env is not None:
            envs.append(env)
    return envs


def placed(odd: dict[str, Any], design: Design, cond_keys: list[str]) -> dict[str, Any]:
    """An odd execution (:func:`~reprovip.analyze.stats.odd_executions`) named by its condition and repetition."""
    column = odd.pop("column")
    cell, rank = divmod(column, design.k)
    rec = design.grid[odd["subject"]][(design.cells[cell], rank)]
    return dict(odd, condition=cond_keys[cell], repetition=rec.repetition)
