"""Apply criteria to an analysis document: a verdict per output with its reasons, alerts, a study verdict.

Called once, by ``analyze`` (and ``compare``), which stores the result; every view renders what was stored.
Besides the study's criteria (or the defaults), the built-in checks of :mod:`reprovip.criteria.builtin` run on
every output, because they guard against a false pass; :mod:`reprovip.criteria.judge` judges one criterion on
one output; :mod:`reprovip.criteria.alerts` words the study-level alerts (failed, unfinished or unrun
executions, a flaky application).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reprovip.criteria.alerts import compare_alerts, execution_alerts, machine_alerts
from reprovip.criteria.builtin import builtin_reasons
from reprovip.criteria.evidence import bitwise_evidence, identity_sentence
from reprovip.criteria.judge import check
from reprovip.criteria.reasons import named, reason
from reprovip.criteria.rules import STUDY_METRICS, Criterion, default_criteria, envelope_criteria
from reprovip.criteria.selection import judges, said_unmatched, unjudged
from reprovip.criteria.verdict import EXIT_CODES, LABELS, OUTPUT_STATUSES, VALUES_ONLY_LABEL, exit_code, worst
from reprovip.errors import EMPTY_FILE, PAIR_HEADER

VALUES_ONLY = (
    "the files' bytes differ where the decoded values do not (formatting, line endings, header fields the "
    "semantic hash ignores: docs/readers.md)"
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
    reasons = builtin_reasons(out) + _dropped(out, document)
    if out.get("written_by_none"):  # an optional output no execution wrote: no value to hold to a criterion
        # The criteria declared for it by name are said, not measured: they vanished from `check` and the JUnit
        # file, and the study read "with warnings" (review B)
        reasons += [
            reason(
                c.text,
                metric=c.metric,
                severity="warn",  # optional: unwritten everywhere is allowed (a lesion map of healthy subjects)
                passed=False,
                estimable=False,
                message=f"{c.text}: not measured: no execution wrote this optional output",
            )
            for c in rules
            if c.outputs
        ]
        return dict(status=_status(reasons), reasons=reasons, evidence=evidence)
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
                w in r["message"] for w in ("symbolic link", EMPTY_FILE, PAIR_HEADER)
            ):
                r["severity"] = "warn"
        if out.get("error"):  # identical bytes need no reading; what could not be read is still said (a review)
            reasons.append(
                reason(
                    "outputs readable",
                    passed=False,
                    severity="warn",
                    estimable=False,
                    message=f"the files could not be read for their values: {out['error']}; "
                    + (
                        "every execution wrote the same bytes, so they are identical all the same"
                        if bits.get("bytes_identical") is not False
                        # a gzip time stamp: not the same bytes, the same decoded content (a review)
                        else "every execution's file decodes to the same content, so they are identical all the same"
                    ),
                )
            )
        sentence = evidence["sentence"]
        if bits.get("bytes_identical") is False:  # the same values, decoded: the files' formatting differs
            sentence += f"; {VALUES_ONLY}"
        if missing := out.get("unwritten"):  # beside "written by every execution" failed, it read as all of them
            sentence += f"; among the executions that wrote it ({len(missing)} did not)"
        reasons.append(reason("identical", passed=True, value=True, metric="identical", message=sentence))
        # A pattern that matches no observation of any output is a typo, identical or not (review B: `volumes` for
        # `volume` went unsaid while the output was identical)
        for c in rules:
            if c.observations:
                said = said_unmatched(reason(c.text, passed=True, message=""), c, out, document)
                if not said["passed"]:
                    reasons.append(said)
        # Identity meets every threshold on values, not one on the executions (a review: a declared
        # `attempt_failure_rate <= 0.1` at 0.5 was dropped when the outputs were identical).
        reasons += [check(c, out, document) for c in rules if c.metric in STUDY_METRICS]
        status = _status(reasons)  # warnings stay alerts: the output is still bit-for-bit identical
        return dict(status="identical" if status in ("pass", "warn") else status, reasons=reasons, evidence=evidence)
    covering = [c for c in rules if judges(c, out, document)]
    if rules and not covering:  # patterns selecting other outputs' observations only: nothing judges this one
        patterns = sorted({p for c in rules for p in c.observations})
        reasons.append(
            reason(
                "a criterion computed",
                passed=False,
                estimable=False,
                message=f"no criterion judges this output: the criteria's observations ({', '.join(patterns)}) "
                "select none of its own; give it a criterion (`outputs: [<name>]`) or a pattern that selects it",
            )
        )
    rules = covering
    checked = [check(c, out, document) for c in rules]
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


def _dropped(out: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields of ``out`` only the baseline writes (``compare``): a failure of the output itself, not only a
    study alert (a renamed column read `volumes | pass` in the per-output table while the study failed: a
    review)."""
    prefix = f"{out['name']}: "
    gone = [
        n[len(prefix) :] for n in (document.get("compare") or {}).get("only_in_baseline") or [] if n.startswith(prefix)
    ]
    if not gone:
        return []
    message = f"{len(gone)} field(s) the baseline writes are not written by the current version: {named(gone)}"
    return [reason("written by both versions", passed=False, value=len(gone), observation=gone[0], message=message)]


