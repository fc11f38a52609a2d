"""Apply criteria to an analysis document: a verdict per output with its reasons, alerts, a study verdict.

Called once, by ``analyze`` (and ``compare``), which stores the result; every view renders what was stored.
Besides the study's criteria (or the defaults), built-in checks run on every output, because they guard
against a false pass: outputs that could not be read, observations that are non-finite in some executions,
voxels whose finiteness differs, a design with nothing to compare.
"""

from __future__ import annotations

import math
from typing import Any

from reprovip.criteria.evidence import bitwise_evidence, icc_evidence, identity_sentence
from reprovip.criteria.rules import (
    OBSERVATION_METRICS,
    OPS,
    STUDY_METRICS,
    Criterion,
    default_criteria,
    metric_values,
    supports,
)
from reprovip.criteria.verdict import EXIT_CODES, LABELS, OUTPUT_STATUSES, exit_code, worst

MAX_NAMED = 5
NUMERIC_KINDS = ("table", "scalars", "text", "array")
UNSEEN_FAIL_FRACTION = 0.05  # of the mask: voxels differing where no voxel metric looks, beyond which the output fails
NONFINITE_OBSERVATIONS = (
    # (pattern, check, severity, what the observations are)
    (
        "constant",
        "finite values",
        "warn",
        "are non-finite, the same in every execution (no metric can use them; criteria that need them cannot pass)",
    ),
    ("mixed", "finite in every execution", "fail", "are non-finite in some executions and not in others"),
)
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


def _float(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v)  # "Infinity" parses too
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.6g}"


def _infinite(metric: str, value: float) -> str:
    """Why ``metric`` is ``value`` (an infinity): named with its value, for the criterion's message."""
    why = INFINITE.get(OBSERVATION_METRICS.get(metric, metric))
    if why is None:
        why = INFINITE_ICC if metric.startswith("ICC(") else INFINITE_OTHER
    return f"{metric} = {value:g}: {why}"


def _reason(criterion: str, *, passed: bool, message: str, severity: str = "fail", **extra: Any) -> dict[str, Any]:
    base = dict(
        criterion=criterion,
        metric=None,
        severity=severity,
        passed=passed,
        estimable=True,
        value=None,
        threshold=None,
        observation=None,
    )
    return dict(base, **extra, message=message)


def _named(items: list[str]) -> str:
    more = f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return "; ".join(items[:MAX_NAMED]) + more


def _where(e: dict[str, Any]) -> str:
    parts = [f"subject {e.get('subject')}"]
    if e.get("condition") not in (None, "-"):
        parts.append(f"condition {e['condition']}")
    if e.get("repetition") is not None:
        parts.append(f"repetition {e['repetition']}")
    return ", ".join(parts)


