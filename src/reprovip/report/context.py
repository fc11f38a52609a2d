"""The view of an analysis document shared by the report and the dashboard: JSON-safe, worst cases first.

Everything here is data (the dashboard's ``.json`` twins return it as is); drawing happens in templates.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from reprovip.criteria.verdict import stored_verdict
from reprovip.report import flowgraph
from reprovip.report.fmt import anchor, to_float
from reprovip.report.guide import GLOSSARY, deciding, digits_note, icc_note, judged, next_steps, wcv_note
from reprovip.report.values import bland_altman_data, load_plot_values, strip_data

FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")
STATUS_ORDER = ("error", "fail", "warn", "pass", "identical")
MAX_ROWS = 50
N_STRIP = 3
PAIR_GROUPS = ("within", "between")  # pairs of executions in the same condition, in different conditions
SEGMENTATION_KEYS = tuple(
    f"{metric}_{group}_{stat}"
    for group in PAIR_GROUPS
    for metric, stats in (("dice", ("min", "mean")), ("hd95", ("max", "mean")), ("assd", ("max", "mean")))
    for stat in stats
)


def verdict_of(document: dict[str, Any]) -> dict[str, Any]:
    """The study's verdict as ``analyze`` stored it; a document without one (an older reprovip) is shown as
    ``unknown``, never as a pass derived here."""
    v = stored_verdict(document)
    if v is not None:
        return dict(
            status=str(v["status"]),
            label=str(v.get("label") or v["status"]),
            counts=dict(v.get("counts") or {}),
            evaluated=True,
            summary=str(v.get("summary") or ""),
        )
    return dict(
        status="unknown",
        label="no verdict stored: analyse the study again",
        counts={},
        evaluated=False,
        summary="this analysis was made by an older reprovip; run `reprovip analyze` to get its verdict",
    )


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def staleness(
    document: dict[str, Any],
    newest_run: dict[str, Any] | None,
    *,
    counts: dict[str, int] | None = None,
    catalog_id: str | None = None,
) -> str | None:
    """Why the verdict stored in ``document`` may no longer be the study's, or None.

    ``newest_run`` is the study's newest row of the runs table, read now. The verdict is stale when a
    ``run`` or ``ingest`` began after the analysis, or when the run the analysis saw was still recording.
    When given, ``catalog_id`` (the catalog's identity, read now) and ``counts`` (the study's executions by
    status, read now) are compared with what the analysis recorded: an analysis of another catalog (the
    catalog was deleted and made again: its first run is #1 again) or of executions whose statuses have
    changed since (``run --force`` resets them all to pending before it records its run) is stale too.
    ``check --no-reanalyze`` compares the executions' digest instead (exact, but it reads every execution);
    pages that must stay fast at a million executions read this one row, and say "may have changed" when a
    run changed nothing. A document made before the verdict kept its last run is judged by its time.

    Examples
    --------
    >>> doc = {"verdict": {"status": "pass", "last_run": {"id": 3, "finished": True}}}
    >>> staleness(doc, {"id": 3, "command": "run", "started_at": 0.0}) is None
    True
    >>> staleness(doc, {"id": 4, "command": "ingest", "started_at": 0.0})[:44]
    'ingest #4 (started 1970-01-01 00:00:00 UTC) '
    >>> doc["executions"] = {"catalog_id": "a1", "catalog_counts": {"done": 4}}
    >>> staleness(doc, {"id": 3, "command": "run", "started_at": 0.0}, catalog_id="b2")[:45]
    'this analysis was made from another catalog ('
    >>> staleness(doc, {"id": 3, "command": "run", "started_at": 0.0}, counts={"pending": 4})[:55]
    'the executions changed since this analysis (4 done then'
    >>> staleness(dict(doc, compare={}), {"id": 4, "command": "run", "started_at": 0.0})[-46:]
    'run `reprovip compare` for the current verdict'
    """
    # a comparison is made again by `compare`, not `analyze` (review R7)
    again = f"run `reprovip {'compare' if 'compare' in document else 'analyze'}` for the current verdict"
    ex = document.get("executions") if isinstance(document.get("executions"), dict) else {}
    made_in = ex.get("catalog_id")
    if made_in and catalog_id is not None and str(catalog_id) != str(made_in):
        return (
            "this analysis was made from another catalog (the catalog was deleted or replaced since, and its run "
            f"numbers start again): {again}"
        )
    if (why := _newer_run(document, newest_run, again)) is not None:
        return why  # names the run
    then = ex.get("catalog_counts")
    if counts is not None and isinstance(then, dict):
        try:
            was = {str(k): int(v) for k, v in then.items() if int(v or 0)}
            now = {str(k): int(v) for k, v in counts.items() if int(v or 0)}
        except (TypeError, ValueError):  # a document edited by hand: judged by its runs alone
            return None
        if was != now:
            return f"the executions changed since this analysis ({_counted(was)} then, {_counted(now)} now): {again}"
    return None


def _newer_run(document: dict[str, Any], newest_run: dict[str, Any] | None, again: str) -> str | None:
    """Why the verdict is stale judged by the study's newest run alone (see :func:`staleness`), or None."""
    if newest_run is None:
        return None
    verdict = stored_verdict(document) or {}
    run = f"{newest_run.get('command') or 'run'} #{newest_run['id']}"
    if "last_run" in verdict:
        seen = verdict["last_run"]
        if seen is not None and int(newest_run["id"]) == int(seen["id"]):
            if seen.get("finished"):
                return None
            # it ended since, recording all it ran: its runner gone is no kill (one recorded `interrupted` later is)
            if newest_run.get("finished_at") is not None and newest_run.get("status") != "interrupted":
                return f"{run} finished after this analysis was made: executions may have changed; {again}"
            from reprovip.store.liveness import runner_alive

            gone = runner_alive(newest_run.get("hostname"), newest_run.get("pid"), newest_run.get("started_at"))
            if gone is False:  # killed: nothing can change until a new run (with a new id); counts judge the rest
                return None  # review VW: every analysis after a kill -9 read stale, and `analyze` never cleared it
            return f"{run} was still running when this analysis was made: executions may have changed; {again}"
        if seen is not None and int(newest_run["id"]) < int(seen["id"]):
            return None  # runs were deleted: nothing newer than what the analysis saw
    else:
        try:
            made = dt.datetime.fromisoformat(str(document.get("created_at"))).timestamp()
        except ValueError:
            made = -math.inf
        # created_at has whole seconds: a run that began within the same second is not taken as newer
        if float(newest_run.get("started_at") or 0.0) < made + 1:
            return None
    started = newest_run.get("started_at")
    when = f" (started {_utc(float(started))})" if started is not None else ""
    return f"{run}{when} came after this analysis: executions may have changed; {again}"


def _counted(counts: dict[str, int]) -> str:
    """``{"done": 40, "pending": 8}`` as ``40 done, 8 pending`` (``none`` when empty)."""
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"


def missing_catalog(document: dict[str, Any]) -> str | None:
    """Why a verdict is stale when the catalog it was made from is gone (deleted, not made again), or None
    when the document does not say which catalog it read."""
    ex = document.get("executions") if isinstance(document.get("executions"), dict) else {}
    if not ex.get("catalog_id"):
        return None
    return (
        "the catalog this analysis was made from is gone (deleted or moved): nothing backs this verdict; run "
        "`reprovip run`, then `reprovip analyze`"
    )


def alerts_of(document: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The criteria's alerts (fail first), or, when the document has none, alerts derived from facts
    (outputs that could not be analysed, failed executions). Returns ``(alerts, from_criteria)``."""
    rank = {"fail": 0, "error": 0, "warn": 1}
    if isinstance(document.get("alerts"), list):
        alerts = [
            dict(
                output=a.get("output"),
                severity=str(a.get("severity") or "warn"),
                message=str(a.get("message") or ""),
            )
            for a in document["alerts"]
            if isinstance(a, dict)
        ]
        return sorted(alerts, key=lambda a: rank.get(a["severity"], 2)), True
    derived = [
        dict(output=o.get("name"), severity="fail", message=f"could not be analysed: {o['error']}")
        for o in document.get("outputs") or []
        if o.get("error")
    ]
    ex = document.get("executions") or {}
    if ex.get("failed"):
        derived.append(
            dict(output=None, severity="warn", message=f"{ex['failed']} of {ex.get('total')} executions failed")
        )
    return derived, False


def _worst_key(o: dict[str, Any]) -> tuple[float, float, float]:
    low = to_float(((o.get("icc") or {}).get("ICC(A,1)") or {}).get("ci_low"))
    ratio = to_float(o.get("sd_ratio"))
    digits = to_float((o.get("sigdigits") or {}).get("parker_min"))
    return (low if low is not None else math.inf, -(ratio or 0.0), digits if digits is not None else math.inf)


def _row(o: dict[str, Any]) -> dict[str, Any]:
    icc = (o.get("icc") or {}).get("ICC(A,1)") or {}
    sig = o.get("sigdigits") or {}
    nonfinite = o.get("nonfinite") if isinstance(o.get("nonfinite"), dict) else None
    return dict(
        name=str(o.get("name")),
        mean=o.get("mean"),
        identical=o.get("identical"),
        nonfinite=str(nonfinite.get("message") or "not finite in some executions") if nonfinite else None,
        icc=dict(
            value=icc.get("value"),
            ci_low=icc.get("ci_low"),
            ci_high=icc.get("ci_high"),
            band=icc.get("band"),
            note=icc_note(icc),
        )
        if icc
        else None,
        wsd=o.get("wsd"),
        wcv_rms=o.get("wcv_rms"),
        wcv_log=o.get("wcv_log"),
        wcv_note=wcv_note(o.get("mean"), o.get("wsd"), o.get("wcv_rms")),
        rc=o.get("rc"),
        bsd=o.get("bsd"),
        sd_ratio=o.get("sd_ratio"),
        sigdigits_min=sig.get("parker_min"),
        sigdigits_mean=sig.get("parker_mean"),
        sigdigits_note=digits_note(sig.get("parker_min")),
        execution_sd=o.get("execution_sd"),
        ci95_halfwidth=o.get("ci95_halfwidth"),
    )


def _bitwise(bw: dict[str, Any]) -> dict[str, Any]:
    # Every key, always: an output whose analysis failed early has no bitwise summary at all.
    if not bw:
        status, txt = "unknown", "not compared: the analysis holds no bitwise summary of this output"
    elif bw.get("bytes_identical"):
        status, txt = "identical", "bit-for-bit identical (bytes)"
    elif bw.get("identical"):
        status, txt = "identical", "identical content (semantic hash); bytes differ, e.g. a gzip timestamp"
    elif bw.get("identical", False) is None:  # not established: never shown as identical, nor as differing
        status, txt = "unknown", f"not compared: {bw.get('not_compared') or 'identity was not established'}"
    elif bw.get("repetitions_identical"):
        status, txt = "differs", "repetitions agree within each condition; conditions differ"
    else:
        status, txt = "differs", "executions differ"
    conditions = [
        dict(condition=k, cells=v.get("cells"), identical_cells=v.get("identical_cells"))
        for k, v in (bw.get("conditions") or {}).items()
    ]
    factors = [
        dict(
            factor=f,
            changes_result=e.get("changes_result"),
            explanation=e.get("explanation"),
            nondeterministic_levels=e.get("nondeterministic_levels") or [],
        )
        for f, e in (bw.get("factors") or {}).items()
    ]
    return dict(
        status=status,
        text=txt,
        identical=bw.get("identical"),
        bytes_identical=bw.get("bytes_identical"),
        repetitions_identical=bw.get("repetitions_identical"),
        conditions=conditions,
        factors=factors,
    )


def _segmentation(seg: dict[str, Any]) -> dict[str, Any]:
    """Label-map agreement with every per-label key present (``None`` where the analysis has no value), and
    the pair groups that have values: ``within`` needs two repetitions of a condition, ``between`` two
    conditions, so a study without factors has no ``between`` keys (see analyze/segmentation.py)."""
    labels = [
        dict({k: (v or {}).get(k) for k in SEGMENTATION_KEYS}, label=lab)
        for lab, v in (seg.get("labels") or {}).items()
    ]
    groups = [g for g in PAIR_GROUPS if any(r[f"dice_{g}_min"] is not None for r in labels)]
    return dict(
        labels=labels,
        groups=groups,
        dice_min=seg.get("dice_min"),
        hd95_max=seg.get("hd95_max"),
        spacing=seg.get("spacing"),
    )


def _per_condition(worst: dict[str, Any] | None, bw: dict[str, Any]) -> list[dict[str, Any]]:
    cells = bw.get("conditions") or {}
    per = (worst or {}).get("per_condition") or {}
    keys = list(per) + [k for k in cells if k not in per]
    return [
        dict(
            condition=k,
            **{f: (per.get(k) or {}).get(f) for f in ("icc_a1", "icc_a1_ci_low", "wsd", "sd_ratio", "identical")},
            cells=(cells.get(k) or {}).get("cells"),
            identical_cells=(cells.get(k) or {}).get("identical_cells"),
        )
        for k in keys
    ]


def _shares(o: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Variance components of one observation, subject first, residual last: they sum to 100%."""
    var = (o or {}).get("variance") or {}
    order = ["subject"] + [k for k in var if k not in ("subject", "residual")] + ["residual"]
    return [
        dict(
            source="repetition (residual)" if k == "residual" else k,
            share=var[k].get("share"),
            truncated=bool(var[k].get("truncated")),
        )
        for k in order
        if k in var
    ]


def output_context(o: dict[str, Any], index: int) -> dict[str, Any]:
    """The view of one output: verdict, bitwise status, key metrics, tables and plot data.

    The key metrics, plots and first rows are about the observations the stored verdict judged, the one
    that decided it first; observations no criterion looked at are listed apart as not judged.
    """
    every = sorted(o.get("observations") or [], key=_worst_key)
    chosen = judged(o)
    obs = [x for x in every if chosen is None or str(x.get("name")) in chosen]
    not_judged = [x for x in every if chosen is not None and str(x.get("name")) not in chosen]
    first = deciding(o)
    obs.sort(key=lambda x: str(x.get("name")) != first)  # stable: the deciding one, then the worst
    focus = next((x for x in obs if not x.get("nonfinite")), obs[0] if obs else None)
    # Ranked before it: non-finite in some executions, no metric to show; named, so that the card does not read
    # as the output's worst (a review: "worst judged observation: left/mean, ICC 1" where right/mean held a NaN)
    passed_over = [str(x.get("name")) for x in obs[: obs.index(focus)]] if focus is not None else []
    rows = [_row(x) for x in obs[:MAX_ROWS]]
    with_var = [x for x in obs if x.get("variance")]
    sources = list(with_var[0]["variance"]) if with_var else []
    seg = o.get("segmentation") or {}
    vw = o.get("voxelwise") or {}
    verdict = o.get("verdict") if isinstance(o.get("verdict"), dict) else None
    return dict(
        index=index,
        anchor=anchor(str(o.get("name")), index),
        name=str(o.get("name")),
        kind=o.get("kind"),
        error=o.get("error"),
        n_subjects=o.get("n_subjects"),
        repetitions=o.get("repetitions"),
        factors=o.get("factors") or {},
        verdict=dict(status=str(verdict.get("status")), reasons=list(verdict.get("reasons") or []))
        if verdict
        else None,
        bitwise=_bitwise(o.get("bitwise") or {}),
        summary=o.get("summary") or {},
        key=_row(focus) if focus else None,
        passed_over=passed_over,
        deciding=first,
        icc_forms=[
            dict(focus["icc"][f], form=f, note=icc_note(focus["icc"][f]))
            for f in FORMS
            if f in (focus.get("icc") or {})
        ]
        if focus
        else [],
        observations=rows,
        n_observations=len(obs),
        not_judged=[_row(x) for x in not_judged[:MAX_ROWS]],
        n_not_judged=len(not_judged),
        excluded_observations=list(o.get("excluded_observations") or [])[:MAX_ROWS],
        icc_rows=[dict(label=r["name"], **r["icc"]) for r in rows[:25] if r["icc"]],
        variance=dict(
            sources=sources,
            rows=[
                dict(
                    label=str(x["name"]),
                    shares={k: v.get("share") for k, v in x["variance"].items()},
                    truncated=[k for k, v in x["variance"].items() if v.get("truncated")],
                )
                for x in with_var[:20]
            ],
        ),
        shares=_shares(focus),
        variance_shares=dict(o.get("variance_shares") or {}),
        per_condition=_per_condition(focus, o.get("bitwise") or {}),
        segmentation=_segmentation(seg) if seg else None,
        voxelwise=dict(
            summary=vw.get("summary") or {},
            skipped=vw.get("skipped"),
            subjects=vw.get("subjects"),
            maps=sorted((vw.get("maps") or {}).keys()),
        )
        if vw
        else None,
        attribution=dict(
            summary=(o.get("attribution") or {}).get("summary") or "",
            factors=(o.get("attribution") or {}).get("factors") or [],
        ),
        errors=list(o.get("errors") or [])[:20],
        n_errors=len(o.get("errors") or []),
        plot_values=dict(o.get("plot_values") or {}),
        strip=[],
        bland_altman=None,
    )


def add_values(out: dict[str, Any], raw: dict[str, Any], *, store: Path | None, study: str) -> None:
    """Fill the strip-plot and Bland–Altman data of an output from the values ``analyze`` stored with it
    (the judged observations, deciding one first); the outputs themselves are never read here."""
    if out["bitwise"].get("identical") or not out["observations"] or "file" not in out["plot_values"]:
        return
    vals = load_plot_values(store, study, raw)
    if vals is None:
        out["plot_values"]["unreadable"] = True
        return
    names = [r["name"] for r in out["observations"] if not r["nonfinite"]]
    shown = vals.select(names[:N_STRIP])
    if shown is None:
        return
    out["strip"] = [strip_data(shown, i) for i in range(len(shown.names))]
    prefer = sorted(out["variance_shares"], key=lambda k: -(to_float(out["variance_shares"][k]) or 0.0))
    out["bland_altman"] = bland_altman_data(shown, 0, prefer=prefer)


# How a step (trace: processes) or a file (trace: files) is shown: the badge class colouring its status.
FLOW_CLASSES = {"identical": "st-identical", "absorbed": "st-identical", "origin": "st-fail", "first": "st-fail"}


def dataflow_context(flow: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pipeline in each contrast of the ``dataflow`` section: steps (or files) in order, each with its status
    (processes: identical / origin / propagated / absorbed; files: identical / first / later), and the graph of
    steps and files (:func:`reprovip.report.flowgraph.graph`) the pages draw."""
    if not flow:
        return None
    contrasts = []
    for c in flow["contrasts"]:
        if flowgraph.has_steps(flow):
            rows = [
                dict(name=s["name"], status=(c.get("steps") or {}).get(s["name"], "not compared"))
                for s in flow["steps"]
            ]
        else:
            later = set(c["later"])
            rows = [
                dict(
                    name=f["relpath"],
                    status="first" if f["relpath"] == c["first"] else "later" if f["relpath"] in later else "identical",
                )
                for f in flow["files"]
            ]
        if not c.get("compared", True):
            rows = []
        for r in rows:
            r["cls"] = FLOW_CLASSES.get(r["status"], "st-warn")
        contrasts.append(
            dict(
                label=c["label"],
                sentence=c["sentence"],
                rows=rows,
                diverges=c.get("first") is not None,
                graph=flowgraph.graph(flow, c) if rows else None,
            )
        )
    return dict(
        mode=flow["mode"],
        stepped=flowgraph.has_steps(flow),
        step_source=flow.get("step_source"),
        notes=flow["notes"],
        untraced=flow["untraced"],
        contrasts=contrasts,
    )


def analysis_context(document: dict[str, Any], *, store: Path | None = None) -> dict[str, Any]:
    """The whole view of an analysis document; with the study's ``store``, the stored plot values too."""
    alerts, from_criteria = alerts_of(document)
    ex = document.get("executions") or {}
    prov = document.get("provenance") or {}
    study = document.get("study") or {}
    outputs = [output_context(o, i) for i, o in enumerate(document.get("outputs") or [])]
    for out, raw in zip(outputs, document.get("outputs") or [], strict=True):
        add_values(out, raw, store=store, study=str(study.get("name", "")))
    return dict(
        schema=document.get("schema"),
        created_at=document.get("created_at"),
        reprovip_version=document.get("reprovip_version"),
        study=dict(
            name=str(study.get("name", "")),
            description=study.get("description") or "",
            path=study.get("path"),
            factors=study.get("factors") or {},
            repetitions=study.get("repetitions"),
        ),
        verdict=verdict_of(document),
        alerts=alerts,
        alerts_from_criteria=from_criteria,
        executions=dict(
            total=ex.get("total", 0),
            counts=ex.get("counts") or {},
            failed=ex.get("failed", 0),
            failure_rate=ex.get("failure_rate"),
            attempt_failure_rate=ex.get("attempt_failure_rate"),
            failure_by_condition=ex.get("failure_by_condition") or {},
            failures=list(ex.get("failures") or [])[:MAX_ROWS],
            n_failures=len(ex.get("failures") or []),
        ),
        provenance=dict(
            distinct=prov.get("distinct"),
            unknown=prov.get("unknown_executions") or 0,
            common=[dict(field=k, value=v) for k, v in (prov.get("common") or {}).items()],
            differing=[dict(field=k, values=v) for k, v in (prov.get("differing") or {}).items()],
        ),
        outputs=outputs,
        dataflow=dataflow_context(document.get("dataflow")),
        next_steps=next_steps(document),
        glossary=[dict(term=k, text=v[0], reference=v[1]) for k, v in GLOSSARY.items()],
    )