def _values_only(outputs: list[dict[str, Any]]) -> int:
    """How many of ``outputs`` are identical in their decoded values while their files' bytes differ."""
    return sum(
        o["verdict"]["status"] == "identical" and (o.get("bitwise") or {}).get("bytes_identical") is False
        for o in outputs
    )


def _summary(document: dict[str, Any], status: str) -> str:
    outputs = document["outputs"]
    n_identical = sum(o["verdict"]["status"] == "identical" for o in outputs)
    ex = document["executions"]
    n_values = _values_only(outputs)
    values_only = f" ({n_values} in their decoded values only: the files' bytes differ)" if n_values else ""
    # the same bytes everywhere but judged otherwise (a `nan` written alike: not analysable): "0 of 1 outputs
    # bit-for-bit identical" stood beside the output's "Identity: bit-for-bit identical" (review I)
    n_same = sum(
        o["verdict"]["status"] != "identical" and (o.get("bitwise") or {}).get("identical") is True for o in outputs
    )
    if n_same:
        values_only += (
            f" ({n_same} with the same bytes in every execution {'is' if n_same == 1 else 'are'} not judged "
            f"identical: see {'its' if n_same == 1 else 'their'} reasons)"
        )
    # not done beside failed: never run, unfinished (a kill -9), or run with an earlier recipe (review A: "0 of 32
    # failed" above "incomplete" with 20 never finished)
    undone = int(ex.get("not_done") or 0) - int(ex["failed"])
    text = (
        f"{n_identical} of {len(outputs)} outputs {'identical' if n_values else 'bit-for-bit identical'}{values_only}; "
        f"{ex['failed']} of {ex['total']} executions failed" + (f", {undone} not done" if undone > 0 else "")
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


def safeguards(kind: str, rules: list[Criterion], names: list[str] | None = None) -> list[Criterion]:
    """The default rules that guard against what the median-style criteria cannot see, kept beside declared
    criteria unless these take their place (:func:`kept`): a label mirrored in one execution (Dice 0, same
    volume) and an image disagreeing in a hundredth of its voxels. A review's study declaring only
    `ICC(A,1).ci_low >= 0.9` (for its table) silently dropped them from its label maps and images."""
    guards = {"labels": ("dice_min",), "image": ("voxel_icc_a1_p05", "voxel_poor_fraction")}.get(kind, ())
    return [k for c in default_criteria(kind) if c.metric in guards and (k := kept(c, rules, names)) is not None]


def kept(
    default: Criterion, rules: list[Criterion], names: list[str] | None = None, gates: list[Criterion] | None = None
) -> Criterion | None:
    """The default criterion as it stays beside the declared ``rules``: left out when one takes its place, whole
    (no ``observations``), for the output's observation ``names``; restricted to the observations they leave
    (``excluded``) when those take its place for some only; as it is otherwise.

    A declared criterion takes the place of a default when it names the same metric at the same severity or a
    stricter one (a declared failure, at any threshold, is the user's gate), or as a warning no stricter than the
    default (the default's gate made a warning: a choice). A warning stricter than a default failure is a band
    above it, and leaves it: the README's own `dice_min >= 0.95` warning dropped the `dice_min >= 0.8` failure,
    and label maps whose labels swapped in one run read "sufficiently reproducible, with warnings" (review NU2).
    A warning for `gm/*` only dropped the ICC gate of `wm` too, which a 15% change under threads=2 passed
    (review R7). ``gates``: declared failures limited to some observations, of any metric: the study's gate for
    those, so the default is left out there too and stays for the others (review B: such a failure for `A/*`
    dropped every default, and `B`'s 30% change under threads=2 passed).
    """
    rank = {"warn": 0, "fail": 1}

    def stricter(c: Criterion) -> bool:
        lower = default.op in (">=", ">")
        if (c.op in (">=", ">")) != lower or c.threshold is None or default.threshold is None:
            return False
        if c.threshold != default.threshold:
            return c.threshold > default.threshold if lower else c.threshold < default.threshold
        # `> 0.9` beside `>= 0.9`: stricter by the value itself (a warning `ICC(A,1).ci_low > 0.95` dropped the
        # `>= 0.9` failure, the operator alone told them apart: review B)
        return c.op in (">", "<") and default.op in (">=", "<=")

    takers = [
        c
        for c in rules
        if c.metric == default.metric and (rank[c.severity] >= rank[default.severity] or not stricter(c))
    ]
    takers += [g for g in gates or () if g not in takers]
    if not takers:
        return default
    if any(not c.observations for c in takers) or not names:
        return None
    restricted = dataclasses.replace(default, excluded=tuple(dict.fromkeys(p for c in takers for p in c.observations)))
    return restricted if any(restricted.selects(n) for n in names) else None


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
        names = [str(o["name"]) for o in out.get("observations") or []]
        gates = [c for c in rules if c.severity == "fail" and c.metric not in STUDY_METRICS]
        if not any(not c.observations for c in gates):  # none, or each for some observations only (`gates`)
            rules += [k for d in defaults if (k := kept(d, rules, names, gates)) is not None]
        else:
            if "envelope" in out and not any(c.metric == "within_envelope" for c in rules):
                rules = [*envelope_criteria(out["kind"]), *rules]  # declared criteria do not drop the version test
            rules += safeguards(out["kind"], rules, names)
        verdict = output_verdict(out, rules, document)
        out["verdict"] = verdict
        counts[verdict["status"]] += 1
        for r in verdict["reasons"]:
            if not r["passed"]:
                alerts.append(dict(output=out["name"], severity=r["severity"], message=r["message"]))
    alerts += execution_alerts(document["executions"]) + machine_alerts(document)
    differences = compare_alerts(document.get("compare") or {})
    alerts += differences
    statuses = [o["verdict"]["status"] for o in document["outputs"]]
    if document["executions"].get("not_done", document["executions"].get("failed")) or any(
        o.get("left_out") for o in document["outputs"]
    ):
        statuses.append("incomplete")  # executions failed, not run, or absent: a subject's values went unjudged
    if any(a["severity"] == "fail" and not a.get("inputs_differ") for a in differences):  # an added output: warn
        statuses.append("fail")
    if any(a.get("inputs_differ") for a in differences):  # another input, not only another version (review E)
        statuses.append("error")
    # outputs possibly half-written, or copies of other executions' (ingest's evidence): no verdict on them
    if any(a.get("note") in ("left running", "a copy") for a in alerts):
        statuses.append("error")
    if any(a.get("duplicates") for a in alerts):  # one subject counted twice: no between-subject figure holds
        statuses.append("error")
    if any(a["severity"] == "warn" for a in alerts):
        statuses.append("warn")
    if not document["outputs"]:
        statuses.append("error")
    status = worst(statuses)
    document["verdict"] = dict(
        status=status,
        label=VALUES_ONLY_LABEL if status == "identical" and _values_only(document["outputs"]) else LABELS[status],
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