def _builtin(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks every output gets, whatever the criteria: each failure here means the data cannot support a pass."""
    reasons = []
    unreadable = [e for e in out.get("errors") or [] if e.get("error") != "missing"]
    if unreadable:
        reasons.append(
            _reason(
                "outputs readable",
                passed=False,
                estimable=False,
                message=f"{len(unreadable)} output file(s) could not be read: "
                + _named([f"{_where(e)}: {e['error']}" for e in unreadable]),
            )
        )
    unwritten = out.get("unwritten") or []
    if unwritten:
        reasons.append(
            _reason(
                "written by every execution",
                passed=False,
                value=len(unwritten),
                message=f"{len(unwritten)} execution(s) that succeeded did not write this file, which others wrote: "
                + _named([_where(e) for e in unwritten]),
            )
        )
    if out["kind"] in NUMERIC_KINDS and not out.get("observations") and not unreadable and not out.get("error"):
        reasons.append(
            _reason(
                "numbers found",
                passed=False,
                severity="warn",
                message=f"no number could be read from this {out['kind']} output: only its bytes were compared "
                "(declare `kind: bytes` if that is what it is)",
            )
        )
    for pattern, criterion, severity, what in NONFINITE_OBSERVATIONS:
        found = [o for o in out.get("observations") or [] if (o.get("nonfinite") or {}).get("pattern") == pattern]
        if found:
            reasons.append(
                _reason(
                    criterion,
                    passed=False,
                    severity=severity,
                    value=len(found),
                    observation=found[0]["name"],
                    message=f"{len(found)} observation(s) {what}: "
                    + _named([o["nonfinite"]["message"] for o in found]),
                )
            )
    unmeasured = int(out.get("unmeasured_differences") or 0)
    if unmeasured:
        reasons.append(
            _reason(
                "differences covered by the observations",
                passed=False,
                severity="warn",
                value=unmeasured,
                message=f"the files differ between executions in {unmeasured} subject x condition cell(s) while every "
                "number read from them is identical: the difference is in what no observation measures (a string, "
                "a text column, a word, a number glued to its unit); the criteria cannot vouch for it: compare two "
                "files of one subject",
            )
        )
    vox = (out.get("voxelwise") or {}).get("summary") or {}
    unseen = int(vox.get("differ_without_metrics") or 0)
    if unseen:
        # A few voxels at the edge of the reference volume's non-zero region are a warning; more than 5% of the
        # mask is a failure: which volume is read first must not decide between "fail" and a warning (review).
        major = unseen > UNSEEN_FAIL_FRACTION * int(vox.get("mask_voxels") or 0)
        reasons.append(
            _reason(
                "differences covered by the voxel metrics",
                passed=False,
                severity="fail" if major else "warn",
                value=unseen,
                message=f"{unseen} voxel(s) differ between executions where no voxel metric is computed (zero in "
                "the reference volume, or non-finite): criteria on the metric maps cannot see them; "
                "voxel_differ_fraction and the differ map do",
            )
        )
    differ, nonfinite = int(vox.get("nonfinite_differ_voxels") or 0), int(vox.get("nonfinite_voxels") or 0)
    if nonfinite:
        reasons.append(
            _reason(
                "finite voxels in every execution",
                passed=not differ,
                value=differ or nonfinite,
                message=f"{differ} voxel(s) are non-finite (NaN/inf) in some executions and finite or different in "
                "others (map: nonfinite_differ)"
                if differ
                else f"{nonfinite} voxel(s) are non-finite, the same in every execution of their subject: "
                "left out of the metrics",
            )
        )
    return reasons


def _check(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """One criterion on one output. Observations whose every value is the same, bit for bit, in every execution
    of every subject are reproducible by identity: they meet the criterion (though their ICC is 0/0) and are
    named; when the criterion selects only such observations, it passes on them."""
    values = metric_values(criterion.metric, output, document, criterion.selects)
    constant = {o["name"] for o in output.get("observations") or [] if o.get("constant")}
    same = [name for name, _, _ in values if name in constant] if criterion.op is not None else []
    if not same:
        return _judge(criterion, output, values)
    identity = f"{_named(same)} identical in every execution: nothing to compare between subjects"
    rest = [t for t in values if t[0] not in constant]
    if not rest:
        return _reason(
            criterion.text,
            passed=True,
            observation=same[0],
            message=f"{criterion.text}: {identity}",
            **_extra(criterion),
        )
    reason = _judge(criterion, output, rest)
    reason["message"] += f"; {identity}"
    return reason


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
        ok = bool(values and values[0][1])
        msg = f"{criterion.metric}: {'yes' if ok else 'no'}"
        if not ok:
            msg += f" ({output.get('attribution', {}).get('summary', '')})"
        return _reason(criterion.text, passed=ok, value=ok, message=msg, **extra)
    usable, unusable = [], []  # unusable: (observation, why, value as the document stores it)
    for name, v, x in values:
        f = _float(v)
        if f is None:
            unusable.append((name, x.get("reason") or "not computed", None))
        elif math.isinf(f):
            unusable.append((name, _infinite(criterion.metric, f), "Infinity" if f > 0 else "-Infinity"))
        else:
            usable.append((name, f, x))
    better_high = criterion.op in (">=", ">")
    if usable:
        name, value, x = (min if better_high else max)(usable, key=lambda t: t[1])
        ok = OPS[criterion.op](value, criterion.threshold)
        where = f" on {name}" if name else ""
        word = "meets" if ok else "fails"
        rule = f"{word} {criterion.op} {criterion.threshold:g}"
        ci = x.get("ci")
        if ci:  # an ICC: its estimate and interval once, then which of them the rule reads
            form, _, field = criterion.metric.partition(".")
            head = f"{form} = {_fmt(_float(x.get('estimate')))} (95% CI {_fmt(_float(ci[0]))} to {_fmt(_float(ci[1]))})"
            bound = {"ci_low": "its lower bound", "ci_high": "its upper bound"}.get(field, "it")
            msg = f"{head}{where}: {bound} {rule}"
        else:
            msg = f"{criterion.metric} = {_fmt(value)}{where} {rule}"
        if not ok and output.get("attribution", {}).get("summary"):
            msg += f": {output['attribution']['summary']}"
        if not ok or not unusable:
            evidence = icc_evidence(criterion, x) if x.get("mean_squares") else None
            return _reason(
                criterion.text, passed=ok, value=value, observation=name, message=msg, evidence=evidence, **extra
            )
    if unusable:
        named = _named([f"{n}: {why}" if n else why for n, why, _ in unusable])
        return _reason(
            criterion.text,
            passed=False,
            estimable=False,
            observation=unusable[0][0],
            value=unusable[0][2],
            message=f"{criterion.text}: not estimable on {len(unusable)} of {len(values)} observation(s) ({named})",
            **extra,
        )
    if criterion.observations and not output.get("error"):
        why = f"no observation matches {', '.join(criterion.observations)}"
    else:
        why = output.get("error") or "the metric was not computed for this output"
    return _reason(
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
    reasons = _builtin(out)
    if bits and evidence["trials"] == 0:
        reasons.append(
            _reason(
                "executions to compare",
                passed=False,
                estimable=False,
                message="no subject has two stored executions of this output: nothing to compare "
                "(add repetitions or factor levels)",
            )
        )
    elif bits.get("identical") and not any(c.metric == "bytes_identical" for c in rules):
        # Identical executions pass every threshold by definition; the built-in checks still apply, and an
        # unreadable file that is the same in every execution is reproducible: a warning, not a failure.
        for r in reasons:
            if r["criterion"] == "outputs readable" and "symbolic link" not in r["message"]:
                r["severity"] = "warn"
        reasons.append(_reason("identical", passed=True, value=True, metric="identical", message=evidence["sentence"]))
        status = _status(reasons)  # warnings stay alerts: the output is still bit-for-bit identical
        return dict(status="identical" if status in ("pass", "warn") else status, reasons=reasons, evidence=evidence)
    checked = [_check(c, out, document) for c in rules]
    reasons += checked
    status = _status(reasons)
    if status in ("pass", "warn") and checked and not any(r["estimable"] for r in checked):
        status = "error"  # no criterion could be computed (even warn-only ones): nothing supports a pass
    return dict(status=status, reasons=reasons, evidence=evidence)


def _execution_alerts(ex: dict[str, Any]) -> list[dict[str, Any]]:
    alerts = []
    if ex.get("failed"):
        alerts.append(
            dict(
                output=None,
                severity="fail",
                message=(
                    f"{ex['failed']} of {ex['total']} executions failed "
                    f"({100 * (_float(ex['failure_rate']) or 0):.1f}%): the verdict covers the executions that "
                    "succeeded only; failures are a reproducibility finding (see the failures section)"
                ),
            )
        )
    plan = ex.get("plan") or {}
    not_run, earlier = int(plan.get("not_run") or 0), int(plan.get("earlier_recipe") or 0)
    if not_run or earlier:
        alerts.append(
            dict(
                output=None,
                severity="fail",
                message=f"the study file declares {not_run} execution(s) never run and {earlier} run with an earlier "
                "recipe (it was edited after the run: subjects, levels, repetitions, command, environment, outputs "
                "or timeout): the verdict covers what was run; run `reprovip run`, then analyse again",
            )
        )
    unfinished = int(ex.get("not_done", ex.get("failed") or 0)) - int(ex.get("failed") or 0) - not_run - earlier
    if unfinished > 0:
        alerts.append(
            dict(
                output=None,
                severity="fail",
                message=f"{unfinished} of {ex['total']} executions never finished (pending, or running when the "
                "analysis was made): the verdict covers the finished ones only; run `reprovip run` again",
            )
        )
    if alerts:
        return alerts
    if (_float(ex.get("attempt_failure_rate")) or 0) > 0:
        return [
            dict(
                output=None,
                severity="warn",
                message=(
                    f"{ex.get('flaky_executions', 'some')} execution(s) failed then succeeded with the same recipe "
                    f"({100 * _float(ex['attempt_failure_rate']):.1f}% of current attempts failed): "
                    "the application is flaky"
                ),
            )
        ]
    return []


def _compare_alerts(compare: dict[str, Any]) -> list[dict[str, Any]]:
    """An output that only one of two compared versions writes is a difference between them."""
    return [
        dict(output=name, severity="fail", message=f"{name} is written only by the {side} version")
        for side in ("baseline", "current")
        for name in compare.get(f"only_in_{side}") or []
    ]


def _summary(document: dict[str, Any], status: str) -> str:
    outputs = document["outputs"]
    n_identical = sum(o["verdict"]["status"] == "identical" for o in outputs)
    ex = document["executions"]
    text = (
        f"{n_identical} of {len(outputs)} outputs bit-for-bit identical; "
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


def evaluate(document: dict[str, Any], criteria: list[Criterion] | None) -> dict[str, Any]:
    """Add ``verdict`` to each output and ``verdict``/``alerts`` to the document; return the document.

    Without declared criteria each output gets :func:`~reprovip.criteria.rules.default_criteria` of its
    kind (with the envelope test first when the output compares versions). The study takes the worst status
    on :data:`~reprovip.criteria.verdict.LADDER`: failed executions make it ``incomplete`` (unless an output
    fails outright), a warning alert turns ``identical``/``pass`` into ``warn``.
    """
    alerts: list[dict[str, Any]] = []
    counts = {s: 0 for s in OUTPUT_STATUSES}
    for out in document["outputs"]:
        defaults = default_criteria(out["kind"], compare="envelope" in out)
        # A criterion that names no output covers those whose kind can compute it; an output that no declared
        # criterion covers gets its kind's defaults, never none (which would read as a pass).
        rules = [
            c for c in criteria or [] if c.applies_to(out["name"]) and (c.outputs or supports(out["kind"], c.metric))
        ]
        if all(c.metric in STUDY_METRICS for c in rules):  # a failure rate says nothing about an output's values
            rules += defaults
        verdict = output_verdict(out, rules, document)
        out["verdict"] = verdict
        counts[verdict["status"]] += 1
        for r in verdict["reasons"]:
            if not r["passed"]:
                alerts.append(dict(output=out["name"], severity=r["severity"], message=r["message"]))
    alerts += _execution_alerts(document["executions"])
    differences = _compare_alerts(document.get("compare") or {})
    alerts += differences
    statuses = [o["verdict"]["status"] for o in document["outputs"]]
    if document["executions"].get("not_done", document["executions"].get("failed")):
        statuses.append("incomplete")
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
