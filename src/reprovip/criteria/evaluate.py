"""Apply criteria to an analysis document: a verdict per output with its reasons, alerts, a study verdict."""

from __future__ import annotations

from typing import Any

from reprovip.criteria.rules import OPS, Criterion, default_criteria, metric_values

ORDER = ("identical", "pass", "warn", "fail", "error")
LABELS = {
    "identical": "reproducible (bit-for-bit identical)",
    "pass": "sufficiently reproducible",
    "warn": "sufficiently reproducible, with warnings",
    "fail": "not reproducible",
    "error": "not analysable",
}


def _float(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    try:
        return float(v)  # "Infinity" parses too
    except (TypeError, ValueError):
        return None


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.6g}"


def _check(criterion: Criterion, output: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    values = metric_values(criterion.metric, output, document, criterion.selects)
    base = dict(
        criterion=criterion.text, metric=criterion.metric, severity=criterion.severity, threshold=criterion.threshold
    )
    if criterion.op is None:
        ok = bool(values and values[0][1])
        msg = f"{criterion.metric}: {'yes' if ok else 'no'}"
        if not ok:
            msg += f" ({output.get('attribution', {}).get('summary', '')})"
        return dict(base, passed=ok, value=ok, observation=None, message=msg)
    usable = [(name, _float(v), extra) for name, v, extra in values if _float(v) is not None]
    if not usable:
        return dict(
            base,
            passed=False,
            value=None,
            observation=None,
            message=f"{criterion.text}: the metric could not be computed for this output",
        )
    better_high = criterion.op in (">=", ">")
    name, worst, extra = (min if better_high else max)(usable, key=lambda t: t[1])
    ok = OPS[criterion.op](worst, criterion.threshold)
    where = f" on {name}" if name else ""
    ci = extra.get("ci")
    ci_txt = f" (95% CI {_fmt(_float(ci[0]))} to {_fmt(_float(ci[1]))})" if ci else ""
    if ok:
        msg = f"{criterion.metric} = {_fmt(worst)}{ci_txt}{where} meets {criterion.op} {criterion.threshold:g}"
    else:
        why = output.get("attribution", {}).get("summary", "")
        msg = f"{criterion.metric} = {_fmt(worst)}{ci_txt}{where} fails {criterion.op} {criterion.threshold:g}" + (
            f": {why}" if why else ""
        )
    return dict(base, passed=ok, value=worst, observation=name, message=msg)


def evaluate(document: dict[str, Any], criteria: list[Criterion] | None) -> dict[str, Any]:
    """Add ``verdict`` to each output and ``verdict``/``alerts`` to the document; return the document.

    Without declared criteria each output gets :func:`~reprovip.criteria.rules.default_criteria` of its
    kind (with the envelope test first when the output compares versions). An identical output passes
    every criterion by definition (status ``identical``); an output the
    analysis could not read gets ``error``. Execution failures become a warning alert of their own: a
    subject that crashes one time in five is a reproducibility finding.
    """
    alerts: list[dict[str, Any]] = []
    counts: dict[str, int] = {s: 0 for s in ORDER}
    for out in document["outputs"]:
        defaults = default_criteria(out["kind"], compare="envelope" in out)
        rules = [c for c in (criteria or defaults) if c.applies_to(out["name"])]
        if out.get("error") or (
            not out.get("observations")
            and not out.get("voxelwise", {}).get("maps")
            and not out.get("bitwise", {}).get("identical")
        ):
            reason = out.get("error") or "no complete subject to analyse (see the output's errors)"
            verdict = dict(
                status="error",
                reasons=[
                    dict(
                        criterion="analysable",
                        metric=None,
                        severity="fail",
                        passed=False,
                        value=None,
                        threshold=None,
                        observation=None,
                        message=reason,
                    )
                ],
            )
        elif out.get("bitwise", {}).get("identical") and not any(c.metric == "bytes_identical" for c in rules):
            # Identical executions pass every threshold by definition.
            verdict = dict(
                status="identical",
                reasons=[
                    dict(
                        criterion="identical",
                        metric="identical",
                        severity="fail",
                        passed=True,
                        value=True,
                        threshold=None,
                        observation=None,
                        message="bit-for-bit identical across all executions",
                    )
                ],
            )
        else:
            reasons = [_check(c, out, document) for c in rules]
            failed = {r["severity"] for r in reasons if not r["passed"]}
            status = "fail" if "fail" in failed else "warn" if "warn" in failed else "pass"
            verdict = dict(status=status, reasons=reasons)
        out["verdict"] = verdict
        counts[verdict["status"]] += 1
        for r in verdict["reasons"]:
            if not r["passed"]:
                alerts.append(dict(output=out["name"], severity=r["severity"], message=r["message"]))
    ex = document["executions"]
    if ex.get("failed"):
        alerts.append(
            dict(
                output=None,
                severity="warn",
                message=(
                    f"{ex['failed']} of {ex['total']} executions failed "
                    f"({100 * (_float(ex['failure_rate']) or 0):.1f}%); "
                    "failures are a reproducibility finding: see the failures section"
                ),
            )
        )
    elif (_float(ex.get("attempt_failure_rate")) or 0) > 0:
        alerts.append(
            dict(
                output=None,
                severity="warn",
                message=(
                    f"{100 * _float(ex['attempt_failure_rate']):.1f}% of attempts failed and succeeded on retry: "
                    "the application is flaky"
                ),
            )
        )
    worst = max((o["verdict"]["status"] for o in document["outputs"]), key=ORDER.index, default="error")
    if worst == "identical" and any(a["severity"] == "warn" for a in alerts):
        worst = "warn"
    document["verdict"] = dict(status=worst, label=LABELS[worst], counts=counts)
    document["alerts"] = alerts
    return document
