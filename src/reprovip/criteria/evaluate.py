"""Apply criteria to an analysis document: a verdict per output with its reasons, alerts, a study verdict.

Called once, by ``analyze`` (and ``compare``), which stores the result; every view renders what was stored.
Besides the study's criteria (or the defaults), the built-in checks of :mod:`reprovip.criteria.builtin` run on
every output, because they guard against a false pass; :mod:`reprovip.criteria.alerts` words the study-level
alerts (failed, unfinished or unrun executions, a flaky application).
"""

from __future__ import annotations

import math
from typing import Any

from reprovip.criteria.alerts import compare_alerts, execution_alerts
from reprovip.criteria.builtin import builtin_reasons
from reprovip.criteria.evidence import bitwise_evidence, icc_evidence, identity_sentence
from reprovip.criteria.reasons import as_float, named, reason
from reprovip.criteria.rules import (
    OBSERVATION_METRICS,
    OPS,
    STUDY_METRICS,
    Criterion,
    default_criteria,
    envelope_criteria,
    metric_values,
)
from reprovip.criteria.selection import said_unmatched, unjudged
from reprovip.criteria.verdict import EXIT_CODES, LABELS, OUTPUT_STATUSES, exit_code, worst
from reprovip.errors import EMPTY_FILE

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
VALUES_ONLY = (
    "the files' bytes differ where the decoded values do not (formatting, line endings, header fields the "
    "semantic hash ignores: docs/readers.md)"
)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.6g}"


def _infinite(metric: str, value: float) -> str:
    """Why ``metric`` is ``value`` (an infinity): named with its value, for the criterion's message."""
    why = INFINITE.get(OBSERVATION_METRICS.get(metric, metric))
    if why is None:
        why = INFINITE_ICC if metric.startswith("ICC(") else INFINITE_OTHER
    return f"{metric} = {value:g}: {why}"


