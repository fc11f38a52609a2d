"""Study-level alerts: executions that failed, were not run or never finished, a flaky application, and
outputs or fields only one of two compared versions writes, or writes at another path."""

from __future__ import annotations

from typing import Any

from reprovip.criteria.reasons import as_float


def execution_alerts(ex: dict[str, Any]) -> list[dict[str, Any]]:
    """Alerts about the executions (the document's ``executions``), the worst first; none when all is well."""
    alerts = []
    if ex.get("failed"):
        alerts.append(
            dict(
                output=None,
                severity="fail",
                message=(
                    f"{ex['failed']} of {ex['total']} executions failed "
                    f"({100 * (as_float(ex['failure_rate']) or 0):.1f}%): the verdict covers the executions that "
                    "succeeded only; failures are a reproducibility finding (see the failures section)"
                ),
            )
        )
    plan = ex.get("plan") or {}
    not_run, earlier = int(plan.get("not_run") or 0), int(plan.get("earlier_recipe") or 0)
    if not_run and plan.get("ingested"):
        alerts.append(
            dict(
                output=None,
                severity="fail",
                message=f"the study file declares {not_run} execution(s) neither run nor ingested (a subject, factor "
                "level or repetition missing from the results folders): the verdict covers what was ingested; ingest "
                "the missing results (or run them), or declare only the design the results hold",
            )
        )
    elif not_run or earlier:
        alerts.append(
            dict(
                output=None,
                severity="fail",
                message=f"the study file{_which(plan)} declares {not_run} execution(s) never run and {earlier} run "
                "with an earlier recipe (edited after the run: the study file's subjects, levels, repetitions, "
                "command, environment, outputs or timeout, the application's script, or a subject's input file): the "
                "verdict covers what was run; run `reprovip run`, then analyse again",
            )
        )
    if undeclared := int(plan.get("not_declared") or 0):
        alerts.append(
            dict(
                output=None,
                severity="warn",
                message=f"{undeclared} stored execution(s) are no longer declared by the study file (a subject, level "
                "or repetition removed since they ran): left out of the verdict and the counts",
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
    alerts += _note_alerts(ex.get("notes") or {})
    if participants := ex.get("participants"):  # sessions or runs as subjects: said in the verdict, not on stderr
        from reprovip.spec.subjects import participants_message

        alerts.append(dict(output=None, severity="warn", message=participants_message(participants)))
    if ingested := ex.get("ingested_conditions"):
        alerts.append(
            _study_warning(
                f"the executions of {_few(ingested)} were all ingested (where they ran is unknown) while the others "
                "ran here: a difference between them may be the machine's, not the factor's"
            )
        )
    if ex.get("same_for_every_subject"):
        alerts.append(
            _study_warning(
                "every subject wrote the same files in every execution (outputs that do not depend on the input: a "
                "result cached under a name no subject changes, a literal input path?): the identity rests on one "
                "subject's worth of evidence; check that the application reads each subject's input"
            )
        )
    if mixed := ex.get("mixed_conditions"):
        alerts.append(
            _study_warning(
                f"the executions of {_few(mixed)} were some run here and some ingested (where those ran is unknown): a "
                "difference between subjects or executions there may be where the results were made, not the factor's"
            )
        )
    if copies := ex.get("duplicate_subjects"):
        groups = "; ".join(" = ".join(g) for g in copies[:5]) + ("; ..." if len(copies) > 5 else "")
        alerts.append(
            dict(
                output=None,
                severity="fail",
                duplicates=True,
                message=f"{sum(len(g) for g in copies)} subjects are copies of one another ({groups}): the same "
                "files in every execution, though those differ from run to run; one subject's results counted "
                "several times make subjects look more distinct than executions (a backup folder ingested, one "
                "folder under two names?): remove the copies, then ingest or analyse again",
            )
        )
    if any(a["severity"] == "fail" for a in alerts):
        return alerts
    if (as_float(ex.get("attempt_failure_rate")) or 0) > 0:
        return [
            *alerts,
            dict(
                output=None,
                severity="warn",
                message=(
                    f"{ex.get('flaky_executions', 'some')} execution(s) failed then succeeded with the same recipe "
                    f"({100 * as_float(ex['attempt_failure_rate']):.1f}% of current attempts failed{_where_flaky(ex)}"
                    f"): {_flaky_culprit(ex)}"
                ),
            ),
        ]
    return alerts


MACHINE_FIELDS = ("hostname", "cpu.model", "kernel", "os", "libc", "python.version")


def machine_alerts(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A warning when the executions ran on machines that differ (``provenance.differing``) and some output's
    repetitions differ: a difference between machines reads as run-to-run nondeterminism, or as the effect of a
    level that ran more on one of them (review K: a result that followed the worker's host was explained as
    "run-to-run flakiness", then "seed changes the result", never by the machine).

    Examples
    --------
    >>> doc = dict(provenance=dict(distinct=2, differing={"hostname": ["a", "b"]}),
    ...            outputs=[dict(bitwise=dict(repetitions_identical=False))])
    >>> machine_alerts(doc)[0]["message"][:70]
    'the executions ran on 2 machine records that differ (hostname: a, b), '
    >>> machine_alerts(dict(doc, outputs=[dict(bitwise=dict(repetitions_identical=True))]))
    []
    """
    differing = (document.get("provenance") or {}).get("differing") or {}
    fields = {k: v for k, v in differing.items() if k in MACHINE_FIELDS}
    if not fields or not any(
        (o.get("bitwise") or {}).get("repetitions_identical") is False for o in document.get("outputs") or []
    ):
        return []
    said = "; ".join(f"{k}: {', '.join(map(str, v[:4]))}" for k, v in fields.items())
    return [
        dict(
            output=None,
            severity="warn",
            message=f"the executions ran on {(document.get('provenance') or {}).get('distinct')} machine records that "
            f"differ ({said}), and repetitions differ: a difference between machines reads as run-to-run "
            "nondeterminism, or as the effect of a level run more on one machine; to tell, run on one machine, or "
            "one study per machine and `reprovip compare` them",
        )
    ]


def _flaky_culprit(ex: dict[str, Any]) -> str:
    """Who failed: the application, or reprovip's executor when every failed attempt of every flaky execution was
    lost by the backend (``flaky.lost_by_backend``: a worker that could not start, the application never ran; a
    review's import error in a worker read "the application is flaky")."""
    if (ex.get("flaky") or {}).get("lost_by_backend"):
        return (
            "reprovip's workers failed, not the application (a worker could not start or was lost): look at the "
            "machine (memory, the Python environment), not the application"
        )
    return "the application is flaky"


def _where_flaky(ex: dict[str, Any]) -> str:
    """Under which conditions the flaky executions are, and why their attempts failed (``executions.flaky``):
    a review's threads=2 executions all timed out once, and the alert said neither."""
    flaky = ex.get("flaky") or {}
    by_condition = {c: n for c, n in (flaky.get("by_condition") or {}).items() if c != "-"}
    said = ""
    if by_condition:
        said += "; " + ", ".join(f"{n} under {c}" for c, n in sorted(by_condition.items(), key=lambda kv: -kv[1]))
    if flaky.get("errors"):
        said += "; failed attempts: " + "; ".join(flaky["errors"][:3])
    return said


# Notes on done executions (analysis.executions.notes, by tag): what may make their outputs wrong. A process left
# running and killed at exit may have left a file half-written: the outputs cannot be judged (a review's CSVs
# held their header only and read "sufficiently reproducible"). An execution that wrote into its input may have
# let the next one reuse its result instead of computing it again.
NOTE_ALERTS = {
    "left running": (
        "fail",
        "done execution(s) left processes running, killed when the application exited: their outputs may be "
        "incomplete (make the application wait for what it starts)",
    ),
    "a copy": (
        "fail",
        "ingested execution folder(s) hold the same files as another's, modification times to the nanosecond "
        "included: copies (`cp -a`), not results of their own (ingest the folders the executions wrote)",
    ),
    "changed its input": (
        "warn",
        "execution(s) wrote into their subject's input: later executions may reuse the first one's result instead "
        "of computing it (write results to {outdir} only)",
    ),
}


def _note_alerts(notes: dict[str, Any]) -> list[dict[str, Any]]:
    alerts = []
    for tag, (severity, what) in NOTE_ALERTS.items():
        if note := notes.get(tag):
            where = "; ".join(
                f"subject {e['subject']}"
                + (f", condition {e['condition']}" if e.get("condition") not in (None, "", "-") else "")
                + f", repetition {e['repetition']}"
                for e in note["executions"][:3]
            )
            more = f" and {note['count'] - 3} more" if note["count"] > 3 else ""
            message = f"{note['count']} {what}: {where}{more}"
            alerts.append(dict(output=None, severity=severity, message=message, note=tag))
    return alerts


def _study_warning(message: str) -> dict[str, Any]:
    """A warning about the study's executions as a whole (no output)."""
    return dict(output=None, severity="warn", message=message)


def _few(names: list[str]) -> str:
    """The first five of ``names``, and ``...`` when there are more."""
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def _which(plan: dict[str, Any]) -> str:
    """Which study files were edited, in a comparison of two (a single study's alert names none)."""
    edited = plan.get("edited") or []
    return f" {' and '.join(edited)}" if edited else ""


def compare_alerts(compare: dict[str, Any]) -> list[dict[str, Any]]:
    """What differs between two compared versions besides their numbers (the document's ``compare``).

    An output, file or field only the baseline writes fails: nothing measures it any more, and a field the new
    version dropped is never a pass. One only the current version writes is a warning (it fails ``--strict``):
    the shared ones are compared, the new one has nothing to be compared with. An output the current version
    writes at another path is compared across the move, with a warning naming it. An added output or field
    used to fail like a removed one.
    """
    removed = [
        dict(output=name, severity="fail", message=f"{name} is written only by the baseline version")
        for name in compare.get("only_in_baseline") or []
    ]
    added = [
        dict(output=name, severity="warn", message=f"{name} is written only by the current version")
        for name in compare.get("only_in_current") or []
    ]
    moved = [
        dict(output=m["output"], severity="warn", message=moved_message(m)) for m in compare.get("paths_changed") or []
    ]
    inputs = [
        dict(
            output=None,
            severity="fail",  # shown and counted as a failure; the verdict is not analysable (evaluate)
            inputs_differ=True,
            message=f"the input of {len(differ)} subject(s) differs between the two studies ({_few(differ)}): "
            "their difference is the input's as much as the version's, and no verdict on the version stands; "
            "compare runs on the same input files",
        )
        for differ in [compare.get("inputs_differ") or []]
        if differ
    ]
    return removed + added + moved + inputs


def moved_message(move: dict[str, str]) -> str:
    """An entry of ``compare.paths_changed`` (``{output, baseline, current}``) in words."""
    return (
        f"{move['output']}: the current version writes it at another path, compared with the baseline's: "
        f"{move['baseline']} -> {move['current']}"
    )
