"""One criterion on one output: its values (:func:`~reprovip.criteria.values.metric_values`) at their worst
against the threshold, a reason that says the value, the observation and why a value could not be used.

An infinite or missing value is not estimable, never a pass; observations identical in every execution meet
any threshold by identity; an ICC threshold at 1 passes identical executions only; patterns that match no
observation are said (:mod:`reprovip.criteria.selection`).
"""

from __future__ import annotations

import math
from typing import Any

from reprovip.criteria.evidence import icc_evidence
from reprovip.criteria.reasons import as_float, named, reason
from reprovip.criteria.rules import OBSERVATION_METRICS, OPS, Criterion, number
from reprovip.criteria.selection import no_match, said_unmatched
from reprovip.criteria.values import NO_LABEL, metric_values, no_label

# Why a metric is infinite (stored "Infinity"), by its field (rules.OBSERVATION_METRICS) or name: a criterion
# on it is not estimable, never a pass, whichever side of the threshold the infinity falls.
INFINITE = {
    "wcv_rms": "a subject's mean is 0 while its executions differ: a coefficient of variation is undefined (use wsd)",
    "wcv_log": "a subject's mean is 0 while its executions differ: a coefficient of variation is undefined (use wsd)",
    "bcv": "the mean over subjects is 0: a coefficient of variation is undefined",
    "sd_ratio": "no variance between subjects (between-subject SD 0) while executions differ: "
    "the ratio is undefined (use wsd or execution_sd)",
    "hd95_max": "a label is empty in some execution and not in another (see dice_min)",
}
INFINITE_ICC = "its 95% CI is unbounded (the single-measure lower bound is at or below -1/(k-1))"
INFINITE_OTHER = "the values overflow"


def _fmt(v: float | None) -> str:
    """``v`` with 6 significant digits, or as many as tell it from the whole number those would round it to: a
    lower bound of 0.999999999998 read "95% CI 1 to 1", executions that agree exactly (review I).

    Examples
    --------
    >>> _fmt(0.999999999998), _fmt(1.0), _fmt(0.123456789), _fmt(None)
    ('0.999999999998', '1', '0.123457', 'n/a')
    """
    if v is None:
        return "n/a"
    shown = f"{v:.6g}"
    return number(v) if float(shown).is_integer() and float(shown) != v else shown


def _infinite(metric: str, value: float) -> str:
    """Why ``metric`` is ``value`` (an infinity): named with its value, for the criterion's message."""
    why = INFINITE.get(OBSERVATION_METRICS.get(metric, metric))
    if why is None:
        why = INFINITE_ICC if metric.startswith("ICC(") else INFINITE_OTHER
    return f"{metric} = {value:g}: {why}"


def _quoted(output: dict[str, Any], name: str) -> str:
    """The line a text observation is read from, quoted (`` (line 3: "...")``), or nothing."""
    line = next((o.get("line") for o in output.get("observations") or [] if o.get("name") == name), None)
    return f' (line {name[4:].partition(":")[0]}: "{line}")' if line else ""


def _summary_for(output: dict[str, Any], name: str | None) -> str:
    """The output's attribution summary, quoted by a failure on observation ``name``: without its run-to-run
    sentence where that observation's repetitions agree under every condition (a deterministic field beside a
    noisy one was told "repetitions differ under every condition": a review)."""
    summary = str((output.get("attribution") or {}).get("summary") or "")
    obs = next((o for o in output.get("observations") or [] if o.get("name") == name), None) if name else None
    if obs is None:
        return summary
    conditions = obs.get("per_condition") or {}
    steady = bool(conditions) and all(c.get("identical") for c in conditions.values())
    # ... nor a factor that does nothing to it (p >= 0.05, no variance of its own or with the subjects): `threads
    # changes the result` beside an ES frame index only the seed moved (a review)
    variance = obs.get("variance") or {}
    idle = [
        f
        for f, p in (obs.get("factor_p") or {}).items()
        if p is not None
        and p >= 0.05
        and not any((v or {}).get("share") for k, v in variance.items() if f in k.split(":") and k != "subject")
    ]
    kept = [
        part
        for part in summary.split("; ")
        if not (steady and part.startswith("repetitions differ under every condition"))
        and not any(part.startswith(f"{f} changes the result") for f in idle)
    ]
    return "; ".join(kept)