def _check(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
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
        return bool(o.get("identical") or o.get("constant") or consistent)

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
    values = metric_values(criterion.metric, output, document, criterion.selects)
    constant = {o["name"] for o in output.get("observations") or [] if o.get("constant")}
    same = [name for name, _, _ in values if name in constant] if criterion.op is not None else []
    if not same:
        return _judge(criterion, output, values)
    identity = f"{named(same)} identical in every execution: nothing to compare between subjects"
    rest = [t for t in values if t[0] not in constant]
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
        name, value, x = (min if better_high else max)(usable, key=lambda t: t[1])
        # Significant digits come through a logarithm: 3 digits compute as 2.9999999999999996 and failed
        # `sigdigits >= 3` (a review); compared at 12 decimals.
        compared = round(value, 12) if "sigdigits" in criterion.metric else value
        ok = OPS[criterion.op](compared, criterion.threshold)
        where = f" on {name}" if name else ""
        word = "meets" if ok else "fails"
        rule = f"{word} {criterion.op} {criterion.threshold:g}"
        ci = x.get("ci")
        if ci:  # an ICC: its estimate and interval once, then which of them the rule reads
            form, _, field = criterion.metric.partition(".")
            estimate, low, high = (_fmt(as_float(v)) for v in (x.get("estimate"), ci[0], ci[1]))
            head = f"{form} = {estimate} (95% CI {low} to {high})"
            bound = {"ci_low": "its lower bound", "ci_high": "its upper bound"}.get(field, "it")
            msg = f"{head}{where}: {bound} {rule}"
        else:
            msg = f"{criterion.metric} = {_fmt(value)}{where} {rule}"
        if not ok and output.get("attribution", {}).get("summary"):
            msg += f": {output['attribution']['summary']}"
        if not ok or not unusable:
            evidence = icc_evidence(criterion, x) if x.get("mean_squares") else None
            return reason(
                criterion.text, passed=ok, value=value, observation=name, message=msg, evidence=evidence, **extra
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
        why = f"no observation matches {', '.join(criterion.observations)}"
    else:
        why = output.get("error") or "the metric was not computed for this output"
    return reason(
        criterion.text, passed=False, estimable=False, message=f"{criterion.text}: not analysable: {why}", **extra
    )


def _status(reasons: list[dict[str, Any]]) -> str:
    failed = [r for r in reasons if not r["passed"]]
    if any(r["severity"] == "fail" and r["estimable"] for r in failed):
        return "fail"
    if any(r["severity"] == "fail" for r in failed):
        return "error"
    return "warn" if failed else "pass"


def output_verdict(out: dict[str, Any], rules: list[Criterion], document: dict[str, Any]) -> dict[str, Any]:
    """The verdict of one output: status, reasons (built-in checks first) and the evidence behind it."""
    bits = out.get("bitwise") or {}
    evidence = bitwise_evidence(bits)
    reasons = builtin_reasons(out)
    if bits and evidence["trials"] == 0:
        reasons.append(
            reason(
                "executions to compare",
                passed=False,
                estimable=False,
                message="no subject has two stored executions of this output: nothing to compare "
                "(add repetitions or factor levels)",
            )
        )
    elif bits.get("identical") and not any(c.metric == "bytes_identical" for c in rules):
        # Identical executions pass every threshold by definition; the built-in checks still apply, and an
        # unreadable file that is the same in every execution is reproducible: a warning, not a failure. Not
        # an empty one: every execution wrote nothing (a review's empty outputs read "reproducible").
        for r in reasons:
            if r["criterion"] == "outputs readable" and not any(
                w in r["message"] for w in ("symbolic link", EMPTY_FILE)
            ):
                r["severity"] = "warn"
        sentence = evidence["sentence"]
        if bits.get("bytes_identical") is False:  # the same values, decoded: the files' formatting differs
            sentence += f"; {VALUES_ONLY}"
        reasons.append(reason("identical", passed=True, value=True, metric="identical", message=sentence))
        # Identity meets every threshold on values, not one on the executions (a review: a declared
        # `attempt_failure_rate <= 0.1` at 0.5 was dropped when the outputs were identical).
        reasons += [_check(c, out, document) for c in rules if c.metric in STUDY_METRICS]
        status = _status(reasons)  # warnings stay alerts: the output is still bit-for-bit identical
        return dict(status="identical" if status in ("pass", "warn") else status, reasons=reasons, evidence=evidence)
    checked = [_check(c, out, document) for c in rules]
    reasons += checked + unjudged(out, rules)
    status = _status(reasons)
    if status in ("pass", "warn") and checked and not any(r["estimable"] for r in checked):
        # No criterion could be computed (even warn-only ones): nothing supports a pass. Said as a failure,
        # so that the alerts match the verdict (a review's only alert was the warn-only criterion's).
        reasons.append(
            reason(
                "a criterion computed",
                passed=False,
                estimable=False,
                message=f"none of the {len(checked)} criteria could be computed for this output: nothing supports "
                "a pass (see their reasons)",
            )
        )
        status = "error"
    return dict(status=status, reasons=reasons, evidence=evidence)


def _summary(document: dict[str, Any], status: str) -> str:
    outputs = document["outputs"]
    n_identical = sum(o["verdict"]["status"] == "identical" for o in outputs)
    ex = document["executions"]
    n_values = sum(
        o["verdict"]["status"] == "identical" and (o.get("bitwise") or {}).get("bytes_identical") is False
        for o in outputs
    )
    values_only = f" ({n_values} in their decoded values only: the files' bytes differ)" if n_values else ""
    text = (
        f"{n_identical} of {len(outputs)} outputs bit-for-bit identical{values_only}; "
        f"{ex['failed']} of {ex['total']} executions failed"
    )
    if status == "identical":
        trials = min((o["verdict"]["evidence"]["trials"] for o in outputs), default=0)
        text += "; " + identity_sentence(trials)
    return text


def criteria_fingerprint(criteria: list[Criterion] | None) -> list[str] | str:
    """The criteria as stored with a verdict: each rule with its severity and outputs (``"defaults"`` if none)."""
    if not criteria:
        return "defaults"
    return [f"{c.text} ({c.severity}{': ' + ', '.join(c.outputs) if c.outputs else ''})" for c in criteria]


def safeguards(kind: str, rules: list[Criterion]) -> list[Criterion]:
    """The default rules that guard against what the median-style criteria cannot see, kept beside declared
    criteria unless these name the same metric: a label mirrored in one execution (Dice 0, same volume) and an
    image disagreeing in a twentieth of its voxels. A review's study declaring only `ICC(A,1).ci_low >= 0.9`
    (for its table) silently dropped them from its label maps and images."""
    declared = {c.metric for c in rules}
    guards = {"labels": ("dice_min",), "image": ("voxel_icc_a1_p05",)}.get(kind, ())
    return [c for c in default_criteria(kind) if c.metric in guards and c.metric not in declared]


def evaluate(document: dict[str, Any], criteria: list[Criterion] | None) -> dict[str, Any]:
    """Add ``verdict`` to each output and ``verdict``/``alerts`` to the document; return the document.

    Without declared criteria each output gets :func:`~reprovip.criteria.rules.default_criteria` of its
    kind (with the envelope test first when the output compares versions; declared criteria keep that test).
    The study takes the worst status on :data:`~reprovip.criteria.verdict.LADDER`: failed executions, or
    subjects an output's metrics leave out for lack of executions, make it ``incomplete`` (unless an output
    fails outright), a warning alert turns ``identical``/``pass`` into ``warn``.
    """
    alerts: list[dict[str, Any]] = []
    counts = {s: 0 for s in OUTPUT_STATUSES}
    for out in document["outputs"]:
        defaults = default_criteria(out["kind"], compare="envelope" in out)
        # A criterion that names no output covers those whose kind can compute it. An output that no declared
        # fail-severity criterion judges (none covers it, a failure rate only, or warnings only) gets its kind's
        # defaults but those whose metric is declared: a review's lone `sigdigits >= 4` warning dropped the ICC
        # gate, and an ICC lower bound of 0.19 read "sufficiently reproducible, with warnings".
        rules = [c for c in criteria or [] if c.covers(out)]
        if not any(c.severity == "fail" and c.metric not in STUDY_METRICS for c in rules):
            rules += [d for d in defaults if d.metric not in {c.metric for c in rules}]
        else:
            if "envelope" in out and not any(c.metric == "within_envelope" for c in rules):
                rules = [*envelope_criteria(out["kind"]), *rules]  # declared criteria do not drop the version test
            rules += safeguards(out["kind"], rules)
        verdict = output_verdict(out, rules, document)
        out["verdict"] = verdict
        counts[verdict["status"]] += 1
        for r in verdict["reasons"]:
            if not r["passed"]:
                alerts.append(dict(output=out["name"], severity=r["severity"], message=r["message"]))
    alerts += execution_alerts(document["executions"])
    differences = compare_alerts(document.get("compare") or {})
    alerts += differences
    statuses = [o["verdict"]["status"] for o in document["outputs"]]
    if document["executions"].get("not_done", document["executions"].get("failed")) or any(
        o.get("left_out") for o in document["outputs"]
    ):
        statuses.append("incomplete")  # executions failed, not run, or absent: a subject's values went unjudged
    if differences:
        statuses.append("fail")
    if any(a["severity"] == "warn" for a in alerts):
        statuses.append("warn")
    if not document["outputs"]:
        statuses.append("error")
    status = worst(statuses)
    document["verdict"] = dict(
        status=status,
        label=LABELS[status],
        exit_code=EXIT_CODES[status],
        exit_code_strict=exit_code(status, strict=True),
        counts=counts,
        criteria=criteria_fingerprint(criteria),
        executions_digest=document["executions"].get("digest"),
        last_run=document["executions"].get("last_run"),
        summary=_summary(document, status) if document["outputs"] else "no output was analysed",
    )
    document["alerts"] = alerts
    return document
