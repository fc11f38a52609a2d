"""Which observations a criterion judges: its ``observations`` patterns, those that match nothing, and the
observations that differ while no criterion judges them.

A criterion's patterns match the readers' names as written (:func:`~reprovip.criteria.rules.matches`). A
pattern that matches no observation of the outputs the criterion covers is said, never dropped: a review's
``observations: ["volume", "fits[1].amp"]`` passed on ``volume`` alone while ``fits[1].amp`` varied by 7%.
"""

from __future__ import annotations

import difflib
from typing import Any

from reprovip.criteria.reasons import as_float, named, reason
from reprovip.criteria.rules import OBSERVATION_METRICS, STUDY_METRICS, Criterion, matches

JUDGED = "every observation judged"


def unmatched(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """The patterns of ``criterion`` that match no observation of any output it covers (``output`` and the
    document's others): a criterion naming no output may select ``volume`` in one output and ``amp`` in
    another, but a pattern found nowhere is a typo or a renamed observation."""
    outputs = [output, *(o for o in document.get("outputs") or [] if o is not output and criterion.covers(o))]
    names = [str(o["name"]) for out in outputs for o in out.get("observations") or []]
    return [p for p in criterion.observations if not any(matches(n, p) for n in names)]


def judges(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> bool:
    """Whether ``criterion`` judges ``output``: a criterion that names no output but selects observations by
    pattern judges the outputs holding them (criteria.md's `*/amplitude` example made a study's label map "not
    analysable: no observation matches */amplitude", exit 1: a review); a pattern found in no covered output is
    a typo or a renamed observation, said on every one of them (:func:`said_unmatched`)."""
    if not criterion.observations or criterion.outputs or output.get("error"):
        return True
    names = [str(o["name"]) for o in output.get("observations") or []]
    return any(matches(n, p) for n in names for p in criterion.observations) or bool(
        unmatched(criterion, output, document)
    )


def no_match(patterns: list[str], names: list[str], ignored: list[str] | None = None) -> str:
    """ "no observation matches P (did you mean `p`?)": the closest name to each pattern, in any case (`SNR`
    for `snr` had no suggestion: a review); a pattern that selects observations the output's `ignore` leaves out
    says so (review B: "no observation matches vol", the field there, ignored).

    Examples
    --------
    >>> no_match(["SNR", "Volume", "xyz"], ["snr", "volume_mm3", "cnr"])
    'no observation matches SNR (did you mean `snr`?), Volume (did you mean `volume_mm3`?), xyz'
    >>> no_match(["vol"], ["snr"], ignored=["vol"])
    "no observation matches vol (the output's `ignore` leaves out vol)"
    """
    lower = {n.lower(): n for n in reversed(names)}  # the first name of each spelling
    hints = []
    for p in patterns:
        left = [n for n in ignored or () if matches(n, p)]
        close = difflib.get_close_matches(p.lower(), list(lower), n=1)
        if left:
            hints.append(f"{p} (the output's `ignore` leaves out {', '.join(left[:3])})")
        else:
            hints.append(f"{p} (did you mean `{lower[close[0]]}`?)" if close else p)
    return f"no observation matches {', '.join(hints)}"


def said_unmatched(
    judged: dict[str, Any], criterion: Criterion, output: dict[str, Any], document: dict[str, Any]
) -> dict[str, Any]:
    """``judged`` (the criterion's reason on ``output``) with its patterns that match nothing said: a computed
    failure still decides, and says them; anything else (a pass, a pass by identity) becomes not estimable."""
    missing = unmatched(criterion, output, document) if criterion.observations and not output.get("error") else []
    if not missing:
        return judged
    ignored = (output.get("ignored_observations") or {}).get("names") or []
    why = no_match(missing, [str(o["name"]) for o in output.get("observations") or []], ignored)
    if not judged["passed"] and judged["estimable"]:
        return dict(judged, message=f"{judged['message']}; {why}")
    return dict(
        judged,
        passed=False,
        estimable=False,
        value=None,
        severity="fail",  # a mistake in the criteria, whatever their severity (see judge.check)
        message=f"{criterion.text}: not estimable: {why}",
    )


def unjudged(out: dict[str, Any], rules: list[Criterion]) -> list[dict[str, Any]]:
    """A warning naming the observations that differ between executions while no criterion selects them: when
    every criterion on the output's observations filters them (``observations:``), the others go unjudged."""
    per_observation = [c for c in rules if c.metric in OBSERVATION_METRICS or c.metric.startswith("ICC(")]
    # Identity flags and output-level metrics (Dice, voxel summaries) cover every observation; a study-level one
    # (failure_rate) none of them (a review: `failure_rate <= 0.1` beside a filtered ICC silenced this warning);
    # `within_envelope` judges a version's change against run-to-run noise, not the noise itself; and
    # `repetitions_identical` only the differences within a condition (a review: it silenced this warning while
    # an unselected observation changed with the thread count).
    partial = {"repetitions_identical", "within_envelope", *STUDY_METRICS}
    covering = [c for c in rules if c not in per_observation and c.metric not in partial]
    # Alone, the identity flags judged nothing else either: `repetitions_identical` passed beside a 20% change with
    # the thread count, "sufficiently reproducible" with no word (a review)
    flags = sorted({c.metric for c in rules if c.metric in ("repetitions_identical", "within_envelope")})
    if (not per_observation and not flags) or covering or any(not c.observations for c in per_observation):
        return []
    bits = out.get("bitwise") or {}
    if not out.get("observations") and bits.get("identical") is False and bits.get("repetitions_identical"):
        # No observation to name (bytes): the files differ across levels only, which no flag judges (review B: a
        # 15% change under threads=2 declared `bytes` passed `repetitions_identical` with no word)
        return [
            reason(
                JUDGED,
                passed=False,
                severity="warn",
                message=f"the files differ between executions of a subject across factor levels, and the criteria "
                f"judge only {', '.join(flags)}: the verdict does not vouch "
                "for them; add `identical` to fail them, or declare a kind whose values can be measured",
            )
        ]
    repetitions = any(c.metric == "repetitions_identical" for c in rules)
    left = [
        o["name"]
        for o in out.get("observations") or []
        # a non-finite observation stays listed: its finite subjects' differences are judged by nothing either
        if not (o.get("identical") or o.get("constant") or o.get("float_dust"))
        and not any(c.selects(o["name"]) for c in per_observation)
        and not (repetitions and _repetitions_differ(o, out))
    ]
    if not left:
        return []
    patterns = sorted({p for c in per_observation for p in c.observations})
    what = f"the criteria select {', '.join(patterns)}" if patterns else f"the criteria judge only {', '.join(flags)}"
    # how far apart the worst of them is: 1e-12 of noise and a 50% change read alike (review RD)
    digits = {
        o["name"]: d
        for o in out.get("observations") or []
        if o["name"] in left and (d := as_float((o.get("sigdigits") or {}).get("parker_min"))) is not None
    }
    worst = (
        f"; the least alike, {min(digits, key=digits.get)}, agrees to {min(digits.values()):.2g} significant digits"
        if digits
        else ""
    )
    return [
        reason(
            JUDGED,
            passed=False,
            severity="warn",
            value=len(left),
            observation=left[0],
            message=f"{len(left)} observation(s) differ between executions and no criterion selects them ({what}): "
            f"{named(left)}{worst}; the verdict does not vouch for them",
        )
    ]


def _repetitions_differ(observation: dict[str, Any], output: dict[str, Any]) -> bool:
    """Whether some of ``observation``'s differences are between repetitions of one condition (which
    ``repetitions_identical`` judges): all of them without factors; with factors, as each condition says."""
    if not output.get("factors"):
        return True
    return any(c.get("identical") is False for c in (observation.get("per_condition") or {}).values())