def check(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """One criterion on one output; its ``observations`` patterns that match nothing are said (never a pass)."""
    judged = _at_icc_edge(_check_values(criterion, output, document), criterion, output)
    return said_unmatched(judged, criterion, output, document)


def _at_icc_edge(judged: dict[str, Any], criterion: Criterion, output: dict[str, Any]) -> dict[str, Any]:
    """An ICC threshold at 1 (``ICC(A,1).ci_low >= 1``) passes only executions that are identical: executions
    1 ulp apart give an ICC and a CI of exactly 1 in float64, and passed where ``wsd <= 0`` failed (a review).
    A consistency form (``ICC(C,1)``) ignores an execution's offset: it is exactly 1 when its residual mean
    square is 0. A voxel ICC (``voxel_icc_a1_min >= 1``) likewise passes only images whose voxels are the same
    in every execution (the voxelwise ``differ_fraction`` is 0)."""
    if not (judged["passed"] and criterion.metric.startswith(("ICC(", "voxel_icc")) and criterion.threshold >= 1):
        return judged
    edge = _voxels_differ if criterion.metric.startswith("voxel_icc") else _observations_differ
    found = edge(judged, criterion, output)
    if found is None:
        return judged
    how, observation = found
    msg = f"{how}: the ICC rounds to 1; {criterion.text} requires identical executions"
    if output.get("attribution", {}).get("summary"):
        msg += f": {output['attribution']['summary']}"
    return dict(judged, passed=False, observation=observation, message=msg)


def _voxels_differ(judged: dict[str, Any], criterion: Criterion, output: dict[str, Any]) -> tuple[str, None] | None:
    """How a voxel ICC of 1 hides executions that differ (an unknown share when no fraction was stored)."""
    differ = as_float(((output.get("voxelwise") or {}).get("summary") or {}).get("differ_fraction"))
    if differ == 0:
        return None
    share = "an unknown share" if differ is None else f"{100 * differ:.3g}%"
    how = (
        f"{criterion.metric} = {_fmt(judged['value'])} but the executions differ in {share} of the voxels "
        f"(voxel_differ_fraction {_fmt(differ)})"
    )
    return how, None


def _observations_differ(
    judged: dict[str, Any], criterion: Criterion, output: dict[str, Any]
) -> tuple[str, str] | None:
    """How an ICC of 1 hides selected observations whose executions differ, and the first of them."""
    form = criterion.metric.partition(".")[0]

    def exact(o: dict[str, Any]) -> bool:
        consistent = form.startswith("ICC(C") and (o.get("mean_squares") or {}).get("mse") == 0
        return bool(o.get("identical") or o.get("constant") or o.get("float_dust") or consistent)

    observations = output.get("observations") or []
    differ = [o for o in observations if criterion.selects(o["name"]) and not exact(o)]
    if not differ:
        return None
    first = differ[0]
    entry = (first.get("icc") or {}).get(form) or {}
    estimate, low, high = (_fmt(as_float(entry.get(f))) for f in ("value", "ci_low", "ci_high"))
    how = (
        f"{form} = {estimate} (95% CI {low} to {high}) on {named([o['name'] for o in differ])} but the executions "
        f"differ (wsd = {_fmt(as_float(first.get('wsd')))})"
    )
    return how, first["name"]


def _check_values(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """One criterion on the observations it selects. Observations whose every value is the same, bit for bit,
    in every execution of every subject are reproducible by identity: they meet the criterion (though their ICC
    is 0/0) and are named; when the criterion selects only such observations, it passes on them."""
    vox = (output.get("voxelwise") or {}).get("summary") or {}
    if criterion.metric.startswith("voxel_") and vox.get("voxels") and vox.get("mask_voxels") == 0:
        if vox.get("differ_fraction") == 0 and not output.get("errors"):
            # Every voxel zero (or -0.0: its files then differ in the zeros' signs only) in every execution:
            # reproducible by identity, as a constant observation is; it read "not estimable (0/0)", not
            # analysable, where the same values in a table passed (a review). `something in the images` warns.
            message = f"{criterion.text}: every voxel is zero in every execution: nothing to compare"
            return reason(criterion.text, passed=True, message=message, **_extra(criterion))
    values = metric_values(criterion.metric, output, document, criterion.selects)
    observations = output.get("observations") or []
    constant = {o["name"] for o in observations if o.get("constant") or o.get("signed_zeros") or o.get("float_dust")}
    same = [name for name, _, _ in values if name in constant] if criterion.op is not None else []
    if not same:
        return _judge(criterion, output, values)
    dust = " (to 4 units in the last place of float64)" if any(o.get("float_dust") for o in observations) else ""
    identity = f"{named(same)} identical in every execution{dust}: nothing to compare between subjects"
    rest = [t for t in values if t[0] not in constant]
    if not rest and criterion.metric.upper().startswith("ICC") and _one_subject_differs(output):
        # one subject's label volumes identical while its label maps differ read "ICC passed" (review IN): an ICC
        # needs subjects to compare, as where the numbers differ
        message = (
            f"{criterion.text}: {identity}, but there is one subject and its outputs differ: an ICC needs at least "
            "2 complete subjects"
        )
        return reason(criterion.text, passed=False, estimable=False, message=message, **_extra(criterion))
    if not rest:
        return reason(
            criterion.text,
            passed=True,
            observation=same[0],
            message=f"{criterion.text}: {identity}",
            **_extra(criterion),
        )
    judged = _judge(criterion, output, rest)
    judged["message"] += f"; {identity}"
    return judged


STABLE_DIGITS = 6  # significant digits from which a value the subjects share reads as computed stably


def _subjects_alike(output: dict[str, Any], name: str | None, estimate: float | None) -> str | None:
    """Why an ICC of 0 or less fails on an observation whose values agree to :data:`STABLE_DIGITS` significant
    digits or more: its subjects do not differ beyond the executions (a quantity that does not depend on the
    subject, an atlas' scale), so the ICC has nothing to measure; review SD's `atlas_scale`, stable to 10 digits,
    read "not reproducible: run-to-run nondeterminism" with no word of it."""
    if estimate is None or estimate > 0:
        return None
    obs = next((o for o in output.get("observations") or [] if o.get("name") == name), {})
    digits = as_float((obs.get("sigdigits") or {}).get("parker_min"))
    if digits is None or digits < STABLE_DIGITS:
        return None
    return (
        f"its subjects do not differ beyond its executions (an ICC of 0 or less), while its values agree to "
        f"{digits:.3g} significant digits: a value that does not depend on the subject has no between-subject "
        f"spread for an ICC to measure; if so, judge it with a `sigdigits >= N` criterion on it (`observations:`)"
    )


def _one_subject_differs(output: dict[str, Any]) -> bool:
    """Whether the output has one subject (or none) and its files differ between executions."""
    return int(output.get("n_subjects") or 0) < 2 and not (output.get("bitwise") or {}).get("identical", True)


def _extra(criterion: Criterion) -> dict[str, Any]:
    return dict(
        metric=criterion.metric,
        severity=criterion.severity,
        threshold=criterion.threshold,
        observations=list(criterion.observations),  # the patterns it judges; empty: every observation
    )


def _judge(
    criterion: Criterion, output: dict[str, Any], values: list[tuple[str | None, Any, dict[str, Any]]]
) -> dict[str, Any]:
    """The criterion at its worst over ``values``; a value that is null or infinite is not estimable."""
    extra = _extra(criterion)
    if criterion.op is None:
        if values and values[0][1] is None:
            why = values[0][2].get("reason", "not computed")
            return reason(criterion.text, passed=False, estimable=False, message=f"{criterion.metric}: {why}", **extra)
        ok = bool(values and values[0][1])
        msg = f"{criterion.metric}: {'yes' if ok else 'no'}"
        if not ok:  # where it fails (the envelope's worst change), then the output's attribution
            detail = values[0][2].get("detail") if values else None
            msg += f" ({'; '.join(x for x in (detail, output.get('attribution', {}).get('summary')) if x)})"
        return reason(criterion.text, passed=ok, value=ok, message=msg, **extra)
    usable, unusable = [], []  # unusable: (observation, why, value as the document stores it)
    for name, v, x in values:
        f = as_float(v)
        if f is None:
            unusable.append((name, x.get("reason") or "not computed", None))
        elif math.isinf(f):
            unusable.append((name, _infinite(criterion.metric, f), "Infinity" if f > 0 else "-Infinity"))
        else:
            usable.append((name, f, x))
    better_high = criterion.op in (">=", ">")
    if usable:
        # on a tie, an observation whose executions differ decides, not one identical everywhere (review L6: ICC
        # lower bounds of 1.0 named `quantiles[0]`, the same in every execution, beside `stats.*` that differ)
        same = {o.get("name"): bool(o.get("identical")) for o in output.get("observations") or []}
        if better_high:
            name, value, x = min(usable, key=lambda t: (t[1], same.get(t[0], False)))
        else:
            name, value, x = max(usable, key=lambda t: (t[1], not same.get(t[0], False)))
        # Significant digits come through a logarithm: 3 digits compute as 2.9999999999999996 and failed
        # `sigdigits >= 3` (a review); compared at 12 decimals.
        compared = round(value, 12) if "sigdigits" in criterion.metric else value
        ok = OPS[criterion.op](compared, criterion.threshold)
        where = f" on {name}{_quoted(output, name)}" if name else ""
        word = "meets" if ok else "fails"
        rule = f"{word} {criterion.op} {number(criterion.threshold)}"
        # a pass on 2 subjects said nothing of its one degree of freedom (a review): said in the message, and kept
        # as the reason's `note`, which `check` prints under its "Passed" line (review EX6: it printed nothing)
        note = {"note": x["note"]} if ok and x.get("note") else {}
        ci = x.get("ci")
        if ci:  # an ICC: its estimate and interval once, then which of them the rule reads
            form, _, field = criterion.metric.partition(".")
            read = {"ci_low": 1, "ci_high": 2}.get(field, 0)  # the one the rule reads: shown on its side of it
            estimate, low, high = (
                number(as_float(v), criterion.threshold) if i == read else _fmt(as_float(v))
                for i, v in enumerate((x.get("estimate"), ci[0], ci[1]))
            )
            head = f"{form} = {estimate} (95% CI {low} to {high})"
            bound = {"ci_low": "its lower bound", "ci_high": "its upper bound"}.get(field, "it")
            msg = f"{head}{where}: {bound} {rule}" + (f" ({note['note']})" if note else "")
        else:
            msg = f"{criterion.metric} = {number(value, criterion.threshold)}{where} {rule}"
        if not ok and ci and (alike := _subjects_alike(output, name, as_float(x.get("estimate")))):
            msg += f"; {alike}"
        if not ok and (summary := _summary_for(output, name)):
            msg += f": {summary}"
        if not ok or not unusable:
            evidence = icc_evidence(criterion, x) if x.get("mean_squares") else None
            return reason(
                criterion.text,
                passed=ok,
                value=value,
                observation=name,
                message=msg,
                evidence=evidence,
                **note,
                **extra,
            )
    if unusable:
        why_not = named([f"{n}: {why}" if n else why for n, why, _ in unusable])
        # One value per output (a voxel summary, Dice): no observations to count.
        single = len(values) == 1 and values[0][0] is None
        on = "" if single else f" on {len(unusable)} of {len(values)} observation(s)"
        return reason(
            criterion.text,
            passed=False,
            estimable=False,
            observation=unusable[0][0],
            value=unusable[0][2],
            message=f"{criterion.text}: not estimable{on} ({why_not})",
            **extra,
        )
    if criterion.observations and not output.get("error"):
        why = no_match(list(criterion.observations), [str(o["name"]) for o in output.get("observations") or []])
        # a pattern matching nothing is a mistake in the criteria, whatever their severity: a warn criterion
        # with a misspelt pattern read green in check and JUnit (a review)
        extra = dict(extra, severity="fail")
    else:
        why = output.get("error") or (NO_LABEL if no_label(output) else "the metric was not computed for this output")
    return reason(
        criterion.text, passed=False, estimable=False, message=f"{criterion.text}: not analysable: {why}", **extra
    )
